"""Fixtures of the library's tests."""

import keras
import pytest


@pytest.fixture
def float64():
    """floatx and the dtype policy float64 for the test, then float32."""
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    yield
    keras.config.set_floatx("float32")
    keras.config.set_dtype_policy("float32")
