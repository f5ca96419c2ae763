"""`make demo`: the three seed examples, one after the other.

Each example answers one part of the question in `shared/seed/question.md`
("Bahdanau attention in a Keras functional model") with code that runs; see
`examples/README.md` for the walk from the question's code to ours.

Run: `KERAS_BACKEND=jax python examples/demo.py` (any of tensorflow, jax,
torch).
"""

import keras
import seed_1_functional_bahdanau
import seed_2_variable_length
import seed_3_custom_layer

SECTIONS = (
    (
        "1. A Bahdanau encoder-decoder in the functional API",
        "An LSTM encoder-decoder learns to reverse random sequences. The\n"
        "attention runs at every decoder step (query: the previous decoder\n"
        "state), so each target step has its own row of weights.",
        seed_1_functional_bahdanau,
    ),
    (
        "2. Sources of different lengths",
        "Sentences of 7, 1, 4 and 0 tokens, padded with 0. The mask comes\n"
        "from Embedding(mask_zero=True); nothing is put on encoder outputs.",
        seed_2_variable_length,
    ),
    (
        "3. The hand-written W1/W2/V layer",
        "The question's custom layer, with its weights copied into\n"
        "BahdanauAttention: the same numbers, plus masks and many queries.",
        seed_3_custom_layer,
    ),
)


def main():
    backend = keras.backend.backend()
    print(f"keras-seq2seq demo (Keras {keras.__version__}, {backend})\n")
    for title, explanation, example in SECTIONS:
        print(title)
        print(explanation)
        print("-" * 72)
        example.main()
        print()


if __name__ == "__main__":
    main()
