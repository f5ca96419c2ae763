"""Seeding without paying for TensorFlow on the other backends."""

import sys

import keras


def set_random_seed(seed):
    """`keras.utils.set_random_seed(seed)`, importing nothing new.

    Keras' function also seeds TensorFlow whenever it is installed (for
    `tf.data`), and so imports it: in a JAX or PyTorch process that never
    uses TensorFlow that costs about 400 MB of memory and a few seconds.
    Here TensorFlow is seeded only when it is the backend or already
    imported; Python's, NumPy's, the backend's and Keras' seeds are set as
    Keras sets them.

    Args:
        seed: int.
    """
    if keras.backend.backend() == "tensorflow" or "tensorflow" in sys.modules:
        keras.utils.set_random_seed(seed)
        return
    try:
        from keras.src.utils import module_utils

        lazy = module_utils.tensorflow
        known = lazy._available
    except (ImportError, AttributeError):  # another Keras layout
        keras.utils.set_random_seed(seed)
        return
    # Keras asks `available` before seeding TensorFlow; answer "no" for
    # this one call, then let later code import TensorFlow if it needs it.
    lazy._available = False
    try:
        keras.utils.set_random_seed(seed)
    finally:
        lazy._available = known
