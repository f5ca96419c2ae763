"""What every attention mechanism shares: memory, masking, weights, context."""

import collections

import keras
from keras import ops

from keras_seq2seq.ops import (
    mask_scores,
    masked_hardmax,
    masked_softmax,
    zero_padding,
)

AttentionMemory = collections.namedtuple(
    "AttentionMemory", ["keys", "values", "mask"]
)
AttentionMemory.__doc__ = """A source sequence prepared once for many queries.

Fields:
    keys: `(B, Tv, U)` projected keys, zero at padded steps before projection.
    values: `(B, Tv, Dv)` values with padded steps zeroed.
    mask: bool `(B, Tv)`, True where a step is real.
"""

PROBABILITY_FNS = ("softmax", "hardmax")


@keras.saving.register_keras_serializable(package="keras_seq2seq")
class BaseAttention(keras.layers.Layer):
    """Base class of the attention layers: subclasses define keys and scores.

    A mechanism splits into `prepare(value, value_mask, key)`, run once per
    source sequence (it zeroes padded steps and projects the keys), and
    `attend(query, memory)`, run once per query (it scores the keys, turns the
    scores into weights and takes the weighted sum of the values). Decoders
    and beam search call these two directly so that keys are never
    recomputed; `call` does both.

    Subclasses implement `build_score(query_depth, key_depth)` (create the
    weights), `compute_keys(key)` and `score(query, keys)`.

    Args:
        probability_fn: str or callable. `"softmax"`, `"hardmax"`, or a
            function mapping float32 scores `(..., Tv)`, where padded steps
            hold the float32 minimum, to weights. Defaults to `"softmax"`.
        kernel_initializer: initializer for the projection kernels. Defaults
            to `"glorot_uniform"`.

    Call arguments:
        query: `(B, Hq)` or `(B, Tq, Hq)`.
        value: `(B, Tv, Dv)`.
        key: optional `(B, Tv, Dk)`; defaults to `value`.
        value_mask: optional bool `(B, Tv)`, True where a step is real. Keras
            fills it from the mask `value` carries (e.g. from
            `Embedding(mask_zero=True)`).
        previous_weights: optional `(B, Tv)` weights of the previous decoder
            step; only monotonic mechanisms read it.

    Returns:
        `(context, weights)`: `(B, [Tq,] Dv)` and `(B, [Tq,] Tv)`. Padded
        steps get weight 0; a row with no real step gives zero weights and a
        zero context, never NaN. Both are in the layer's compute dtype
        (`float16` or `bfloat16` under a mixed policy); the softmax itself
        runs in `float32`.
    """

    def __init__(
        self,
        probability_fn="softmax",
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not callable(probability_fn) and (
            probability_fn not in PROBABILITY_FNS
        ):
            raise ValueError(
                f"`probability_fn` must be one of {PROBABILITY_FNS} or a "
                f"callable. Received: probability_fn={probability_fn!r}"
            )
        self.probability_fn = probability_fn
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.query_depth = None
        self.key_depth = None

    def projection(self, units, name, seed_offset=0):
        """A bias-free `Dense(units)` in the layer's initializer and dtype:
        the query and key projections of the subclasses.

        Each projection draws its own numbers. An unseeded Keras
        initializer fixes its seed when it is made, and a seeded one draws
        the same numbers at every call, so one initializer shared by two
        kernels of one shape would make them one matrix (`W_q = W_k` for a
        query as deep as the keys). The projection gets a copy of an
        unseeded initializer, a copy seeded `seed + seed_offset` of one
        seeded with an int (each weight of a layer has its own offset:
        the layer stays reproducible), and the initializer itself where
        its seed is a `keras.random.SeedGenerator`, which advances at
        every draw.
        """
        initializer = self.kernel_initializer
        if isinstance(initializer, keras.initializers.Initializer):
            seed = getattr(initializer, "seed", None)
            if not isinstance(seed, keras.random.SeedGenerator):
                config = initializer.get_config()
                if isinstance(config.get("seed"), int):
                    # Keras draws from a uint32 seed.
                    config["seed"] = (config["seed"] + seed_offset) % 2**32
                initializer = initializer.__class__.from_config(config)
        return keras.layers.Dense(
            units,
            use_bias=False,
            kernel_initializer=initializer,
            # Frozen with the layer: Keras rebuilds a frozen layer from its
            # config as `Layer(trainable=False)`, which freezes only the
            # variables the layer makes itself, no sublayer's.
            trainable=self.trainable,
            dtype=self.dtype_policy,
            name=name,
        )

    def build(self, query_shape, value_shape, key_shape=None):
        check_shapes(query_shape, value_shape, key_shape)
        self.query_depth = query_shape[-1]
        self.key_depth = (key_shape or value_shape)[-1]
        self.build_score(self.query_depth, self.key_depth)

    def call(
        self,
        query,
        value,
        key=None,
        value_mask=None,
        previous_weights=None,
        training=None,
    ):
        self.check_inputs(query, value, key)
        memory = self.prepare(value, value_mask=value_mask, key=key)
        return self.attend(
            query, memory, previous_weights=previous_weights, training=training
        )

    def compute_output_shape(
        self, query_shape, value_shape, key_shape=None, value_mask_shape=None
    ):
        """`(context, weights)` shapes: `query_shape` with its last axis
        replaced by `Dv`, then by `Tv`."""
        check_shapes(query_shape, value_shape, key_shape)
        # A functional model's call runs here, not in `call`: a mask of
        # another shape given by hand passed until the model ran.
        check_mask_shape(value_mask_shape, value_shape)
        leading = tuple(query_shape[:-1])
        return leading + (value_shape[-1],), leading + (value_shape[1],)

    def compute_mask(self, query, previous_mask=None):
        # A sequence of queries keeps its mask on both outputs.
        if previous_mask is None:
            return None
        return [previous_mask, previous_mask]

    def prepare(self, value, value_mask=None, key=None):
        """Zeroes padded steps and projects the keys, once per source.

        Args:
            value: `(B, Tv, Dv)`.
            value_mask: optional bool `(B, Tv)`.
            key: optional `(B, Tv, Dk)`; defaults to `value`.

        Returns:
            `AttentionMemory(keys, values, mask)`.
        """
        value = ops.convert_to_tensor(value, dtype=self.compute_dtype)
        if value_mask is None:
            mask = ops.ones(ops.shape(value)[:2], dtype="bool")
        else:
            # A mask of another shape broadcast (PyTorch ran with a
            # `(B, 1)` one) or failed in a backend's own words.
            mask = ops.cast(value_mask, "bool")
            check_mask_shape(mask.shape, value.shape)
        real = ops.cast(mask, value.dtype)[:, :, None]
        values = value * real
        if key is None:
            key = values
        else:
            key = ops.convert_to_tensor(key, dtype=self.compute_dtype) * real
        return AttentionMemory(self.compute_keys(key), values, mask)

    def attend(self, query, memory, previous_weights=None, training=None):
        """Weights and context of `query` over a prepared memory.

        Args:
            query: `(B, Hq)` or `(B, Tq, Hq)`.
            memory: `AttentionMemory` from `prepare`.
            previous_weights: optional `(B, Tv)`, for monotonic mechanisms.
            training: bool, for mechanisms that add noise while training.

        Returns:
            `(context, weights)` as `call`.
        """
        query = ops.convert_to_tensor(query, dtype=self.compute_dtype)
        # A caller with another policy (a mixed decoder step's `__call__`)
        # may have cast the memory to its own compute dtype.
        keys = ops.cast(memory.keys, self.compute_dtype)
        values = ops.cast(memory.values, self.compute_dtype)
        scores = self.score(query, keys)
        mask = memory.mask if len(query.shape) == 2 else memory.mask[:, None]
        weights = self.probabilities(scores, mask, previous_weights, training)
        weights = ops.cast(weights, values.dtype)
        if len(query.shape) == 2:
            context = ops.matmul(weights[:, None, :], values)[:, 0]
        else:
            context = ops.matmul(weights, values)  # (B, Tq, Dv)
        return context, weights

    def probabilities(self, scores, mask, previous_weights, training):
        """Maps scores to weights; padded steps get exactly 0."""
        del previous_weights, training  # Used by monotonic mechanisms.
        if self.probability_fn == "softmax":
            return masked_softmax(scores, mask)
        if self.probability_fn == "hardmax":
            return masked_hardmax(scores, mask)
        return zero_padding(
            self.probability_fn(mask_scores(scores, mask)), mask
        )

    def initial_weights(self, memory):
        """Weights before the first decoder step: zeros `(B, Tv)`."""
        return ops.zeros(ops.shape(memory.mask), dtype=memory.values.dtype)

    def check_inputs(self, query, value, key=None):
        """Raises `ValueError` for ranks, batch sizes or depths that differ
        (`prepare` checks the mask's shape)."""
        key_shape = None if key is None else tuple(key.shape)
        check_shapes(tuple(query.shape), tuple(value.shape), key_shape)
        key_shape = key_shape or tuple(value.shape)
        for name, shape, built in (
            ("query", query.shape, self.query_depth),
            ("key" if key is not None else "value", key_shape, self.key_depth),
        ):
            if None not in (built, shape[-1]) and shape[-1] != built:
                raise ValueError(
                    f"`{name}` has depth {shape[-1]} but the layer was built "
                    f"for depth {built}. Received: {name}.shape={tuple(shape)}"
                )

    def get_config(self):
        probability_fn = self.probability_fn
        if callable(probability_fn):
            probability_fn = keras.saving.serialize_keras_object(probability_fn)
        config = {
            "probability_fn": probability_fn,
            "kernel_initializer": keras.initializers.serialize(
                self.kernel_initializer
            ),
        }
        return {**super().get_config(), **config}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("probability_fn"), dict):
            config["probability_fn"] = keras.saving.deserialize_keras_object(
                config["probability_fn"]
            )
        return cls(**config)


def check_bool(name, value):
    """Raises `ValueError` unless `value` is a bool: a string read from a
    config file (`"false"`) is truthy, and would turn the option on."""
    if not isinstance(value, bool):
        raise ValueError(
            f"`{name}` must be True or False. Received: {name}={value!r}"
        )


def check_mask_shape(mask_shape, value_shape, names=("value_mask", "Tv")):
    """Raises `ValueError` unless a mask of `mask_shape` (`None`: no mask)
    is the `(B, T)` of a sequence of `value_shape`; `None` axes match any.
    `names`: the mask's argument and its time axis, for the message; the
    sequence is the argument named before `_mask`."""
    # A rank unknown (a TensorFlow graph's `TensorShape(None)`) says nothing.
    if mask_shape is None or None in (
        getattr(mask_shape, "rank", 0),
        getattr(value_shape, "rank", 0),
    ):
        return
    mask_shape, value_shape = tuple(mask_shape), tuple(value_shape)
    if len(mask_shape) != 2 or not _compatible(mask_shape, value_shape[:2]):
        name, steps = names
        value = name.removesuffix("_mask")
        raise ValueError(
            f"`{name}` must have shape (B, {steps}) of `{value}`. "
            f"Received: {name}.shape={mask_shape}, "
            f"{value}.shape={value_shape}"
        )


def _compatible(shape_a, shape_b):
    return all(
        a is None or b is None or a == b
        for a, b in zip(shape_a, shape_b, strict=True)
    )


def check_shapes(query_shape, value_shape, key_shape=None):
    """Raises `ValueError` naming the argument whose shape cannot work."""
    if len(query_shape) not in (2, 3):
        raise ValueError(
            "`query` must have rank 2 (B, Hq) or 3 (B, Tq, Hq). "
            f"Received: query.shape={tuple(query_shape)}"
        )
    if len(value_shape) != 3:
        raise ValueError(
            "`value` must have rank 3 (B, Tv, Dv). "
            f"Received: value.shape={tuple(value_shape)}"
        )
    if not _compatible(query_shape[:1], value_shape[:1]):
        raise ValueError(
            "`query` and `value` must have the same batch size. Received: "
            f"query.shape={tuple(query_shape)}, "
            f"value.shape={tuple(value_shape)}"
        )
    if key_shape is not None and (
        len(key_shape) != 3 or not _compatible(key_shape[:2], value_shape[:2])
    ):
        raise ValueError(
            "`key` must have shape (B, Tv, Dk) with the (B, Tv) of `value`. "
            f"Received: key.shape={tuple(key_shape)}, "
            f"value.shape={tuple(value_shape)}"
        )
