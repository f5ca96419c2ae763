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
    set_torch_matmul_precision,
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
    device: str = "cpu",
) -> dict:
    """As `reference_torch.measure`: same arguments, measures and timing.

    The backend picks its device itself (a GPU when it sees one); the
    parent hides the GPUs from a "cpu" run, and a "cuda" run that finds
    none fails rather than report CPU figures as the GPU's.
    """
    import_rss = current_rss_mib()
    found = device_in_use()
    if (device == "cuda") != found.startswith("gpu"):
        raise RuntimeError(f"asked for {device}, {backend()} runs on {found}")
    if device == "cuda" and keras.backend.backend() == "torch":
        set_torch_matmul_precision()
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
    if device == "cuda":
        result["peak_gpu_mib"] = peak_gpu_mib()
    return result


def backend() -> str:
    return keras.backend.backend()


def device_in_use() -> str:
    """ "cpu", or "gpu: NAME" when the backend computes on a GPU."""
    if backend() == "jax":
        import jax

        first = jax.devices()[0]
        return f"gpu: {first.device_kind}" if first.platform == "gpu" else "cpu"
    if backend() == "torch":
        import torch

        if torch.cuda.is_available():
            return f"gpu: {torch.cuda.get_device_name()}"
        return "cpu"
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    return f"gpu: {gpus[0].name}" if gpus else "cpu"


def peak_gpu_mib() -> float:
    """The most the backend has held on the GPU so far, in MiB."""
    if backend() == "jax":
        import jax

        stats = jax.devices()[0].memory_stats()
        return stats["peak_bytes_in_use"] / 2**20
    if backend() == "torch":
        import torch

        return torch.cuda.max_memory_allocated() / 2**20
    import tensorflow as tf

    return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20


def describe() -> dict:
    """Versions and settings for the benchmark's `_meta`."""
    model = build_model()
    source, target_in, _ = make_batch()
    model((source, target_in))  # builds the weights, for count_params
    info = {
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
        "device": device_in_use(),
        "parameters": model.count_params(),
        "library": os.path.dirname(keras_seq2seq.__file__),
    }
    if backend() == "jax":
        import jax

        info["float32_matmul"] = str(jax.config.jax_default_matmul_precision)
    return info
