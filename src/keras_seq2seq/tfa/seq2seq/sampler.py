"""TFA's `tfa.seq2seq.sampler` module."""

from keras_seq2seq.tfa.samplers import *  # noqa: F403
from keras_seq2seq.tfa.samplers import __all__  # noqa: F401
