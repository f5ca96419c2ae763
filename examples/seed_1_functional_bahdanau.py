"""Seed example 1, done right: a Bahdanau encoder-decoder, functional API.

The model reverses random token sequences. It is built from `keras.Input`
only: source ids -> `Embedding(mask_zero=True)` -> LSTM encoder -> an
`AttentionDecoder` (LSTM cell, `BahdanauAttention`, the 2015 paper's query
order) -> `Dense(V)` logits. It trains with `model.fit` and prints the loss
of every epoch, the next-token accuracy on new sequences, and the attention
weights `(B, Tt, Ts)` of one of them, a row per target step.

Traps of `shared/seed/README.md` this fixes:

1. The score is additive, `v^T tanh(W_q q + W_k k_j)`, as
   `BahdanauAttention` computes it (the question called it a dot product).
2. Attention runs at every decoder step, inside the decoder, with the
   previous decoder state as the query (`query_order="bahdanau"`); the
   context enters the LSTM cell with the embedded target. The weights come
   back as `(B, Tt, Ts)`: one row per target step, and the rows differ.
3. The encoder's `[h, c]` (both LSTM states) start the decoder, and every
   model input is a `keras.Input`; no TFA memory set-up is needed.
6. The query order is named, not implied: `"bahdanau"` here, `"luong"` (TFA's
   `AttentionWrapper`) is the other choice.

Run: `KERAS_BACKEND=jax python examples/seed_1_functional_bahdanau.py`.
"""

import keras
import numpy as np
from keras import ops

from keras_seq2seq import AttentionDecoder, BahdanauAttention

PAD_ID, BOS_ID = 0, 1
VOCAB_SIZE = 12  # V: ids 2..11 are the tokens to reverse.
MAX_LENGTH = 7  # Ts = Tt: the longest sequence.
EMBEDDING_SIZE, HIDDEN_SIZE, ATTENTION_UNITS = 16, 32, 16


def make_data(num_examples, seed=0):
    """Random sequences (lengths 3..Ts) and their reversals, 0-padded.

    Returns:
        `(source, target_in, target_out)`, int32 `(N, Ts)` each.
        `target_in` is `target_out` shifted right behind `BOS_ID`.
    """
    rng = np.random.default_rng(seed)
    shape = (num_examples, MAX_LENGTH)
    source = np.zeros(shape, "int32")
    target_out = np.zeros(shape, "int32")
    target_in = np.zeros(shape, "int32")
    for row, length in enumerate(rng.integers(3, MAX_LENGTH + 1, num_examples)):
        tokens = rng.integers(2, VOCAB_SIZE, length)
        source[row, :length] = tokens
        target_out[row, :length] = tokens[::-1]
        target_in[row, :length] = [BOS_ID, *tokens[::-1][:-1]]
    return source, target_in, target_out


def build_models():
    """The training model and a model that shares its layers.

    Returns:
        `(model, inspection_model)`: `[source, target_in]` -> logits
        `(B, Tt, V)`, and the same inputs -> `[logits, weights (B, Tt, Ts)]`.
    """
    source = keras.Input(shape=(None,), dtype="int32", name="source")
    target_in = keras.Input(shape=(None,), dtype="int32", name="target_in")

    # The source padding mask starts here; it reaches the encoder and the
    # attention (as `value_mask`) by itself.
    embedded_source = keras.layers.Embedding(
        VOCAB_SIZE, EMBEDDING_SIZE, mask_zero=True
    )(source)
    encoder_outputs, h, c = keras.layers.LSTM(
        HIDDEN_SIZE, return_sequences=True, return_state=True
    )(embedded_source)  # (B, Ts, H), (B, H), (B, H)

    # The target mask: padded target steps are skipped and add no loss.
    embedded_target = keras.layers.Embedding(
        VOCAB_SIZE, EMBEDDING_SIZE, mask_zero=True
    )(target_in)
    decoder = AttentionDecoder(
        keras.layers.LSTMCell(HIDDEN_SIZE),
        BahdanauAttention(ATTENTION_UNITS),
        query_order="bahdanau",  # Query: s_{t-1}; the context feeds the cell.
        attention_layer_size=HIDDEN_SIZE,  # Output W_a [s_t; c_t].
        return_weights=True,
    )
    decoder_outputs, weights = decoder(
        embedded_target, encoder_outputs, initial_state=[h, c]
    )  # (B, Tt, H), (B, Tt, Ts)
    logits = keras.layers.Dense(VOCAB_SIZE)(decoder_outputs)  # (B, Tt, V)

    model = keras.Model([source, target_in], logits)
    inspection_model = keras.Model([source, target_in], [logits, weights])
    return model, inspection_model


def main(epochs=8, num_examples=512, batch_size=64):
    """Trains the reverser; prints and returns what it shows.

    Returns:
        dict: `losses` (one per epoch), `accuracy` on new sequences, and
        the `weights` `(4, Tt, Ts)` (NumPy) and `lengths` of 4 of them.
    """
    keras.utils.set_random_seed(0)
    model, inspection_model = build_models()
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        # The logits carry the target mask: padded steps add no loss.
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    source, target_in, target_out = make_data(num_examples)
    history = model.fit(
        [source, target_in],
        target_out,
        batch_size=batch_size,
        epochs=epochs,
        verbose=0,
    )
    losses = [float(loss) for loss in history.history["loss"]]
    print(f"loss per epoch: {' '.join(f'{x:.3f}' for x in losses)}")

    # New sequences: next-token accuracy given the true prefix, and weights.
    source, target_in, target_out = make_data(256, seed=1)
    logits, weights = inspection_model.predict(
        [source, target_in], batch_size=256, verbose=0
    )
    real = target_out != PAD_ID
    predicted = ops.convert_to_numpy(logits).argmax(axis=-1)  # (N, Tt)
    accuracy = float((predicted == target_out)[real].mean())
    print(f"next-token accuracy on 256 new sequences: {accuracy:.0%}")

    weights = ops.convert_to_numpy(weights)[:4]  # (4, Tt, Ts)
    lengths = real[:4].sum(axis=1)
    print(f"attention weights: shape {weights.shape} (B, Tt, Ts)")
    print(f"a new sequence of length {lengths[0]}: one row per target step")
    for step, row in enumerate(weights[0, : lengths[0], : lengths[0]]):
        print(f"  step {step}: " + " ".join(f"{w:.2f}" for w in row))
    return {
        "losses": losses,
        "accuracy": accuracy,
        "weights": weights,
        "lengths": lengths,
    }


if __name__ == "__main__":
    main()
