"""`keras_seq2seq.tfa.BeamSearchDecoder`: TFA's programs, TFA's numbers.

Each fixture case runs the case's `tfa_call` with `import keras_seq2seq.tfa
as tfa`: memory, lengths and initial state tiled with `tile_batch`, an
`AttentionWrapper(GRUCell, BahdanauAttention)`, weights set in TFA's
`get_weights()` order.
"""

import keras
import numpy as np
import pytest
from keras import ops

import keras_seq2seq.tfa as tfa
from keras_seq2seq.decoding.beam_search import beam_search
from keras_seq2seq.decoding.step import attention_step
from keras_seq2seq.ops import sequence_mask
from shared_data import assert_outputs, case_ids, load_case

# One case per seed also runs through `dynamic_decode` (TFA's second form).
LAST = "beam_k5_lp0.6_cp0.4"


@pytest.fixture(autouse=True)
def seed():
    keras.utils.set_random_seed(0)


def tfa_program(case, a, alignment_history=False, **options):
    """The case's `tfa_call`, returning the decoder, its cell and state."""
    args = case["args"]
    k = args["beam_width"]
    batch_size = a["memory"].shape[0]
    tiled = tfa.seq2seq.tile_batch(a["memory"], k)
    tiled_len = tfa.seq2seq.tile_batch(a["memory_sequence_length"], k)
    mech = tfa.seq2seq.BahdanauAttention(
        args["attention_units"], memory=tiled, memory_sequence_length=tiled_len
    )
    cell = tfa.seq2seq.AttentionWrapper(
        keras.layers.GRUCell(args["cell_units"]),
        mech,
        attention_layer_size=args["attention_layer_size"],
        alignment_history=alignment_history,
    )
    decoder = tfa.seq2seq.BeamSearchDecoder(
        cell,
        beam_width=k,
        output_layer=keras.layers.Dense(args["vocab"]),
        length_penalty_weight=args["length_penalty_weight"],
        coverage_penalty_weight=args["coverage_penalty_weight"],
        maximum_iterations=args["maximum_iterations"],
        **options,
    )
    init = cell.get_initial_state(
        batch_size=batch_size * k, dtype="float32"
    ).clone(cell_state=tfa.seq2seq.tile_batch(a["initial_cell_state_h"], k))
    return decoder, cell, init


def run(decoder, a, init, through_dynamic_decode=False):
    if through_dynamic_decode:
        return tfa.seq2seq.dynamic_decode(
            decoder,
            maximum_iterations=decoder.maximum_iterations,
            decoder_init_input=a["embedding"],
            decoder_init_kwargs=dict(
                start_tokens=a["start_tokens"],
                end_token=a["end_token"],
                initial_state=init,
            ),
        )
    return decoder(
        a["embedding"],
        start_tokens=a["start_tokens"],
        end_token=a["end_token"],
        initial_state=init,
    )


def set_tfa_weights(decoder, case, a):
    """Weights in TFA's `get_weights()` order; checks that order's shapes."""
    order = case["get_weights_order"]
    names = order["cell"] + order["output_layer"]
    shapes = [tuple(w.shape) for w in decoder.get_weights()]
    assert shapes == [a[name].shape for name in names]
    decoder.set_weights([a[name] for name in names])


def numpy(structure):
    return keras.tree.map_structure(ops.convert_to_numpy, structure)


def fixture_decoder(cid, **options):
    case, a = load_case(cid)
    decoder, cell, init = tfa_program(case, a, **options)
    run(decoder, a, init)  # creates the weights
    set_tfa_weights(decoder, case, a)
    return case, a, decoder, cell, init


@pytest.mark.parametrize(
    "cid, through_dynamic_decode",
    [(cid, False) for cid in case_ids("beam_search")]
    + [(cid, True) for cid in case_ids("beam_search", lambda n: n == LAST)],
)
def test_beam_search_decoder_matches_tfa(cid, through_dynamic_decode):
    case, a, decoder, _, init = fixture_decoder(cid)
    outputs, state, lengths = numpy(
        run(decoder, a, init, through_dynamic_decode)
    )
    steps = outputs.predicted_ids.shape[1]
    assert steps == a["step_ids"].shape[1]  # TFA stopped at the same step.
    raw = outputs.beam_search_decoder_output
    got = {
        "predicted_ids": outputs.predicted_ids,
        "scores": raw.scores,
        "step_ids": raw.predicted_ids,
        "parent_ids": raw.parent_ids,
        "sequence_lengths": lengths,
        "final_lengths": state.lengths,
        "final_log_probs": state.log_probs,
        "final_finished": state.finished,
        "final_accumulated_attention_probs": state.accumulated_attention_probs,
    }
    assert_outputs(case, a, got)


def native_search(case, a, cell, output_layer):
    """The native `beam_search` over the wrapper's own cell and weights."""
    core = cell.core  # the AttentionRNNCell the wrapper runs
    steps = a["memory"].shape[1]
    mask = sequence_mask(a["memory_sequence_length"], steps)
    memory = core.prepare(a["memory"], value_mask=mask)
    state = core.get_initial_state(memory, a["initial_cell_state_h"])
    embedding = ops.convert_to_tensor(a["embedding"])
    k = case["args"]["beam_width"]
    result = beam_search(
        attention_step(core, output_layer, lambda i: ops.take(embedding, i, 0)),
        state,
        bos_id=a["start_tokens"],
        eos_id=int(a["end_token"]),
        max_length=case["args"]["maximum_iterations"],
        beam_size=k,
        length_penalty=case["args"]["length_penalty_weight"],
        coverage_penalty=case["args"]["coverage_penalty_weight"],
        n_best=k,
        constants=memory,
    )
    return numpy(result)


@pytest.mark.parametrize("cid", case_ids("beam_search", lambda n: n == LAST))
def test_alignment_history_is_reordered_by_tfas_rule(cid):
    case, a, decoder, cell, init = fixture_decoder(cid, alignment_history=True)
    outputs, state, _ = run(decoder, a, init)
    # TFA's `finalize` stacks the history it reorders: a tensor.
    history = state.cell_state.alignment_history
    assert ops.is_tensor(history)
    outputs, state, history = numpy((outputs, state, history))  # (T, B*K, Ts)
    steps, _, source_steps = history.shape
    k = case["args"]["beam_width"]
    per_beam = history.reshape(steps, -1, k, source_steps).transpose(1, 2, 0, 3)
    # Not reordered, TFA's history stays a `TensorArray`, rows in the order
    # the beams ran.
    decoder.reorder_tensor_arrays = False
    _, unordered, _ = run(decoder, a, init)
    raw = ops.convert_to_numpy(unordered.cell_state.alignment_history.stack())
    raw = raw.reshape(steps, -1, k, source_steps).transpose(1, 2, 0, 3)
    # TFA's `gather_tree_from_array`: final beam j's slots, backtracked from
    # the batch's longest beam; step t reads the slot j holds after step t,
    # and steps from j's length on keep row j.
    parents = outputs.beam_search_decoder_output.parent_ids  # (B, T, K)
    native = native_search(case, a, cell, decoder.output_layer)
    swapped = False
    for b, j in np.ndindex(per_beam.shape[:2]):
        length, longest = state.lengths[b, j], state.lengths[b].max()
        path, slot = {}, j
        for t in reversed(range(longest)):
            path[t] = slot
            slot = parents[b, t, slot]
        for t in range(steps):
            row = path[t] if t < length else j
            np.testing.assert_array_equal(per_beam[b, j, t], raw[b, row, t])
            # The alignments the hypothesis' own beam computed at step t sit
            # in its parent's slot (`Seq2Seq.generate` returns those).
            if t < length:
                own = raw[b, parents[b, t, path[t]], t]
                np.testing.assert_allclose(
                    own, native["weights"][b, j, t], rtol=1e-5, atol=1e-6
                )
                swapped |= not np.allclose(own, per_beam[b, j, t])
    assert swapped  # the case's beams swap: the two rules differ somewhere


@pytest.mark.parametrize("cid", case_ids("beam_search", lambda n: n == LAST))
def test_output_all_scores_holds_every_candidate_score(cid):
    case, a, decoder, cell, init = fixture_decoder(cid, output_all_scores=True)
    outputs, _, _ = numpy(run(decoder, a, init))
    scores = outputs.beam_search_decoder_output.scores
    batch_size, k = a["memory"].shape[0], case["args"]["beam_width"]
    vocab = case["args"]["vocab"]
    steps = a["step_ids"].shape[1]
    assert scores.shape == (batch_size, steps, k, vocab)
    # The selected candidates' scores are TFA's per-step scores.
    index = a["parent_ids"] * vocab + a["step_ids"]  # (B, T, K)
    flat = scores.reshape(batch_size, steps, k * vocab)
    selected = np.take_along_axis(flat, index, axis=-1)
    np.testing.assert_allclose(selected, a["scores"], rtol=1e-4, atol=1e-4)


def test_invalid_arguments_raise():
    cell = keras.layers.GRUCell(3)
    with pytest.raises(ValueError, match="beam_width"):
        tfa.BeamSearchDecoder(cell, beam_width=0)
    with pytest.raises(ValueError, match="length_penalty_weight"):
        tfa.BeamSearchDecoder(cell, 2, length_penalty_weight=-1.0)
    with pytest.raises(ValueError, match="output_layer"):
        tfa.BeamSearchDecoder(cell, 2, output_layer=lambda x: x)
    decoder = tfa.BeamSearchDecoder(cell, 2, coverage_penalty_weight=0.5)
    with pytest.raises(ValueError, match="AttentionWrapper"):
        decoder(
            np.eye(4, 3, dtype="float32"),
            start_tokens=np.zeros(2, "int32"),
            end_token=1,
            initial_state=np.zeros((4, 3), "float32"),
        )
