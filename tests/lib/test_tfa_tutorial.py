"""The TFA NMT tutorial, ported by changing its import, trains and decodes.

`examples/tfa_nmt_tutorial.py` is TensorFlow's "NMT with attention" program
for TensorFlow Addons with `import keras_seq2seq.tfa as tfa`: it learns to
reverse digit strings with a `tf.GradientTape` training step under
`tf.function`, then decodes held-out strings greedily.
"""

import importlib.util
import pathlib

import keras
import pytest

EXAMPLE = pathlib.Path(__file__).parents[2] / "examples" / "tfa_nmt_tutorial.py"

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="the program is TensorFlow code (tf.GradientTape)",
)


@pytest.fixture(scope="module")
def results():
    spec = importlib.util.spec_from_file_location("tfa_nmt_tutorial", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # 8 epochs: the loss falls to a thirtieth, and every held-out string is
    # reversed (the first epoch, tracing the step, takes most of the time).
    return module.main(epochs=8, num_tests=30, verbose=False)


def test_tutorial_loss_falls(results):
    losses = results["losses"]
    assert all(b < a for a, b in zip(losses, losses[1:], strict=False))
    assert losses[-1] < losses[0] / 10


def test_tutorial_greedy_decoding_reverses_most_held_out_strings(results):
    pairs = results["pairs"]
    correct = sum(expected == got for _, expected, got in pairs)
    assert correct >= 0.8 * len(pairs), pairs
