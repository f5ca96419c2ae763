"""`gather_tree` and `tile_batch`: TFA parity, a NumPy walk, compiled use."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_seq2seq.decoding.beam_ops import gather_tree, tile_batch
from shared_data import assert_outputs, case_ids, load_case


def numpy_gather_tree(step_ids, parent_ids, lengths, end_token):
    """The backtracking of beam pointers, written as plain loops."""
    steps, batch, beam_size = step_ids.shape
    beams = np.full_like(step_ids, end_token)
    for b in range(batch):
        for j in range(beam_size):
            beam = j
            for t in reversed(range(min(lengths[b], steps))):
                beams[t, b, j] = step_ids[t, b, beam]
                beam = parent_ids[t, b, beam]
            ended = np.cumsum(beams[:, b, j] == end_token) > 0
            beams[ended, b, j] = end_token
    return beams


def random_beams(rng, steps, batch, beam_size, vocab, lengths):
    step_ids = rng.integers(0, vocab, (steps, batch, beam_size), "int32")
    parent_ids = rng.integers(0, beam_size, (steps, batch, beam_size), "int32")
    return step_ids, parent_ids, np.array(lengths, "int32")


class BatchMajorGatherTree(keras.layers.Layer):
    """`gather_tree` on batch-major `(B, T, K)`, for use in a `keras.Model`."""

    def __init__(self, end_token, **kwargs):
        super().__init__(**kwargs)
        self.end_token = end_token

    def call(self, step_ids, parent_ids, lengths):
        beams = gather_tree(
            ops.transpose(step_ids, (1, 0, 2)),
            ops.transpose(parent_ids, (1, 0, 2)),
            lengths,
            self.end_token,
        )
        return ops.transpose(beams, (1, 0, 2))


@pytest.mark.parametrize(
    "cid", case_ids("beam_ops", lambda n: n.startswith("gather_tree"))
)
def test_gather_tree_matches_tfa(cid):
    case, a = load_case(cid)
    beams = gather_tree(
        a["step_ids"],
        a["parent_ids"],
        a["max_sequence_lengths"],
        a["end_token"],
    )
    assert_outputs(case, a, {"beams": ops.convert_to_numpy(beams)})


@pytest.mark.parametrize(
    "cid", case_ids("beam_ops", lambda n: n == "tile_batch")
)
def test_tile_batch_matches_tfa_on_arrays_and_nested(cid):
    case, a = load_case(cid)
    k = case["args"]["multiplier"]
    got = {f"tiled_{n}": tile_batch(a[n], k) for n in ("x1", "x2", "x3")}
    nested = tile_batch((a["x1"], a["x3"]), k)
    assert isinstance(nested, tuple)
    got["tiled_nested_0"], got["tiled_nested_1"] = nested
    for name, value in got.items():
        assert keras.backend.standardize_dtype(value.dtype) == "int32", name
    assert_outputs(
        case, a, {n: ops.convert_to_numpy(v) for n, v in got.items()}
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gather_tree_matches_numpy_walk(seed):
    rng = np.random.default_rng(seed)
    steps, batch, beam_size, end_token = 6, 5, 3, 2
    # Lengths 0, 1, inside, the maximum and past it (clipped to T).
    lengths = [0, 1, 4, steps, steps + 2]
    step_ids, parent_ids, lengths = random_beams(
        rng, steps, batch, beam_size, 5, lengths
    )
    beams = gather_tree(step_ids, parent_ids, lengths, end_token)
    np.testing.assert_array_equal(
        ops.convert_to_numpy(beams),
        numpy_gather_tree(step_ids, parent_ids, lengths, end_token),
    )


def test_gather_tree_follows_parents_back_from_each_final_beam():
    # T=3, B=1, K=2: beam 0 ends as 10 -> 21 -> 30 (parents 1 then 0),
    # beam 1 ends as 10 -> 20 -> 31 (parents 0 then 0).
    step_ids = np.array([[[10, 11]], [[20, 21]], [[30, 31]]], "int32")
    parent_ids = np.array([[[0, 0]], [[0, 0]], [[1, 0]]], "int32")
    beams = gather_tree(step_ids, parent_ids, np.array([3]), end_token=99)
    np.testing.assert_array_equal(
        ops.convert_to_numpy(beams)[:, 0].T, [[10, 21, 30], [10, 20, 31]]
    )


def test_gather_tree_ends_every_step_after_the_first_end_token():
    step_ids = np.array([[[4]], [[1]], [[5]], [[6]]], "int32")  # K=1
    parent_ids = np.zeros_like(step_ids)
    beams = gather_tree(step_ids, parent_ids, np.array([3]), end_token=1)
    np.testing.assert_array_equal(
        ops.convert_to_numpy(beams)[:, 0, 0], [4, 1, 1, 1]
    )


def test_gather_tree_ignores_pointers_past_the_length():
    rng = np.random.default_rng(0)
    step_ids, parent_ids, lengths = random_beams(rng, 5, 2, 3, 4, [2, 5])
    garbage_ids, garbage_parents = step_ids.copy(), parent_ids.copy()
    garbage_ids[2:, 0] = 77
    garbage_parents[2:, 0] = rng.permutation(3)
    want = gather_tree(step_ids, parent_ids, lengths, 3)
    got = gather_tree(garbage_ids, garbage_parents, lengths, 3)
    np.testing.assert_array_equal(
        ops.convert_to_numpy(got), ops.convert_to_numpy(want)
    )


def test_gather_tree_keeps_the_dtype_of_the_ids():
    # int64 where the backend has it (JAX without x64 makes it int32).
    step_ids = ops.convert_to_tensor(np.array([[[1, 2]], [[3, 4]]], "int64"))
    parent_ids = np.zeros((2, 1, 2), "int32")
    beams = gather_tree(step_ids, parent_ids, np.array([2]), np.int64(9))
    assert beams.dtype == step_ids.dtype


def test_gather_tree_in_a_compiled_model_equals_eager():
    rng = np.random.default_rng(3)
    steps, batch, beam_size, end_token = 7, 4, 3, 1
    step_ids, parent_ids, lengths = random_beams(
        rng, steps, batch, beam_size, 4, [7, 1, 5, 3]
    )
    ids_in = keras.Input((None, beam_size), dtype="int32")
    parents_in = keras.Input((None, beam_size), dtype="int32")
    lengths_in = keras.Input((), dtype="int32")
    outputs = BatchMajorGatherTree(end_token)(ids_in, parents_in, lengths_in)
    model = keras.Model([ids_in, parents_in, lengths_in], outputs)
    # XLA on TensorFlow, jax.jit on JAX; torch.compile is too slow for a
    # unit test, so the torch backend runs its (graph-free) predict step.
    model.compile(jit_compile=keras.backend.backend() != "torch")
    batch_major = [np.transpose(step_ids, (1, 0, 2))]
    batch_major.append(np.transpose(parent_ids, (1, 0, 2)))
    compiled = model.predict([*batch_major, lengths], verbose=0)
    eager = gather_tree(step_ids, parent_ids, lengths, end_token)
    np.testing.assert_array_equal(
        np.transpose(compiled, (1, 0, 2)), ops.convert_to_numpy(eager)
    )
    np.testing.assert_array_equal(
        ops.convert_to_numpy(eager),
        numpy_gather_tree(step_ids, parent_ids, lengths, end_token),
    )


def test_tile_batch_repeats_entries_consecutively_in_dicts():
    x = {
        "value": np.arange(6, dtype="float32").reshape(2, 3),
        "ids": np.array([5, 7]),
    }
    tiled = tile_batch(x, 2)
    np.testing.assert_array_equal(
        ops.convert_to_numpy(tiled["value"]), [[0, 1, 2]] * 2 + [[3, 4, 5]] * 2
    )
    np.testing.assert_array_equal(
        ops.convert_to_numpy(tiled["ids"]), [5, 5, 7, 7]
    )
    assert keras.backend.standardize_dtype(tiled["value"].dtype) == "float32"


@pytest.mark.parametrize("multiplier", [0, -1, 2.0, True])
def test_tile_batch_rejects_a_bad_multiplier(multiplier):
    with pytest.raises(ValueError, match="multiplier"):
        tile_batch(np.zeros((2, 3)), multiplier)


def test_tile_batch_rejects_scalars():
    with pytest.raises(ValueError, match="batch axis"):
        tile_batch((np.zeros((2,)), np.float32(1.0)), 2)


def test_gather_tree_of_no_steps_is_empty():
    ids = np.zeros((0, 2, 3), "int32")
    beams = gather_tree(ids, ids, np.array([0, 0]), end_token=1)
    assert tuple(beams.shape) == (0, 2, 3)


@pytest.mark.parametrize("name", ["step_ids", "parent_ids"])
def test_gather_tree_refuses_float_ids_in_one_line(name):
    ids = {
        "step_ids": np.ones((2, 1, 2), "int32"),
        "parent_ids": np.zeros((2, 1, 2), "int32"),
    }
    ids[name] = ids[name].astype("float32")
    with pytest.raises(ValueError, match=f"`{name}` must be integer") as e:
        gather_tree(**ids, max_sequence_lengths=np.array([2]), end_token=1)
    assert len(str(e.value).splitlines()) == 1
