"""Training on several devices through Keras' own distribution APIs.

`distribute(n)` is a context manager: build, compile and fit the model
inside it and Keras splits every global batch over `n` devices, keeping one
copy of the weights per device.

- JAX: `keras.distribution.DataParallel` over the first `n` devices of
  `keras.distribution.list_devices()` (accelerators when there are any).
- TensorFlow: `tf.distribute.MirroredStrategy` over `n` logical devices
  (GPUs when there are any, else CPUs).
- PyTorch: refused. Keras 3 has no multi-device training loop for it:
  `keras.distribution` is implemented for JAX only and `tf.distribute`
  serves TensorFlow only.

On a machine with only a CPU, the CPU is split into `n` virtual devices
(`jax_num_cpu_devices`, the config twin of
`XLA_FLAGS=--xla_force_host_platform_device_count=n`, on JAX; logical CPU
devices on TensorFlow). That gives no speed, but runs the same program that
`n` GPUs run, so it is how the multi-device path is tested here. Both
settings only take effect before the backend starts its runtime (before the
first array or tensor is created), so call `distribute` (or
`prepare_devices`) early.
"""

import contextlib
import functools
import sys

import keras

from keras_seq2seq.nmt.run_error import RunError

BACKENDS = ("jax", "tensorflow")


def prepare_devices(count: int) -> None:
    """Splits the host CPU into `count` virtual devices if still possible.

    Does nothing when the backend's runtime has already started (the
    devices it has then are the devices there are) or on PyTorch.

    Args:
        count: int. Virtual CPU devices to ask for.
    """
    backend = keras.backend.backend()
    if backend == "jax":
        import jax
        from jax._src import xla_bridge

        if not xla_bridge.backends_are_initialized():
            jax.config.update("jax_num_cpu_devices", count)
    elif backend == "tensorflow":
        import tensorflow as tf

        cpus = tf.config.list_physical_devices("CPU")
        logical = [tf.config.LogicalDeviceConfiguration()] * count
        try:
            tf.config.set_logical_device_configuration(cpus[0], logical)
        except RuntimeError:
            pass  # The runtime has started: its device list is final.


def available_devices() -> list[str]:
    """The devices `distribute` would use, accelerators first.

    Returns:
        list of device names, e.g. `["cpu:0", "cpu:1"]` on JAX or
        `["/device:CPU:0", "/device:CPU:1"]` on TensorFlow.
    """
    backend = keras.backend.backend()
    if backend == "jax":
        return list(keras.distribution.list_devices())
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_logical_devices("GPU")
        return [d.name for d in gpus or tf.config.list_logical_devices("CPU")]
    return []


@contextlib.contextmanager
def distribute(count: int):
    """Trains whatever is built inside on `count` devices (data parallel).

    The global batch given to `fit` is split evenly over the devices; the
    gradients are averaged across them, so a run on `n` devices follows the
    loss curve of one device with the same global batch (up to the order
    of floating-point sums). `count=1` changes nothing.

    Args:
        count: int. Number of devices, >= 1.

    Raises:
        RunError: `count` < 1, the backend is PyTorch, or fewer than
            `count` devices exist (one line, for the command line).

    Example:
        >>> with distribute(2):  # doctest: +SKIP
        ...     model = Seq2Seq(...); model.compile(...); model.fit(...)
    """
    if not isinstance(count, int) or count < 1:
        raise RunError(f"devices must be an integer >= 1; got {count!r}")
    if count == 1:
        yield
        return
    backend = keras.backend.backend()
    if backend not in BACKENDS:
        raise RunError(
            f"--devices {count} needs KERAS_BACKEND=jax or tensorflow: Keras "
            f"has no multi-device training for the {backend} backend "
            "(keras.distribution is JAX-only, tf.distribute is TensorFlow's)"
        )
    prepare_devices(count)
    devices = available_devices()
    if len(devices) < count:
        raise RunError(
            f"--devices {count} asks for more devices than the {backend} "
            f"backend has ({len(devices)}: {', '.join(devices)}); start the "
            "run before anything else uses the backend, or ask for fewer"
        )
    if backend == "jax":
        with _data_parallel(devices[:count]):
            yield
    else:
        with _mirrored_strategy(tuple(devices[:count])).scope():
            yield


@functools.cache
def _mirrored_strategy(devices):
    """One `MirroredStrategy` per device set for the process. Each new
    strategy numbers its all-reduces from the same start, and TensorFlow's
    runtime remembers each number's tensor shape: a second model trained
    under a second strategy in one process failed at its first step
    ("Shape mismatch in the collective instance 101"). Reused, a strategy
    goes on numbering where its last model stopped."""
    import tensorflow as tf

    return tf.distribute.MirroredStrategy(devices=list(devices))


@contextlib.contextmanager
def _data_parallel(devices):
    previous = keras.distribution.distribution()
    keras.distribution.set_distribution(
        keras.distribution.DataParallel(devices=devices)
    )
    try:
        yield
    finally:
        keras.distribution.set_distribution(previous)


def train_step(model, x, y) -> dict:
    """One optimizer step on a global batch, split over the devices in use.

    `model.train_on_batch` splits the batch on JAX (the distribution
    shards it), but on TensorFlow it hands every replica the whole batch;
    there each replica gets its rows of the batch as one distributed value,
    through the model's compiled training function, as `train_on_batch`
    gives it a batch. (A `fit` per batch did the same at about 0.8 s more a
    step: a new distributed dataset, iterator and callbacks each time.)

    Args:
        model: a compiled model, built inside `distribute`.
        x, y: one global batch (arrays, or a tuple of arrays for `x`).

    Returns:
        dict of the step's logs (`loss`, metrics).

    Raises:
        RunError: the batch does not split evenly over the devices.
    """
    replicas = _replicas(model)
    rows = len(y)
    if rows % replicas:
        raise RunError(
            f"a batch of {rows} does not split over {replicas} devices; "
            "make --batch-size a multiple of --devices"
        )
    if replicas > 1 and keras.backend.backend() == "tensorflow":
        return _replicated_step(model, (x, y), rows // replicas)
    return model.train_on_batch(x, y, return_dict=True)


def _replicated_step(model, batch, rows):
    """One TensorFlow training step over the strategy's replicas, each
    given its `rows` consecutive rows of `batch`."""
    strategy = model.distribute_strategy

    def replica_rows(context):
        start = context.replica_id_in_sync_group * rows
        return keras.tree.map_structure(
            lambda a: a[start : start + rows], batch
        )

    data = strategy.experimental_distribute_values_from_function(replica_rows)
    model.make_train_function()
    model.reset_metrics()  # the logs are this step's, as train_on_batch's
    logs = model.train_function(iter([data]))
    return {key: keras.ops.convert_to_numpy(v) for key, v in logs.items()}


def _replicas(model):
    if keras.backend.backend() == "tensorflow":
        return model.distribute_strategy.num_replicas_in_sync
    if keras.backend.backend() == "jax":
        distribution = keras.distribution.distribution()
        if distribution is not None:
            return distribution.device_mesh.devices.size
    return 1


def variable_devices(variable) -> set[str]:
    """The devices holding a copy (or shard) of a Keras variable.

    Args:
        variable: a `keras.Variable`.

    Returns:
        set of device names (one name when it is not distributed).
    """
    value = variable.value
    if keras.backend.backend() == "jax":
        return {str(d) for d in value.sharding.device_set}
    if "tensorflow" in sys.modules:
        import tensorflow as tf

        if isinstance(value, tf.distribute.DistributedValues):
            return {v.device for v in value.values}
    return {str(getattr(value, "device", ""))}
