"""Where a float16 decoder's training goes non-finite: a device check.

On one H200, JAX (2026-11-30), `tests/lib/test_user_programs_3.py::
test_functional_model_with_a_mixed_decoder_trains` gave a NaN loss in its
second epoch; on CPUs and on PyTorch on that GPU it trains. This builds
the test's model and data with the test module's own function (an
`AttentionDecoder(dtype=POLICY)` in a float32 functional model) and
prints, for its first step: the forward's outputs, each weight's
gradient (eager and under `jax.jit`) that is not finite, and after one
`fit` step each weight that is not. JAX only.

    KERAS_BACKEND=jax python bench/float16_probe.py [POLICY ...]

POLICY defaults to mixed_float16 and mixed_bfloat16.
"""

import sys
from pathlib import Path

import jax
import keras
import numpy as np

from keras_seq2seq import SequenceLoss

# The test's own model and data: tests/ and tests/lib on the path.
TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path[:0] = [str(TESTS), str(TESTS / "lib")]
from test_user_programs_3 import functional_model_with_a_decoder_in  # noqa: E402


def bad(values):
    """Names (and worst magnitudes) of the arrays that are not finite."""
    return {
        name: float(np.nanmax(np.abs(np.asarray(v, "float64"))))
        for name, v in values.items()
        if not np.all(np.isfinite(np.asarray(v, "float64")))
    }


def probe(policy):
    keras.utils.set_random_seed(0)
    model, (inputs, target_ids) = functional_model_with_a_decoder_in(policy)
    inputs = list(inputs)
    loss = SequenceLoss()
    names = [v.path for v in model.trainable_variables]
    trainable = [v.value for v in model.trainable_variables]
    fixed = [v.value for v in model.non_trainable_variables]

    def loss_of(weights):
        logits, _ = model.stateless_call(weights, fixed, inputs, training=True)
        return loss(target_ids, logits)

    logits = np.asarray(model(inputs), "float64")
    print(
        f"{policy}: logits finite {np.all(np.isfinite(logits))}, max |.| "
        f"{np.nanmax(np.abs(logits)):.3g}, loss {float(loss_of(trainable)):.4f}"
    )
    for name, fn in (
        ("eager", jax.grad(loss_of)),
        ("jit", jax.jit(jax.grad(loss_of))),
    ):
        grads = fn(trainable)
        worst = max(
            float(np.max(np.abs(np.asarray(g, "float64")))) for g in grads
        )
        print(
            f"  grads {name}: largest |g| {worst:.3g}; not finite: "
            f"{bad(dict(zip(names, grads, strict=True))) or 'none'}"
        )
    model.compile("adam", loss, jit_compile=True)
    history = model.fit(inputs, target_ids, epochs=2, verbose=0)
    weights = {v.path: v.numpy() for v in model.weights}
    print(
        f"  fit losses {history.history['loss']}; weights not finite: "
        f"{bad(weights) or 'none'}"
    )


def main():
    print(f"jax {jax.__version__}, devices {jax.devices()}")
    for policy in sys.argv[1:] or ["mixed_float16", "mixed_bfloat16"]:
        probe(policy)


if __name__ == "__main__":
    main()
