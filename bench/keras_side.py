"""The Keras side of S2S-M: `Seq2Seq.from_preset("s2s-m")` on one backend.

`bench/s2s_m.py` sets `KERAS_BACKEND` and calls `measure()` in a subprocess;
the data and the timing rules are those of `bench/reference_torch.py`.
"""

import os

import keras
from s2s_m import (
    BATCH_SIZE,
    TARGET_LENGTH,
    TRAIN_XLA_VARIABLE,
    current_rss_mib,
    make_batch,
    peak_rss_mib,
    time_calls,
)

import keras_seq2seq
from keras_seq2seq.models import Seq2Seq
from keras_seq2seq.seeding import set_random_seed

BEAM_SIZE = 5


def build_model():
    model = Seq2Seq.from_preset("s2s-m")
    # Keras' "auto" compiles the training step with XLA on JAX, and not on
    # TensorFlow on a CPU-only machine; `s2s_m.py --train-xla` asks for it
    # on TensorFlow too (PyTorch has no XLA: Keras compiles nothing there).
    xla = os.environ.get(TRAIN_XLA_VARIABLE) == "1"
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=True
        if xla and keras.backend.backend() != "torch"
        else "auto",
    )
    return model


def generate(model, source_ids, **kwargs):
    out = model.generate(
        source_ids, max_length=TARGET_LENGTH, stop_early=False, **kwargs
    )
    # JAX dispatches asynchronously: wait for the ids before the clock stops.
    return keras.ops.convert_to_numpy(out["ids"])


def measure(
    measures=("train", "greedy", "beam5"),
    warmup: int = 10,
    steps: int = 31,
    decode_warmup: int = 2,
    decode_steps: int = 5,
    dtype_policy: str = "float32",
) -> dict:
    """As `reference_torch.measure`: same arguments, measures and timing."""
    import_rss = current_rss_mib()
    keras.config.set_dtype_policy(dtype_policy)
    set_random_seed(0)
    source, target_in, target_out = make_batch()
    model = build_model()
    result = {}
    if "train" in measures:
        # train_on_batch returns the loss as a Python float: a sync point.
        first, median = time_calls(
            lambda: model.train_on_batch((source, target_in), target_out),
            warmup,
            steps,
        )
        result["train_tok_s"] = target_out.size / median
        result["first_step_s"] = first
    if "greedy" in measures:
        _, median = time_calls(
            lambda: generate(model, source, method="greedy"),
            decode_warmup,
            decode_steps,
        )
        result["greedy_sent_s"] = BATCH_SIZE / median
    if "beam5" in measures:
        _, median = time_calls(
            lambda: generate(
                model,
                source,
                method="beam",
                beam_size=BEAM_SIZE,
                length_penalty=0.0,
            ),
            decode_warmup,
            decode_steps,
        )
        result["beam5_sent_s"] = BATCH_SIZE / median
    result["peak_rss_mib"] = peak_rss_mib()
    result["import_rss_mib"] = import_rss
    return result


def describe() -> dict:
    """Versions and settings for the benchmark's `_meta`."""
    model = build_model()
    source, target_in, _ = make_batch()
    model((source, target_in))  # builds the weights, for count_params
    return {
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
        "parameters": model.count_params(),
        "library": os.path.dirname(keras_seq2seq.__file__),
    }
