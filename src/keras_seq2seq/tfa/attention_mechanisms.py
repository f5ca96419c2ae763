"""TFA's attention mechanism classes, adapted over the native layers.

`tfa.seq2seq` mechanisms hold their memory: it is given at construction or
through `setup_memory`, and the layer is then called as
`mechanism([query, state]) -> (alignments, next_state)`. These classes keep
that API (arguments, attributes `keys`, `values`, `alignments_size`,
`initial_alignments()`, `initial_state()`, and TFA's `get_weights()` order)
and delegate every computation to a native mechanism from
`keras_seq2seq.attention`, held as the sublayer `core`.

Unlike the native layers, these adapters keep the prepared memory on `self`
between calls: that is TFA's contract. `set_weights` recomputes the keys of a
memory already set up, so loaded weights take effect at once.

For the same reason the memory must have values: a symbolic one (a
`keras.Input`, or the encoder's outputs in a functional model under
construction) is refused with a `ValueError`. A functional model's layers
take their tensors as call arguments, and a memory held on `self` is none;
TFA's own functional use failed on TensorFlow 2 too (tensorflow/addons#1898,
whose workaround was to disable eager execution). Set the memory up inside a
subclassed `keras.Model`'s `call`, as TFA's NMT tutorial does, or use
`keras_seq2seq.AttentionDecoder`, which takes the memory as an argument.
"""

import keras
from keras import ops

from keras_seq2seq import attention
from keras_seq2seq.ops import keras_mask, sequence_mask
from keras_seq2seq.tfa.scalars import python_int


class AttentionMechanism(keras.layers.Layer):
    """Base of the TFA-style mechanisms: memory set-up and the call convention.

    Args:
        core: the native attention layer that computes everything.
        memory: optional `(B, T, D)` memory to set up now.
        memory_sequence_length: optional int `(B,)` valid lengths of memory.
        query_depth: optional int, the query depth when the mechanism fixes
            it (Luong's: `units`); else it is known at the first query.
        **kwargs: `keras.layers.Layer` arguments.

    Call arguments:
        inputs: `[query, state]` (or TFA's `[query, state, values]`, whose
            third entry is ignored): query `(B, Hq)` and the previous
            alignments `(B, T)`; or, with `setup_memory=True`, the memory (or
            `[memory]`, or `[memory, memory_sequence_length]`).
        mask: optional bool `(B, T)` memory mask, with `setup_memory=True`.
        setup_memory: bool. Set the memory up instead of attending.

    Returns:
        `(alignments, next_state)`, both `(B, T)`; `next_state` is the
        alignments, as in TFA. With `setup_memory=True`, the masked values.
    """

    # Attribute paths of `core`'s variables, or of its layers (all their
    # weights), in TFA's `get_weights()` order.
    WEIGHT_ORDER = ()
    # The constructor arguments that `get_config` returns.
    CONFIG_KEYS = ()

    def __init__(
        self,
        core,
        memory=None,
        memory_sequence_length=None,
        query_depth=None,
        memory_layer=None,
        query_layer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        # TFA's `memory_layer=` and `query_layer=`: layers that project the
        # memory into keys and the query, in place of the core's own.
        if query_layer is not None and not hasattr(core, "query_dense"):
            raise ValueError(
                f"{type(self).__name__} scores the query as it is: it takes "
                f"no query_layer. Received: query_layer={query_layer!r}"
            )
        self.given_layers = {}
        for name, layer, attribute in (
            ("memory_layer", memory_layer, "key_dense"),
            ("query_layer", query_layer, "query_dense"),
        ):
            if layer is not None:
                setattr(core, attribute, layer)
                self.given_layers[name] = layer
        self.core = core
        self.query_depth = query_depth
        # As TFA's: the memory's Keras mask is taken (`call`), and the
        # layer's outputs carry none.
        self.supports_masking = True
        self._memory = None
        self._raw_memory = None
        if memory is not None:
            # TFA sets the memory up through `__call__`, which hands `call`
            # the memory's Keras mask (an `Embedding(mask_zero=True)`
            # encoder's outputs): without lengths, that mask is the
            # memory's.
            mask = None
            if memory_sequence_length is None:
                mask = keras_mask(memory)
            self.setup_memory(memory, memory_sequence_length, mask)

    def build(self, input_shape=None):
        """Creates the weights that `input_shape` fixes, as TFA's did.

        The core is built by `setup_memory`, which knows the memory shape;
        TFA's programs (and its tests) may also build by shapes first, then
        set weights: the memory's `(B, T, D)` creates the weights the memory
        fixes, and `[query_shape, state_shape]` the query projection.
        """
        input_shape = _as_shape(input_shape)
        if _is_shape(input_shape) and len(input_shape) == 3:
            if not self.core.built:
                self.core.build((None, self.query_depth), tuple(input_shape))
        elif isinstance(input_shape, (list, tuple)) and input_shape:
            query_shape = _as_shape(input_shape[0])
            layer = self.query_layer
            if (
                self.core.built
                and _is_shape(query_shape)
                and layer is not None
                and not layer.built
            ):
                layer.build((None, query_shape[-1]))
        self.built = True

    def setup_memory(
        self, memory, memory_sequence_length=None, memory_mask=None
    ):
        """Masks the memory and computes the keys, once for many queries.

        Args:
            memory: `(B, T, D)` encoder outputs.
            memory_sequence_length: optional int `(B,)`.
            memory_mask: optional bool `(B, T)`. Not with the lengths.

        Raises:
            ValueError: when both lengths and a mask are given, for lengths
                that are not one per memory row, or a mask that is not the
                memory's `(B, T)`.
        """
        if memory_sequence_length is not None and memory_mask is not None:
            raise ValueError(
                "Give `memory_sequence_length` or `memory_mask`, not both."
            )
        _check_values(memory, memory_sequence_length, memory_mask)
        memory = ops.convert_to_tensor(memory, dtype=self.compute_dtype)
        if memory_sequence_length is not None:
            lengths = ops.convert_to_tensor(memory_sequence_length)
            _check_lengths(lengths, memory)
            memory_mask = sequence_mask(lengths, ops.shape(memory)[1])
        elif memory_mask is not None:
            memory_mask = ops.convert_to_tensor(memory_mask)
            _check_mask(memory_mask, memory)
        if not self.core.built:
            # Without a fixed query depth the native layer creates its query
            # projection at the first query, as TFA does.
            self.core.build((None, self.query_depth), tuple(memory.shape))
        # The wrapper calls `core` directly, never this layer: mark it built
        # here, or Keras warns that a model holding it has unbuilt state.
        self.built = True
        self._raw_memory = (memory, memory_mask)
        self._memory = self.core.prepare(memory, value_mask=memory_mask)

    def __call__(self, inputs, *args, **kwargs):
        if kwargs.get("setup_memory"):
            # Keras would trace a symbolic memory into `call` as stand-in
            # values, which `setup_memory` would keep: refuse it here.
            _check_values(*keras.tree.flatten(inputs))
        return super().__call__(inputs, *args, **kwargs)

    def call(self, inputs, mask=None, setup_memory=False, training=None):
        if setup_memory:
            if not isinstance(inputs, (list, tuple)):
                inputs = [inputs]
            if len(inputs) not in (1, 2):
                # TFA's message: `[memory]` or `[memory, lengths]`.
                raise ValueError(
                    "Expect inputs to have 1 or 2 tensors, got "
                    f"{len(inputs)}: [memory] or [memory, "
                    "memory_sequence_length]."
                )
            memory, lengths = (list(inputs) + [None])[:2]
            if isinstance(mask, (list, tuple)):
                mask = mask[0]  # Keras' masks of a list: the memory's first
            self.setup_memory(
                memory, lengths, None if lengths is not None else mask
            )
            return self.values
        if self._memory is None:
            raise ValueError(
                "The memory is not set up: pass `memory=` to the constructor "
                "or call `setup_memory(memory, memory_sequence_length)` first."
            )
        if not isinstance(inputs, (list, tuple)) or len(inputs) not in (2, 3):
            # TFA's message; a third entry, the processed memory, was TFA's
            # way to connect a Keras 2 graph and is ignored.
            count = len(inputs) if isinstance(inputs, (list, tuple)) else 1
            raise ValueError(
                "Expect the inputs to have query, state, and optional "
                f"processed memory, got {count} items"
            )
        query, state = inputs[0], inputs[1]
        _, alignments = self.core.attend(
            query, self._memory, previous_weights=state, training=training
        )
        return alignments, alignments

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        config = {name: getattr(self, name) for name in self.CONFIG_KEYS}
        config["kernel_initializer"] = keras.initializers.serialize(
            keras.initializers.get(self.kernel_initializer)
        )
        for name, layer in self.given_layers.items():
            config[name] = keras.saving.serialize_keras_object(layer)
        # As TFA's: the memory is a tensor, not configuration; a mechanism
        # made from the config has none until `setup_memory`.
        config["memory"] = None
        return {**super().get_config(), **config}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for name in ("memory_layer", "query_layer"):
            if isinstance(config.get(name), dict):
                config[name] = keras.saving.deserialize_keras_object(
                    config[name]
                )
        return cls(**config)

    @property
    def weights(self):
        weights = []
        for path in self.WEIGHT_ORDER:
            found = _resolve(self.core, path)
            if isinstance(found, keras.layers.Layer):
                weights.extend(found.weights)
            elif found is not None:
                weights.append(found)
        return weights

    def set_weights(self, weights):
        super().set_weights(weights)
        if self._raw_memory is not None:
            self.setup_memory(
                self._raw_memory[0], memory_mask=self._raw_memory[1]
            )

    @property
    def memory_layer(self):
        """TFA's name for the layer that projects the memory into keys."""
        return self.core.key_dense

    @property
    def query_layer(self):
        """TFA's name for the layer that projects the query; `None` where
        the query is scored as it is (Luong's)."""
        return getattr(self.core, "query_dense", None)

    @property
    def memory_initialized(self):
        return self._memory is not None

    @property
    def keys(self):
        """`(B, T, U)` projected keys of the memory."""
        return self._memory.keys

    @property
    def values(self):
        """`(B, T, D)` memory with padded steps zeroed."""
        return self._memory.values

    @property
    def memory_mask(self):
        """bool `(B, T)`, True where the memory is real."""
        return self._memory.mask

    @property
    def batch_size(self):
        """The memory's batch size: an int, or, where it is not known
        before the computation runs (a TensorFlow graph's), an int scalar
        tensor (TFA's)."""
        return ops.shape(self._memory.values)[0]

    @property
    def alignments_size(self):
        """The memory's steps `T`: an int, or an int scalar tensor where
        they are not known before the computation runs (a `tf.function`
        over sources of any length), as TFA's."""
        return ops.shape(self._memory.values)[1]

    @property
    def state_size(self):
        return self.alignments_size

    def initial_alignments(self, batch_size, dtype):
        """Alignments before the first step: zeros `(batch_size, T)`."""
        return ops.zeros((batch_size, self.alignments_size), dtype=dtype)

    def initial_state(self, batch_size, dtype):
        """The attention state before the first step (the alignments)."""
        return self.initial_alignments(batch_size, dtype)


def _check_values(*tensors):
    """Raises a ValueError for a symbolic memory, lengths or mask (see the
    module docstring)."""
    if any(keras.backend.is_keras_tensor(x) for x in tensors):
        raise ValueError(
            "A tfa mechanism keeps its memory, which must have values: it "
            "cannot be symbolic (a keras.Input, or a functional model's "
            "tensor). Call `mechanism.setup_memory(encoder_outputs, ...)` "
            "inside a subclassed keras.Model's call (TFA's tutorial does), "
            "or use keras_seq2seq.AttentionDecoder in a functional model."
        )


def _check_lengths(lengths, memory):
    """Raises TFA's ValueError for lengths that are not one per memory row
    (when the sizes are known)."""
    if len(lengths.shape) != 1:
        raise ValueError(
            "memory_sequence_length must be a vector (B,). Received shape: "
            f"{tuple(lengths.shape)}"
        )
    rows, batch_size = lengths.shape[0], tuple(memory.shape)[0]
    if isinstance(rows, int) and isinstance(batch_size, int):
        if rows != batch_size:
            raise ValueError(
                "memory_sequence_length and memory tensor batch sizes do not "
                f"match: {rows} vs {batch_size}."
            )


def _check_mask(mask, memory):
    """Raises a ValueError unless `mask` is `(B, T)` of the memory `(B, T,
    D)` (where the sizes are known)."""
    mask_shape, memory_shape = tuple(mask.shape), tuple(memory.shape)
    if len(mask_shape) != 2 or any(
        isinstance(a, int) and isinstance(b, int) and a != b
        for a, b in zip(mask_shape, memory_shape[:2], strict=False)
    ):
        raise ValueError(
            "memory_mask must be (B, T), one flag per memory step. "
            f"Received: memory_mask.shape={mask_shape}, "
            f"memory.shape={memory_shape}"
        )


def _as_shape(value):
    """A TensorFlow `TensorShape` as a list; anything else as it is."""
    return value.as_list() if hasattr(value, "as_list") else value


def _is_shape(value):
    """Whether `value` is one shape (a tuple or list of ints and `None`)."""
    return isinstance(value, (list, tuple)) and all(
        dim is None or isinstance(dim, int) for dim in value
    )


def _resolve(layer, path):
    for name in path.split("."):
        layer = getattr(layer, name, None)
        if layer is None:
            return None
    return layer


def _check_probability_fn(probability_fn):
    if probability_fn not in ("softmax", "hardmax"):
        raise ValueError(
            "`probability_fn` must be 'softmax' or 'hardmax'. "
            f"Received: probability_fn={probability_fn!r}"
        )
    return probability_fn


@keras.saving.register_keras_serializable(package="keras_seq2seq.tfa")
class BahdanauAttention(AttentionMechanism):
    """TFA's `BahdanauAttention(units, memory, memory_sequence_length, ...)`.

    Args:
        units: int. Attention depth.
        memory: optional `(B, T, D)` memory.
        memory_sequence_length: optional int `(B,)`.
        normalize: bool. Weight normalisation of `v`. Defaults to `False`.
        probability_fn: `"softmax"` or `"hardmax"`. Defaults to `"softmax"`.
        kernel_initializer: Defaults to `"glorot_uniform"`.
        dtype: layer dtype. Defaults to `None`.
        name: Defaults to `"BahdanauAttention"`.
    """

    WEIGHT_ORDER = (
        "attention_v",
        "attention_g",
        "attention_b",
        "query_dense",
        "key_dense",
    )
    CONFIG_KEYS = ("units", "normalize", "probability_fn")

    def __init__(
        self,
        units,
        memory=None,
        memory_sequence_length=None,
        normalize=False,
        probability_fn="softmax",
        kernel_initializer="glorot_uniform",
        dtype=None,
        name="BahdanauAttention",
        **kwargs,
    ):
        units = python_int(units)
        core = attention.BahdanauAttention(
            units,
            normalize=normalize,
            probability_fn=_check_probability_fn(probability_fn),
            kernel_initializer=kernel_initializer,
            dtype=dtype,
            name="core",
        )
        super().__init__(
            core,
            memory,
            memory_sequence_length,
            dtype=dtype,
            name=name,
            **kwargs,
        )
        self.units = units
        self.normalize = normalize
        self.probability_fn = probability_fn
        self.kernel_initializer = kernel_initializer


@keras.saving.register_keras_serializable(package="keras_seq2seq.tfa")
class LuongAttention(AttentionMechanism):
    """TFA's `LuongAttention(units, memory, memory_sequence_length, ...)`.

    The query depth must equal `units`.

    Args:
        units: int. Depth of the keys and of the query.
        memory: optional `(B, T, D)` memory.
        memory_sequence_length: optional int `(B,)`.
        scale: bool. A learned scalar score scale. Defaults to `False`.
        probability_fn: `"softmax"` or `"hardmax"`. Defaults to `"softmax"`.
        kernel_initializer: Defaults to `"glorot_uniform"`.
        dtype: layer dtype. Defaults to `None`.
        name: Defaults to `"LuongAttention"`.
    """

    WEIGHT_ORDER = ("attention_g", "key_dense")
    CONFIG_KEYS = ("units", "scale", "probability_fn")

    def __init__(
        self,
        units,
        memory=None,
        memory_sequence_length=None,
        scale=False,
        probability_fn="softmax",
        kernel_initializer="glorot_uniform",
        dtype=None,
        name="LuongAttention",
        **kwargs,
    ):
        units = python_int(units)
        core = attention.LuongAttention(
            units,
            scale=scale,
            probability_fn=_check_probability_fn(probability_fn),
            kernel_initializer=kernel_initializer,
            dtype=dtype,
            name="core",
        )
        super().__init__(
            core,
            memory,
            memory_sequence_length,
            query_depth=units,
            dtype=dtype,
            name=name,
            **kwargs,
        )
        self.units = units
        self.scale = scale
        self.probability_fn = probability_fn
        self.kernel_initializer = kernel_initializer
