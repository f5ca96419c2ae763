"""The native API as demanding Keras users meet it, fifteenth audit round.

This round drives the low-level beam search with a step function that
masks most of the vocabulary (a constrained output), builds masks for an
empty batch, and hands attention layers and the decoder a mask of the
wrong shape in a functional model. Each test pins one defect of an earlier
version (a hypothesis of score -inf or -3.4e38 presented as an answer, a
copy of another, an error only when the model ran or none at all) or the
documented result. Expected values are computed by hand from the step's
probabilities.
"""

import keras
import numpy as np
import pytest
from keras import ops

from keras_seq2seq import AttentionDecoder, BahdanauAttention, sequence_mask
from keras_seq2seq.decoding import beam_search, compiled
from tiny_batch import SOURCE, TARGET_IN, small_model

EOS, BOS, V, K = 0, 1, 6, 4


def masked_step(allowed):
    """A step that gives log-prob -inf to every token but those of
    `allowed[previous token]` (`{token: probability}`), uniform attention
    over 3 source positions."""
    table = np.full((V, V), -np.inf, "float32")
    for previous, row in allowed.items():
        for token, p in row.items():
            table[previous, token] = np.log(p)
    table = ops.convert_to_tensor(table)

    def step(tokens, state):
        weights = ops.full((ops.shape(tokens)[0], 3), 1.0 / 3.0)
        return ops.take(table, tokens, axis=0), state, weights

    return step


def search(step, max_length, search_fn=beam_search, **options):
    state = {"h": np.zeros((2, 1), "float32")}
    result = search_fn(
        step, state, BOS, EOS, max_length, K, n_best=K, **options
    )
    return {name: ops.convert_to_numpy(x) for name, x in result.items()}


def assert_empty(result, first_empty):
    """Hypotheses from `first_empty` on are empty: -inf, length 0, eos."""
    tail = slice(first_empty, None)
    assert np.all(result["scores"][:, tail] == -np.inf)
    assert np.all(result["log_probs"][:, tail] == -np.inf)
    assert np.all(result["lengths"][:, tail] == 0)
    assert np.all(result["ids"][:, tail] == EOS)
    assert np.all(result["weights"][:, tail] == 0)
    real = slice(None, first_empty)
    assert np.all(np.isfinite(result["scores"][:, real]))
    assert np.all(result["lengths"][:, real] > 0)


# --- A step that masks most tokens leaves fewer candidates than beams.
# The extra hypotheses came back as answers: a token of log-prob -inf
# (the bos id, length 1), or a copy of a finished hypothesis scored
# -3.4e38 (a finished beam's other tokens score float32's lowest below
# it). They now come back empty, after the real ones, eager and compiled.

TWO_TOKENS = {BOS: {2: 0.6, 3: 0.4}}


@pytest.mark.parametrize("search_fn", [beam_search, compiled(beam_search)])
def test_one_step_with_fewer_tokens_than_hypotheses_gives_empty_ones(
    search_fn,
):
    result = search(masked_step(TWO_TOKENS), 1, search_fn)
    np.testing.assert_array_equal(result["ids"][:, :2, 0], [[2, 3], [2, 3]])
    np.testing.assert_allclose(
        result["log_probs"][:, :2], np.log([[0.6, 0.4]] * 2), rtol=1e-6
    )
    assert_empty(result, 2)


def test_a_finished_hypothesis_is_not_copied_into_a_free_beam():
    # "<eos>" (.4) and "c <eos>" (.6 * .5), "c c" (.6 * .5): three real
    # hypotheses of two tokens; the fourth beam held a copy of "<eos>".
    step = masked_step({BOS: {EOS: 0.4, 2: 0.6}, 2: {EOS: 0.5, 2: 0.5}})
    result = search(step, 2)
    ids = [
        tuple(row[:length])
        for row, length in zip(
            result["ids"][0], result["lengths"][0], strict=True
        )
    ]
    assert ids[:3] == [(EOS,), (2, EOS), (2, 2)]
    np.testing.assert_allclose(
        result["log_probs"][0, :3], np.log([0.4, 0.3, 0.3]), rtol=1e-6
    )
    assert_empty(result, 3)


def test_one_per_beam_at_end_adds_no_second_token_of_a_beam():
    # At the last step "c" adds only its best token ("c c", .6 * .6):
    # "c <eos>" came back scored -3.4e38 with a finite log-prob.
    step = masked_step({BOS: {EOS: 0.4, 2: 0.6}, 2: {EOS: 0.4, 2: 0.6}})
    for search_fn in (beam_search, compiled(beam_search)):
        result = search(step, 2, search_fn, one_per_beam_at_end=True)
        np.testing.assert_array_equal(
            result["ids"][:, :2], [[[0, 0], [2, 2]]] * 2
        )
        np.testing.assert_allclose(
            result["log_probs"][:, :2], np.log([[0.4, 0.36]] * 2), rtol=1e-6
        )
        assert_empty(result, 2)


def test_the_search_stops_when_every_real_hypothesis_has_ended():
    # "<eos>" and "c <eos>" end by step 2; the beams that hold no
    # hypothesis ran the search on to max_length.
    step = masked_step({BOS: {EOS: 0.4, 2: 0.6}, 2: {EOS: 1.0}})
    result = search(step, 6)
    assert int(result["steps"]) == 2
    np.testing.assert_array_equal(result["lengths"][:, :2], [[2, 1]] * 2)
    assert_empty(result, 2)


# --- `sequence_mask` of no lengths at all: `tf.sequence_mask` gives
# shape (0, 0); the width taken from the longest length raised on every
# backend (the max of an empty tensor).


@pytest.mark.parametrize("lengths", [np.zeros((0,), "int32"), []])
def test_sequence_mask_of_no_lengths_is_empty(lengths):
    assert tuple(sequence_mask(lengths).shape) == (0, 0)
    assert tuple(sequence_mask(lengths, 3).shape) == (0, 3)


# --- `sequence_mask` of lengths `(B, C)` (one per sentence and
# candidate), as `tf.sequence_mask` takes them: `(B, C, maxlen)`. The
# mask came out `(B, maxlen, C)`, wrong where `maxlen == C` (silently),
# or an error.


@pytest.mark.parametrize("maxlen", [None, 3, 5])
def test_sequence_mask_of_lengths_of_any_rank_ends_in_the_steps(maxlen):
    lengths = np.array([[1, 3, 0], [2, 2, 3]], "int32")
    steps = 3 if maxlen is None else maxlen
    want = np.arange(steps) < lengths[..., None]
    assert want.shape == (2, 3, steps)
    got = ops.convert_to_numpy(sequence_mask(lengths, maxlen))
    np.testing.assert_array_equal(got, want)
    # One length: `(maxlen,)`, by default as wide as it.
    got = ops.convert_to_numpy(sequence_mask(np.int32(2), maxlen))
    np.testing.assert_array_equal(got, np.arange(maxlen or 2) < 2)


# --- A mask of the wrong shape handed by hand to an attention layer or
# the decoder in a functional model: Keras sizes the outputs with
# `compute_output_shape`, so the check in `call` ran only when the model
# did; the decoder did not check at all, and on PyTorch ran a `(B, 1)`
# mask broadcast over every source step. Keras' report puts the one-line
# message right under its heading.


def decoder():
    return AttentionDecoder(keras.layers.GRUCell(4), BahdanauAttention(3))


@pytest.mark.parametrize("mask_steps", [8, 1])
def test_a_value_mask_of_other_steps_fails_where_the_model_is_built(
    mask_steps,
):
    query, value = keras.Input((5, 4)), keras.Input((7, 6))
    mask = keras.Input((mask_steps,), dtype="bool")
    message = (
        rf"`value_mask` must have shape \(B, Tv\) of `value`. "
        rf"Received: value_mask.shape=\(None, {mask_steps}\)"
    )
    with pytest.raises(ValueError, match=message):
        BahdanauAttention(3)(query, value, value_mask=mask)
    with pytest.raises(ValueError, match=message):
        decoder()(keras.Input((5, 3)), value, value_mask=mask)


@pytest.mark.parametrize("shape", [(2, 1), (1, 7), (2, 7, 1)])
def test_the_decoder_refuses_a_value_mask_of_another_shape(shape):
    inputs = np.zeros((2, 5, 3), "float32")
    value = np.ones((2, 7, 6), "float32")
    with pytest.raises(ValueError, match=r"`value_mask` must have shape"):
        decoder()(inputs, value, value_mask=np.ones(shape, bool))


def test_the_decoder_refuses_a_target_mask_of_another_shape():
    with pytest.raises(ValueError, match=r"`inputs_mask` must have shape"):
        decoder()(
            keras.Input((5, 3)),
            keras.Input((7, 6)),
            inputs_mask=keras.Input((4,), dtype="bool"),
        )


def test_masks_of_the_right_shape_still_flow_from_embeddings():
    source = keras.Input((None,), dtype="int32")
    target = keras.Input((None,), dtype="int32")
    value = keras.layers.Embedding(9, 6, mask_zero=True)(source)
    inputs = keras.layers.Embedding(9, 3, mask_zero=True)(target)
    outputs = decoder()(inputs, value)
    model = keras.Model([source, target], outputs)
    ids = np.array([[3, 4, 0], [5, 0, 0]], "int32")
    outputs = model.predict([ids, ids], verbose=0)
    assert outputs.shape == (2, 3, 6)
    assert np.all(outputs[ids == 0] == 0)
    assert np.all(outputs[ids != 0] != 0)


# --- `predict` on a `keras.utils.PyDataset` (or a generator, a
# `tf.data.Dataset`) of pairs `(source_ids, target_in_ids)`: Keras reads
# a pair as (x, y), so the model got the source ids alone, and the error
# said to use `generate`. It now also says how to yield the pair; wrapped
# as `((source_ids, target_in_ids),)` it predicts as the arrays do.


class Pairs(keras.utils.PyDataset):
    """Two batches of the tiny batch's pairs, wrapped or not."""

    def __init__(self, wrap):
        super().__init__()
        self.wrap = wrap

    def __len__(self):
        return 2

    def __getitem__(self, index):
        rows = [slice(0, 2), slice(2, 3)][index]
        pair = (SOURCE[rows], TARGET_IN[rows])
        return (pair,) if self.wrap else pair


def test_predict_on_a_dataset_of_pairs_says_how_to_yield_them():
    with pytest.raises(ValueError, match=r"yields \(\(source_ids, target_in"):
        small_model().predict(Pairs(wrap=False), verbose=0)
    # A new model: on JAX, Keras' predict left the variables of a model
    # it failed on unset.
    model = small_model()
    got = model.predict(Pairs(wrap=True), verbose=0)
    want = model.predict((SOURCE, TARGET_IN), verbose=0)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
