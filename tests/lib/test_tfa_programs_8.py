"""`keras_seq2seq.tfa` run as TFA programs, eighth round.

Each test is a way TFA 0.23 programs used `tfa.seq2seq` that an earlier
version of this module got wrong: `safe_cumprod` (and the parallel
monotonic attention over it) gave float32 for float64 on PyTorch;
`BeamSearchDecoder`'s log-probs and scores were float32 in a float64
model; its `step` refused TFA's `name=`; `get_attention_probs` and
`BeamSearchDecoderMixin` (TFA's `beam_search_decoder` module) were
missing; a decoder's `batch_size` had none of the tensor's attributes
that TFA's int32 scalar had; and `ScheduledOutputTrainingSampler`
refused outputs (`ScheduledEmbeddingTrainingSampler` an embedding) of
another depth than the inputs at every step, where TFA fed them only to
the rows it sampled. Expected values come from
NumPy (`np.cumprod`, the monotonic recurrence written out), TFA's source
read for behaviour, and identities: a beam of width 1 is greedy
decoding, probability 0 is teacher forcing.
"""

import inspect

import keras
import numpy as np
import pytest
from float64_support import float64_only
from keras import ops

import keras_seq2seq.tfa as tfa
from helpers import dtype_of

B, S, D, H, U, V, E = 2, 5, 3, 4, 4, 6, 3
RNG = np.random.default_rng(81)
MEMORY = RNG.normal(size=(B, S, D)).astype("float32")
LENGTHS = np.array([5, 3], "int32")


def numpy(x):
    return ops.convert_to_numpy(x)


# --- `safe_cumprod` of float64 probabilities, and the parallel monotonic
# attention over it. Keras' PyTorch `cumsum` (as its `cumprod` and
# `matmul`) returns float32 for float64 (its type promotion maps 64-bit
# types to 32-bit ones off TensorFlow): the product came back float32,
# its digits past the 7th lost; TFA's kept the dtype.


@float64_only
@pytest.mark.parametrize("exclusive", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
def test_safe_cumprod_keeps_float64(exclusive, reverse):
    x = RNG.uniform(0.5, 1.0, size=(3, 40))
    got = tfa.safe_cumprod(
        ops.convert_to_tensor(x), axis=1, exclusive=exclusive, reverse=reverse
    )
    step = x[:, ::-1] if reverse else x
    if exclusive:
        step = np.concatenate([np.ones((3, 1)), step[:, :-1]], axis=1)
    expected = np.cumprod(step, axis=1)
    expected = expected[:, ::-1] if reverse else expected
    assert dtype_of(got) == "float64"
    np.testing.assert_allclose(numpy(got), expected, rtol=1e-13)


@float64_only
def test_parallel_monotonic_attention_keeps_float64():
    # Raffel et al.'s recurrence q_i = (1 - p_{i-1}) q_{i-1} + prev_i,
    # a_i = p_i q_i, in NumPy float64.
    p = RNG.uniform(0.05, 0.6, size=(2, 12))
    previous = np.zeros((2, 12))
    previous[:, 0] = 1.0
    q = np.zeros_like(p)
    for i in range(12):
        carried = (1.0 - p[:, i - 1]) * q[:, i - 1] if i else 0.0
        q[:, i] = carried + previous[:, i]
    expected = p * q
    got = tfa.monotonic_attention(
        ops.convert_to_tensor(p), ops.convert_to_tensor(previous), "parallel"
    )
    assert dtype_of(got) == "float64"
    np.testing.assert_allclose(numpy(got), expected, rtol=1e-12)


# --- A float64 beam search: TFA's log-probs took the dtype of the cell
# state (`log_probs` started as a one-hot of that dtype and the step's
# `log_softmax` kept the logits'), and `output_dtype` said so for the
# scores. Ours computed them in float32 whatever the model.


def beam_cell():
    mechanism = tfa.BahdanauAttention(U, MEMORY, LENGTHS)
    return tfa.AttentionWrapper(
        keras.layers.GRUCell(H), mechanism, attention_layer_size=H
    )


@float64_only
@pytest.mark.parametrize("coverage", [0.0, 0.4], ids=["plain", "coverage"])
def test_beam_search_scores_a_float64_model_in_float64(float64, coverage):
    cell = beam_cell()
    output_layer = keras.layers.Dense(V)
    output_layer.build((None, H))
    bias = np.zeros(V)
    bias[V - 1] = -50.0  # the end token, never chosen: 4 steps
    output_layer.bias.assign(bias)
    embedding = RNG.normal(size=(V, E))
    start = np.zeros(B, "int32")
    beams = tfa.BeamSearchDecoder(
        cell,
        1,
        output_layer=output_layer,
        maximum_iterations=4,
        coverage_penalty_weight=coverage,
    )
    outputs, state, _ = beams(
        embedding,
        start_tokens=start,
        end_token=V - 1,
        initial_state=cell.get_initial_state(batch_size=B, dtype="float64"),
    )
    scores = outputs.beam_search_decoder_output.scores
    assert beams.output_dtype.scores == "float64"
    assert dtype_of(scores) == "float64"
    assert dtype_of(state.log_probs) == "float64"
    greedy = tfa.BasicDecoder(
        cell,
        tfa.GreedyEmbeddingSampler(),
        output_layer=output_layer,
        maximum_iterations=4,
    )
    expected, _, _ = greedy(
        embedding,
        start_tokens=start,
        end_token=V - 1,
        initial_state=cell.get_initial_state(batch_size=B, dtype="float64"),
    )
    ids = numpy(expected.sample_id)
    np.testing.assert_array_equal(numpy(outputs.predicted_ids)[:, :, 0], ids)
    logits = numpy(expected.rnn_output)
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    chosen = np.take_along_axis(log_probs, ids[..., None], -1)[..., 0]
    # Width 1, no length penalty, coverage only on finished beams (none):
    # each step's score is the sum of the chosen log-probs so far.
    np.testing.assert_allclose(
        numpy(scores)[:, :, 0], np.cumsum(chosen, axis=1), rtol=1e-12
    )
    np.testing.assert_allclose(
        numpy(state.log_probs)[:, 0], chosen.sum(1), rtol=1e-12
    )


# --- TFA's signatures: `BeamSearchDecoder.step(time, inputs, state,
# training=None, name=None)` (the name of an op scope), as TFA's abstract
# `Decoder.step`; programs stepping the decoder by hand passed it.


def test_decoder_methods_take_tfas_arguments():
    beam_params = inspect.signature(tfa.BeamSearchDecoder.step).parameters
    assert list(beam_params) == [
        "self", "time", "inputs", "state", "training", "name"
    ]  # fmt: skip
    decoder_params = inspect.signature(tfa.Decoder.step).parameters
    assert list(decoder_params)[-2:] == ["training", "name"]
    init_params = inspect.signature(tfa.BeamSearchDecoder.initialize)
    assert list(init_params.parameters) == [
        "self", "embedding", "start_tokens", "end_token", "initial_state"
    ]  # fmt: skip
    cell = beam_cell()
    beams = tfa.BeamSearchDecoder(cell, 1, output_layer=keras.layers.Dense(V))
    embedding = RNG.normal(size=(V, E)).astype("float32")
    finished, inputs, state = beams.initialize(
        embedding,
        np.zeros(B, "int32"),
        V - 1,
        cell.get_initial_state(batch_size=B, dtype="float32"),
    )
    by_name = beams.step(0, inputs, state, training=False, name="step")
    again = beams.step(0, inputs, state, None, "step")
    for got, want in zip(
        keras.tree.flatten(by_name[0]),
        keras.tree.flatten(again[0]),
        strict=True,
    ):
        np.testing.assert_array_equal(numpy(got), numpy(want))
    assert tuple(by_name[0].predicted_ids.shape) == (B, 1)


# --- TFA's `beam_search_decoder` module held `get_attention_probs(
# next_cell_state, coverage_penalty_weight)` (None at weight 0; the
# alignments of the wrapper state, averaged over mechanisms and over the
# wrapper states of a tuple; ValueError without one) and the class
# `BeamSearchDecoderMixin`, the beam search's methods, which
# `BeamSearchDecoder` subclasses and programs test for or extend.


def test_get_attention_probs_reads_the_wrapper_states_as_tfa():
    from keras_seq2seq.tfa.seq2seq import beam_search_decoder as module

    first = RNG.uniform(size=(B, S)).astype("float32")
    second = RNG.uniform(size=(B, S)).astype("float32")
    cell = tfa.AttentionWrapper(
        keras.layers.GRUCell(H),
        [
            tfa.BahdanauAttention(U, MEMORY, LENGTHS),
            tfa.LuongAttention(D, MEMORY, LENGTHS),
        ],
    )
    state = cell.get_initial_state(batch_size=B, dtype="float32")
    state = state.clone(alignments=(first, second))
    assert module.get_attention_probs(state, 0.0) is None
    probs = module.get_attention_probs(state, 0.5)
    np.testing.assert_allclose(numpy(probs), (first + second) / 2, rtol=1e-6)
    one = tfa.AttentionWrapper(
        keras.layers.GRUCell(H), tfa.BahdanauAttention(U, MEMORY, LENGTHS)
    ).get_initial_state(batch_size=B, dtype="float32")
    one = one.clone(alignments=first)
    stacked = module.get_attention_probs((np.zeros((B, H)), state, one), 1.0)
    expected = ((first + second) / 2 + first) / 2
    np.testing.assert_allclose(numpy(stacked), expected, rtol=1e-6)
    np.testing.assert_allclose(
        numpy(module.attention_probs_from_attn_state(state)),
        (first + second) / 2,
        rtol=1e-6,
    )
    with pytest.raises(ValueError, match="coverage_penalty_weight"):
        module.get_attention_probs(np.zeros((B, H)), 0.5)


def test_beam_search_decoder_is_a_beam_search_decoder_mixin():
    from keras_seq2seq.tfa.seq2seq import beam_search_decoder as module

    beams = tfa.BeamSearchDecoder(beam_cell(), 2)
    assert isinstance(beams, module.BeamSearchDecoderMixin)
    assert isinstance(beams, tfa.BaseDecoder)
    assert not isinstance(
        tfa.BasicDecoder(beams.cell, tfa.TrainingSampler()),
        module.BeamSearchDecoderMixin,
    )

    class OwnBeams(tfa.BeamSearchDecoder):
        pass

    assert isinstance(OwnBeams(beam_cell(), 2), module.BeamSearchDecoderMixin)
    # TFA's own composition has no methods to inherit here: it says what
    # to extend instead of failing at the first step.
    with pytest.raises(ValueError, match="extend .*BeamSearchDecoder"):

        class MixedBeams(module.BeamSearchDecoderMixin, tfa.BaseDecoder):
            pass


# --- `decoder.batch_size`: TFA's was an int32 scalar tensor (`tf.size(
# start_tokens)`), which programs read as one (`.numpy()`, `.dtype`,
# `ops.shape(...)`); ours was a Python int, which is what shapes need on
# every backend (`jax.jit` refuses a traced shape). It is now an int
# that also answers those.


def test_batch_size_is_an_int_with_a_scalar_tensors_attributes():
    cell = keras.layers.GRUCell(H)
    decoders = {
        "training": (
            tfa.BasicDecoder(cell, tfa.TrainingSampler()),
            (RNG.normal(size=(B, 3, E)).astype("float32"),),
            {"sequence_length": [3, 2]},
        ),
        "greedy": (
            tfa.BasicDecoder(
                cell, tfa.GreedyEmbeddingSampler(), maximum_iterations=2
            ),
            (RNG.normal(size=(V, E)).astype("float32"),),
            {"start_tokens": np.zeros(B, "int32"), "end_token": 1},
        ),
        "beam": (
            tfa.BeamSearchDecoder(cell, 1, maximum_iterations=2),
            (RNG.normal(size=(V, E)).astype("float32"),),
            {"start_tokens": np.zeros(B, "int32"), "end_token": 1},
        ),
    }
    for name, (decoder, args, kwargs) in decoders.items():
        decoder(*args, initial_state=np.zeros((B, H), "float32"), **kwargs)
        size = decoder.batch_size
        assert size == B and isinstance(size, int), name
        assert size.numpy() == B and size.numpy().dtype == np.int32, name
        assert keras.backend.standardize_dtype(size.dtype) == "int32"
        assert tuple(ops.shape(size)) == () and size.shape == ()
        assert tuple(ops.zeros((size, 2)).shape) == (B, 2)
        assert numpy(ops.cast(size, "float32")) == float(B)


# --- `ScheduledOutputTrainingSampler` whose outputs (`Dense(V)` logits,
# or the outputs with the auxiliary inputs) have another depth than the
# inputs. TFA fed the outputs only where it sampled (its `tf.cond` ran
# the sampling branch when some row was chosen): at probability 0, or at
# a step where no row was chosen, the given inputs went on and the depth
# was never compared. Ours raised at the first step.


@pytest.mark.parametrize("auxiliary", [False, True])
def test_scheduled_output_sampling_at_zero_ignores_the_outputs_depth(
    auxiliary,
):
    inputs = RNG.normal(size=(B, 3, E)).astype("float32")
    cell = keras.layers.GRUCell(H)
    output_layer = keras.layers.Dense(V)
    extra, width = {}, E
    if auxiliary:
        extra = {"auxiliary_inputs": RNG.normal(size=(B, 3, 2))}
        extra["auxiliary_inputs"] = extra["auxiliary_inputs"].astype("float32")
        width = E + 2
    scheduled = tfa.BasicDecoder(
        cell, tfa.ScheduledOutputTrainingSampler(0.0), output_layer
    )
    outputs, _, lengths = scheduled(
        inputs,
        initial_state=np.zeros((B, H), "float32"),
        sequence_length=[3, 2],
        **extra,
    )
    teacher_inputs = inputs
    if auxiliary:
        teacher_inputs = np.concatenate(
            [inputs, extra["auxiliary_inputs"]], axis=-1
        )
    # The cell saw `width` features: teacher forcing on the inputs (with
    # the auxiliary ones concatenated, as TFA).
    assert cell.kernel.shape[0] == width
    teacher = tfa.BasicDecoder(cell, tfa.TrainingSampler(), output_layer)
    expected, _, _ = teacher(
        teacher_inputs,
        initial_state=np.zeros((B, H), "float32"),
        sequence_length=[3, 2],
    )
    np.testing.assert_allclose(
        numpy(outputs.rnn_output), numpy(expected.rnn_output), rtol=1e-6
    )
    np.testing.assert_array_equal(numpy(outputs.sample_id), 0)
    assert numpy(lengths).tolist() == [3, 2]
    # A row chosen still needs outputs the inputs' depth (TFA's sampling
    # branch failed on them too).
    chosen = tfa.BasicDecoder(
        cell, tfa.ScheduledOutputTrainingSampler(1.0), output_layer
    )
    with pytest.raises(ValueError, match="next_inputs_fn"):
        chosen(
            inputs,
            initial_state=np.zeros((B, H), "float32"),
            sequence_length=[3, 2],
            **extra,
        )


# --- The same for `ScheduledEmbeddingTrainingSampler` whose `embedding`
# has another depth than the inputs: TFA embedded only the sampled ids
# (its `tf.cond`), so at probability 0 the embedding was never read; ours
# embedded every step and failed in the backend's broadcast (PyTorch:
# "The size of tensor a (5) must match ..."), at any probability.


def test_scheduled_embedding_sampling_at_zero_ignores_the_embeddings_depth():
    inputs = RNG.normal(size=(B, 3, E)).astype("float32")
    embedding = RNG.normal(size=(V, E + 2)).astype("float32")
    cell = keras.layers.GRUCell(H)
    output_layer = keras.layers.Dense(V)
    results = []
    for sampler, extra in (
        (tfa.ScheduledEmbeddingTrainingSampler(0.0), {"embedding": embedding}),
        (tfa.TrainingSampler(), {}),
    ):
        decoder = tfa.BasicDecoder(cell, sampler, output_layer)
        outputs, _, _ = decoder(
            inputs,
            initial_state=np.zeros((B, H), "float32"),
            sequence_length=[3, 2],
            **extra,
        )
        results.append(outputs)
    np.testing.assert_allclose(
        numpy(results[0].rnn_output), numpy(results[1].rnn_output), rtol=1e-6
    )
    np.testing.assert_array_equal(numpy(results[0].sample_id), -1)
    chosen = tfa.BasicDecoder(
        cell, tfa.ScheduledEmbeddingTrainingSampler(1.0), output_layer
    )
    with pytest.raises(ValueError, match="embedding"):
        chosen(
            inputs,
            initial_state=np.zeros((B, H), "float32"),
            sequence_length=[3, 2],
            embedding=embedding,
        )
