"""Decoding over a step function: greedy search, sampling, beam search.

    from keras_seq2seq.decoding import attention_step, beam_search

The step-function contract is in `step.py`; `compiled` compiles a search
with the backend's compiler.
"""

from keras_seq2seq.decoding.beam_search import beam_search
from keras_seq2seq.decoding.compile import compiled
from keras_seq2seq.decoding.greedy import greedy_search
from keras_seq2seq.decoding.sampling import sample
from keras_seq2seq.decoding.step import attention_step

__all__ = [
    "attention_step",
    "beam_search",
    "compiled",
    "greedy_search",
    "sample",
]
