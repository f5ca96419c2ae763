"""TFA's base attention mechanism (`_BaseAttentionMechanism`).

`tfa.seq2seq` mechanisms hold their memory: it is given at construction or
through `setup_memory`, and the layer is then called as
`mechanism([query, state]) -> (alignments, next_state)`. `AttentionMechanism`
keeps that API (arguments, attributes `keys`, `values`, `alignments_size`,
`initial_alignments()`, `initial_state()`) for two kinds of subclasses:

- the built-in mechanisms (`attention_mechanisms.py`,
  `monotonic_mechanisms.py`) delegate every computation to a native
  mechanism from `keras_seq2seq.attention`, held as the sublayer `core`;
- a program's own mechanism, written as for TFA: its constructor calls
  `super().__init__(memory=..., probability_fn=..., query_layer=...,
  memory_layer=..., memory_sequence_length=...)`, and it computes
  `(alignments, next_state)` in `_calculate_attention(query, state)`.

Unlike the native layers, these mechanisms keep the prepared memory on
`self` between calls: that is TFA's contract. `set_weights` recomputes the
keys of a memory already set up, so loaded weights take effect at once.

For the same reason the memory must have values: a symbolic one (a
`keras.Input`, or the encoder's outputs in a functional model under
construction) is refused with a `ValueError`. A functional model's layers
take their tensors as call arguments, and a memory held on `self` is none;
TFA's own functional use failed on TensorFlow 2 too (tensorflow/addons#1898,
whose workaround was to disable eager execution). Set the memory up inside a
subclassed `keras.Model`'s `call`, as TFA's NMT tutorial does, or use
`keras_seq2seq.AttentionDecoder`, which takes the memory as an argument.

This module holds the class: its construction, `build`, the memory's
set-up and the call. Its TFA attributes and probability functions are in
`mechanism_attributes.py`, its weights and config in `mechanism_weights.py`
(mixins of the class).
"""

import keras
from keras import ops

from keras_seq2seq.attention.base_attention import AttentionMemory
from keras_seq2seq.ops import keras_mask, sequence_mask
from keras_seq2seq.tfa.keras2_weights import Keras2Weights
from keras_seq2seq.tfa.mechanism_attributes import MechanismAttributes
from keras_seq2seq.tfa.mechanism_weights import MechanismWeights
from keras_seq2seq.tfa.memory_checks import (
    as_shape,
    check_lengths,
    check_mask,
    check_values,
    is_shape,
)


class AttentionMechanism(
    MechanismAttributes, MechanismWeights, Keras2Weights, keras.layers.Layer
):
    """Base of the TFA-style mechanisms, TFA's `_BaseAttentionMechanism`.

    A mechanism of a program's own (no `core`) is written as TFA's were:
    it passes TFA's arguments up, creates its weights in `build`, and
    overrides `_calculate_attention(query, state)`, where `self.keys` is
    the memory layer's projection of the masked memory (the masked memory
    without one), `self.values` the masked memory, `self.query_layer` the
    query layer, and `self.probability_fn(score, state)` the given
    function with padded memory steps masked out (their weight is 0).
    `build(input_shape)` is called as TFA's was: with the memory's shape
    `(B, T, D)` when the memory is first set up (the memory layer), then
    with `[query_shape, state_shape]` before the first query (the query
    layer). `get_weights()` lists the layer's own weights, then the query
    layer's and the memory layer's (TFA's order). TFA's helpers that
    mechanisms copied from TFA's source call are here too:
    `_process_probability_fn(name)`, `_alignments_size` and
    `deserialize_inner_layer_from_config(config)`.

    Args:
        memory: optional `(B, T, D)` memory to set up now.
        probability_fn: for a mechanism of a program's own, a callable
            `(score, state) -> alignments` over `(B, T)` scores. Ignored
            with `core`.
        query_layer: optional Keras layer projecting the query.
        memory_layer: optional Keras layer projecting the memory into
            keys. Its dtype is the mechanism's unless `dtype` is given.
        memory_sequence_length: optional int `(B,)` valid lengths of
            memory.
        core: the native attention layer that computes everything (the
            built-in mechanisms); `query_layer` and `memory_layer` then
            replace its query and key projections. Defaults to `None`.
        query_depth: optional int, the query depth when the mechanism fixes
            it (Luong's: `units`); else it is known at the first query.
        **kwargs: `keras.layers.Layer` arguments.

    Call arguments:
        inputs: `[query, state]` (or TFA's `[query, state, values]`, whose
            third entry is ignored): query `(B, Hq)` and the previous
            attention state (the alignments, `(B, T)`); or, with
            `setup_memory=True`, the memory (or `[memory]`, or `[memory,
            memory_sequence_length]`).
        mask: optional bool `(B, T)` memory mask, with `setup_memory=True`.
        setup_memory: bool. Set the memory up instead of attending.

    Returns:
        `(alignments, next_state)`: `(B, T)` and the next attention state
        (the built-in mechanisms': the alignments, as in TFA). With
        `setup_memory=True`, the masked values.

    Raises:
        TypeError: without `core`, for a `probability_fn` that is not
            callable, or a `query_layer` or `memory_layer` that is not a
            Keras layer (TFA's messages).
    """

    # Attribute paths of `core`'s variables, or of its layers (all their
    # weights), in TFA's `get_weights()` order.
    WEIGHT_ORDER = ()
    # The constructor arguments that `get_config` returns.
    CONFIG_KEYS = ()

    def __init__(
        self,
        memory=None,
        probability_fn=None,
        query_layer=None,
        memory_layer=None,
        memory_sequence_length=None,
        core=None,
        query_depth=None,
        **kwargs,
    ):
        _check_layers(query_layer, memory_layer)
        if core is None and memory_layer is not None:
            if kwargs.get("dtype") is None:
                kwargs["dtype"] = memory_layer.dtype_policy  # TFA's
        super().__init__(**kwargs)
        if core is None:
            if not callable(probability_fn):
                raise TypeError(
                    "probability_fn must be callable, saw type: "
                    f"{type(probability_fn).__name__}"
                )
            self.probability_fn = self._masked(probability_fn)
        elif query_layer is not None and not hasattr(core, "query_dense"):
            raise ValueError(
                f"{type(self).__name__} scores the query as it is: it takes "
                f"no query_layer. Received: query_layer={query_layer!r}"
            )
        # The layers given for TFA's `memory_layer=` and `query_layer=`;
        # with a core they replace its key and query projections.
        self.given_layers = {}
        for name, layer, attribute in (
            ("query_layer", query_layer, "query_dense"),
            ("memory_layer", memory_layer, "key_dense"),
        ):
            if layer is not None:
                if core is not None:
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
            self._setup_given_memory(memory, memory_sequence_length)

    def build(self, input_shape=None):
        """Creates the weights that `input_shape` fixes, as TFA's did.

        The memory's `(B, T, D)` (or `[memory_shape, lengths_shape]`,
        from `mechanism([memory, lengths], setup_memory=True)`) builds the
        memory layer (the core's weights that the memory fixes), and
        `[query_shape, state_shape]` the query layer. `setup_memory`
        builds on the memory's shape; TFA's programs (and its tests) may
        also build by shapes first, then set weights.
        """
        shape = as_shape(input_shape)
        if isinstance(shape, (list, tuple)) and shape and not is_shape(shape):
            shape = as_shape(shape[0])  # the memory's or the query's
        layer = None
        if is_shape(shape) and len(shape) == 3:
            if self.core is not None and not self.core.built:
                self.core.build((None, self.query_depth), tuple(shape))
            layer = self.memory_layer
        elif is_shape(shape) and len(shape) == 2:
            # A core builds its query projection with the memory's set-up.
            if self.core is None or self.core.built:
                layer = self.query_layer
        if layer is not None and not layer.built:
            layer.build(tuple(shape))
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
        check_values(memory, memory_sequence_length, memory_mask)
        memory = ops.convert_to_tensor(memory, dtype=self.compute_dtype)
        if memory_sequence_length is not None:
            lengths = ops.convert_to_tensor(memory_sequence_length)
            check_lengths(lengths, memory)
            memory_mask = sequence_mask(lengths, ops.shape(memory)[1])
        elif memory_mask is not None:
            memory_mask = ops.convert_to_tensor(memory_mask)
            check_mask(memory_mask, memory)
        self._raw_memory = (memory, memory_mask)
        if self.core is None:
            self._memory = self._prepare(memory, memory_mask)
            return
        if not self.built:
            # TFA's build on the memory's shape (a subclass's too, which
            # may create weights of its own).
            self.build(tuple(memory.shape))
        if not self.core.built:
            # Without a fixed query depth the native layer creates its query
            # projection at the first query, as TFA does.
            self.core.build((None, self.query_depth), tuple(memory.shape))
        # The wrapper calls `core` directly, never this layer: mark it built
        # here, or Keras warns that a model holding it has unbuilt state.
        self.built = True
        self._memory = self.core.prepare(memory, value_mask=memory_mask)

    def _setup_given_memory(self, memory, memory_sequence_length):
        """Sets up the constructor's `memory=`."""
        # TFA sets the memory up through `__call__`, which hands `call`
        # the memory's Keras mask (an `Embedding(mask_zero=True)`
        # encoder's outputs): without lengths, that mask is the memory's.
        mask = None
        if memory_sequence_length is None:
            mask = keras_mask(memory)
        self.setup_memory(memory, memory_sequence_length, mask)

    def _prepare(self, memory, memory_mask):
        """The memory of a mechanism of a program's own: TFA's steps."""
        if not self.built:
            # TFA's first build, on the memory's shape; the second, on the
            # query's, comes before the first query (`__call__`).
            self.build(tuple(memory.shape))
            self.built = False
        if memory_mask is None:
            memory_mask = ops.ones(ops.shape(memory)[:2], "bool")
        mask = ops.cast(memory_mask, "bool")
        # TFA's `_prepare_memory`: padded steps are zeros, in the values
        # and so in the keys.
        values = memory * ops.cast(mask, memory.dtype)[:, :, None]
        layer = self.memory_layer
        keys = values if layer is None else layer(values)
        return AttentionMemory(keys, values, mask)

    def __call__(self, inputs, *args, **kwargs):
        if kwargs.get("setup_memory"):
            # Keras would trace a symbolic memory into `call` as stand-in
            # values, which `setup_memory` would keep: refuse it here.
            check_values(*keras.tree.flatten(inputs))
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
        if self.native_core is None:
            return self._calculate_attention(query, state)
        return self._core_attention(query, state, training)

    def _calculate_attention(self, query, state):
        """TFA's method to override: `(alignments, next_state)` of `query`
        `(B, Hq)` given the previous attention state `state`.

        Raises:
            NotImplementedError: for a mechanism of a program's own that
                does not override it.
        """
        if self.core is None:
            raise NotImplementedError(
                f"{type(self).__name__} must implement "
                "_calculate_attention(query, state) -> (alignments, "
                "next_state), as TFA's subclasses of _BaseAttentionMechanism "
                "did."
            )
        return self._core_attention(query, state)

    def _core_attention(self, query, state, training=None):
        """The core's alignments; they are the next state too (TFA's)."""
        _, alignments = self.core.attend(
            query, self._memory, previous_weights=state, training=training
        )
        return alignments, alignments

    @property
    def native_core(self):
        """The native layer that computes this mechanism's attention, or
        `None` where a subclass computes it (`_calculate_attention`), and
        the wrapper must call the mechanism (TFA's `_compute_attention`)."""
        if type(self)._calculate_attention is not (
            AttentionMechanism._calculate_attention
        ):
            return None
        return self.core

    def compute_mask(self, inputs, mask=None):
        return None


def _check_layers(query_layer, memory_layer):
    """Raises TFA's TypeError for a given layer that is not a Keras layer."""
    for name, layer in (
        ("query_layer", query_layer),
        ("memory_layer", memory_layer),
    ):
        if layer is not None and not isinstance(layer, keras.layers.Layer):
            raise TypeError(f"{name} is not a Layer: {layer!r}")
