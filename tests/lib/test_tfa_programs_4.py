"""`keras_seq2seq.tfa` run as TFA programs, fourth round: subclassing.

Each test is a way TFA 0.23 programs extended `tfa.seq2seq` with their
own classes that an earlier version of this module got wrong: an attention
mechanism written on TFA's base class (`_BaseAttentionMechanism`, whose
constructor takes the memory, a probability function and the query and
memory layers, and whose subclasses compute the alignments in
`_calculate_attention`), or copied from TFA's source; a built-in
mechanism's subclass that overrides `_calculate_attention` or `build`;
user cells, attention layers and cell input layers inside
`AttentionWrapper`; and decoder and wrapper subclasses with layers of
their own. Expected values come from the same program written with the
built-in class (its weights copied over), from identities TFA documents
(an attention state that sums the alignments equals the sum of the
alignment history), or from TFA's `get_weights()` order (the order its
Keras 2 layers tracked their sublayers in).
"""

import json

import keras
import numpy as np
import pytest
from keras import ops

import keras_seq2seq.tfa as tfa
from keras_seq2seq.tfa.seq2seq.attention_wrapper import (
    _BaseAttentionMechanism,
)

B, T, D, E, H, U, V, K = 2, 5, 3, 4, 6, 4, 7, 2
RNG = np.random.default_rng(11)
MEMORY = RNG.normal(size=(B, T, D)).astype("float32")
LENGTHS = np.array([5, 3], "int32")
INPUTS = RNG.normal(size=(B, 3, E)).astype("float32")
EMBEDDING = RNG.normal(size=(V, E)).astype("float32")


def numpy(x):
    return ops.convert_to_numpy(x)


# --- A mechanism on TFA's base class: `_BaseAttentionMechanism` did not
# exist here (the mechanisms' base took a native layer), so TFA's way to
# write a new mechanism failed at the class statement. This one is TFA's
# Bahdanau score written out as TFA's users wrote theirs: it must give
# the built-in `BahdanauAttention`'s numbers with the same weights (TFA's
# order: `attention_v`, the query layer's kernel, the memory layer's).


class AdditiveAttention(_BaseAttentionMechanism):
    def __init__(
        self,
        units,
        memory=None,
        memory_sequence_length=None,
        probability_fn=None,
        **kwargs,
    ):
        self.units = units
        self.attention_v = None
        query_layer = kwargs.pop("query_layer", None) or keras.layers.Dense(
            units, use_bias=False, name="query_layer"
        )
        memory_layer = kwargs.pop("memory_layer", None) or keras.layers.Dense(
            units, use_bias=False, name="memory_layer"
        )
        super().__init__(
            memory=memory,
            probability_fn=probability_fn
            or (lambda score, _: ops.softmax(score, axis=-1)),
            query_layer=query_layer,
            memory_layer=memory_layer,
            memory_sequence_length=memory_sequence_length,
            **kwargs,
        )

    def build(self, input_shape):
        super().build(input_shape)
        if self.attention_v is None:
            self.attention_v = self.add_weight(
                name="attention_v", shape=(self.units,)
            )

    def _calculate_attention(self, query, state):
        processed_query = self.query_layer(query)[:, None, :]
        score = ops.sum(
            self.attention_v * ops.tanh(self.keys + processed_query), axis=2
        )
        alignments = self.probability_fn(score, state)
        return alignments, alignments

    def get_config(self):
        return {**super().get_config(), "units": self.units}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = _BaseAttentionMechanism.deserialize_inner_layer_from_config(
            config, custom_objects=custom_objects
        )
        return cls(**config)


def twin_mechanisms(memory=MEMORY, lengths=LENGTHS):
    """The user's mechanism and the built-in one with its weights."""
    mine = AdditiveAttention(U, memory, lengths)
    builtin = tfa.BahdanauAttention(U, memory, lengths)
    query = np.zeros((ops.shape(memory)[0], H), "float32")
    state = mine.initial_state(ops.shape(memory)[0], "float32")
    mine([query, state])
    builtin([query, state])
    builtin.set_weights(mine.get_weights())
    return mine, builtin


def assert_scores_as(mechanism, model):
    """Builds `mechanism` for a query, gives it the weights of `model` (a
    mechanism over the same memory) and compares their alignments."""
    query = RNG.normal(size=(B, H)).astype("float32")
    state = model.initial_state(B, "float32")
    mechanism([query, state])
    mechanism.set_weights(model.get_weights())
    np.testing.assert_allclose(
        numpy(mechanism([query, state])[0]),
        numpy(model([query, state])[0]),
        atol=1e-6,
    )


def test_a_mechanism_on_tfas_base_class_scores_as_the_builtin_one():
    mine, builtin = twin_mechanisms()
    assert [tuple(w.shape) for w in mine.get_weights()] == [
        (U,),
        (H, U),
        (D, U),
    ]
    query = RNG.normal(size=(B, H)).astype("float32")
    state = mine.initial_state(B, "float32")
    alignments, next_state = mine([query, state])
    want, _ = builtin([query, state])
    np.testing.assert_allclose(numpy(alignments), numpy(want), atol=1e-6)
    np.testing.assert_array_equal(numpy(alignments)[1, 3:], 0.0)
    np.testing.assert_array_equal(numpy(next_state), numpy(alignments))
    assert mine.alignments_size == T and mine.state_size == T
    assert tuple(mine.values.shape) == (B, T, D)
    assert tuple(mine.keys.shape) == (B, T, U)


def teacher_forced(mechanism, alignment_history=False):
    """A TFA program: the wrapper over the mechanism, run by a
    `BasicDecoder` with teacher forcing; returns the decoder and a
    function that runs it, giving the outputs and the final state."""
    wrapper = tfa.AttentionWrapper(
        keras.layers.GRUCell(H),
        mechanism,
        attention_layer_size=3,
        alignment_history=alignment_history,
    )
    decoder = tfa.BasicDecoder(
        wrapper, tfa.TrainingSampler(), output_layer=keras.layers.Dense(V)
    )

    def run():
        state = wrapper.get_initial_state(batch_size=B, dtype="float32")
        outputs, state, _ = decoder(
            INPUTS, initial_state=state, sequence_length=[3, 2]
        )
        return outputs, state

    run()  # builds every layer
    return decoder, run


def test_a_base_class_mechanism_decodes_as_the_builtin_one():
    mine, builtin = twin_mechanisms()
    decoder, run = teacher_forced(mine)
    twin, run_twin = teacher_forced(builtin)
    twin.set_weights(decoder.get_weights())
    (outputs, state), (want, want_state) = run(), run_twin()
    np.testing.assert_allclose(
        numpy(outputs.rnn_output), numpy(want.rnn_output), atol=1e-5
    )
    np.testing.assert_allclose(
        numpy(state.alignments), numpy(want_state.alignments), atol=1e-6
    )


def test_a_base_class_mechanism_searches_beams_as_the_builtin_one():
    # As TFA asks: the memory and its lengths tiled to B * K rows.
    mechanisms = twin_mechanisms(
        tfa.tile_batch(MEMORY, K), tfa.tile_batch(LENGTHS, K)
    )
    decoders, runs = [], []
    for mechanism in mechanisms:
        wrapper = tfa.AttentionWrapper(
            keras.layers.GRUCell(H), mechanism, attention_layer_size=3
        )
        decoder = tfa.BeamSearchDecoder(
            wrapper, K, output_layer=keras.layers.Dense(V), maximum_iterations=4
        )

        def run(decoder=decoder, wrapper=wrapper):
            state = wrapper.get_initial_state(batch_size=B * K, dtype="float32")
            outputs, _, _ = decoder(
                EMBEDDING, start_tokens=[1, 1], end_token=0, initial_state=state
            )
            scores = outputs.beam_search_decoder_output.scores
            return numpy(outputs.predicted_ids), numpy(scores)

        run()  # builds every layer
        decoders.append(decoder)
        runs.append(run)
    decoders[1].set_weights(decoders[0].get_weights())
    (ids, scores), (want_ids, want_scores) = runs[0](), runs[1]()
    np.testing.assert_array_equal(ids, want_ids)
    np.testing.assert_allclose(scores, want_scores, atol=1e-5)


def test_a_base_class_mechanism_saves_its_layers_in_its_config():
    mine, _ = twin_mechanisms()
    config = json.loads(json.dumps(mine.get_config()))
    assert config["memory"] is None and config["units"] == U
    rebuilt = AdditiveAttention.from_config(config)
    assert isinstance(rebuilt.query_layer, keras.layers.Dense)
    rebuilt.setup_memory(MEMORY, LENGTHS)
    assert_scores_as(rebuilt, mine)


def test_a_base_class_mechanism_without_a_calculation_says_so():
    class Unfinished(_BaseAttentionMechanism):
        def __init__(self, memory):
            super().__init__(memory, lambda score, _: score)

    mechanism = Unfinished(MEMORY)
    state = mechanism.initial_state(B, "float32")
    with pytest.raises(NotImplementedError, match="_calculate_attention"):
        mechanism([np.zeros((B, D), "float32"), state])
    with pytest.raises(TypeError, match="probability_fn must be callable"):
        _BaseAttentionMechanism(MEMORY, "softmax")
    with pytest.raises(TypeError, match="query_layer is not a Layer"):
        _BaseAttentionMechanism(MEMORY, ops.softmax, query_layer=3)


# --- An attention state of the mechanism's own: TFA's wrapper keeps what
# `_calculate_attention` returns as `next_state`, which need not be the
# alignments (location-aware mechanisms carry the alignments summed so
# far). A subclass of the built-in `BahdanauAttention` overriding
# `_calculate_attention` was never called: the wrapper ran the built-in
# computation, and the state stayed the alignments.


class CumulativeBahdanau(tfa.BahdanauAttention):
    def _calculate_attention(self, query, state):
        alignments, _ = super()._calculate_attention(query, state)
        return alignments, state + alignments


class CumulativeAdditive(AdditiveAttention):
    def _calculate_attention(self, query, state):
        alignments, _ = super()._calculate_attention(query, state)
        return alignments, state + alignments


@pytest.mark.parametrize(
    "cls", [CumulativeBahdanau, CumulativeAdditive], ids=["builtin", "base"]
)
def test_an_overridden_calculation_sets_the_attention_state(cls):
    _, run = teacher_forced(cls(U, MEMORY, LENGTHS), alignment_history=True)
    _, state = run()
    history = numpy(state.alignment_history.stack())  # (steps, B, T)
    # Row 1 stopped after 2 steps, but the wrapper ran all 3.
    np.testing.assert_allclose(
        numpy(state.attention_state), history.sum(axis=0), atol=1e-6
    )
    np.testing.assert_allclose(numpy(state.alignments), history[-1], atol=1e-6)


# --- A built-in mechanism's subclass with weights of its own: TFA built
# every mechanism through `build(input_shape)` when its memory was set up,
# so a subclass created its weights there. The built-in mechanisms here
# built their native layer directly, never the subclass's `build`: its
# weights did not exist at the first query (AttributeError). They come in
# TFA's `get_weights()` order: the layer's own, then its sublayers'.


class DecayingBahdanau(tfa.BahdanauAttention):
    def build(self, input_shape):
        super().build(input_shape)
        if getattr(self, "decay", None) is None:
            self.decay = self.add_weight(
                name="decay", shape=(), initializer="zeros"
            )

    def _calculate_attention(self, query, state):
        alignments, _ = super()._calculate_attention(query, state)
        return alignments, self.decay * state + alignments


def test_a_builtin_subclass_builds_its_own_weights_with_the_memory():
    mechanism = DecayingBahdanau(U, MEMORY, LENGTHS)
    decoder, run = teacher_forced(mechanism, alignment_history=True)
    assert [tuple(w.shape) for w in mechanism.get_weights()] == [
        (U,),
        (),
        (H, U),
        (D, U),
    ]
    weights = mechanism.get_weights()
    weights[1] = np.float32(0.5)
    mechanism.set_weights(weights)
    _, state = run()
    history = numpy(state.alignment_history.stack())  # (3, B, T)
    want = 0.25 * history[0] + 0.5 * history[1] + history[2]
    np.testing.assert_allclose(numpy(state.attention_state), want, atol=1e-6)


# --- A user attention layer: Keras 3 layers whose sublayers are made in
# `__init__` need no `build`, and Keras builds them at their first call by
# tracing `call`. The wrapper called their default `build` directly, which
# warns that the layer "looks like it has unbuilt state" (an error where
# warnings are). TFA built the attention layer at its first call.


class TanhProjection(keras.layers.Layer):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(units, activation="tanh")

    def call(self, inputs):
        return self.dense(inputs)


def test_a_user_attention_layer_without_build_runs_as_its_dense():
    inputs = INPUTS[:, 0]
    outputs = []
    for layer in (TanhProjection(3), keras.layers.Dense(3, activation="tanh")):
        wrapper = tfa.AttentionWrapper(
            keras.layers.GRUCell(H),
            tfa.LuongAttention(H, MEMORY, LENGTHS),
            attention_layer=layer,
        )
        assert wrapper.output_size == 3
        state = wrapper.get_initial_state(batch_size=B, dtype="float32")
        wrapper(inputs, state)  # builds every layer
        outputs.append((wrapper, state))
    (mine, state), (twin, _) = outputs
    twin.set_weights(mine.get_weights())
    np.testing.assert_allclose(
        numpy(mine(inputs, state)[0]), numpy(twin(inputs, state)[0]), atol=1e-6
    )


# --- A mechanism copied from TFA's own: the usual way to write one was to
# copy `BahdanauAttention` from TFA's source and edit it. Its constructor
# turns the name of the probability function into the function with the
# base class's `_process_probability_fn` (before `super().__init__`), and
# TFA's monotonic start reads the memory's steps as `_alignments_size`.
# Neither existed: AttributeError.


class CopiedBahdanau(AdditiveAttention):
    def __init__(self, units, memory, probability_fn="softmax", **kwargs):
        self.probability_fn_name = probability_fn
        probability_fn = self._process_probability_fn(probability_fn)
        super().__init__(
            units,
            memory,
            LENGTHS,
            probability_fn=lambda score, _: probability_fn(score),
            **kwargs,
        )

    def initial_alignments(self, batch_size, dtype):
        first = ops.zeros((batch_size,), "int32")
        return ops.one_hot(first, self._alignments_size, dtype=dtype)


def test_a_mechanism_copied_from_tfas_source_takes_its_helpers():
    mine = CopiedBahdanau(U, MEMORY, probability_fn="hardmax")
    builtin = tfa.BahdanauAttention(
        U, MEMORY, LENGTHS, probability_fn="hardmax"
    )
    query = RNG.normal(size=(B, H)).astype("float32")
    state = mine.initial_state(B, "float32")
    np.testing.assert_array_equal(numpy(state)[:, 0], 1.0)
    mine([query, state])
    builtin([query, state])
    builtin.set_weights(mine.get_weights())
    alignments, _ = mine([query, state])
    np.testing.assert_array_equal(
        numpy(alignments), numpy(builtin([query, state])[0])
    )
    np.testing.assert_array_equal(numpy(alignments).sum(axis=1), 1.0)
    with pytest.raises(ValueError, match="Invalid probability function"):
        CopiedBahdanau(U, MEMORY, probability_fn="sparsemax")


# --- A built-in mechanism's subclass that writes the score out: it starts
# from TFA's `_calculate_attention` of the class (to add a term to the
# score, say), which reads the class's weights (`attention_v`, Luong's
# `scale_weight`) and calls `self.probability_fn(score, state)`, TFA's
# function of the `probability_fn` name with padded steps masked out. The
# weights were the native layer's only (AttributeError), and
# `probability_fn` was the name (TypeError: not callable).


class WrittenOutBahdanau(tfa.BahdanauAttention):
    def _calculate_attention(self, query, state):
        processed_query = self.query_layer(query)[:, None, :]
        score = ops.sum(
            self.attention_v * ops.tanh(self.keys + processed_query), axis=2
        )
        alignments = self.probability_fn(score, state)
        return alignments, alignments


class WrittenOutLuong(tfa.LuongAttention):
    def _calculate_attention(self, query, state):
        score = self.scale_weight * ops.sum(query[:, None, :] * self.keys, 2)
        alignments = self.probability_fn(score, state)
        return alignments, alignments


@pytest.mark.parametrize(
    "cls, builtin, kwargs",
    [
        (WrittenOutBahdanau, tfa.BahdanauAttention, {}),
        (WrittenOutLuong, tfa.LuongAttention, {"scale": True}),
    ],
    ids=["bahdanau", "luong"],
)
def test_a_builtin_subclass_scores_with_the_classs_weights(
    cls, builtin, kwargs
):
    mine, twin = (c(H, MEMORY, LENGTHS, **kwargs) for c in (cls, builtin))
    query = RNG.normal(size=(B, H)).astype("float32")
    state = mine.initial_state(B, "float32")
    mine([query, state])
    twin([query, state])
    weights = mine.get_weights()
    weights[0] = np.full_like(weights[0], 1.5)  # v, or Luong's scale
    mine.set_weights(weights)
    twin.set_weights(weights)
    alignments, _ = mine([query, state])
    want, _ = twin([query, state])
    np.testing.assert_allclose(numpy(alignments), numpy(want), atol=1e-6)
    np.testing.assert_array_equal(numpy(alignments)[1, 3:], 0.0)
    assert mine.get_config()["probability_fn"] == "softmax"


# --- A user cell with its own initial state: TFA's wrapper starts from the
# cell's `get_initial_state`, which a Keras 2 cell with one state returns
# as one tensor `(B, H)`. The wrapper took the "first state" of it, its
# first row `(H,)`, and the first step failed on the shapes.


class HalfStartCell(keras.layers.Layer):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units
        self.output_size = units
        self.dense = keras.layers.Dense(units, activation="tanh")

    def build(self, input_shape):
        self.dense.build((None, input_shape[-1] + self.units))

    def call(self, inputs, states):
        previous = states[0] if isinstance(states, (list, tuple)) else states
        output = self.dense(ops.concatenate([inputs, previous], axis=-1))
        return output, output

    def get_initial_state(self, batch_size=None):
        return ops.full((batch_size, self.units), 0.5)


@pytest.mark.parametrize("layer_size", [None, 3], ids=["plain", "layer"])
def test_a_user_cell_starts_from_its_own_single_state(layer_size):
    wrapper = tfa.AttentionWrapper(
        HalfStartCell(H),
        tfa.LuongAttention(H, MEMORY, LENGTHS),
        attention_layer_size=layer_size,
        cell_input_fn=None if layer_size else (lambda x, a: x),
    )
    state = wrapper.get_initial_state(batch_size=B, dtype="float32")
    np.testing.assert_array_equal(numpy(state.cell_state), np.full((B, H), 0.5))
    decoder = tfa.BasicDecoder(wrapper, tfa.TrainingSampler())
    outputs, state, _ = decoder(INPUTS, initial_state=state)
    assert tuple(outputs.rnn_output.shape) == (B, 3, layer_size or D)
    assert tuple(state.cell_state.shape) == (B, H)


# --- TFA's layer call to set the memory up: `mechanism([memory, lengths],
# setup_memory=True)` builds the mechanism on `[memory_shape,
# lengths_shape]`, which TFA's base `build` read as the memory's (its
# memory was not set up yet). A mechanism on the base class took the list
# for `[query_shape, state_shape]` and built its query layer for the
# memory's depth: the first query raised.


def test_a_base_class_mechanism_sets_its_memory_up_through_its_call():
    mechanism = AdditiveAttention(U)
    values = mechanism([MEMORY, LENGTHS], setup_memory=True)
    np.testing.assert_array_equal(numpy(values)[1, 3:], 0.0)
    twin, _ = twin_mechanisms()
    assert_scores_as(mechanism, twin)


# --- A Keras layer as `cell_input_fn` (or `attention_fn`): TFA's wrapper
# held it as an attribute, so Keras tracked its weights, which trained and
# saved with the wrapper's. The wrapper's `weights` (TFA's order) listed
# only the attention layers, the cell and the mechanisms: the layer's
# weights were missing from `trainable_weights`, so `fit` never trained
# them, and from `get_weights`. TFA's order is the order the attributes
# were set in: attention layers, `attention_fn`, cell, mechanisms,
# `cell_input_fn`.


class MixedCellInput(keras.layers.Layer):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(units)

    def call(self, inputs, attention):
        return self.dense(ops.concatenate([inputs, attention], axis=-1))


def test_a_cell_input_layer_trains_with_the_wrapper():
    mix = MixedCellInput(5)
    wrapper = tfa.AttentionWrapper(
        keras.layers.GRUCell(H),
        tfa.LuongAttention(H, MEMORY, LENGTHS),
        attention_layer_size=3,
        cell_input_fn=mix,
    )
    state = wrapper.get_initial_state(batch_size=B, dtype="float32")
    wrapper(INPUTS[:, 0], state)
    trainable = [id(w) for w in wrapper.trainable_weights]
    assert all(id(w) in trainable for w in mix.weights)
    shapes = [tuple(w.shape) for w in wrapper.get_weights()]
    # attention layer; GRU kernel, recurrent kernel, bias; Luong's keys;
    # the cell input's kernel and bias.
    assert shapes == [
        (H + D, 3),
        (5, 3 * H),
        (H, 3 * H),
        (2, 3 * H),
        (D, H),
        (E + 3, 5),
        (5,),
    ]
    weights = wrapper.get_weights()
    weights[-1] = np.full((5,), 2.0, "float32")
    wrapper.set_weights(weights)
    np.testing.assert_array_equal(numpy(mix.dense.bias), 2.0)


# --- A decoder subclass with a layer of its own: the decoders' `weights`
# (TFA's order: the cell's, then the output layer's) left out every other
# layer, so a `BasicDecoder` subclass's own layer (an input projection,
# say) was missing from `trainable_weights` (never trained) and from
# `get_weights`. TFA's Keras 2 layer tracked it after the two.


class ProjectedInputDecoder(tfa.BasicDecoder):
    def __init__(self, cell, sampler, **kwargs):
        super().__init__(cell, sampler, **kwargs)
        self.input_projection = keras.layers.Dense(E)

    def step(self, time, inputs, state, training=None):
        inputs = self.input_projection(inputs)
        return super().step(time, inputs, state, training)


def test_a_decoder_subclass_trains_its_own_layer():
    decoder = ProjectedInputDecoder(
        keras.layers.GRUCell(H),
        tfa.TrainingSampler(),
        output_layer=keras.layers.Dense(V),
    )
    decoder(INPUTS, initial_state=np.zeros((B, H), "float32"))
    projection = decoder.input_projection.weights
    trainable = [id(w) for w in decoder.trainable_weights]
    assert all(id(w) in trainable for w in projection)
    shapes = [tuple(w.shape) for w in decoder.get_weights()]
    # GRU kernel, recurrent kernel, bias; output layer; the projection.
    assert shapes == [
        (E, 3 * H),
        (H, 3 * H),
        (2, 3 * H),
        (H, V),
        (V,),
        (E, E),
        (E,),
    ]
    weights = decoder.get_weights()
    weights[-1] = np.full((E,), 2.0, "float32")
    decoder.set_weights(weights)
    np.testing.assert_array_equal(numpy(decoder.input_projection.bias), 2.0)


# The same for an `AttentionWrapper` subclass: its weights (TFA's order)
# named the attention layers, the cell and the mechanisms only.


class ProjectedWrapper(tfa.AttentionWrapper):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.projection = keras.layers.Dense(2)

    @property
    def output_size(self):
        return 2

    def call(self, inputs, state, training=None):
        output, state = super().call(inputs, state, training=training)
        return self.projection(output), state


def test_a_wrapper_subclass_trains_its_own_layer():
    wrapper = ProjectedWrapper(
        keras.layers.GRUCell(H),
        tfa.LuongAttention(H, MEMORY, LENGTHS),
        attention_layer_size=3,
    )
    state = wrapper.get_initial_state(batch_size=B, dtype="float32")
    output, _ = wrapper(INPUTS[:, 0], state)
    assert tuple(output.shape) == (B, 2)
    trainable = [id(w) for w in wrapper.trainable_weights]
    assert all(id(w) in trainable for w in wrapper.projection.weights)
    shapes = [tuple(w.shape) for w in wrapper.get_weights()]
    assert shapes[-2:] == [(3, 2), (2,)]
    weights = wrapper.get_weights()
    weights[-1] = np.full((2,), 2.0, "float32")
    wrapper.set_weights(weights)
    np.testing.assert_array_equal(numpy(wrapper.projection.bias), 2.0)
