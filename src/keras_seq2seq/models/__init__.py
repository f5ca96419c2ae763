"""Ready models built from the library's layers."""

from keras_seq2seq.models.seq2seq import PRESETS, Seq2Seq

__all__ = ["PRESETS", "Seq2Seq"]
