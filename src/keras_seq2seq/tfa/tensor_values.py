"""Python values of tensors, where they have one.

Eagerly a tensor has a value that the decoding loop can stop on. Inside
`tf.function` and `jax.jit` a tensor is symbolic until the compiled program
runs; converting it raises (TensorFlow: NotImplementedError; JAX: a
TypeError subclass), and these helpers answer `None` instead.
"""

from keras import ops


def known_value(scalar):
    """The Python int value of an int scalar tensor, or `None` when it has
    no value (a traced tensor; see `known_all`)."""
    try:
        return int(ops.convert_to_numpy(scalar))
    except (NotImplementedError, TypeError):
        return None


def known_all(flags):
    """`all(flags)` as a Python bool, or `None` when `flags` has no value.

    Inside `tf.function` and `jax.jit` a tensor is symbolic until the
    compiled program runs; converting it raises (TensorFlow:
    NotImplementedError; JAX: a TypeError subclass).
    """
    try:
        return bool(ops.convert_to_numpy(ops.all(flags)))
    except (NotImplementedError, TypeError):
        return None
