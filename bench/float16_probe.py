"""Where a float16 decoder's training goes non-finite: a device check.

On one H200, JAX (2026-11-30), `tests/lib/test_user_programs_3.py::
test_functional_model_with_a_mixed_decoder_trains` gave a NaN loss in its
second epoch; on CPUs and on PyTorch on that GPU it trains. This builds
the test's model (an `AttentionDecoder(dtype=POLICY)` in a float32
functional model) and prints, for its first step: the forward's outputs,
each weight's gradient (eager and under `jax.jit`) that is not finite,
and after one `fit` step each weight that is not. JAX only.

    KERAS_BACKEND=jax python bench/float16_probe.py [POLICY ...]

POLICY defaults to mixed_float16 and mixed_bfloat16.
"""

import sys

import jax
import keras
import numpy as np

from keras_seq2seq import AttentionDecoder, BahdanauAttention, SequenceLoss

TT, TS, E = 3, 4, 5


def build(policy):
    keras.utils.set_random_seed(0)
    source = keras.Input((None,), dtype="int32")
    target = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(9, E, mask_zero=True)(source)
    memory, state = keras.layers.GRU(
        8, return_sequences=True, return_state=True
    )(x)
    embedded = keras.layers.Embedding(9, E, mask_zero=True)(target)
    outputs = AttentionDecoder(
        keras.layers.GRUCell(8),
        BahdanauAttention(3),
        attention_layer_size=8,
        dtype=policy,
    )(embedded, memory, initial_state=state)
    return keras.Model([source, target], keras.layers.Dense(9)(outputs))


def bad(values):
    """Names (and worst magnitudes) of the arrays that are not finite."""
    return {
        name: float(np.nanmax(np.abs(np.asarray(v, "float64"))))
        for name, v in values.items()
        if not np.all(np.isfinite(np.asarray(v, "float64")))
    }


def probe(policy):
    model = build(policy)
    rng = np.random.default_rng(0)
    source_ids = rng.integers(1, 9, (4, TS)) * (np.arange(TS) < 3)
    target_ids = rng.integers(1, 9, (4, TT))
    inputs = [source_ids, target_ids]
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
