"""TFA's `tfa.seq2seq.loss` module."""

from keras_seq2seq.tfa import SequenceLoss, sequence_loss

__all__ = ["SequenceLoss", "sequence_loss"]
