"""The seed examples (`examples/seed_*.py`) show what they claim.

Each example's `main()` runs here with few steps on the current
`KERAS_BACKEND`, and its returned numbers are checked.
"""

import importlib.util
import pathlib

import numpy as np
import pytest

EXAMPLES = pathlib.Path(__file__).parents[2] / "examples"


def load_example(name):
    """Imports `examples/<name>.py` (the folder is not a package)."""
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def seed_1():
    example = load_example("seed_1_functional_bahdanau")
    return example, example.main(epochs=3, num_examples=128)


def test_seed_1_training_lowers_the_loss(seed_1):
    _, results = seed_1
    losses = results["losses"]
    assert len(losses) == 3
    assert np.all(np.isfinite(losses))
    assert losses[-1] < losses[0] - 0.05


def test_seed_1_weights_are_recomputed_at_every_target_step(seed_1):
    example, results = seed_1
    weights, lengths = results["weights"], results["lengths"]
    max_length = example.MAX_LENGTH
    assert weights.shape == (4, max_length, max_length)  # (B, Tt, Ts)
    for row, length in enumerate(lengths):
        real = weights[row, :length, :length]  # Real target x real source.
        np.testing.assert_allclose(real.sum(axis=-1), 1.0, atol=1e-5)
        assert np.all(weights[row, :, length:] == 0)  # Padded source steps.
        assert np.all(weights[row, length:] == 0)  # Padded target steps.
        # One context for all steps (the question's example 1) would make
        # every row the same.
        assert np.abs(real - real[:1]).max() > 1e-6


@pytest.fixture(scope="module")
def seed_2():
    return load_example("seed_2_variable_length").main()


@pytest.fixture(scope="module")
def seed_3():
    example = load_example("seed_3_custom_layer")
    return example, example.main()


def test_seed_2_padding_gets_zero_weight_and_nothing_else_changes(seed_2):
    results = seed_2
    assert results["padded_weight_max"] == 0.0
    np.testing.assert_allclose(results["real_row_sums"], 1.0, atol=1e-5)
    assert results["repad_difference"] < 1e-6
    assert results["tfa_padded_max"] == 0.0


def test_seed_2_all_padding_source_gives_zeros_not_nan(seed_2):
    results = seed_2
    assert results["outputs_finite"]
    assert np.all(results["empty_row_weights"] == 0)


def test_seed_2_masking_layer_misses_most_padding(seed_2):
    results = seed_2
    # Only the all-padding source's 7 steps: the other 9 padded steps hold
    # copies of the encoder's last real output.
    assert results["padded_steps"] == 16
    assert results["masked_by_masking_layer"] == 7


def test_seed_3_custom_layer_equals_bahdanau_attention(seed_3):
    _, results = seed_3
    assert results["zero_biases"] < 1e-5
    assert results["kept_biases"] < 1e-5
    assert results["query_sequence"] < 1e-5
    assert results["masked_vs_unpadded"] < 1e-5


def test_seed_3_mask_removes_the_weight_the_custom_layer_puts_on_padding(
    seed_3,
):
    example, results = seed_3
    has_padding = example.LENGTHS < example.TV
    assert np.all(results["custom_padding_weight"][has_padding] > 0.01)
    assert np.all(results["masked_padding_weight"] == 0)
