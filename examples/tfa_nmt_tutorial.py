"""TensorFlow's "NMT with attention" tutorial for TFA, ported by one import.

The program follows the TensorFlow Addons tutorial step for step: an
`Encoder` model (embedding + LSTM returning its sequences and states), a
`Decoder` model with `AttentionWrapper(LSTMCell, LuongAttention)`,
`BasicDecoder(..., sampler=TrainingSampler())`, `setup_memory` and
`get_initial_state(...).clone(cell_state=...)`, a custom `train_step` with
`tf.GradientTape` under `tf.function`, and greedy inference with
`GreedyEmbeddingSampler` + `BasicDecoder(maximum_iterations=...)` over the
decoder's embedding matrix. The one change from the TFA program is the
import: `import keras_seq2seq.tfa as tfa` instead of
`import tensorflow_addons as tfa`.

The corpus is generated instead of downloaded: strings of digits and their
reversals ("4 8 1" -> "1 8 4"), so that it trains in well under a minute on
one CPU core.

Run: `KERAS_BACKEND=tensorflow python examples/tfa_nmt_tutorial.py`.
"""

import time

import numpy as np
import tensorflow as tf

import keras_seq2seq.tfa as tfa  # was: import tensorflow_addons as tfa

# The vocabulary: padding, the two markers, the ten digits.
WORDS = ["<pad>", "<start>", "<end>"] + [str(d) for d in range(10)]
WORD_INDEX = {word: index for index, word in enumerate(WORDS)}

MIN_DIGITS, MAX_DIGITS = 3, 7
max_length_input = max_length_output = MAX_DIGITS + 2  # <start> ... <end>
vocab_inp_size = vocab_tar_size = len(WORDS)
embedding_dim = 32
units = 64
BATCH_SIZE = 64


def create_dataset(num_examples, seed=0):
    """Pairs of digit strings and their reversals, e.g. ("4 8 1", "1 8 4")."""
    rng = np.random.default_rng(seed)
    pairs = []
    for length in rng.integers(MIN_DIGITS, MAX_DIGITS + 1, num_examples):
        digits = [str(d) for d in rng.integers(0, 10, length)]
        pairs.append((" ".join(digits), " ".join(reversed(digits))))
    return pairs


def preprocess_sentence(sentence):
    return "<start> " + sentence + " <end>"


def tokenize(sentences, max_length):
    """Ids padded with 0 after the sentence (the tutorial's Tokenizer and
    pad_sequences(padding='post'))."""
    tensor = np.zeros((len(sentences), max_length), "int32")
    for row, sentence in enumerate(sentences):
        ids = [WORD_INDEX[word] for word in sentence.split(" ")]
        tensor[row, : len(ids)] = ids
    return tensor


def load_dataset(num_examples, seed=0):
    pairs = create_dataset(num_examples, seed)
    inp = [preprocess_sentence(source) for source, _ in pairs]
    targ = [preprocess_sentence(target) for _, target in pairs]
    return (
        tokenize(inp, max_length_input),
        tokenize(targ, max_length_output),
        pairs,
    )


class Encoder(tf.keras.Model):
    def __init__(self, vocab_size, embedding_dim, enc_units, batch_sz):
        super().__init__()
        self.batch_sz = batch_sz
        self.enc_units = enc_units
        self.embedding = tf.keras.layers.Embedding(vocab_size, embedding_dim)

        # -------- LSTM layer in Encoder ------- #
        self.lstm_layer = tf.keras.layers.LSTM(
            self.enc_units,
            return_sequences=True,
            return_state=True,
            recurrent_initializer="glorot_uniform",
        )

    def call(self, x, hidden):
        x = self.embedding(x)
        output, h, c = self.lstm_layer(x, initial_state=hidden)
        return output, h, c

    def initialize_hidden_state(self):
        return [
            tf.zeros((self.batch_sz, self.enc_units)),
            tf.zeros((self.batch_sz, self.enc_units)),
        ]


class Decoder(tf.keras.Model):
    def __init__(
        self,
        vocab_size,
        embedding_dim,
        dec_units,
        batch_sz,
        attention_type="luong",
    ):
        super().__init__()
        self.batch_sz = batch_sz
        self.dec_units = dec_units
        self.attention_type = attention_type

        # Embedding Layer
        self.embedding = tf.keras.layers.Embedding(vocab_size, embedding_dim)

        # Final Dense layer on which softmax will be applied
        self.fc = tf.keras.layers.Dense(vocab_size)

        # Define the fundamental cell for decoder recurrent structure
        self.decoder_rnn_cell = tf.keras.layers.LSTMCell(self.dec_units)

        # Sampler
        self.sampler = tfa.seq2seq.sampler.TrainingSampler()

        # Create attention mechanism with memory = None
        self.attention_mechanism = self.build_attention_mechanism(
            self.dec_units,
            None,
            self.batch_sz * [max_length_input],
            self.attention_type,
        )

        # Wrap attention mechanism with the fundamental rnn cell of decoder
        self.rnn_cell = self.build_rnn_cell(batch_sz)

        # Define the decoder with respect to fundamental rnn cell
        self.decoder = tfa.seq2seq.BasicDecoder(
            self.rnn_cell, sampler=self.sampler, output_layer=self.fc
        )

    def build_rnn_cell(self, batch_sz):
        rnn_cell = tfa.seq2seq.AttentionWrapper(
            self.decoder_rnn_cell,
            self.attention_mechanism,
            attention_layer_size=self.dec_units,
        )
        return rnn_cell

    def build_attention_mechanism(
        self, dec_units, memory, memory_sequence_length, attention_type="luong"
    ):
        # ------------- #
        # typ: Which sort of attention (Bahdanau, Luong)
        # dec_units: final dimension of attention outputs
        # memory: encoder hidden states of shape
        #   (batch_size, max_length_input, enc_units)
        # memory_sequence_length: 1d array of shape (batch_size) with every
        #   element set to max_length_input (for masking purpose)

        if attention_type == "bahdanau":
            return tfa.seq2seq.BahdanauAttention(
                units=dec_units,
                memory=memory,
                memory_sequence_length=memory_sequence_length,
            )
        else:
            return tfa.seq2seq.LuongAttention(
                units=dec_units,
                memory=memory,
                memory_sequence_length=memory_sequence_length,
            )

    def build_initial_state(self, batch_sz, encoder_state, Dtype):
        decoder_initial_state = self.rnn_cell.get_initial_state(
            batch_size=batch_sz, dtype=Dtype
        )
        decoder_initial_state = decoder_initial_state.clone(
            cell_state=encoder_state
        )
        return decoder_initial_state

    def call(self, inputs, initial_state):
        x = self.embedding(inputs)
        outputs, _, _ = self.decoder(
            x,
            initial_state=initial_state,
            sequence_length=self.batch_sz * [max_length_output - 1],
        )
        return outputs


def loss_function(real, pred):
    # real shape = (BATCH_SIZE, max_length_output)
    # pred shape = (BATCH_SIZE, max_length_output, tar_vocab_size )
    cross_entropy = tf.keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, reduction="none"
    )
    loss = cross_entropy(y_true=real, y_pred=pred)
    mask = tf.logical_not(tf.math.equal(real, 0))  # output 0 for y=0 else 1
    mask = tf.cast(mask, dtype=loss.dtype)
    loss = mask * loss
    loss = tf.reduce_mean(loss)
    return loss


def make_train_step(encoder, decoder, optimizer):
    @tf.function
    def train_step(inp, targ, enc_hidden):
        loss = 0

        with tf.GradientTape() as tape:
            enc_output, enc_h, enc_c = encoder(inp, enc_hidden)

            dec_input = targ[:, :-1]  # Ignore <end> token
            real = targ[:, 1:]  # ignore <start> token

            # Set the AttentionMechanism object with encoder_outputs
            decoder.attention_mechanism.setup_memory(enc_output)

            # Create AttentionWrapperState as initial_state for decoder
            decoder_initial_state = decoder.build_initial_state(
                BATCH_SIZE, [enc_h, enc_c], tf.float32
            )
            pred = decoder(dec_input, decoder_initial_state)
            logits = pred.rnn_output
            loss = loss_function(real, logits)

        variables = encoder.trainable_variables + decoder.trainable_variables
        gradients = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(gradients, variables, strict=True))

        return loss

    return train_step


def evaluate_sentence(encoder, decoder, sentence):
    sentence = preprocess_sentence(sentence)
    inputs = tokenize([sentence], max_length_input)
    inputs = tf.convert_to_tensor(inputs)
    inference_batch_size = inputs.shape[0]

    enc_start_state = [
        tf.zeros((inference_batch_size, units)),
        tf.zeros((inference_batch_size, units)),
    ]
    enc_out, enc_h, enc_c = encoder(inputs, enc_start_state)

    start_tokens = tf.fill([inference_batch_size], WORD_INDEX["<start>"])
    end_token = WORD_INDEX["<end>"]

    greedy_sampler = tfa.seq2seq.GreedyEmbeddingSampler()

    # Instantiate BasicDecoder object
    decoder_instance = tfa.seq2seq.BasicDecoder(
        cell=decoder.rnn_cell,
        sampler=greedy_sampler,
        output_layer=decoder.fc,
        maximum_iterations=max_length_output,
    )
    # Setup Memory in decoder stack
    decoder.attention_mechanism.setup_memory(enc_out)

    # set decoder_initial_state
    decoder_initial_state = decoder.build_initial_state(
        inference_batch_size, [enc_h, enc_c], tf.float32
    )

    # Since the BasicDecoder wraps around Decoder's rnn cell only, the
    # inputs of its steps are the embeddings: GreedyEmbeddingSampler looks
    # them up in the decoder's embedding matrix.
    decoder_embedding_matrix = decoder.embedding.variables[0]

    outputs, _, _ = decoder_instance(
        decoder_embedding_matrix,
        start_tokens=start_tokens,
        end_token=end_token,
        initial_state=decoder_initial_state,
    )
    return outputs.sample_id.numpy()


def translate(encoder, decoder, sentence):
    result = evaluate_sentence(encoder, decoder, sentence)
    words = [WORDS[i] for i in result[0]]
    if "<end>" in words:
        words = words[: words.index("<end>")]
    return " ".join(words)


def main(num_examples=4096, epochs=12, num_tests=40, verbose=True):
    """Trains on the generated corpus and translates held-out sentences.

    Returns:
        dict: `losses` (mean loss of each epoch) and `pairs` (held-out
        `(source, expected, translated)` triples).
    """
    tf.keras.utils.set_random_seed(0)
    input_tensor, target_tensor, _ = load_dataset(num_examples)
    steps_per_epoch = num_examples // BATCH_SIZE
    dataset = tf.data.Dataset.from_tensor_slices((input_tensor, target_tensor))
    dataset = dataset.shuffle(num_examples, seed=0).batch(
        BATCH_SIZE, drop_remainder=True
    )

    encoder = Encoder(vocab_inp_size, embedding_dim, units, BATCH_SIZE)
    decoder = Decoder(vocab_tar_size, embedding_dim, units, BATCH_SIZE, "luong")
    optimizer = tf.keras.optimizers.Adam()
    train_step = make_train_step(encoder, decoder, optimizer)

    losses = []
    for epoch in range(epochs):
        start = time.time()
        enc_hidden = encoder.initialize_hidden_state()
        total_loss = 0
        for batch, (inp, targ) in enumerate(dataset.take(steps_per_epoch)):
            batch_loss = train_step(inp, targ, enc_hidden)
            total_loss += batch_loss
            if verbose and batch % 20 == 0:
                print(f"Epoch {epoch + 1} Batch {batch} Loss {batch_loss:.4f}")
        losses.append(float(total_loss / steps_per_epoch))
        if verbose:
            print(f"Epoch {epoch + 1} Loss {losses[-1]:.4f}")
            print(f"Time taken for 1 epoch {time.time() - start:.1f} sec")

    held_out = create_dataset(num_tests, seed=1)
    pairs = [
        (source, target, translate(encoder, decoder, source))
        for source, target in held_out
    ]
    if verbose:
        for source, target, translated in pairs[:5]:
            print(f"{source!r} -> {translated!r} (expected {target!r})")
        correct = sum(target == got for _, target, got in pairs)
        print(f"{correct}/{len(pairs)} held-out sentences translated exactly")
    return {"losses": losses, "pairs": pairs}


if __name__ == "__main__":
    main()
