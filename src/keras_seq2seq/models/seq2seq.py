"""Seq2Seq: an RNN encoder, an attention decoder and an output projection."""

import keras
from keras import ops

from keras_seq2seq.attention import BahdanauAttention, LuongAttention
from keras_seq2seq.decoder import AttentionDecoder
from keras_seq2seq.decoding.beam_search import beam_search
from keras_seq2seq.decoding.compile import (
    compiled_model_function,
    no_gradients,
)
from keras_seq2seq.decoding.greedy import greedy_search
from keras_seq2seq.decoding.sampling import sample
from keras_seq2seq.models.scheduled_sampling import (
    check_scheduled_sampling,
    decode_with_sampling,
    sampling_probability,
)

CELLS = {"gru": keras.layers.GRUCell, "lstm": keras.layers.LSTMCell}
RNNS = {"gru": keras.layers.GRU, "lstm": keras.layers.LSTM}
ATTENTIONS = ("bahdanau", "luong")
BRIDGES = ("dense", "last", "zero")
# Compiled searches kept per model (one per method, options and shape).
_GENERATE_CACHE_SIZE = 8

# S2S-M, the reference benchmark workload (shared/bench/S2S-M.md).
PRESETS = {
    "s2s-m": dict(
        source_vocab_size=8000,
        target_vocab_size=8000,
        embedding_dim=256,
        encoder_units=256,
        bidirectional=True,
        decoder_units=512,
        attention="bahdanau",
        attention_units=256,
        query_order="luong",
        input_feeding=True,
        attention_layer_size=512,
        bridge="dense",
    ),
}


@keras.saving.register_keras_serializable(package="keras_seq2seq")
class Seq2Seq(keras.Model):
    """An attention encoder-decoder for token ids, trained with `fit`.

    `source ids -> Embedding -> (bi)RNN encoder -> bridge -> AttentionDecoder
    -> Dense(target_vocab_size)`. Padding (`pad_id`) is masked everywhere: in
    the encoder, in the attention over the source, in the decoder, and in
    the loss (`compute_loss` weights padded targets 0 whatever loss is
    compiled).

    Args:
        source_vocab_size: int. Source vocabulary size.
        target_vocab_size: int. Target vocabulary size `V`.
        embedding_dim: int. Embedding depth of both sides. Defaults to `256`.
        cell: str. `"gru"` or `"lstm"`. Defaults to `"gru"`.
        encoder_units: int. Units per direction. Defaults to `256`.
        encoder_layers: int. Defaults to `1`.
        bidirectional: bool. Defaults to `True`.
        decoder_units: int. Defaults to `512`.
        attention: str. `"bahdanau"` or `"luong"`. Defaults to `"bahdanau"`.
        attention_units: int. Bahdanau attention depth. Defaults to `256`.
        query_order: str. `"luong"` or `"bahdanau"`, see `AttentionRNNCell`.
            Defaults to `"luong"`.
        input_feeding: optional bool. Defaults to `None` (True for "luong").
        attention_layer_size: optional int. Defaults to `512`.
        bridge: str. Decoder initial state from the encoder's final state:
            `"dense"` (Dense + tanh), `"last"` (as is; sizes must agree) or
            `"zero"`. Defaults to `"dense"`.
        pad_id: int. Defaults to `0`.
        bos_id: int. Defaults to `1`.
        eos_id: int. Defaults to `2`.
        scheduled_sampling: optional float in `[0, 1]`, or a schedule of the
            training step (a `keras.optimizers.schedules.LearningRateSchedule`
            or any callable `step -> p`). While training, each decoder input
            token after the first is replaced with probability `p` by the
            argmax of the model's previous step (Bengio et al. 2015,
            arXiv:1506.03099); see `models/scheduled_sampling.py`. The step
            is the model's `sampling_step` counter, which each training call
            increments, so under `fit` it follows `optimizer.iterations`.
            `None` or `0.0` trains with teacher forcing only (the fast path);
            inference always uses the reference inputs. Defaults to `None`.
        dropout: float in `[0, 1)`. While training, drops this share of the
            embeddings (both sides), of the outputs between encoder layers
            and of the decoder outputs before the output projection; the
            searches never apply it. Defaults to `0.0`.

    Call arguments:
        inputs: `(source_ids (B, Ts), target_in_ids (B, Tt))`, int.

    Returns:
        logits `(B, Tt, V)`.
    """

    def __init__(
        self,
        source_vocab_size,
        target_vocab_size,
        embedding_dim=256,
        cell="gru",
        encoder_units=256,
        encoder_layers=1,
        bidirectional=True,
        decoder_units=512,
        attention="bahdanau",
        attention_units=256,
        query_order="luong",
        input_feeding=None,
        attention_layer_size=512,
        bridge="dense",
        pad_id=0,
        bos_id=1,
        eos_id=2,
        scheduled_sampling=None,
        dropout=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        _check_choice("cell", cell, CELLS)
        _check_choice("attention", attention, ATTENTIONS)
        _check_choice("bridge", bridge, BRIDGES)
        _check_int("encoder_layers", encoder_layers, 1)
        # Pad and bos ids are embedded on both sides (`build` runs on bos).
        both = min(source_vocab_size, target_vocab_size)
        for name, value in (("pad_id", pad_id), ("bos_id", bos_id)):
            _check_int(name, value, 0, both)
        _check_int("eos_id", eos_id, 0, target_vocab_size)
        encoder_depth = encoder_units * (2 if bidirectional else 1)
        if bridge == "last" and encoder_depth != decoder_units:
            raise ValueError(
                "bridge='last' needs the encoder state depth "
                f"({encoder_depth}) to equal decoder_units ({decoder_units})."
            )
        self.source_vocab_size = source_vocab_size
        self.target_vocab_size = target_vocab_size
        self.embedding_dim = embedding_dim
        self.cell = cell
        self.encoder_units = encoder_units
        self.encoder_layers = encoder_layers
        self.bidirectional = bidirectional
        self.decoder_units = decoder_units
        self.attention = attention
        self.attention_units = attention_units
        self.query_order = query_order
        self.input_feeding = input_feeding
        self.attention_layer_size = attention_layer_size
        self.bridge = bridge
        self.pad_id = pad_id
        self.bos_id = bos_id
        self.eos_id = eos_id
        self.scheduled_sampling = check_scheduled_sampling(scheduled_sampling)
        if not 0 <= dropout < 1:
            raise ValueError(
                f"`dropout` must be in [0, 1). Received: dropout={dropout!r}"
            )
        self.dropout = dropout
        # Every sublayer takes the model's policy (`dtype=`, else Keras'
        # global one), so that `Seq2Seq(..., dtype="mixed_float16")` trains
        # in mixed precision and a saved model loads with its policy.
        policy = self.dtype_policy
        self.dropout_layer = keras.layers.Dropout(
            dropout, dtype=policy, name="dropout"
        )
        self.sampling_seed = None
        self.sampling_step = None
        if self.scheduled_sampling is not None:
            self.sampling_seed = keras.random.SeedGenerator(
                name="sampling_seed"
            )

        self.source_embedding = keras.layers.Embedding(
            source_vocab_size,
            embedding_dim,
            dtype=policy,
            name="source_embedding",
        )
        self.target_embedding = keras.layers.Embedding(
            target_vocab_size,
            embedding_dim,
            dtype=policy,
            name="target_embedding",
        )
        # Layer i's forward RNN, then its backward RNN when bidirectional:
        # what `keras.layers.Bidirectional` computes, without its
        # constructor's serialisation of the layer, which imports TensorFlow
        # whenever it is installed (400 MB more memory on JAX and torch).
        self.encoder = []
        for i in range(encoder_layers):
            names = ["forward", "backward"] if bidirectional else [None]
            for name in names:
                self.encoder.append(
                    RNNS[cell](
                        encoder_units,
                        return_sequences=True,
                        return_state=True,
                        go_backwards=name == "backward",
                        # Zeros at padded steps, as `Bidirectional` sets.
                        zero_output_for_mask=name is not None,
                        dtype=policy,
                        name=f"encoder_{i}" + (f"_{name}" if name else ""),
                    )
                )
        state_count = 2 if cell == "lstm" else 1
        self.bridge_layers = []
        if bridge == "dense":
            self.bridge_layers = [
                keras.layers.Dense(
                    decoder_units,
                    activation="tanh",
                    dtype=policy,
                    name=f"bridge_{i}",
                )
                for i in range(state_count)
            ]
        if attention == "bahdanau":
            attention_layer = BahdanauAttention(attention_units, dtype=policy)
        else:
            attention_layer = LuongAttention(dtype=policy)
        self.decoder = AttentionDecoder(
            CELLS[cell](decoder_units, dtype=policy),
            attention_layer,
            query_order=query_order,
            attention_layer_size=attention_layer_size,
            input_feeding=input_feeding,
            dtype=policy,
            name="decoder",
        )
        self.output_layer = keras.layers.Dense(
            target_vocab_size, dtype=policy, name="output_layer"
        )

    @classmethod
    def from_preset(cls, name, **overrides):
        """A model from a named configuration (`"s2s-m"`), with overrides."""
        _check_choice("name", name, PRESETS)
        return cls(**{**PRESETS[name], **overrides})

    def build(self, input_shape=None):
        if callable(self.scheduled_sampling):
            self.sampling_step = self.add_weight(
                shape=(),
                dtype="int32",
                initializer="zeros",
                trainable=False,
                name="sampling_step",
            )
        # Every sublayer is built by one call on a one-token batch.
        one = ops.full((1, 1), self.bos_id, dtype="int32")
        self.call((one, one))

    def call(self, inputs, training=None):
        source_ids, target_in_ids = inputs
        memory, memory_mask, initial_state = self.encode(
            source_ids, training=training
        )
        target_mask = ops.not_equal(target_in_ids, self.pad_id)
        # The first target token is BOS even when pad_id == bos_id.
        target_mask = ops.logical_or(
            target_mask, ops.arange(ops.shape(target_in_ids)[1])[None] == 0
        )
        if training and self.scheduled_sampling:
            outputs = self.decode_with_sampling(
                target_in_ids, memory, memory_mask, initial_state, target_mask
            )
        else:
            embedded = self.target_embedding(target_in_ids)
            outputs = self.decoder(
                self.dropout_layer(embedded, training=training),
                memory,
                initial_state=initial_state,
                inputs_mask=target_mask,
                value_mask=memory_mask,
                training=training,
            )
        outputs = self.dropout_layer(outputs, training=training)
        return self.output_layer(outputs)

    def decode_with_sampling(
        self, target_in_ids, memory, memory_mask, initial_state, target_mask
    ):
        """Decoder outputs `(B, Tt, O)` under scheduled sampling.

        Draws which input tokens are replaced (probability
        `sampling_probability()`), then counts one training step.
        """
        p = self.sampling_probability()
        draws = keras.random.uniform(
            ops.shape(target_in_ids), seed=self.sampling_seed
        )
        if self.sampling_step is not None:
            self.sampling_step.assign_add(1)
        prepared = self.decoder.step.prepare(memory, value_mask=memory_mask)
        return decode_with_sampling(
            self,
            target_in_ids,
            prepared,
            initial_state,
            target_mask,
            feed_back=draws < p,
        )

    def sampling_probability(self):
        """The scheduled-sampling probability `p` at this training step."""
        if self.scheduled_sampling is None:
            return ops.convert_to_tensor(0.0)
        return sampling_probability(self.scheduled_sampling, self.sampling_step)

    def encode(self, source_ids, training=None):
        """Runs the encoder once.

        Returns:
            `(memory (B, Ts, D), memory_mask (B, Ts), initial_state)`;
            `initial_state` is the decoder's cell state (a list) or `None`.
        """
        mask = ops.not_equal(source_ids, self.pad_id)
        x = self.source_embedding(source_ids)
        directions = 2 if self.bidirectional else 1
        for i in range(0, len(self.encoder), directions):
            # Dropout on the embeddings, then between layers.
            inputs = self.dropout_layer(x, training=training)
            x, *states = self.encoder[i](inputs, mask=mask, training=training)
            if self.bidirectional:
                # The backward RNN returns its outputs last step first.
                backward, *backward_states = self.encoder[i + 1](
                    inputs, mask=mask, training=training
                )
                x = ops.concatenate([x, ops.flip(backward, axis=1)], axis=-1)
                states = [
                    ops.concatenate([f, b], axis=-1)
                    for f, b in zip(states, backward_states, strict=True)
                ]
        if self.bridge == "zero":
            return x, mask, None
        if self.bridge == "dense":
            states = [
                dense(s)
                for dense, s in zip(self.bridge_layers, states, strict=True)
            ]
        return x, mask, list(states)

    def generate(
        self,
        source_ids,
        method="greedy",
        max_length=2.0,
        beam_size=5,
        length_penalty=0.0,
        coverage_penalty=0.0,
        n_best=1,
        temperature=1.0,
        top_k=None,
        top_p=None,
        seed=None,
        stop_early=True,
        jit_compile=True,
    ):
        """Translates a batch of source ids.

        The encoder runs once; the search drives the decoder's single step
        (`AttentionRNNCell`) with keys computed once per source. Beam search
        repeats the memory once and reorders only the decoder state.

        The whole call (encoder, memory, search) is compiled once per
        method, options and source shape (`decoding.compile`: XLA on
        TensorFlow, a plain graph for greedy search; `jax.jit` on JAX;
        PyTorch runs eagerly) and kept on the model: later calls with the
        same options and shapes reuse it, and read the current weights. A
        float `max_length` is resolved from the padded width `Ts`, so it
        stays fixed for a given shape.

        Args:
            source_ids: int `(B, Ts)`, padded with `pad_id`.
            method: str. `"greedy"`, `"sample"` or `"beam"`. Defaults to
                `"greedy"`.
            max_length: int, or float: a ratio of `Ts` (plus 2 for the end
                token). Defaults to `2.0`.
            beam_size: int. Beams for `"beam"`. Defaults to `5`.
            length_penalty: float. GNMT length penalty weight. Defaults to
                `0.0`.
            coverage_penalty: float. TFA's coverage penalty weight. Defaults
                to `0.0`.
            n_best: int. Hypotheses returned by `"beam"`. Defaults to `1`.
            temperature, top_k, top_p, seed: for `"sample"`. An int `seed`
                is part of the compiled program; `seed=None` (Keras' global
                seed) runs eagerly.
            stop_early: bool. Stop once every row has ended. Defaults to
                `True`.
            jit_compile: bool. Compile and cache the search; `False` runs
                it eagerly (same results). Defaults to `True`.

        Returns:
            dict: `ids`, `scores`, `lengths` and `weights` (greedy and
            sampling: `(B, T)`, `(B,)`, `(B,)`, `(B, T, Ts)`; beam: with an
            `n_best` axis after `B`), and `steps`. Ids end with `eos_id`.
        """
        _check_choice("method", method, ("greedy", "sample", "beam"))
        source_ids = ops.convert_to_tensor(source_ids, dtype="int32")
        if isinstance(max_length, float):
            max_length = int(max_length * source_ids.shape[1]) + 2
        options = {"max_length": max_length, "stop_early": stop_early}
        if method == "sample":
            options.update(
                temperature=temperature, top_k=top_k, top_p=top_p, seed=seed
            )
            jit_compile = jit_compile and seed is not None
        if method == "beam":
            options.update(
                beam_size=beam_size,
                length_penalty=length_penalty,
                coverage_penalty=coverage_penalty,
                n_best=n_best,
            )
        if not jit_compile:
            return self._search_function(method, options)(source_ids)
        return self._compiled_search(method, options)(source_ids)

    def _compiled_search(self, method, options):
        """The compiled search for these options, from the model's cache."""
        key = (method, tuple(sorted(options.items())))
        cache = self.__dict__.setdefault("_generate_cache", {})
        if key not in cache:
            if not self.built:
                self.build()
            if len(cache) >= _GENERATE_CACHE_SIZE:
                cache.pop(next(iter(cache)))  # The oldest entry.
            # On TensorFlow, greedy search runs faster as a plain graph
            # (oneDNN's products); sampling and beam search gain more from
            # XLA's fusion of their (N, V) arithmetic. S2S-M, in turns in
            # one process (bench/tf_search_xla.py): graph / XLA = 1.09x
            # greedy, 0.92x sampling, 0.93x beam-5.
            cache[key] = compiled_model_function(
                self._search_function(method, options),
                self,
                xla=method != "greedy",
            )
        return cache[key]

    def _search_function(self, method, options):
        """`search(source_ids) -> dict`: encoder, memory, then the search."""
        search = {"greedy": greedy_search, "sample": sample}.get(
            method, beam_search
        )

        def step_fn(token_ids, state, memory):
            inputs = self.target_embedding(token_ids)
            output, state = self.decoder.step(inputs, state, memory)
            logits = ops.cast(self.output_layer(output), "float32")
            return ops.log_softmax(logits, axis=-1), state, state.weights

        def run(source_ids):
            with no_gradients():
                memory, memory_mask, cell_state = self.encode(source_ids)
                step = self.decoder.step
                prepared = step.prepare(memory, value_mask=memory_mask)
                return search(
                    step_fn,
                    step.get_initial_state(prepared, cell_state),
                    bos_id=self.bos_id,
                    eos_id=self.eos_id,
                    constants=prepared,
                    **options,
                )

        return run

    def make_train_function(self, force=False):
        # Before tracing: on TensorFlow a subclassed Keras model whose first
        # training trace raised cannot train after `compile` again (Keras
        # 3.15; a graph error at the first step).
        self._check_loss()
        return super().make_train_function(force)

    def make_test_function(self, force=False):
        self._check_loss()
        return super().make_test_function(force)

    def _check_loss(self):
        if _expects_probabilities(self.loss):
            # The model outputs logits: such a loss trains on wrong numbers
            # (NaN on JAX).
            raise ValueError(
                "Seq2Seq outputs logits: compile with loss="
                "keras.losses.SparseCategoricalCrossentropy(from_logits=True)"
                f" or keras_seq2seq.SequenceLoss(). Received: loss="
                f"{self.loss!r}"
            )

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        self._check_loss()  # also for training loops of one's own
        weight = ops.cast(ops.not_equal(y, self.pad_id), y_pred.dtype)
        if sample_weight is not None:
            sample_weight = ops.cast(sample_weight, weight.dtype)
            if len(sample_weight.shape) == 1:  # one weight per sentence
                sample_weight = sample_weight[:, None]
            weight = weight * sample_weight
        if _is_per_token(self.loss):
            # One row per token: on PyTorch, Keras' sparse cross-entropy
            # moves the class axis of a (B, T, V) tensor to axis 1 and
            # takes the softmax across strides (copies and strided passes:
            # 0.13 s of a 1.2 s S2S-M step); (B * T, V) rows are contiguous.
            # The mean over positions is the same number.
            vocab_size = ops.shape(y_pred)[-1]
            y = ops.reshape(y, (-1,))
            y_pred = ops.reshape(y_pred, (-1, vocab_size))
            weight = ops.reshape(weight, (-1,))
        return super().compute_loss(
            x=x, y=y, y_pred=y_pred, sample_weight=weight, training=training
        )

    def get_config(self):
        config = {
            name: getattr(self, name)
            for name in (
                "source_vocab_size",
                "target_vocab_size",
                "embedding_dim",
                "cell",
                "encoder_units",
                "encoder_layers",
                "bidirectional",
                "decoder_units",
                "attention",
                "attention_units",
                "query_order",
                "input_feeding",
                "attention_layer_size",
                "bridge",
                "pad_id",
                "bos_id",
                "eos_id",
                "dropout",
            )
        }
        schedule = self.scheduled_sampling
        if callable(schedule):
            schedule = keras.saving.serialize_keras_object(schedule)
        config["scheduled_sampling"] = schedule
        return {**super().get_config(), **config}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("trainable", None)
        if isinstance(config.get("scheduled_sampling"), dict):
            config["scheduled_sampling"] = (
                keras.saving.deserialize_keras_object(
                    config["scheduled_sampling"]
                )
            )
        return cls(**config)


def _expects_probabilities(loss):
    """Whether `loss` is a Keras cross-entropy on probabilities."""
    names = ("sparse_categorical_crossentropy", "categorical_crossentropy")
    if isinstance(loss, str):
        return loss in names
    losses = keras.losses
    if loss in (
        losses.sparse_categorical_crossentropy,
        losses.categorical_crossentropy,
    ):
        return True
    if isinstance(
        loss,
        (losses.SparseCategoricalCrossentropy, losses.CategoricalCrossentropy),
    ):
        return not loss.get_config().get("from_logits", False)
    return False


def _is_per_token(loss):
    """Whether `loss` is Keras' sparse cross-entropy, a loss per position."""
    if isinstance(loss, keras.losses.SparseCategoricalCrossentropy):
        return True
    if isinstance(loss, str):
        return loss == "sparse_categorical_crossentropy"
    return loss is keras.losses.sparse_categorical_crossentropy


def _check_int(name, value, minimum, limit=None):
    """Raises `ValueError` unless `value` is an int in `[minimum, limit)`."""
    bad = isinstance(value, bool) or not isinstance(value, int)
    if bad or value < minimum or (limit is not None and value >= limit):
        bound = f" and < {limit}" if limit is not None else ""
        raise ValueError(
            f"`{name}` must be an int >= {minimum}{bound}. "
            f"Received: {name}={value!r}"
        )


def _check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(
            f"`{name}` must be one of {tuple(choices)}. "
            f"Received: {name}={value!r}"
        )
