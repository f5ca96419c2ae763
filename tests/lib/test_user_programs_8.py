"""The native API as demanding Keras users meet it, eighth audit round.

This round trains and evaluates `Seq2Seq` with Keras' own `sample_weight`
shapes and translates sources a user's tokenizer produced. Each test pins
one defect of an earlier version: a backend's cryptic error (or, on JAX,
a silently clipped id) where one clear `ValueError` line, or the result
Keras documents, is expected. Expected numbers are identities that must
hold (one weighting written two ways).
"""

import keras
import numpy as np
import pytest

from keras_seq2seq import Seq2Seq, SequenceLoss

SOURCE_VOCAB, TARGET_VOCAB = 9, 10
SOURCE = np.array([[3, 4, 5, 2], [6, 2, 0, 0], [7, 0, 0, 0]])
TARGET_IN = np.array([[1, 3, 4], [1, 5, 0], [1, 0, 0]])
TARGET_OUT = np.array([[3, 4, 2], [5, 2, 0], [2, 0, 0]])


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    model = Seq2Seq(
        SOURCE_VOCAB,
        TARGET_VOCAB,
        embedding_dim=4,
        encoder_units=4,
        decoder_units=6,
        attention_units=4,
        attention_layer_size=5,
    )
    model.compile("sgd", SequenceLoss())
    return model


# --- `sample_weight` of shape (B, Tt), one weight per target token, as
# Keras documents for temporal targets: on TensorFlow the graph's weight
# had an unknown rank and `evaluate`/`fit` raised "Cannot take the length
# of shape with unknown rank".


def test_a_per_token_sample_weight_equals_its_per_sentence_weight(model):
    per_sentence = np.array([1.0, 2.0, 0.5], dtype="float32")
    per_token = np.repeat(per_sentence[:, None], TARGET_OUT.shape[1], axis=1)
    data = ((SOURCE, TARGET_IN), TARGET_OUT)
    by_sentence = model.evaluate(*data, sample_weight=per_sentence, verbose=0)
    by_token = model.evaluate(*data, sample_weight=per_token, verbose=0)
    np.testing.assert_allclose(by_token, by_sentence, rtol=1e-6)


# --- A source id outside the source vocabulary (a tokenizer built on
# more text than the model): TensorFlow raised a graph error from the
# embedding's gather, PyTorch an IndexError inside Keras' call report,
# and JAX clipped the id and translated something else without a word.


@pytest.mark.parametrize("bad_id", [SOURCE_VOCAB, -1])
def test_generate_refuses_ids_outside_the_source_vocabulary(bad_id, model):
    source = SOURCE.copy()
    source[1, 0] = bad_id
    with pytest.raises(ValueError, match="source_vocab_size=9"):
        model.generate(source)
