"""`keras_seq2seq.tfa` run as TFA programs, third round.

Each test is a way TFA 0.23 programs call `tfa.seq2seq` that an earlier
version of this module got wrong, or a contract of TFA's that no other
test pins: `gather_tree` on parent ids TFA's kernel refused, and the
other corners named in each test. Expected values come from TFA's source
and unit tests, read for behaviour and written here in NumPy.
"""

import numpy as np
import pytest
from keras import ops

import keras_seq2seq.tfa as tfa
from keras_seq2seq.decoding.compile import compiled

# --- gather_tree: TFA's kernel checks every parent id its walk reads
# ("Saw invalid parent id -1 at (batch, time, beam) == (0, 0, 1)") and
# that `end_token` is a scalar. Its walk reads the parents of steps 1 to
# length - 1 along each beam's path, never those of step 0 or past the
# length. The arrays are TFA's `beam_search_ops_test.py`'s.


def time_major(x):
    return np.transpose(np.array(x, "int32"), (1, 0, 2))


STEP_IDS = time_major([[[1, 2, 3], [4, 5, 6], [7, 8, 9], [-1, -1, -1]]])


@pytest.mark.parametrize("bad", [-1, 3, 7])
def test_gather_tree_refuses_a_parent_id_its_walk_reads(bad):
    parent_ids = time_major([[[0, 0, 0], [0, bad, 1], [2, 1, 2], [0, 0, 0]]])
    with pytest.raises(ValueError, match="parent id"):
        tfa.gather_tree(STEP_IDS, parent_ids, [3], 10)


def test_gather_tree_ignores_parent_ids_its_walk_never_reads():
    # Step 0's parents and those past the length are never read; at step
    # 1 the walk reads columns [1, 1, 0] only, so column 2's 9 may be bad.
    parent_ids = time_major([[[-1, 5, -1], [0, 1, 9], [1, 1, 0], [-1, 8, -1]]])
    beams = tfa.gather_tree(STEP_IDS, parent_ids, [3], 10)
    # Beam j's ids walked back by hand: step 2 takes column j, steps 1
    # and 0 the columns its parents name.
    want = time_major([[[2, 2, 1], [5, 5, 4], [7, 8, 9], [10, 10, 10]]])
    np.testing.assert_array_equal(ops.convert_to_numpy(beams), want)


def test_gather_tree_refuses_an_end_token_that_is_no_scalar():
    parent_ids = time_major([[[0, 0, 0], [0, 1, 1], [2, 1, 2], [0, 0, 0]]])
    with pytest.raises(ValueError, match="end_token must be a scalar"):
        tfa.gather_tree(STEP_IDS, parent_ids, [3], [10, 11, 12])


def test_gather_tree_in_a_compiled_function_equals_eager():
    # Traced parents have no values to check; the backtracking still runs.
    parent_ids = time_major([[[0, 0, 0], [0, 1, 1], [2, 1, 2], [0, 0, 0]]])
    eager = tfa.gather_tree(STEP_IDS, parent_ids, np.array([3]), 10)
    traced = compiled(tfa.gather_tree)(
        STEP_IDS, parent_ids, np.array([3], "int32"), np.int32(10)
    )
    # TFA's `test_gather_tree_one`.
    want = time_major([[[2, 2, 2], [6, 5, 6], [7, 8, 9], [10, 10, 10]]])
    np.testing.assert_array_equal(ops.convert_to_numpy(eager), want)
    np.testing.assert_array_equal(ops.convert_to_numpy(traced), want)
