"""`keras_seq2seq.tfa.BasicDecoder` and `dynamic_decode`: TFA parity and
TFA's decoding semantics."""

import keras
import numpy as np
import pytest
from keras import ops
from shared_data import assert_outputs, case_ids, load_case

import keras_seq2seq.tfa as tfa

CELLS = {"GRUCell": keras.layers.GRUCell, "LSTMCell": keras.layers.LSTMCell}


@pytest.fixture(autouse=True)
def seed():
    keras.utils.set_random_seed(0)


def build_cell(case, a):
    """The case's cell: a plain Keras cell or an `AttentionWrapper`."""
    args = case["args"]
    name = args["cell"]
    if not name.startswith("AttentionWrapper("):
        return CELLS[name](args["cell_units"])
    inner = CELLS[name[len("AttentionWrapper(") : -1]](args["cell_units"])
    mechanism = tfa.BahdanauAttention(
        args["attention_units"],
        memory=a["memory"],
        memory_sequence_length=a["memory_sequence_length"],
    )
    return tfa.AttentionWrapper(
        inner,
        mechanism,
        attention_layer_size=args["attention_layer_size"],
        alignment_history="alignment_history" in a,
    )


def initial_state(cell, a):
    given = a["initial_cell_state_h"]
    if "initial_cell_state_c" in a:
        given = [given, a["initial_cell_state_c"]]
    if isinstance(cell, tfa.AttentionWrapper):
        batch = given.shape[0]
        state = cell.get_initial_state(batch_size=batch, dtype="float32")
        return state.clone(cell_state=given)
    return given


def sampler_and_inputs(case, a):
    """The sampler the case's `tfa_call` names and its initialize inputs."""
    if "GreedyEmbeddingSampler" in case["tfa_call"]:
        kwargs = dict(start_tokens=a["start_tokens"], end_token=a["end_token"])
        return tfa.GreedyEmbeddingSampler(), a["embedding"], kwargs
    kwargs = dict(sequence_length=a["decoder_sequence_length"])
    return tfa.TrainingSampler(), a["decoder_inputs"], kwargs


def run_case(case, a, decoder, cell):
    _, init_input, init_kwargs = sampler_and_inputs(case, a)
    return tfa.seq2seq.dynamic_decode(
        decoder,
        maximum_iterations=case["args"].get("maximum_iterations"),
        impute_finished=case["args"]["impute_finished"],
        decoder_init_input=init_input,
        decoder_init_kwargs=dict(
            init_kwargs, initial_state=initial_state(cell, a)
        ),
    )


def results(outputs, state, lengths):
    got = {
        "rnn_output": outputs.rnn_output,
        "sample_id": outputs.sample_id,
        "sequence_lengths": lengths,
    }
    if isinstance(state, tfa.AttentionWrapperState):
        got["final_attention"] = state.attention
        got["final_alignments"] = state.alignments
        got["alignment_history"] = state.alignment_history
        state = state.cell_state
    if isinstance(state, (list, tuple)):
        got["final_cell_state_h"], got["final_cell_state_c"] = state
    else:
        got["final_cell_state"] = state
    return {
        name: ops.convert_to_numpy(value)
        for name, value in got.items()
        if not isinstance(value, tuple)
    }


@pytest.mark.parametrize("cid", case_ids("basic_decoder"))
def test_basic_decoder_matches_tfa_with_weights_in_tfa_order(cid):
    case, a = load_case(cid)
    cell = build_cell(case, a)
    sampler, _, _ = sampler_and_inputs(case, a)
    output_layer = keras.layers.Dense(case["args"]["vocab"])
    decoder = tfa.BasicDecoder(cell, sampler, output_layer=output_layer)
    run_case(case, a, decoder, cell)  # creates the weights
    order = case["get_weights_order"]
    names = order["cell"] + order["output_layer"]
    assert [tuple(w.shape) for w in decoder.get_weights()] == [
        a[name].shape for name in names
    ]
    decoder.set_weights([a[name] for name in names])
    outputs, state, lengths = run_case(case, a, decoder, cell)
    assert_outputs(case, a, results(outputs, state, lengths))
