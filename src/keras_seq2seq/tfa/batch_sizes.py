"""A decoder's `batch_size`: a Python int that reads as TFA's tensor.

TFA's decoders and samplers gave `batch_size` as an int32 scalar tensor
(`tf.size(start_tokens)`), and programs read it as one: `.numpy()`,
`.dtype`, `ops.shape(batch_size)`. Here it is the int that shapes need
on every backend (`jax.jit` refuses a traced tensor as a shape, and
TensorFlow's ops take an int wherever they took the tensor), with those
attributes too. Where the size has no value before the computation runs
(a TensorFlow graph's unknown batch), it stays the int scalar tensor.
"""

import numpy as np


class BatchSize(int):
    """An int with the attributes of an int32 scalar tensor."""

    @property
    def shape(self):
        return ()

    @property
    def ndim(self):
        return 0

    @property
    def dtype(self):
        return "int32"

    def numpy(self):
        """The value as NumPy's int32, as `tensor.numpy()`."""
        return np.int32(self)


def as_batch_size(size):
    """`size` (from `ops.shape`) as a `BatchSize` where it is an int;
    a tensor (unknown size) unchanged."""
    return BatchSize(size) if isinstance(size, int) else size
