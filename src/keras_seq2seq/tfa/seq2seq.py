"""`keras_seq2seq.tfa.seq2seq`: the same names as `keras_seq2seq.tfa`."""

from keras_seq2seq.tfa import *  # noqa: F403
from keras_seq2seq.tfa import __all__  # noqa: F401
