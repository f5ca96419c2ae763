"""`keras_seq2seq.seeding.set_random_seed`: Keras' seeding, no TensorFlow."""

import json

import keras

from helpers import run_python

PROGRAM = """
import json, sys
import keras
import numpy as np
import keras_seq2seq
from keras_seq2seq.models import Seq2Seq
from keras_seq2seq.seeding import set_random_seed

def draw():
    set_random_seed(7)
    model = Seq2Seq(source_vocab_size=9, target_vocab_size=9, embedding_dim=3,
                    encoder_units=2, decoder_units=4, attention_units=3)
    model.build()
    noise = keras.random.uniform((4,))
    kernel = model.output_layer.kernel
    return np.concatenate([keras.ops.convert_to_numpy(kernel).ravel(),
                           keras.ops.convert_to_numpy(noise),
                           np.random.rand(2)])

first, second = draw(), draw()
set_random_seed(8)
other = keras.ops.convert_to_numpy(keras.random.uniform((4,)))
print(json.dumps({
    "same": bool(np.array_equal(first, second)),
    "differs": bool(not np.allclose(first[-6:-2], other)),
    "tensorflow_imported": "tensorflow" in sys.modules,
}))
"""


def test_seeds_reproduce_and_tensorflow_stays_out(capsys):
    if keras.backend.backend() == "tensorflow":
        # TensorFlow is imported anyway: the program runs in this process.
        exec(PROGRAM, {})
        output = capsys.readouterr().out
    else:  # a fresh process, to see what it imports
        output = run_python(PROGRAM).stdout
    result = json.loads(output.strip().splitlines()[-1])
    assert result["same"] and result["differs"]
    # TensorFlow is imported only where it is the backend.
    tensorflow = keras.backend.backend() == "tensorflow"
    assert result["tensorflow_imported"] == tensorflow
