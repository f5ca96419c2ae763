"""`AttentionMechanism`'s TFA attributes and probability functions.

A mixin of `AttentionMechanism` (`attention_mechanism.py`): the
`probability_fn` helpers (TFA's masking of padded memory steps, and its
names `"softmax"` and `"hardmax"`), and the attributes that TFA's
mechanisms had and programs read: `memory_layer`, `query_layer`, `keys`,
`values`, `memory_mask`, `batch_size`, `alignments_size`, `state_size`,
`initial_alignments()`, `initial_state()`.
"""

import keras
from keras import ops

from keras_seq2seq.ops import hardmax, mask_scores, masked_softmax, zero_padding


class MechanismAttributes:
    """`AttentionMechanism`'s probability functions and TFA's attributes
    (a mixin of it)."""

    def _masked(self, probability_fn):
        """`probability_fn` with padded memory steps masked out, as TFA's
        base class wraps it: their scores are the lowest float (in
        float32) before it, and their alignments 0 after it."""

        def masked_probability_fn(score, state):
            mask = self.memory_mask
            alignments = probability_fn(
                mask_scores(score, mask), ops.cast(state, "float32")
            )
            return ops.cast(zero_padding(alignments, mask), score.dtype)

        return masked_probability_fn

    def name_probability_fn(self, name):
        """Sets TFA's two attributes of a built-in mechanism's
        `probability_fn` argument: `probability_fn_name`, the name (which
        the config keeps), and `probability_fn`, its function `(score,
        state)` with padded steps masked out, for a subclass's
        `_calculate_attention` (the core computes its own)."""
        self.probability_fn_name = name
        function = self._process_probability_fn(name)
        self.probability_fn = self._masked(lambda score, _: function(score))

    def _process_probability_fn(self, func_name):
        """The function TFA's name stands for: `"softmax"` or `"hardmax"`
        over the last axis (TFA's helper, which mechanisms copied from
        TFA's call before `super().__init__`).

        Raises:
            ValueError: for another name.
        """
        functions = {"softmax": masked_softmax, "hardmax": hardmax}
        if func_name not in functions:
            raise ValueError(
                f"Invalid probability function: {func_name!r}, options are "
                f"{sorted(functions)}"
            )
        return functions[func_name]

    @property
    def memory_layer(self):
        """TFA's name for the layer that projects the memory into keys;
        `None` where the keys are the memory (a mechanism of a program's
        own without one)."""
        if self.core is None:
            return self.given_layers.get("memory_layer")
        return self.core.key_dense

    @property
    def query_layer(self):
        """TFA's name for the layer that projects the query; `None` where
        the query is scored as it is (Luong's)."""
        if self.core is None:
            return self.given_layers.get("query_layer")
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
    def _alignments_size(self):
        # TFA's attribute, which its subclasses' `initial_alignments` read.
        return self.alignments_size

    @property
    def state_size(self):
        return self.alignments_size

    def initial_alignments(self, batch_size, dtype):
        """Alignments before the first step: zeros `(batch_size, T)`, of
        `dtype` (a name, or TFA's `tf.DType`)."""
        dtype = keras.backend.standardize_dtype(dtype)
        return ops.zeros((batch_size, self.alignments_size), dtype=dtype)

    def initial_state(self, batch_size, dtype):
        """The attention state before the first step (the alignments)."""
        return self.initial_alignments(batch_size, dtype)
