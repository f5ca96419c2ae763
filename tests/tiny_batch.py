"""A three-sentence batch with padding, a tiny `Seq2Seq` for it, and the
per-token cross-entropy in NumPy: shared by the native API's audits."""

import keras
import numpy as np
from keras import ops

from helpers import TINY_SEQ2SEQ
from keras_seq2seq import Seq2Seq

SOURCE = np.array([[3, 4, 5, 2], [6, 2, 0, 0], [7, 8, 2, 0]], "int32")
TARGET_IN = np.array([[1, 3, 4, 5], [1, 5, 0, 0], [1, 6, 7, 0]], "int32")
TARGET_OUT = np.array([[3, 4, 5, 2], [5, 2, 0, 0], [6, 7, 2, 0]], "int32")
REAL = TARGET_OUT != 0
# The quicker way to run a few steps of the tiny model: TensorFlow's eager
# steps skip the graph trace, while JAX's compile each operation on its
# own and its jitted step compiles once (PyTorch runs eagerly either way).
RUN_EAGERLY = keras.backend.backend() != "jax"


def small_model(**options):
    keras.utils.set_random_seed(0)
    model = Seq2Seq(9, 10, **TINY_SEQ2SEQ, **options)
    model.build()
    # A bias of zeros would make the logits of a padded target step (a
    # zero decoder output) the same whatever the target there.
    model.output_layer.bias.assign(np.linspace(-1.0, 1.0, 10))
    return model


def numpy(x):
    return ops.convert_to_numpy(x)


def token_losses(logits, targets):
    shifted = logits - logits.max(-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    return -np.take_along_axis(log_probs, targets[..., None], -1)[..., 0]
