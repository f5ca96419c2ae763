"""Seed example 2, done right: padded sources of different lengths.

The padding mask comes from the source tokens: `Embedding(mask_zero=True)`
makes it, the GRU encoder carries it, and the `AttentionDecoder` receives it
as the attention's `value_mask` with no code of ours. Nothing is put on the
encoder outputs. The script builds a small (untrained) model and prints four
facts about the attention weights `(B, Tt, Ts)`:

- weights on padded source steps are exactly 0, and each real row sums to 1;
- the same sentences padded to 7 or to 12 steps get the same weights on
  their real steps;
- a source that is all padding gets zero weights and finite outputs, not NaN;
- `keras.layers.Masking()` on the encoder outputs (the question's fix) would
  miss the padding: the encoder repeats its last output over padded steps.

It ends with the question's `tfa.seq2seq` call, ported: `keras_seq2seq.tfa`
takes `memory_sequence_length` and gives zero alignments past each length.

Traps of `shared/seed/README.md` this fixes:

3. `tfa.seq2seq.BahdanauAttention` takes its memory and lengths at
   construction and is called with `[query, state]`; the port shows that.
4. The mask comes from the source tokens and is applied to the scores
   before the softmax (never `Masking()` on encoder outputs); an all-padding
   row gives zeros, never NaN.

Run: `KERAS_BACKEND=torch python examples/seed_2_variable_length.py`.
"""

import keras
import numpy as np
from keras import ops

import keras_seq2seq.tfa as tfa
from keras_seq2seq import AttentionDecoder, BahdanauAttention

PAD_ID = 0
VOCAB_SIZE = 20
EMBEDDING_SIZE, HIDDEN_SIZE, ATTENTION_UNITS = 8, 16, 8
LENGTHS = (7, 1, 4, 0)  # The longest, the shortest, one between, none.
TARGET_LENGTH = 5  # Tt


def pad(sentences, length):
    """Sentences (lists of ids) padded with `PAD_ID` to int32 `(B, length)`."""
    batch = np.full((len(sentences), length), PAD_ID, "int32")
    for row, sentence in enumerate(sentences):
        batch[row, : len(sentence)] = sentence
    return batch


def build_models():
    """`[source, target_in]` -> decoder outputs, weights, encoder outputs.

    Returns:
        `keras.Model` with outputs `(B, Tt, H)`, `(B, Tt, Ts)`, `(B, Ts, H)`.
    """
    source = keras.Input(shape=(None,), dtype="int32", name="source")
    target_in = keras.Input(shape=(None,), dtype="int32", name="target_in")
    embedded_source = keras.layers.Embedding(
        VOCAB_SIZE, EMBEDDING_SIZE, mask_zero=True
    )(source)  # Carries the mask (B, Ts): True where the token is not 0.
    encoder_outputs, h = keras.layers.GRU(
        HIDDEN_SIZE, return_sequences=True, return_state=True
    )(embedded_source)
    embedded_target = keras.layers.Embedding(
        VOCAB_SIZE, EMBEDDING_SIZE, mask_zero=True
    )(target_in)
    decoder_outputs, weights = AttentionDecoder(
        keras.layers.GRUCell(HIDDEN_SIZE),
        BahdanauAttention(ATTENTION_UNITS),
        query_order="bahdanau",
        return_weights=True,
    )(embedded_target, encoder_outputs, initial_state=h)
    return keras.Model(
        [source, target_in], [decoder_outputs, weights, encoder_outputs]
    )


def run(model, source, target_in):
    outputs = model([source, target_in])
    return [ops.convert_to_numpy(x) for x in outputs]


def tfa_port_alignments(encoder_outputs, lengths):
    """The question's `tfa.seq2seq` call, ported: alignments `(B, Ts)`."""
    mechanism = tfa.seq2seq.BahdanauAttention(
        ATTENTION_UNITS,
        memory=encoder_outputs,
        memory_sequence_length=np.asarray(lengths, "int32"),
    )
    batch_size = encoder_outputs.shape[0]
    query = np.ones((batch_size, HIDDEN_SIZE), "float32")  # A decoder state.
    state = mechanism.initial_state(batch_size, "float32")
    alignments, state = mechanism([query, state])
    return ops.convert_to_numpy(alignments)


def check_weights(weights, real):
    """Largest weight on a padded step, and the sums of real rows."""
    padded_weights = weights.transpose(0, 2, 1)[~real]  # (padded steps, Tt)
    real_row_sums = weights.sum(axis=-1)[real.any(axis=1)]  # (B', Tt)
    return float(np.abs(padded_weights).max()), real_row_sums


def repad_difference(model, sentences, target_in, weights):
    """Weights with the sources padded to 12 steps vs `weights` (7 steps).

    The 5 extra steps must get weight 0, so `weights` is padded with zeros.
    """
    _, longer_weights, _ = run(model, pad(sentences, 12), target_in)
    extra = longer_weights.shape[-1] - weights.shape[-1]
    expected = np.pad(weights, ((0, 0), (0, 0), (0, extra)))
    return float(np.abs(longer_weights - expected).max())


def masked_by_masking_layer(encoder_outputs, real):
    """How many padded steps `keras.layers.Masking()` would mask (trap 4).

    `Masking` masks a step only if all its features are exactly 0. The GRU
    repeats its last real output over trailing padding, so only a source
    with no real step at all (zero outputs throughout) is masked.
    """
    keep = keras.layers.Masking().compute_mask(encoder_outputs)
    return int((~ops.convert_to_numpy(keep) & ~real).sum())


def main(seed=0):
    """Builds the model, checks the masking; prints and returns the numbers.

    Returns:
        dict: `padded_weight_max`, `repad_difference`, `tfa_padded_max`
        (floats), `real_row_sums` `(B', Tt)`, `empty_row_weights` `(Tt,
        Ts)`, `outputs_finite` (bool), `padded_steps` and
        `masked_by_masking_layer` (ints).
    """
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    sentences = [rng.integers(1, VOCAB_SIZE, n).tolist() for n in LENGTHS]
    source = pad(sentences, max(LENGTHS))  # (B, Ts=7)
    real = source != PAD_ID  # (B, Ts)
    target_in = rng.integers(1, VOCAB_SIZE, (len(LENGTHS), TARGET_LENGTH))
    model = build_models()
    outputs, weights, encoder_outputs = run(model, source, target_in)

    results = {"padded_steps": int((~real).sum())}
    results["padded_weight_max"], results["real_row_sums"] = check_weights(
        weights, real
    )
    print(f"source lengths {LENGTHS}, weights shape {weights.shape}")
    print(
        f"largest weight on a padded source step: "
        f"{results['padded_weight_max']}; rows of real sources sum to "
        f"{results['real_row_sums'].min():.6f}.."
        f"{results['real_row_sums'].max():.6f}"
    )

    results["repad_difference"] = repad_difference(
        model, sentences, target_in, weights
    )
    print(
        "the same batch padded to 12 steps instead of 7: weights differ by "
        f"at most {results['repad_difference']:.1e}"
    )

    results["empty_row_weights"] = weights[LENGTHS.index(0)]
    results["outputs_finite"] = bool(np.isfinite(outputs).all())
    print(
        "all-padding source: weights all zero "
        f"{bool((results['empty_row_weights'] == 0).all())}, outputs "
        f"finite {results['outputs_finite']}"
    )

    count = results["masked_by_masking_layer"] = masked_by_masking_layer(
        encoder_outputs, real
    )
    print(
        f"Masking() on the encoder outputs would mask {count} of the "
        f"{results['padded_steps']} padded steps (the empty source's only)"
    )

    alignments = tfa_port_alignments(encoder_outputs, LENGTHS)
    results["tfa_padded_max"] = float(np.abs(alignments[~real]).max())
    print(
        "tfa port, memory_sequence_length=lengths: largest alignment on a "
        f"padded step: {results['tfa_padded_max']}"
    )
    return results


if __name__ == "__main__":
    main()
