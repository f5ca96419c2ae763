"""The layers a `Seq2Seq` is made of, built from its arguments."""

import keras

from keras_seq2seq.attention import BahdanauAttention, LuongAttention
from keras_seq2seq.decoder import AttentionDecoder

CELLS = {"gru": keras.layers.GRUCell, "lstm": keras.layers.LSTMCell}
RNNS = {"gru": keras.layers.GRU, "lstm": keras.layers.LSTM}
ATTENTIONS = ("bahdanau", "luong")
BRIDGES = ("dense", "last", "zero")


class Layers(tuple):
    """A tuple of layers whose `trainable` is theirs: `model.encoder.
    trainable = False` freezes every encoder RNN (on the list it was, it
    set an attribute of the list and froze nothing)."""

    __slots__ = ()

    @property
    def trainable(self):
        return all(layer.trainable for layer in self)

    @trainable.setter
    def trainable(self, value):
        for layer in self:
            layer.trainable = value


def encoder_rnns(cell, units, layers, bidirectional, policy):
    """The encoder's RNN layers: layer i's forward RNN, then its backward
    RNN when bidirectional.

    What `keras.layers.Bidirectional` computes, without its constructor's
    serialisation of the layer, which imports TensorFlow whenever it is
    installed (400 MB more memory on JAX and PyTorch).
    """
    rnns = []
    for i in range(layers):
        names = ["forward", "backward"] if bidirectional else [None]
        for name in names:
            rnns.append(
                RNNS[cell](
                    units,
                    return_sequences=True,
                    return_state=True,
                    go_backwards=name == "backward",
                    # Zeros at padded steps, as `Bidirectional` sets.
                    zero_output_for_mask=name is not None,
                    dtype=policy,
                    name=f"encoder_{i}" + (f"_{name}" if name else ""),
                )
            )
    return Layers(rnns)


def bridge_denses(bridge, cell, units, policy):
    """One tanh `Dense` per decoder state with `bridge="dense"`, else none."""
    if bridge != "dense":
        return Layers()
    state_count = 2 if cell == "lstm" else 1
    return Layers(
        keras.layers.Dense(
            units, activation="tanh", dtype=policy, name=f"bridge_{i}"
        )
        for i in range(state_count)
    )


def attention_decoder(
    cell,
    units,
    attention,
    attention_units,
    query_order,
    attention_layer_size,
    input_feeding,
    policy,
):
    """The `AttentionDecoder` over a `cell` ("gru"/"lstm") of `units`."""
    # Named, as every sublayer: `frozen_layers` names them in the config.
    if attention == "bahdanau":
        attention_layer = BahdanauAttention(
            attention_units, dtype=policy, name="attention"
        )
    else:
        attention_layer = LuongAttention(dtype=policy, name="attention")
    return AttentionDecoder(
        CELLS[cell](units, dtype=policy, name="cell"),
        attention_layer,
        query_order=query_order,
        attention_layer_size=attention_layer_size,
        input_feeding=input_feeding,
        dtype=policy,
        name="decoder",
    )


def make_sublayers(model):
    """Sets the layers a `Seq2Seq` is made of (and its scheduled-sampling
    seed) as its attributes, from the arguments it holds."""
    # Every sublayer takes the model's policy (`dtype=`, else Keras'
    # global one), so that `Seq2Seq(..., dtype="mixed_float16")` trains
    # in mixed precision and a saved model loads with its policy.
    policy = model.dtype_policy
    model.dropout_layer = keras.layers.Dropout(
        model.dropout, dtype=policy, name="dropout"
    )
    model.sampling_seed = None
    model.sampling_step = None
    if model.scheduled_sampling is not None:
        model.sampling_seed = keras.random.SeedGenerator(name="sampling_seed")

    model.source_embedding = keras.layers.Embedding(
        model.source_vocab_size,
        model.embedding_dim,
        dtype=policy,
        name="source_embedding",
    )
    model.target_embedding = keras.layers.Embedding(
        model.target_vocab_size,
        model.embedding_dim,
        dtype=policy,
        name="target_embedding",
    )
    # Held privately: the `encoder` and `bridge_layers` properties hand
    # them out as plain `Layers`. Keras on TensorFlow wraps a tuple held
    # as an attribute in its own tracking proxy, whose `trainable` is the
    # proxy's (setting it froze nothing). The weights are saved under the
    # properties' names, which Keras walks first.
    model._encoder = encoder_rnns(
        model.cell,
        model.encoder_units,
        model.encoder_layers,
        model.bidirectional,
        policy,
    )
    model._bridge_layers = bridge_denses(
        model.bridge, model.cell, model.decoder_units, policy
    )
    model.decoder = attention_decoder(
        model.cell,
        model.decoder_units,
        model.attention,
        model.attention_units,
        model.query_order,
        model.attention_layer_size,
        model.input_feeding,
        policy,
    )
    model.output_layer = keras.layers.Dense(
        model.target_vocab_size, dtype=policy, name="output_layer"
    )
