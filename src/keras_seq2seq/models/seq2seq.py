"""Seq2Seq: an RNN encoder, an attention decoder and an output projection."""

import numbers

import keras
from keras import ops

from keras_seq2seq.decoding.sampling import check_seed
from keras_seq2seq.decoding.step import check_int
from keras_seq2seq.losses import axes_differ
from keras_seq2seq.models.checks import (
    check_bool,
    check_choice,
    check_pair,
    check_ratio,
    check_source_ids,
    expects_probabilities,
    is_per_token,
)
from keras_seq2seq.models.generation import compiled_search, search_function
from keras_seq2seq.models.prediction import (
    are_rows,
    logits_as_rows,
    logits_from_rows,
)
from keras_seq2seq.models.scheduled_sampling import (
    check_scheduled_sampling,
    decode_with_sampling,
    sampling_probability,
)
from keras_seq2seq.models.sublayers import (
    CELLS,
    attention_decoder,
    bridge_denses,
    encoder_rnns,
)

ATTENTIONS = ("bahdanau", "luong")
BRIDGES = ("dense", "last", "zero")

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
    the encoder, in the attention over the source, in the decoder, in the
    loss (`compute_loss` weights padded targets 0 whatever loss is
    compiled) and in compiled metrics (`compute_metrics` passes the target
    padding as the logits' Keras mask).

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
        logits `(B, Tt, V)`, in the compute dtype: `float16` or `bfloat16`
        under a mixed policy (`dtype="mixed_float16"`, or Keras' global
        one), where `SequenceLoss` and Keras' losses still compute in
        `float32`. `predict` returns them as NumPy, in that dtype, with
        zeros at padded target steps; `generate`'s scores and weights are
        `float32` under every policy.
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
        check_choice("cell", cell, CELLS)
        check_choice("attention", attention, ATTENTIONS)
        check_choice("bridge", bridge, BRIDGES)
        # Each size is kept as a Python int (NumPy integers are taken).
        source_vocab_size = check_int("source_vocab_size", source_vocab_size, 1)
        target_vocab_size = check_int("target_vocab_size", target_vocab_size, 1)
        embedding_dim = check_int("embedding_dim", embedding_dim, 1)
        encoder_units = check_int("encoder_units", encoder_units, 1)
        encoder_layers = check_int("encoder_layers", encoder_layers, 1)
        decoder_units = check_int("decoder_units", decoder_units, 1)
        attention_units = check_int("attention_units", attention_units, 1)
        if attention_layer_size is not None:
            attention_layer_size = check_int(
                "attention_layer_size", attention_layer_size, 1
            )
        check_bool("bidirectional", bidirectional)
        check_bool("input_feeding", input_feeding, optional=True)
        # Pad and bos ids are embedded on both sides (`build` runs on bos).
        both = min(source_vocab_size, target_vocab_size)
        pad_id = check_int("pad_id", pad_id, 0, both)
        bos_id = check_int("bos_id", bos_id, 0, both)
        eos_id = check_int("eos_id", eos_id, 0, target_vocab_size)
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
        self.encoder = encoder_rnns(
            cell, encoder_units, encoder_layers, bidirectional, policy
        )
        self.bridge_layers = bridge_denses(bridge, cell, decoder_units, policy)
        self.decoder = attention_decoder(
            cell,
            decoder_units,
            attention,
            attention_units,
            query_order,
            attention_layer_size,
            input_feeding,
            policy,
        )
        self.output_layer = keras.layers.Dense(
            target_vocab_size, dtype=policy, name="output_layer"
        )

    @classmethod
    def from_preset(cls, name, **overrides):
        """A model from a named configuration (`"s2s-m"`), with overrides."""
        check_choice("name", name, PRESETS)
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

    def __call__(self, inputs, *args, **kwargs):
        # Checked before Keras, which would wrap the error in its report.
        check_pair(inputs)
        return super().__call__(inputs, *args, **kwargs)

    def call(self, inputs, training=None):
        source_ids, target_in_ids = inputs
        memory, memory_mask, initial_state = self.encode(
            source_ids, training=training
        )
        target_mask = self.target_mask(target_in_ids)
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

    def target_mask(self, target_in_ids):
        """Bool `(B, Tt)`: True at real target steps (not `pad_id`)."""
        target_mask = ops.not_equal(target_in_ids, self.pad_id)
        # The first target token is BOS even when pad_id == bos_id.
        return ops.logical_or(
            target_mask, ops.arange(ops.shape(target_in_ids)[1])[None] == 0
        )

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
        rnn_mask = _rnn_mask(mask)
        x = self.source_embedding(source_ids)
        directions = 2 if self.bidirectional else 1
        for i in range(0, len(self.encoder), directions):
            # Dropout on the embeddings, then between layers.
            inputs = self.dropout_layer(x, training=training)
            x, *states = self.encoder[i](
                inputs, mask=rnn_mask, training=training
            )
            if self.bidirectional:
                # The backward RNN returns its outputs last step first.
                backward, *backward_states = self.encoder[i + 1](
                    inputs, mask=rnn_mask, training=training
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
        stays fixed for a given shape. `generate` may itself run inside a
        function one compiles or exports (`tf.function`, `jax.jit`,
        `keras.export.ExportArchive`); ids traced there are not checked
        against the vocabulary, and ids of unknown width `Ts` need an int
        `max_length`.

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
                (in `[0, 2**32)`) is part of the compiled program;
                `seed=None` (Keras' global seed) and a
                `keras.random.SeedGenerator`, which advances at every call,
                run eagerly.
            stop_early: bool. Stop once every row has ended. Defaults to
                `True`.
            jit_compile: bool. Compile and cache the search; `False` runs
                it eagerly (same results, except that TensorFlow's XLA
                draws other samples for `"sample"` than its eager ops, each
                as repeatable). Defaults to `True`.

        Returns:
            dict: `ids`, `scores`, `lengths` and `weights` (greedy and
            sampling: `(B, T)`, `(B,)`, `(B,)`, `(B, T, Ts)`; beam: with an
            `n_best` axis after `B`), and `steps`. Ids end with `eos_id`.

        Raises:
            ValueError: for `source_ids` that are not integer ids `(B, Ts)`
                with `B, Ts >= 1`, a float `max_length` that is not a
                positive ratio (or on ids traced for any width `Ts`), or a
                bad search option.
        """
        check_choice("method", method, ("greedy", "sample", "beam"))
        check_bool("stop_early", stop_early)
        check_bool("jit_compile", jit_compile)
        source_ids = check_source_ids(source_ids, self.source_vocab_size)
        # A float (NumPy's too: np.float32 is no Python float) is a ratio
        # of the source length; an int, a number of steps.
        if isinstance(max_length, numbers.Real) and not isinstance(
            max_length, numbers.Integral
        ):
            width = source_ids.shape[1]
            check_ratio("max_length", max_length, width)
            max_length = int(max_length * width) + 2
        options = {"max_length": max_length, "stop_early": stop_early}
        if method == "sample":
            seed = check_seed(seed)
            options.update(
                temperature=temperature, top_k=top_k, top_p=top_p, seed=seed
            )
            # A compiled search holds a `SeedGenerator`'s state as it was
            # traced (on JAX every call drew the same tokens): only an int
            # seed is compiled.
            jit_compile = jit_compile and isinstance(seed, int)
        if method == "beam":
            options.update(
                beam_size=beam_size,
                length_penalty=length_penalty,
                coverage_penalty=coverage_penalty,
                n_best=n_best,
            )
        if not jit_compile:
            return search_function(self, method, options)(source_ids)
        return compiled_search(self, method, options)(source_ids)

    def export(
        self,
        filepath,
        format="tf_saved_model",
        verbose=None,
        input_signature=None,
        **kwargs,
    ):
        """`keras.Model.export` of the teacher-forced call, any lengths.

        Keras would declare the shapes of the first call (fixed lengths,
        float ids). The default here is int32 ids of any batch and length:
        `serve((source_ids, target_in_ids)) -> logits`.
        """
        if input_signature is None:
            ids = keras.InputSpec(shape=(None, None), dtype="int32")
            input_signature = [(ids, ids)]
        return super().export(
            filepath,
            format=format,
            verbose=verbose,
            input_signature=input_signature,
            **kwargs,
        )

    def load_weights(self, filepath, skip_mismatch=False, **kwargs):
        """`keras.Model.load_weights`, building the model first if needed.

        Keras loads weights only into a built model; `Seq2Seq` builds from
        its config alone, so `Seq2Seq(**config).load_weights(path)` reads
        a `ModelCheckpoint`'s `.weights.h5` as it is.
        """
        if not self.built:
            self.build()
        return super().load_weights(
            filepath, skip_mismatch=skip_mismatch, **kwargs
        )

    def predict(
        self, x, batch_size=None, verbose="auto", steps=None, callbacks=None
    ):
        """`keras.Model.predict`, over batches of any target lengths.

        Returns the logits `(N, T, V)` as a NumPy array in the model's
        compute dtype, the same on every backend: `T` is the longest
        target of the data, and every padded target step (`pad_id` in
        `target_in_ids` after the first step, and the steps after a
        shorter batch's end) has logits 0. Keras itself cannot join
        batches of different lengths (see `models/prediction.py`);
        callbacks see each batch's logits as `predict_step` returns them.
        """
        outputs = super().predict(
            x,
            batch_size=batch_size,
            verbose=verbose,
            steps=steps,
            callbacks=callbacks,
        )
        return logits_from_rows(outputs) if are_rows(outputs) else outputs

    def predict_on_batch(self, x):
        """`keras.Model.predict_on_batch`: logits `(B, Tt, V)` as
        `predict` gives them, zeros at padded target steps."""
        outputs = super().predict_on_batch(x)
        return logits_from_rows(outputs) if are_rows(outputs) else outputs

    def predict_step(self, *args):
        """Keras' predict step, its logits as `{"logits": (B * Tt, V),
        "steps": (B,)}` (`models/prediction.py`), which `predict` joins
        across batches of other lengths and lays out as `(N, T, V)`."""
        # JAX's trainer passes `(state, data)` and takes `(outputs,
        # state)` back; TensorFlow's and PyTorch's pass and take one.
        outputs = super().predict_step(*args)
        stateless = keras.backend.backend() == "jax"
        logits = outputs[0] if stateless else outputs
        x, _, _ = keras.utils.unpack_x_y_sample_weight(args[-1])
        if not (ops.is_tensor(logits) and len(logits.shape) == 3):
            return outputs  # A subclass's `call` returned something else.
        rows = logits_as_rows(logits, self.target_mask(x[1]))
        return (rows, outputs[1]) if stateless else rows

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
        if expects_probabilities(self.loss):
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
        y = _ids_without_trailing_axis(y, y_pred)
        _check_target_axes(y, y_pred)
        weight = self._token_weights(y, sample_weight, y_pred.dtype)
        if is_per_token(self.loss):
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

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        # As in the loss, padded targets count in no compiled metric: the
        # logits carry the target padding as their Keras mask, which Keras'
        # `metrics` and `weighted_metrics` read, as for the outputs of a
        # masked functional model.
        y = _ids_without_trailing_axis(y, y_pred)
        y_pred = _CARRY_MASK(y_pred, mask=ops.not_equal(y, self.pad_id))
        if sample_weight is not None:
            sample_weight = self._token_weights(y, sample_weight, y_pred.dtype)
        return super().compute_metrics(x, y, y_pred, sample_weight)

    def _token_weights(self, y, sample_weight, dtype):
        """`(B, T)`: 0 at padded targets, else `sample_weight` (or 1)."""
        weight = ops.cast(ops.not_equal(y, self.pad_id), dtype)
        if sample_weight is None:
            return weight
        sample_weight = ops.cast(sample_weight, dtype)
        # (B,) one weight per sentence, or (B, T) per token: (B, 1) or
        # (B, T). A reshape, not a rank test: in a TensorFlow graph the
        # rank of a (B, T) `sample_weight` may be unknown.
        batch_size = ops.shape(weight)[0]
        return weight * ops.reshape(sample_weight, (batch_size, -1))

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
        trainable = config.pop("trainable", True)
        if isinstance(config.get("scheduled_sampling"), dict):
            config["scheduled_sampling"] = (
                keras.saving.deserialize_keras_object(
                    config["scheduled_sampling"]
                )
            )
        model = cls(**config)
        # Set after the sublayers exist, so that they are frozen too (the
        # flags of single sublayers are not part of the config).
        model.trainable = trainable
        return model


class _CarryMask(keras.layers.Layer):
    """Returns its input, carrying `mask` as its Keras mask.

    A layer's `compute_mask` is the public way to attach a Keras mask on
    every backend (JAX arrays keep it outside the array).
    """

    def __init__(self):
        super().__init__(name="carry_mask")
        self.supports_masking = True

    def call(self, inputs, mask=None):
        return inputs

    def compute_mask(self, inputs, mask=None):
        return mask


# One instance for every model: it holds nothing, and a layer made inside a
# compiled step (`torch.compile` of `fit` with `jit_compile=True`) failed.
_CARRY_MASK = _CarryMask()


def _ids_without_trailing_axis(y, y_pred):
    """Target ids `(B, T)` from Keras' sparse layout `(B, T, 1)` too.

    Keras' sparse losses and metrics take ids with a trailing axis of 1
    (`np.expand_dims(targets, -1)`); `SequenceLoss` read them as
    distributions over a vocabulary of 1 and refused them. In a TensorFlow
    graph retraced for the other layout, `y` has an unknown rank (which
    failed even with Keras' sparse cross-entropy): ids are then reshaped to
    the `(B, T)` of the logits.
    """
    if y is None:
        return y
    try:
        rank = len(y.shape)
    except ValueError:  # A TensorFlow shape of unknown rank.
        return ops.reshape(y, ops.shape(y_pred)[:2])
    if rank == 3 and y.shape[-1] == 1:
        return ops.squeeze(y, axis=-1)
    return y


def _check_target_axes(y, y_pred):
    """Raises `ValueError` unless the target ids have the (static) batch
    and time axes of the logits, which are those of `target_in_ids`: a
    target shifted by one token the wrong way gave a backend's
    broadcasting error from the padding weights."""
    if y is None or len(y.shape) != 2:
        return
    if axes_differ(y.shape, y_pred.shape):
        raise ValueError(
            "The target ids (y, `target_out_ids`) must have the shape "
            "(B, Tt) of `target_in_ids`. Received: y.shape="
            f"{tuple(y.shape)}, target_in_ids of shape "
            f"{tuple(y_pred.shape[:2])}"
        )


def _rnn_mask(mask):
    """The mask for the encoder's recurrent layers: `None` on PyTorch when
    no position is padding.

    Keras' PyTorch GRU and LSTM take their fused paths only without a mask
    (cuDNN on a GPU; on a CPU, the input projections of all steps in one
    product), and a mask of no padding changes nothing. The check reads
    one value back from the device per batch; inside `torch.compile` it
    would split the graph, so the mask stays there, as on the backends
    that trace (TensorFlow, JAX).
    """
    if keras.backend.backend() != "torch":
        return mask
    import torch

    if torch.compiler.is_compiling() or not bool(ops.all(mask)):
        return mask
    return None
