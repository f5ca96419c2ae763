"""`beam_search` against `tfa.seq2seq.BeamSearchDecoder`'s fixtures.

Each case runs TFA's `AttentionWrapper(GRUCell, BahdanauAttention,
attention_layer_size=L)` + `Dense(V)` + embedding as our `AttentionRNNCell`
(query order "luong", TFA's) in `attention_step`, with the case's weights
set by name. TFA's outputs are `(B, T', K)` with `T'` the steps it ran; ours
have `max_length` steps, and the ones after `steps` must be padding.
"""

import keras
import numpy as np
import pytest
from keras import ops

from keras_seq2seq.attention import BahdanauAttention
from keras_seq2seq.decoder.attention_rnn_cell import AttentionRNNCell
from keras_seq2seq.decoding.beam_search import beam_search
from keras_seq2seq.decoding.step import attention_step
from keras_seq2seq.ops import sequence_mask
from shared_data import assert_outputs, case_ids, load_case


def tfa_model(a):
    """Step function, untiled initial state and memory from a case's arrays."""
    vocab_size, embedding_dim = a["embedding"].shape
    _, source_steps, value_depth = a["memory"].shape
    cell = AttentionRNNCell(
        keras.layers.GRUCell(a["cell_recurrent_kernel"].shape[0]),
        BahdanauAttention(a["attention_v"].shape[0]),
        query_order="luong",
        attention_layer_size=a["attention_layer_kernel"].shape[1],
        output_attention=True,
    )
    cell.build((None, embedding_dim), (None, source_steps, value_depth))
    output_layer = keras.layers.Dense(vocab_size)
    output_layer.build((None, cell.output_size))
    embedding = keras.layers.Embedding(vocab_size, embedding_dim)
    embedding.build((None,))
    for variable, name in [
        (cell.cell.kernel, "cell_kernel"),
        (cell.cell.recurrent_kernel, "cell_recurrent_kernel"),
        (cell.cell.bias, "cell_bias"),
        (cell.attention.key_dense.kernel, "memory_kernel"),
        (cell.attention.query_dense.kernel, "query_kernel"),
        (cell.attention.attention_v, "attention_v"),
        (cell.attention_layer.kernel, "attention_layer_kernel"),
        (output_layer.kernel, "output_kernel"),
        (output_layer.bias, "output_bias"),
        (embedding.embeddings, "embedding"),
    ]:
        variable.assign(a[name])
    value_mask = sequence_mask(a["memory_sequence_length"], source_steps)
    memory = cell.prepare(a["memory"], value_mask=value_mask)
    state = cell.get_initial_state(memory, a["initial_cell_state_h"])
    return attention_step(cell, output_layer, embedding), state, memory


def time_second(ids):
    """Our `(B, K, T)` hypotheses in TFA's `(B, T, K)` layout."""
    return np.transpose(ids, (0, 2, 1))


@pytest.mark.parametrize("cid", case_ids("beam_search"))
def test_beam_search_matches_tfa(cid):
    case, a = load_case(cid)
    args = case["args"]
    beam_size = args["beam_width"]
    step_fn, state, memory = tfa_model(a)
    result = beam_search(
        step_fn,
        state,
        constants=memory,
        bos_id=a["start_tokens"],
        eos_id=int(a["end_token"]),
        max_length=args["maximum_iterations"],
        beam_size=beam_size,
        length_penalty=args["length_penalty_weight"],
        coverage_penalty=args["coverage_penalty_weight"],
        n_best=beam_size,
        return_raw=True,
    )
    r = {name: ops.convert_to_numpy(x) for name, x in result.items()}
    steps = int(r["steps"])
    assert steps == a["step_ids"].shape[1]  # TFA stopped at the same step.
    got = {
        # The public outputs, hypotheses best first as TFA's beams.
        "predicted_ids": time_second(r["ids"])[:, :steps],
        "sequence_lengths": r["lengths"],
        "final_lengths": r["lengths"],
        "final_log_probs": r["log_probs"],
        # The per-step arrays and the final state (`return_raw`).
        "step_ids": r["step_ids"][:, :steps],
        "parent_ids": r["parent_ids"][:, :steps],
        "scores": r["step_scores"][:, :steps],
        "final_finished": r["final_finished"],
        "final_accumulated_attention_probs": r["accumulated_weights"],
    }
    assert_outputs(case, a, got)
    raw_ids = r["predicted_ids"][:, :steps]
    np.testing.assert_array_equal(raw_ids, a["predicted_ids"])
    # The ranking scores are the last step's.
    last = a["scores"][:, -1]
    np.testing.assert_allclose(r["scores"], last, rtol=1e-4, atol=1e-4)
    # Past the steps TFA ran: padding only.
    assert (r["ids"][:, :, steps:] == int(a["end_token"])).all()
    assert (r["weights"][:, :, steps:] == 0).all()
