"""TFA's `tfa.seq2seq.basic_decoder` module."""

from keras_seq2seq.tfa import BasicDecoder, BasicDecoderOutput

__all__ = ["BasicDecoder", "BasicDecoderOutput"]
