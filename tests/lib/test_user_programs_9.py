"""The native API as demanding Keras users meet it, ninth audit round.

This round samples with `Seq2Seq.generate(method="sample")` at the edges
of its options (a temperature close to 0, seeds of every kind), and gives
`SequenceLoss` and `Seq2Seq` targets as Keras users hold them. Each test
pins one defect of an earlier version: a wrong result, or a backend's
error where one clear `ValueError` line is expected. Expected numbers are
identities that must hold (sampling at a vanishing temperature is greedy
search; one seed gives one draw).
"""

import keras
import numpy as np
import pytest
from keras import ops

from keras_seq2seq import Seq2Seq, SequenceLoss

SOURCE = np.array([[3, 4, 5, 2], [6, 2, 0, 0], [7, 0, 0, 0]])
TARGETS = np.array([[1, 2, 3, 0], [4, 1, 0, 0], [2, 0, 0, 0]])
TARGET_IN = np.array([[1, 3, 4], [1, 5, 0], [1, 0, 0]])
TARGET_OUT = np.array([[3, 4, 2], [5, 2, 0], [2, 0, 0]])


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return Seq2Seq(
        9,
        10,
        embedding_dim=4,
        encoder_units=4,
        decoder_units=6,
        attention_units=4,
        attention_layer_size=5,
    )


def ids(result):
    return ops.convert_to_numpy(result["ids"])


# --- A temperature close to 0: the log-probs divided by it overflowed to
# -inf at every token, and on TensorFlow and JAX every row drew the pad id
# 0 at every step instead of the greedy token.


def test_a_vanishing_temperature_samples_the_greedy_tokens(model):
    greedy = ids(model.generate(SOURCE, max_length=6))
    sampled = model.generate(
        SOURCE, method="sample", temperature=1e-30, seed=1, max_length=6
    )
    np.testing.assert_array_equal(ids(sampled), greedy)


# --- A `keras.random.SeedGenerator` as the seed: generate compiled the
# search with the generator's state as a constant, and on JAX every call
# drew the same tokens; a generator is meant to advance between calls.


def test_a_seed_generator_draws_anew_at_every_call(model):
    generator = keras.random.SeedGenerator(5)
    options = dict(method="sample", temperature=50.0, max_length=12)
    draws = [
        ids(model.generate(SOURCE, seed=generator, **options)) for _ in "ab"
    ]
    assert not np.array_equal(*draws)
    # The same generator state again gives the same draws.
    again = keras.random.SeedGenerator(5)
    np.testing.assert_array_equal(
        ids(model.generate(SOURCE, seed=again, **options)), draws[0]
    )


# --- Integer seeds: a NumPy integer (a seed read from a config array) was
# refused by Keras although every size option takes one, and on JAX a
# negative seed or one of 2**32 and more raised an OverflowError from its
# key derivation (TensorFlow and PyTorch took them).


def test_a_numpy_integer_seed_draws_as_its_int(model):
    options = dict(method="sample", temperature=50.0, max_length=12)
    np.testing.assert_array_equal(
        ids(model.generate(SOURCE, seed=np.int64(4), **options)),
        ids(model.generate(SOURCE, seed=4, **options)),
    )


@pytest.mark.parametrize("seed", [-1, 2**32])
def test_a_seed_that_is_no_32_bit_int_raises_one_clear_error(seed, model):
    with pytest.raises(ValueError, match=r"`seed` must be .*Received: seed="):
        model.generate(SOURCE, method="sample", seed=seed)


# --- A temperature that is no finite number: a string raised Python's
# TypeError from a comparison, and an infinite one was taken: every logit
# became 0 (NaN where a log-prob was -inf), so `top_k` kept the lowest
# ids, pad and bos, instead of the most probable tokens.


@pytest.mark.parametrize("temperature", ["1", float("inf")])
def test_a_temperature_that_is_no_finite_number_raises_clearly(
    temperature, model
):
    with pytest.raises(ValueError, match=r"`temperature` must be a finite"):
        model.generate(SOURCE, method="sample", temperature=temperature)


# --- `stop_early` and `jit_compile` that are no bools: a string read
# from a config ("false") was truthy and the search stopped early anyway.


@pytest.mark.parametrize("name", ["stop_early", "jit_compile"])
def test_generate_refuses_a_flag_that_is_no_bool(name, model):
    with pytest.raises(ValueError, match=rf"`{name}` must be True or False"):
        model.generate(SOURCE, **{name: "false"})


# --- `SequenceLoss` on targets of another length (or batch) than the
# logits, as a data pipeline that drops the last token gives: a backend's
# broadcasting error (PyTorch's "The size of tensor a (4) must match...").


@pytest.mark.parametrize("targets", [TARGETS[:, :3], TARGETS[:2]])
def test_sequence_loss_refuses_targets_of_other_axes_clearly(targets):
    logits = np.zeros((3, 4, 5), "float32")
    message = r"`targets` must have the batch and time axes of `logits`"
    with pytest.raises(ValueError, match=message):
        SequenceLoss()(targets, logits)


# --- `Seq2Seq` evaluated on target ids with a trailing axis of 1, Keras'
# layout for sparse targets: `SequenceLoss` read them as distributions over
# one token and refused them, and on TensorFlow even Keras' sparse
# cross-entropy failed on the padding weights ("statically known rank").


@pytest.mark.parametrize("loss", ["sequence", "sparse"])
def test_targets_with_a_trailing_axis_evaluate_as_without(loss, model):
    if loss == "sequence":
        model.compile("sgd", SequenceLoss(), metrics=["accuracy"])
    else:
        cross_entropy = keras.losses.SparseCategoricalCrossentropy
        model.compile(
            "sgd", cross_entropy(from_logits=True), metrics=["accuracy"]
        )
    x = (SOURCE, TARGET_IN)
    flat = model.evaluate(x, TARGET_OUT, verbose=0)
    trailing = model.evaluate(x, TARGET_OUT[..., None], verbose=0)
    np.testing.assert_allclose(trailing, flat, rtol=1e-6)


# --- `Seq2Seq.fit` on target ids of another length than `target_in_ids`
# (a shift by one token done the wrong way): a backend's broadcasting
# error from the padding weights (JAX's "mul got incompatible shapes").


def test_fit_refuses_targets_of_another_length_clearly(model):
    model.compile("sgd", SequenceLoss())
    with pytest.raises(ValueError, match=r"must have the shape \(B, Tt\)"):
        model.fit((SOURCE, TARGET_IN), TARGET_OUT[:, :2], verbose=0)
