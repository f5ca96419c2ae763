"""A source batch without padding: the encoder's recurrent layers get no mask
on PyTorch (Keras' fused GRU/LSTM paths), with the same numbers."""

import keras
import numpy as np
import pytest
from keras import ops

from helpers import small_seq2seq
from keras_seq2seq.models import seq2seq as seq2seq_module

UNPADDED = np.array([[3, 4, 5, 6, 7], [8, 9, 10, 3, 4]], dtype="int32")
TARGET_IN = np.array([[1, 5, 6, 7], [1, 8, 9, 10]], dtype="int32")
TARGET_OUT = np.array([[5, 6, 7, 2], [8, 9, 10, 2]], dtype="int32")


@pytest.fixture
def masked_always(monkeypatch):
    """Makes the encoder pass its mask, padding or not (the general path)."""

    def use():
        monkeypatch.setattr(seq2seq_module, "_rnn_mask", lambda mask: mask)

    return use


# Elsewhere `_rnn_mask` keeps the mask (asserted below), so both runs of
# these two tests would be the same code.
torch_only = pytest.mark.skipif(
    keras.backend.backend() != "torch",
    reason="only PyTorch drops the mask of an unpadded batch",
)


def _encoded(model, source):
    memory, mask, state = model.encode(source)
    return [ops.convert_to_numpy(x) for x in [memory, mask, *state]]


@torch_only
@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_unpadded_batch_encodes_as_with_its_mask(cell, masked_always):
    model = small_seq2seq(cell=cell, encoder_layers=2)
    fast = _encoded(model, UNPADDED)
    masked_always()
    general = _encoded(model, UNPADDED)
    for a, b in zip(fast, general, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


@torch_only
def test_training_step_on_an_unpadded_batch_is_the_masked_one(masked_always):
    def one_step():
        model = small_seq2seq()
        model.compile(
            optimizer=keras.optimizers.SGD(0.5),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        loss = model.train_on_batch((UNPADDED, TARGET_IN), TARGET_OUT)
        return loss, [ops.convert_to_numpy(w) for w in model.weights]

    fast_loss, fast_weights = one_step()
    masked_always()
    loss, weights = one_step()
    assert abs(fast_loss - loss) < 1e-6
    for a, b in zip(fast_weights, weights, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_only_an_unpadded_batch_drops_the_mask():
    padded = ops.convert_to_tensor(UNPADDED.copy())
    mask = ops.not_equal(padded, 0)
    one_pad = ops.convert_to_tensor([[True] * 5, [True] * 4 + [False]])
    # A row with padding always keeps the mask, on every backend.
    assert seq2seq_module._rnn_mask(one_pad) is one_pad
    dropped = seq2seq_module._rnn_mask(mask)
    if keras.backend.backend() == "torch":
        assert dropped is None
    else:  # traced backends keep it: the check would need a value
        assert dropped is mask
