"""TFA's `Sampler` interface and the random draws the samplers share."""

import collections
import numbers

import keras
import numpy as np
from keras import ops

from keras_seq2seq.tfa.batch_sizes import as_batch_size
from keras_seq2seq.tfa.scalars import python_int
from keras_seq2seq.tfa.tensor_values import known_all


def available_dtype(dtype) -> str:
    """`dtype` (a name, or a TensorFlow, NumPy or PyTorch dtype) as the
    backend holds it: 64-bit types are 32-bit on JAX without x64 (which
    narrows NumPy's arrays silently, and warns on an explicit cast)."""
    dtype = keras.backend.standardize_dtype(dtype)
    if not dtype.endswith("64"):
        return dtype
    value = ops.convert_to_tensor(np.zeros((), dtype))
    return keras.backend.standardize_dtype(value.dtype)


class Sampler:
    """TFA's sampler interface, used by `BasicDecoder` at every step.

    A sampler turns the decoder's inputs into the first step's inputs
    (`initialize`), picks each step's sample ids from the cell outputs
    (`sample`), and gives the next inputs and the finished flags
    (`next_inputs`).
    """

    def initialize(self, inputs, **kwargs):
        """Returns `(finished, initial_inputs)`: bool `(B,)` and `(B, E)`."""
        raise NotImplementedError

    def sample(self, time, outputs, state):
        """Returns the sample ids of the step, `(B,) + sample_ids_shape`."""
        raise NotImplementedError

    def next_inputs(self, time, outputs, state, sample_ids):
        """Returns `(finished, next_inputs, next_state)`."""
        raise NotImplementedError

    @property
    def batch_size(self):
        """The batch size `B`, known after `initialize`."""
        raise NotImplementedError

    @property
    def sample_ids_shape(self):
        """The shape of one row's sample ids (a tuple; `()` for scalars)."""
        raise NotImplementedError

    @property
    def sample_ids_dtype(self):
        """The dtype of the sample ids."""
        raise NotImplementedError

    @property
    def steps_bound(self):
        """A bound on the steps known after `initialize`: a Python int, an
        int scalar tensor (a TensorFlow graph's unknown length), or `None`
        (not a TFA attribute; see `Decoder.steps_bound`)."""
        return None

    @property
    def seed_generators(self):
        """The sampler's `keras.random.SeedGenerator`s (not a TFA
        attribute): its decoder layer tracks them, so that a compiled step
        (`jax.jit`, `model.fit`) draws anew at every call instead of
        replaying the draws of the trace."""
        return [
            value
            for value in vars(self).values()
            if isinstance(value, keras.random.SeedGenerator)
        ]

    # The constructor arguments that `get_config` returns, and those of
    # them that are callables (a layer, a registered function), which it
    # serializes as Keras objects.
    CONFIG_KEYS = ()
    CALLABLE_KEYS = ()

    def get_config(self):
        """The constructor arguments, so that a model holding the sampler's
        decoder saves to `.keras` and loads (not a TFA method).

        A tensor or variable argument (`sampling_probability`) is saved as
        its current value.
        """
        config = {}
        for key in self.CONFIG_KEYS:
            value = getattr(self, key)
            if value is not None and key in self.CALLABLE_KEYS:
                value = keras.saving.serialize_keras_object(value)
            elif hasattr(value, "shape") and hasattr(value, "dtype"):
                value = ops.convert_to_numpy(value).tolist()
            config[key] = value
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in cls.CALLABLE_KEYS:
            if config[key] is not None:
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


class BatchTrackingSampler(Sampler):
    """A `Sampler` whose `initialize` sets its batch size (TFA's samplers).

    `batch_size` raises until `initialize` has run. The sample ids are int32
    scalars unless a subclass says otherwise.
    """

    _batch_size = None

    @property
    def batch_size(self):
        if self._batch_size is None:
            raise ValueError("batch_size accessed before initialize was called")
        return as_batch_size(self._batch_size)

    @property
    def sample_ids_shape(self):
        return ()

    @property
    def sample_ids_dtype(self):
        return "int32"

    def _start(self, batch_size):
        """Sets the batch size `B`; returns bool `(B,)` zeros: no row has
        finished before the first step."""
        self._batch_size = batch_size
        return ops.zeros((batch_size,), "bool")


def seed_generator(seed):
    """A `keras.random.SeedGenerator` for an int seed, or `None`'s."""
    if seed is not None and not isinstance(seed, int):
        raise ValueError(
            f"`seed` must be an int or None. Received: seed={seed!r}"
        )
    return keras.random.SeedGenerator(seed)


def categorical_ids(logits, seed):
    """One id per row drawn from `softmax(logits)`: int32 `(B,)`."""
    ids = keras.random.categorical(ops.cast(logits, "float32"), 1, seed=seed)
    return ops.cast(ids[:, 0], "int32")


def bernoulli(probability, batch_size, seed):
    """bool `(B,)`: True with `probability` (a scalar or one per row)."""
    # float32 whatever floatx, as the probability (TFA drew in its dtype).
    draws = keras.random.uniform((batch_size,), dtype="float32", seed=seed)
    return draws < ops.cast(probability, "float32")


def check_probability(sampling_probability, sampler):
    """`sampling_probability`, scalar or `(B,)`: a float32 tensor, or the
    `keras.Variable` itself.

    TFA keeps a variable as it is, so that a schedule assigning it new
    values (the point of scheduled sampling) reaches the sampler; it is
    read at each draw.
    """
    if isinstance(sampling_probability, (int, float)) and not (
        0.0 <= sampling_probability <= 1.0
    ):
        raise ValueError(
            "`sampling_probability` must be between 0 and 1. "
            f"Received: sampling_probability={sampling_probability!r}"
        )
    probability = sampling_probability
    if not isinstance(probability, keras.Variable):
        probability = ops.convert_to_tensor(probability, "float32")
    if len(probability.shape) not in (0, 1):
        raise ValueError(
            f"{sampler}'s `sampling_probability` must be a scalar or a "
            f"vector. Received shape: {tuple(probability.shape)}"
        )
    return probability


def categorical_sample(logits, dtype="int32", sample_shape=(), seed=None):
    """Ids drawn from `softmax(logits)` over the last axis (TFA's
    `tfa.seq2seq.sampler.categorical_sample`, an `InferenceSampler`'s
    usual `sample_fn`).

    Args:
        logits: float tensor `(..., V)`.
        dtype: the ids' dtype. Defaults to `"int32"`.
        sample_shape: int or tuple of ints: draws per row, as a leading
            shape. Defaults to `()` (one draw).
        seed: optional int (a new draw at each call, along a sequence
            the int fixes, as TFA's op seed; see `call_seed`) or
            `keras.random.SeedGenerator`. Defaults to `None`.

    Returns:
        tensor `sample_shape + logits.shape[:-1]` of `dtype`.
    """
    logits = ops.convert_to_tensor(logits)
    shape = shape_tuple(sample_shape)
    batch_shape = tuple(ops.shape(logits))[:-1]
    flat = ops.reshape(logits, (-1, ops.shape(logits)[-1]))  # (N, V)
    count = int(np.prod(shape))
    draws = keras.random.categorical(
        ops.cast(flat, "float32"), count, seed=call_seed(seed)
    )
    draws = ops.reshape(ops.transpose(draws), shape + batch_shape)
    return ops.cast(draws, dtype)


def bernoulli_sample(
    probs=None, logits=None, dtype="int32", sample_shape=(), seed=None
):
    """1 with probability `probs` (or `sigmoid(logits)`), else 0, for
    every entry (TFA's `tfa.seq2seq.sampler.bernoulli_sample`).

    Args:
        probs: optional float tensor of probabilities.
        logits: optional float tensor, used when `probs` is `None`.
        dtype: the draws' dtype (`"bool"` for flags). Defaults to
            `"int32"`.
        sample_shape: int or tuple of ints: draws per entry, as a leading
            shape. Defaults to `()` (one draw).
        seed: optional int (as for `categorical_sample`) or
            `keras.random.SeedGenerator`. Defaults to `None`.

    Returns:
        tensor `sample_shape + probs.shape` of `dtype`.
    """
    if probs is None:
        probs = ops.sigmoid(ops.convert_to_tensor(logits))
    probs = ops.convert_to_tensor(probs)
    shape = shape_tuple(sample_shape) + tuple(ops.shape(probs))
    uniform = keras.random.uniform(
        shape,
        dtype=keras.backend.standardize_dtype(probs.dtype),
        seed=call_seed(seed),
    )
    return ops.cast(ops.less(uniform, probs), dtype)


# The draws made so far with each int seed (see `call_seed`).
_DRAWS = collections.Counter()


def call_seed(seed):
    """The seed of one call of `categorical_sample` or `bernoulli_sample`.

    TFA passed an int `seed` to TensorFlow's random ops as their op seed:
    each call draws anew, along a sequence that the seed fixes (the same
    in every run). Keras' int seed draws the same numbers at every call,
    so a decoder's `sample_fn` drew the same noise at every step (a
    multilabel end flag that was not drawn at the first step never was).
    An int therefore becomes the `n`-th int of a sequence fixed by it,
    `n` counting the calls with that seed in this process; a
    `SeedGenerator` (which advances itself) and `None` (Keras' global
    generator) are kept. A compiled function draws the seeds of its
    trace: each step of a decoding loop unrolled at trace time (a static
    `maximum_iterations` or input length) its own, but the one traced
    step of a TensorFlow graph's while loop (a decoding with no static
    bound) the same at every step; there, pass a `SeedGenerator`.
    """
    seed = python_int(seed)
    if not isinstance(seed, int) or isinstance(seed, bool):
        return seed
    count = _DRAWS[seed]
    _DRAWS[seed] += 1
    return (seed * 1_000_003 + count) % 2**31


def shape_tuple(sample_shape):
    """TFA's `sample_shape` (an int or a sequence of ints) as a tuple."""
    if isinstance(sample_shape, numbers.Integral):
        return (int(sample_shape),)
    return tuple(int(n) for n in sample_shape)


def start_and_end_tokens(start_tokens, end_token):
    """`(start_tokens, end_token)` as int32 tensors, checked as TFA does:
    a vector `(B,)` and a scalar, else a `ValueError` naming the shape."""
    start_tokens = ops.cast(start_tokens, "int32")
    end_token = ops.cast(end_token, "int32")
    if len(start_tokens.shape) != 1:
        raise ValueError(
            "start_tokens must be a vector (B,). Received shape: "
            f"{tuple(start_tokens.shape)}"
        )
    if len(end_token.shape) != 0:
        raise ValueError(
            "end_token must be a scalar. Received shape: "
            f"{tuple(end_token.shape)}"
        )
    return start_tokens, end_token


def check_embedding_fn(embedding_fn):
    if embedding_fn is not None and not callable(embedding_fn):
        raise ValueError(
            "`embedding_fn` must be callable or None. "
            f"Received: embedding_fn={embedding_fn!r}"
        )


def embedding_lookup(embedding_fn, embedding, sampler):
    """The ids -> vectors function: `embedding_fn`, else `embedding`'s.

    `embedding` may be a `(V, E)` matrix (or variable) or a callable.
    """
    if embedding_fn is not None:
        return embedding_fn
    if embedding is None:
        raise ValueError(
            f"`embedding` is required as a keyword argument for {sampler}."
        )
    if callable(embedding):
        return embedding
    return lambda ids: ops.take(embedding, ids, axis=0)


def expand_to(flags, x):
    """`flags` `(B, ...)` (or a scalar) with trailing axes of 1 to
    broadcast against `x` `(B, ...)`."""
    extra = len(x.shape) - len(flags.shape)
    return ops.reshape(flags, tuple(ops.shape(flags)) + (1,) * extra)


def feed_chosen(chosen, fed, given, fix):
    """The scheduled samplers' next inputs: `fed` in the rows `chosen`
    (bool `(B,)`), `given` elsewhere.

    TFA fed them under a `tf.cond` taken only when a row was chosen, so
    `fed` of another shape than `given` (at probability 0, say) was never
    compared: eagerly a step with no row chosen gives `given`; traced, or
    with a row chosen, such a `fed` raises a ValueError that ends with
    `fix`.
    """
    if tuple(fed.shape[1:]) != tuple(given.shape[1:]):
        if known_all(ops.logical_not(chosen)):
            return given
        raise ValueError(
            f"The sampled inputs have shape {tuple(fed.shape)}, the inputs "
            f"{tuple(given.shape)}: {fix}"
        )
    return ops.where(
        expand_to(chosen, given), ops.cast(fed, given.dtype), given
    )
