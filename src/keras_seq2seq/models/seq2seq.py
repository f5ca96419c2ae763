"""Seq2Seq: an RNN encoder, an attention decoder and an output projection.

This module holds the model's construction, configuration and the
teacher-forced forward pass (`call`, `encode`). The rest of its methods
come from mixins beside it: `generate` (`generation.py`), `predict` over
batches of any target lengths (`prediction.py`), `export` and
`load_weights` (`saving.py`), and the loss, metrics and loss checks of
`fit` and `evaluate` (`training.py`). Its layers are made in
`sublayers.py`, its arguments checked with `checks.py`.
"""

import keras
from keras import ops

from keras_seq2seq.decoding.step import check_int
from keras_seq2seq.models.checks import (
    check_bool,
    check_bridge,
    check_choice,
    check_dropout,
    check_pair,
)
from keras_seq2seq.models.generation import GenerationMixin
from keras_seq2seq.models.prediction import PredictionMixin
from keras_seq2seq.models.saving import (
    SavingMixin,
    freeze_layers,
    frozen_layers,
)
from keras_seq2seq.models.scheduled_sampling import (
    check_scheduled_sampling,
    decode_with_sampling,
    sampling_probability,
)
from keras_seq2seq.models.sublayers import (
    ATTENTIONS,
    BRIDGES,
    CELLS,
    Layers,
    make_sublayers,
)
from keras_seq2seq.models.training import TrainingMixin

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
class Seq2Seq(
    GenerationMixin, PredictionMixin, SavingMixin, TrainingMixin, keras.Model
):
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
        check_bridge(bridge, encoder_units, bidirectional, decoder_units)
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
        check_dropout(dropout)
        self.dropout = dropout
        make_sublayers(self)
        if not self.trainable:
            # `Seq2Seq(..., trainable=False)`: Keras' `__init__` froze the
            # model's own variables only, and a functional model around it
            # trained every sublayer's.
            for layer in self.layers:
                layer.trainable = False

    @property
    def encoder(self):
        """The encoder's RNNs, as `Layers`: layer i's forward RNN, then its
        backward RNN when bidirectional. `model.encoder.trainable = False`
        freezes them all."""
        return Layers(self._encoder)

    @property
    def bridge_layers(self):
        """The bridge's `Dense` layers (one per decoder state), as `Layers`."""
        return Layers(self._bridge_layers)

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
        # Every sublayer is built by one symbolic call on ids of any batch
        # and length, whose shapes `summary` then shows.
        ids = keras.KerasTensor((None, None), dtype="int32")
        self.call((ids, ids))

    def __call__(self, inputs, *args, **kwargs):
        # Checked before Keras, which would wrap the error in its report.
        check_pair(inputs)
        return super().__call__(inputs, *args, **kwargs)

    def call(self, inputs, training=None):
        # Again here: JAX's `predict` and `fit` call `call`, not `__call__`.
        check_pair(inputs)
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
        first = ops.equal(ops.cumsum(ops.ones_like(target_in_ids), axis=1), 1)
        return ops.logical_or(target_mask, first)

    def compute_mask(self, inputs, previous_mask=None):
        # The logits' Keras mask: a loss or metric of a functional model
        # around this one skips the padded target steps, as `fit` does.
        return self.target_mask(inputs[1])

    def decode_with_sampling(
        self, target_in_ids, memory, memory_mask, initial_state, target_mask
    ):
        """Decoder outputs `(B, Tt, O)` under scheduled sampling.

        Draws which input tokens are replaced (probability
        `sampling_probability()`), then counts one training step.
        """
        p = self.sampling_probability()
        draws = keras.random.uniform(  # float32, as p, whatever floatx
            ops.shape(target_in_ids), dtype="float32", seed=self.sampling_seed
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
        frozen = frozen_layers(self)
        if frozen:  # Not a constructor argument: only when there are any.
            config["frozen_layers"] = frozen
        return {**super().get_config(), **config}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        trainable = config.pop("trainable", True)
        frozen = config.pop("frozen_layers", [])
        if isinstance(config.get("scheduled_sampling"), dict):
            config["scheduled_sampling"] = (
                keras.saving.deserialize_keras_object(
                    config["scheduled_sampling"]
                )
            )
        model = cls(**config)
        # Set after the sublayers exist, so that they are frozen too; then
        # the flags of single sublayers.
        model.trainable = trainable
        freeze_layers(model, frozen)
        return model


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
    if keras.backend.backend() != "torch" or keras.backend.is_keras_tensor(
        mask
    ):
        return mask
    import torch

    if torch.compiler.is_compiling() or not bool(ops.all(mask)):
        return mask
    return None
