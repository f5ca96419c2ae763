"""`Seq2Seq`'s constructor checks, and `export` of the teacher-forced call."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_seq2seq.models import Seq2Seq

SIZES = dict(
    source_vocab_size=9,
    target_vocab_size=8,
    embedding_dim=4,
    encoder_units=3,
    decoder_units=5,
    attention_units=3,
    attention_layer_size=6,
)


@pytest.mark.parametrize(
    "name, value",
    [
        ("source_vocab_size", -3),
        ("target_vocab_size", 0),
        ("embedding_dim", 0),
        ("encoder_units", 2.5),
        ("decoder_units", None),
        ("attention_units", "8"),
        ("bidirectional", "yes"),
        ("bidirectional", None),
        ("input_feeding", 1),
    ],
)
def test_a_bad_size_or_flag_is_one_error_naming_it(name, value):
    with pytest.raises(ValueError, match=f"`{name}` must be") as error:
        Seq2Seq(**{**SIZES, name: value})
    assert len(str(error.value).splitlines()) == 1


@pytest.mark.skipif(
    keras.backend.backend() == "torch",
    reason="Keras exports a TF SavedModel from TensorFlow and JAX only",
)
# Keras' JAX export passes an option JAX deprecates: not ours.
@pytest.mark.filterwarnings(
    "ignore:The `native_serialization`:DeprecationWarning"
)
def test_export_serves_int_ids_of_any_length(tmp_path):
    # Keras writes the SavedModel through TensorFlow (a JAX-only install,
    # the GPU machine of bench/RESULTS.md, has none).
    tf = pytest.importorskip("tensorflow")

    model = Seq2Seq(**SIZES)
    model.build()  # as the tool builds it: never called on data
    path = str(tmp_path / "exported")
    model.export(path, verbose=False)
    loaded = tf.saved_model.load(path)  # keeps the variables alive
    rng = np.random.default_rng(0)
    for batch, source_length, target_length in ((2, 5, 4), (3, 7, 6)):
        source = rng.integers(3, 9, (batch, source_length)).astype("int32")
        source[1, 3:] = 0
        target_in = rng.integers(1, 8, (batch, target_length)).astype("int32")
        got = loaded.serve(
            (tf.constant(source), tf.constant(target_in))
        ).numpy()
        want = ops.convert_to_numpy(model((source, target_in)))
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "inputs",
    [
        np.ones((2, 5), "int32"),  # two rows: they unpacked as a pair
        np.ones((3, 5), "int32"),
        (np.ones((2, 5), "int32"),) * 3,
    ],
    ids=["two_rows", "three_rows", "triple"],
)
def test_a_call_without_the_pair_of_ids_is_one_error(inputs):
    model = Seq2Seq(**SIZES)
    with pytest.raises(ValueError, match="generate") as error:
        model(inputs)
    message = str(error.value).splitlines()[0]
    assert "(source_ids, target_in_ids)" in message
    with pytest.raises(ValueError, match=r"\(source_ids, target_in_ids\)"):
        model.predict(inputs, verbose=0)


def test_summary_gives_the_decoder_its_output_shape():
    model = Seq2Seq(11, 13, embedding_dim=4, encoder_units=3, decoder_units=6)
    model.build()
    lines = []
    model.summary(print_fn=lambda line, **kwargs: lines.append(line))
    rows = "\n".join(lines).splitlines()
    decoder = [row for row in rows if "(AttentionDecoder)" in row]
    # The decoder's outputs are its attention vectors (attention_layer_size).
    assert len(decoder) == 1, rows
    assert f", {model.attention_layer_size})" in decoder[0], rows


def test_numpy_integer_sizes_are_ints_in_the_config(tmp_path):
    # Sizes read from data are often NumPy integers (`ids.max() + 1`).
    numpy_sizes = {name: np.int64(value) for name, value in SIZES.items()}
    model = Seq2Seq(**numpy_sizes, eos_id=np.int32(2))
    config = model.get_config()
    for name in (*SIZES, "eos_id"):
        assert type(config[name]) is int, name
    model.build()
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert loaded.get_config() == config
