"""Parity of `keras_seq2seq.tfa.AttentionWrapper` with TFA's fixtures."""

import keras
import numpy as np
import pytest
from keras import ops

import keras_seq2seq.tfa as tfa
from keras_seq2seq.decoding.compile import compiled
from shared_data import assert_outputs, case_ids, load_case

CELLS = {"GRUCell": keras.layers.GRUCell, "LSTMCell": keras.layers.LSTMCell}


def build_wrapper(case, a):
    args = case["args"]
    mechanism_class = getattr(tfa.seq2seq, args["mechanism"])
    options = {}
    if "mechanism_normalize" in args:
        options["normalize"] = args["mechanism_normalize"]
    if "mechanism_scale" in args:
        options["scale"] = args["mechanism_scale"]
    mechanism = mechanism_class(
        args["mechanism_units"],
        memory=a["memory"],
        memory_sequence_length=a["memory_sequence_length"],
        **options,
    )
    cell = CELLS[args["cell"]](args["cell_units"])
    return tfa.seq2seq.AttentionWrapper(
        cell,
        mechanism,
        attention_layer_size=args["attention_layer_size"],
        alignment_history=args["alignment_history"],
        output_attention=args["output_attention"],
    )


def initial_state(wrapper, case, a):
    batch = a["memory"].shape[0]
    state = wrapper.get_initial_state(batch_size=batch, dtype="float32")
    if case["args"]["initial_state"] == "given":
        if "initial_cell_state_c" in a:
            cell_state = [a["initial_cell_state_h"], a["initial_cell_state_c"]]
        else:
            cell_state = a["initial_cell_state_h"]
        state = state.clone(cell_state=cell_state)
    return state


def run_steps(wrapper, state, inputs):
    outputs = []
    for t in range(inputs.shape[1]):
        output, state = wrapper(inputs[:, t], state)
        outputs.append(ops.convert_to_numpy(output))
    return np.stack(outputs, axis=1), state


def run_with_tfa_weights(case, a):
    """The case's wrapper, weights set in TFA's order, stepped by hand over
    the inputs: returns `(wrapper, outputs (B, S, ...), final_state)`."""
    wrapper = build_wrapper(case, a)
    run_steps(wrapper, initial_state(wrapper, case, a), a["inputs"][:, :1])
    order = case["get_weights_order"]["attention_wrapper"]
    assert [tuple(w.shape) for w in wrapper.get_weights()] == [
        a[name].shape for name in order
    ]
    wrapper.set_weights([a[name] for name in order])
    wrapper.attention_mechanism.setup_memory(
        a["memory"], a["memory_sequence_length"]
    )
    outputs, state = run_steps(
        wrapper, initial_state(wrapper, case, a), a["inputs"]
    )
    return wrapper, outputs, state


@pytest.mark.parametrize("cid", case_ids("attention_wrapper"))
def test_wrapper_steps_match_tfa_with_weights_in_tfa_order(cid):
    case, a = load_case(cid)
    _, outputs, state = run_with_tfa_weights(case, a)
    got = {
        "outputs": outputs,
        "final_attention": state.attention,
        "final_alignments": state.alignments,
        "final_attention_state": state.attention_state,
        # TFA's history is a `TensorArray`: programs call `stack()`.
        "alignment_history": state.alignment_history.stack(),
    }
    if isinstance(state.cell_state, list):
        got["final_cell_state_h"], got["final_cell_state_c"] = state.cell_state
    else:
        got["final_cell_state"] = state.cell_state
    got = {k: ops.convert_to_numpy(v) for k, v in got.items()}
    assert_outputs(case, a, got)


def is_history_case(name):
    return name == "wrapper_lstm_luong_scale_als4_outAttn_given"


@pytest.mark.parametrize("cid", case_ids("attention_wrapper", is_history_case))
def test_stepped_history_reads_like_tfas_tensor_array(cid):
    case, a = load_case(cid)
    _, _, state = run_with_tfa_weights(case, a)
    history = state.alignment_history
    want = a["alignment_history"]  # (S, B, Ts), time-major
    steps = want.shape[0]
    assert int(ops.convert_to_numpy(history.size())) == steps
    for t in range(steps):
        np.testing.assert_allclose(
            ops.convert_to_numpy(history.read(t)), want[t], atol=1e-5
        )
    np.testing.assert_allclose(
        ops.convert_to_numpy(history.gather([steps - 1, 0])),
        want[[steps - 1, 0]],
        atol=1e-5,
    )
    with pytest.raises(IndexError, match="read"):
        history.read(steps)
    # Code written for a stacked tensor still reads it with NumPy.
    assert tuple(history.shape) == want.shape
    assert history.dtype == "float32"
    np.testing.assert_allclose(np.asarray(history), want, atol=1e-5)
    np.testing.assert_allclose(ops.convert_to_numpy(history), want, atol=1e-5)


@pytest.mark.parametrize("cid", case_ids("attention_wrapper", is_history_case))
def test_wrapper_stepped_in_a_compiled_function_stacks_tfas_history(cid):
    case, a = load_case(cid)
    wrapper, _, _ = run_with_tfa_weights(case, a)

    def stacked_history(inputs):
        state = initial_state(wrapper, case, a)
        for t in range(inputs.shape[1]):
            _, state = wrapper(inputs[:, t], state)
        return state.alignment_history.stack()

    got = compiled(stacked_history)(a["inputs"])
    np.testing.assert_allclose(
        ops.convert_to_numpy(got), a["alignment_history"], atol=1e-5
    )


def test_wrapper_without_memory_raises():
    mechanism = tfa.BahdanauAttention(3)
    wrapper = tfa.AttentionWrapper(keras.layers.GRUCell(4), mechanism)
    with pytest.raises(ValueError, match="no memory"):
        wrapper.get_initial_state(batch_size=2, dtype="float32")
