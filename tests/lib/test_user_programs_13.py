"""The native API as demanding Keras users meet it, thirteenth audit round.

This round freezes the library's layers as Keras users freeze any layer
(`trainable=False` given to the constructor, or set before a `.keras`
round trip, which rebuilds the layer from a config that says so), feeds
the models inputs in the layouts Keras and tokenizers give (a dict,
sparse target ids with a trailing axis of 1, rows not yet padded), calls
the public ops on `bfloat16` tensors, as a `mixed_bfloat16` model holds
them, and translates with an undertrained model and with search options
read from a config file. Each test pins one defect of an earlier
version: weights that trained although frozen, a translation of padding,
a bad option taken, or a backend's (or Python's) error where the
documented result (or one clear `ValueError` line) is expected. Expected
values come from NumPy, or from the same computation done another way.
"""

import keras
import numpy as np
import pytest
from keras import ops

from helpers import TINY_SEQ2SEQ
from keras_seq2seq import (
    AttentionDecoder,
    BahdanauAttention,
    LuongAttention,
    Seq2Seq,
    SequenceLoss,
    monotonic_attention,
    safe_cumprod,
)
from tiny_batch import SOURCE, TARGET_IN, TARGET_OUT, numpy, small_model


def readme_model(attention):
    """The README's functional model at small sizes, and its decoder."""
    source = keras.Input((None,), dtype="int32")
    target_in = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(9, 4, mask_zero=True)(source)
    memory, state = keras.layers.GRU(
        6, return_sequences=True, return_state=True
    )(x)
    decoder = AttentionDecoder(
        keras.layers.GRUCell(6), attention, attention_layer_size=5
    )
    target_embedding = keras.layers.Embedding(10, 4, mask_zero=True)
    outputs = decoder(target_embedding(target_in), memory, initial_state=state)
    logits = keras.layers.Dense(10)(outputs)
    return keras.Model([source, target_in], logits), decoder


def trained(model):
    """Which of `model.weights` are trainable, in their order (names of a
    loaded model's nested layers may differ)."""
    trainable = {id(v) for v in model.trainable_weights}
    return [id(v) in trainable for v in model.weights]


def one_fit_step(model):
    # No XLA on TensorFlow (its compilation takes most of the test): what
    # is checked is which weights move, not the compiled step. JAX's
    # jitted step is faster than its eager one.
    model.compile(
        keras.optimizers.SGD(1.0),
        SequenceLoss(pad_id=0),
        jit_compile=keras.backend.backend() == "jax",
    )
    model.fit((SOURCE, TARGET_IN), TARGET_OUT, epochs=1, verbose=0)


# --- A frozen `AttentionDecoder` (or attention layer) after a `.keras`
# round trip: Keras rebuilds each layer as `Layer(trainable=False)`, which
# freezes the variables the layer makes itself but none of its sublayers'.
# The decoder's step and attention layer, and the attention's projections,
# are made inside the layers, so their weights came back trainable and
# trained (Keras' `MultiHeadAttention` shares the flaw; Seq2Seq's own
# sublayers were fixed in round 11).


@pytest.mark.parametrize(
    "frozen, attention",
    [("decoder", BahdanauAttention), ("attention", LuongAttention)],
)
def test_a_frozen_decoder_stays_frozen_after_a_keras_round_trip(
    frozen, attention, tmp_path
):
    keras.utils.set_random_seed(0)
    model, decoder = readme_model(
        attention(4) if attention is BahdanauAttention else attention()
    )
    layer = decoder if frozen == "decoder" else decoder.step.attention
    layer.trainable = False
    expected = trained(model)
    model.save(tmp_path / "frozen.keras")
    loaded = keras.saving.load_model(tmp_path / "frozen.keras")
    assert trained(loaded) == expected
    loaded_layer = loaded.get_layer(decoder.name)
    if frozen == "attention":
        loaded_layer = loaded_layer.step.attention
    before = [numpy(w) for w in loaded_layer.weights]
    one_fit_step(loaded)
    for old, new in zip(before, loaded_layer.weights, strict=True):
        np.testing.assert_array_equal(numpy(new), old)


def test_a_decoder_made_frozen_freezes_every_weight_it_holds():
    # `AttentionDecoder(..., trainable=False)`, as Keras' config gives it:
    # its cell, attention, step and attention layer are all frozen.
    decoder = AttentionDecoder(
        keras.layers.GRUCell(6),
        BahdanauAttention(4),
        attention_layer_size=5,
        trainable=False,
    )
    inputs = keras.Input((None, 4))
    value = keras.Input((None, 3))
    model = keras.Model([inputs, value], decoder(inputs, value))
    assert model.trainable_weights == []
    assert len(model.non_trainable_weights) == 7


# --- `Seq2Seq(..., trainable=False)` as a layer of one's own functional
# model (a frozen pretrained translator under a new head): the model
# itself listed no trainable weight, but its sublayers were made trainable
# after the flag, so the functional model around it trained all 19.


def test_a_seq2seq_made_frozen_trains_no_weight_in_a_functional_model():
    keras.utils.set_random_seed(0)
    frozen = Seq2Seq(9, 10, trainable=False, **TINY_SEQ2SEQ)
    source = keras.Input((None,), dtype="int32")
    target_in = keras.Input((None,), dtype="int32")
    head = keras.layers.Dense(10, name="head")
    model = keras.Model([source, target_in], head(frozen((source, target_in))))
    assert [v.path for v in model.trainable_weights] == [
        v.path for v in head.weights
    ]
    before = [numpy(w) for w in frozen.weights]
    one_fit_step(model)
    for old, new in zip(before, frozen.weights, strict=True):
        np.testing.assert_array_equal(numpy(new), old)


# --- `Seq2Seq` called on a dict of inputs (Keras' named inputs, as a
# `tf.data` pipeline yields them): the check meant to say that the model
# takes a pair failed itself while writing its message (`ops.shape` of a
# dict), so the user read a backend's error ("'dict' object has no
# attribute 'shape'", TensorFlow's "unsupported type <class 'dict'>").


def test_a_dict_of_inputs_gets_the_one_clear_error():
    model = small_model()
    inputs = {"source_ids": SOURCE, "target_in_ids": TARGET_IN}
    message = r"called on a pair .* Received: a dict with keys \['source_ids'"
    with pytest.raises(ValueError, match=message):
        model(inputs)
    model.compile("sgd", SequenceLoss())
    with pytest.raises(ValueError, match=message):
        model.fit(inputs, TARGET_OUT, verbose=0)


# --- `SequenceLoss` on target ids in Keras' sparse layout `(B, T, 1)`
# (`np.expand_dims(targets, -1)`, which Keras' own sparse cross-entropy and
# `MaskedTokenAccuracy` take): in a functional model (the README's) it read
# them as distributions over a vocabulary of 1 and refused them ("Rank-3
# `targets` must have the vocabulary size"; with `pad_id`, "`pad_id` needs
# `y_true` of ids"). Round 9 made `Seq2Seq.fit` squeeze them, not the loss.


def test_sequence_loss_takes_sparse_ids_with_a_trailing_axis():
    logits = np.random.default_rng(0).normal(size=(3, 4, 10))
    logits = logits.astype("float32")
    weights = np.where(TARGET_OUT == 0, 0.5, 2.0).astype("float32")
    for loss in (SequenceLoss(), SequenceLoss(pad_id=0)):
        for sample_weight in (None, weights):
            expected = numpy(loss(TARGET_OUT, logits, sample_weight))
            got = numpy(loss(TARGET_OUT[..., None], logits, sample_weight))
            np.testing.assert_allclose(got, expected, rtol=1e-6)
    model, _ = readme_model(BahdanauAttention(4))
    model.compile("sgd", SequenceLoss(pad_id=0))
    flat = model.evaluate((SOURCE, TARGET_IN), TARGET_OUT, verbose=0)
    sparse = model.evaluate(
        (SOURCE, TARGET_IN), TARGET_OUT[..., None], verbose=0
    )
    np.testing.assert_allclose(sparse, flat, rtol=1e-6)


# --- The public ops on `bfloat16` tensors (a `mixed_bfloat16` model's
# compute dtype): `safe_cumprod`, and so `monotonic_attention` in its
# default "parallel" mode, asked NumPy for the smallest normal bfloat16,
# which it does not know ("data type ... bfloat16 ... not inexact"), on
# every backend. bfloat16 has float32's exponent, so float32's smallest
# normal is its own.


def test_safe_cumprod_and_monotonic_attention_take_bfloat16():
    p = np.array([[0.5, 0.25, 1.0, 0.0], [0.9, 0.1, 0.5, 0.5]], "float32")
    previous = np.array([[1, 0, 0, 0], [0, 1, 0, 0]], "float32")

    def in_bfloat16(fn, *args):
        result = fn(*(ops.cast(x, "bfloat16") for x in args))
        assert keras.backend.standardize_dtype(result.dtype) == "bfloat16"
        return numpy(ops.cast(result, "float32"))

    # exp(sum(log(clip(1 - p)))): 1 - p clipped to float32's tiny, not 0.
    tiny = np.finfo(np.float32).tiny
    expected = np.cumprod(np.clip(1.0 - p, tiny, 1.0), axis=1)
    got = in_bfloat16(lambda x: safe_cumprod(x, axis=1), 1.0 - p)
    np.testing.assert_allclose(got, expected, rtol=2e-2, atol=1e-30)
    expected = numpy(monotonic_attention(p, previous, "recursive"))
    got = in_bfloat16(
        lambda a, b: monotonic_attention(a, b, "parallel"), p, previous
    )
    np.testing.assert_allclose(got, expected, rtol=2e-2, atol=1e-2)


# --- `generate` chose the padding id as a token (an undertrained model
# whose logits favour it: greedy search gave rows of ten pad ids, length
# 10). Padding is no token a model can say: the loss weighs padded targets
# 0 and the model reads a pad input as no step at all (its Keras mask), so
# the search's score of such a row was not the model's. As fairseq does,
# the searches never choose `pad_id`, unless it is the end token
# (`eos_id == pad_id`); the other tokens keep their log-probs, so a score
# is still the model's log-probability of the ids.


def model_score(model, ids, lengths):
    """The teacher-forced log-probability the model gives each row."""
    bos = np.full((len(ids), 1), model.bos_id, "int32")
    target_in = np.concatenate([bos, ids[:, :-1]], axis=1)
    logits = numpy(model((SOURCE, target_in))).astype("float64")
    shifted = logits - logits.max(-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    tokens = np.take_along_axis(log_probs, ids[..., None], -1)[..., 0]
    return (tokens * (np.arange(ids.shape[1]) < lengths[:, None])).sum(1)


@pytest.mark.parametrize("method", ["greedy", "beam", "sample"])
def test_generate_never_chooses_the_padding_id(method):
    model = small_model()
    bias = np.linspace(-1.0, 1.0, 10)
    bias[model.pad_id] = 8.0  # far the most probable token everywhere
    model.output_layer.bias.assign(bias)
    result = model.generate(
        SOURCE, method=method, max_length=6, beam_size=3, n_best=3, seed=1
    )
    ids = numpy(result["ids"]).reshape(-1, 6)
    assert (ids != model.pad_id).all()
    lengths = numpy(result["lengths"]).reshape(-1)
    scores = numpy(result["log_probs" if method == "beam" else "scores"])
    if method == "beam":  # each hypothesis of row b scored on source b
        ids, lengths = ids[::3], lengths[::3]
        scores = scores[:, 0]
    np.testing.assert_allclose(
        scores.reshape(-1), model_score(model, ids, lengths), rtol=1e-4
    )


def test_the_padding_id_ends_a_row_where_it_is_the_end_token():
    model = small_model(eos_id=0)
    bias = np.linspace(-1.0, 1.0, 10)
    bias[0] = 8.0
    model.output_layer.bias.assign(bias)
    result = model.generate(SOURCE, max_length=6)
    np.testing.assert_array_equal(numpy(result["ids"]), 0)
    np.testing.assert_array_equal(numpy(result["lengths"]), 1)


# --- A search option that is no number (a string read from a config
# file, as `length_penalty: "0.6"` in YAML with quotes) raised Python's
# TypeError from a comparison ("'>=' not supported between instances of
# 'str' and 'int'"), where `generate` documents one `ValueError` for a bad
# search option; a bool was taken as 1.


@pytest.mark.parametrize(
    "option",
    [
        dict(method="beam", length_penalty="0.6"),
        dict(method="beam", coverage_penalty=True),
        dict(method="sample", top_p="0.9"),
        dict(method="sample", top_p=True),
    ],
)
def test_a_search_option_that_is_no_number_raises_one_clear_error(option):
    model = small_model()
    (name,) = set(option) - {"method"}
    with pytest.raises(ValueError, match=rf"`{name}` must be a number"):
        model.generate(SOURCE, **option)


# --- `generate` on the rows a tokenizer gives, lists of other lengths
# (not yet padded): each backend's own error about the conversion
# ("Can't convert non-rectangular Python sequence", NumPy's "inhomogeneous
# shape", PyTorch's "expected sequence of length 3 at dim 1 (got 2)"), none
# of which says what to do.


def test_generate_refuses_rows_of_other_lengths_clearly():
    model = small_model()
    rows = [[3, 4, 5, 2], np.array([6, 2])]
    message = r"rows of 4 and 2 tokens: pad them .*pad_sequences"
    with pytest.raises(ValueError, match=message):
        model.generate(rows)


# --- `generate` keeps its compiled searches by their options, and `True
# == 1` with the same hash: after a search with `max_length=1` (or
# `beam_size=1`), `max_length=True` found it and ran, where a fresh model
# refuses a bool in one `ValueError` (the search checks its options when
# it is traced, once per key).


@pytest.mark.parametrize("name", ["max_length", "beam_size"])
def test_a_bool_option_is_refused_after_a_search_with_1(name):
    model = small_model()
    model.generate(SOURCE, method="beam", **{name: 1})
    with pytest.raises(ValueError, match=rf"`{name}` must be an int >= 1"):
        model.generate(SOURCE, method="beam", **{name: True})


# --- `AttentionDecoder`'s options read from a config file: the string
# "false" for `input_feeding` or `output_attention` was truthy and turned
# the option on, silently (`Seq2Seq` refuses it, as `generate` its flags
# since round 9); a string `attention_layer_size` raised Python's
# TypeError from a comparison.


@pytest.mark.parametrize(
    "option, message",
    [
        (dict(input_feeding="false"), "`input_feeding` must be True, False"),
        (dict(output_attention="false"), "`output_attention` must be True"),
        (dict(attention_layer_size="5"), "`attention_layer_size` must be"),
    ],
)
def test_decoder_options_of_the_wrong_type_raise_one_clear_error(
    option, message
):
    with pytest.raises(ValueError, match=message):
        AttentionDecoder(
            keras.layers.GRUCell(6), BahdanauAttention(4), **option
        )
