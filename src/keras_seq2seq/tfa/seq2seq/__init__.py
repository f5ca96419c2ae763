"""`keras_seq2seq.tfa.seq2seq`: the same names as `keras_seq2seq.tfa`.

With TFA's modules too, as programs name them:
`tfa.seq2seq.basic_decoder.BasicDecoder`, `tfa.seq2seq.sampler.
TrainingSampler`, `from tensorflow_addons.seq2seq.attention_wrapper
import AttentionWrapper`.
"""

from keras_seq2seq.tfa import *  # noqa: F403
from keras_seq2seq.tfa import __all__  # noqa: F401
from keras_seq2seq.tfa.seq2seq import (  # noqa: F401
    attention_wrapper,
    basic_decoder,
    beam_search_decoder,
    decoder,
    loss,
    sampler,
)
