"""`keras_seq2seq.tfa` run as TFA programs, seventh round.

Each test is a way TFA 0.23 programs used `tfa.seq2seq` that an earlier
version of this module got wrong: the wrapper's `get_initial_state(...,
dtype=...)` left the cell state in the cell's dtype, and `tile_batch`
refused a multiplier given as an int scalar tensor. Expected values come
from TFA's source, read for behaviour: its wrapper asked the cell for its
zero state with `get_initial_state(batch_size=..., dtype=...)`, and its
`tile_batch` converted the multiplier to a tensor.
"""

import keras
import numpy as np
import pytest
from keras import ops

import keras_seq2seq.tfa as tfa

B, S, D, H, U = 2, 5, 3, 4, 4
RNG = np.random.default_rng(71)
MEMORY = RNG.normal(size=(B, S, D)).astype("float32")
LENGTHS = np.array([5, 3], "int32")


def numpy(x):
    return ops.convert_to_numpy(x)


def dtype_of(x):
    return keras.backend.standardize_dtype(x.dtype)


# --- `AttentionWrapper.get_initial_state(batch_size=B, dtype=...)`: TFA
# built the cell's zero state with `cell.get_initial_state(batch_size,
# dtype)`, so every field of the state, the cell state included, had the
# dtype asked for (or the dtype of `inputs=`). Ours gave the attention and
# alignments that dtype but left the cell state in the cell's float32.


@pytest.mark.parametrize(
    "cell_class", [keras.layers.GRUCell, keras.layers.LSTMCell]
)
@pytest.mark.parametrize("by_inputs", [False, True], ids=["dtype", "inputs"])
def test_get_initial_state_gives_the_cell_state_the_dtype_asked(
    cell_class, by_inputs
):
    mechanism = tfa.BahdanauAttention(U, MEMORY, LENGTHS)
    cell = tfa.AttentionWrapper(
        cell_class(H), mechanism, attention_layer_size=3, alignment_history=True
    )
    if by_inputs:
        state = cell.get_initial_state(inputs=np.zeros((B, D), "float16"))
    else:
        state = cell.get_initial_state(batch_size=B, dtype="float16")
    cell_state = keras.tree.flatten(state.cell_state)
    assert len(cell_state) == (2 if cell_class is keras.layers.LSTMCell else 1)
    for x in cell_state:
        assert dtype_of(x) == "float16"
        assert tuple(x.shape) == (B, H)
        np.testing.assert_array_equal(numpy(x), 0.0)
    assert dtype_of(state.attention) == "float16"
    assert dtype_of(state.alignment_history.stack()) == "float16"
    # Without a dtype, the cell's own zero state, as before.
    state = cell.get_initial_state(batch_size=B)
    for x in keras.tree.flatten(state.cell_state):
        assert dtype_of(x) == "float32"


# --- `tile_batch(t, multiplier)` with `multiplier` an int scalar tensor
# (`tf.constant(beam_width)`, a width read from a config tensor): TFA
# converted it to a tensor and tiled; ours refused anything but an int.


def test_tile_batch_takes_an_int_scalar_tensor_multiplier():
    state = [MEMORY, LENGTHS]
    tiled = tfa.tile_batch(state, ops.convert_to_tensor(3, "int32"))
    expected = tfa.tile_batch(state, 3)
    for got, want in zip(tiled, expected, strict=True):
        np.testing.assert_array_equal(numpy(got), numpy(want))
    np.testing.assert_array_equal(numpy(tiled[1]), np.repeat(LENGTHS, 3))
    with pytest.raises(ValueError, match="multiplier"):
        tfa.tile_batch(MEMORY, ops.convert_to_tensor(0, "int32"))
    with pytest.raises(ValueError, match="multiplier"):
        tfa.tile_batch(MEMORY, ops.convert_to_tensor(2.0))
