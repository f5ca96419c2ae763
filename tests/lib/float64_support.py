"""For the tests of float64 programs (`keras.config.set_floatx("float64")`,
as TFA programs ran `tf.keras.backend.set_floatx("float64")`); their
`float64` fixture is in this folder's conftest.py."""

import keras
import pytest

# JAX keeps float64 only with x64 on, a switch of the process.
float64_only = pytest.mark.skipif(
    keras.backend.backend() == "jax",
    reason="float64 on JAX needs jax_enable_x64, a switch of the process",
)
