"""TFA's `tfa.seq2seq.decoder` module."""

from keras_seq2seq.tfa import BaseDecoder, Decoder, dynamic_decode

__all__ = ["BaseDecoder", "Decoder", "dynamic_decode"]
