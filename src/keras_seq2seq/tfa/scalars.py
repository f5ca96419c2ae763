"""NumPy scalars given where TFA took Python numbers.

TFA's layers took sizes, seeds and weights that are NumPy scalars (read
from an array or a config file): TensorFlow converts them. Keras 3's
layers and `SeedGenerator` want Python numbers, and a NumPy scalar in a
layer's config is no JSON (`model.save` fails). The constructors of
`keras_seq2seq.tfa` turn them into Python numbers first; other values
(tensors, strings) are kept for the checks that accept or refuse them.
"""

import numbers

# One conversion of integers for the library and this module.
from keras_seq2seq.decoding.step import python_int

__all__ = ["python_float", "python_int"]


def python_float(value):
    """A NumPy real (or int) as a Python float; any other value unchanged."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    return value
