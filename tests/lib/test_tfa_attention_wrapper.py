"""Parity of `keras_seq2seq.tfa.AttentionWrapper` with TFA's fixtures."""

import keras
import numpy as np
import pytest
from keras import ops

import keras_seq2seq.tfa as tfa
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


@pytest.mark.parametrize("cid", case_ids("attention_wrapper"))
def test_wrapper_steps_match_tfa_with_weights_in_tfa_order(cid):
    case, a = load_case(cid)
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
    got = {
        "outputs": outputs,
        "final_attention": state.attention,
        "final_alignments": state.alignments,
        "final_attention_state": state.attention_state,
        "alignment_history": state.alignment_history,
    }
    if isinstance(state.cell_state, list):
        got["final_cell_state_h"], got["final_cell_state_c"] = state.cell_state
    else:
        got["final_cell_state"] = state.cell_state
    got = {k: ops.convert_to_numpy(v) for k, v in got.items()}
    assert_outputs(case, a, got)


def test_wrapper_without_memory_raises():
    mechanism = tfa.BahdanauAttention(3)
    wrapper = tfa.AttentionWrapper(keras.layers.GRUCell(4), mechanism)
    with pytest.raises(ValueError, match="no memory"):
        wrapper.get_initial_state(batch_size=2, dtype="float32")


def test_unsupported_wrapper_options_raise():
    mechanism = tfa.BahdanauAttention(3)
    with pytest.raises(ValueError, match="cell_input_fn"):
        tfa.AttentionWrapper(
            keras.layers.GRUCell(4), mechanism, cell_input_fn=lambda x, a: x
        )
    with pytest.raises(ValueError, match="one keras_seq2seq.tfa mechanism"):
        tfa.AttentionWrapper(keras.layers.GRUCell(4), [mechanism, mechanism])
