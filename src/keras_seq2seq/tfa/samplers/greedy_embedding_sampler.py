"""TFA's `GreedyEmbeddingSampler`: feed back the embedding of the argmax."""

import keras
from keras import ops

from keras_seq2seq.tfa.samplers.sampler import (
    BatchTrackingSampler,
    check_embedding_fn,
    embedding_lookup,
    start_and_end_tokens,
)


@keras.saving.register_keras_serializable(package="keras_seq2seq.tfa")
class GreedyEmbeddingSampler(BatchTrackingSampler):
    """Greedy decoding: the sample id is the argmax of the outputs (the
    first maximum) and the next input is its embedding; a row is finished
    once it emits `end_token`. Once every row has finished the next inputs
    are the start inputs again (as TFA).

    Args:
        embedding_fn: optional callable `ids -> vectors`; else the
            `embedding` given to `initialize`. Defaults to `None`.
    """

    CONFIG_KEYS = ("embedding_fn",)
    CALLABLE_KEYS = ("embedding_fn",)

    def __init__(self, embedding_fn=None):
        check_embedding_fn(embedding_fn)
        self.embedding_fn = embedding_fn
        self._lookup = None

    def initialize(self, embedding, start_tokens=None, end_token=None):
        """Returns `(finished, start_inputs)`.

        Args:
            embedding: `(V, E)` matrix (or variable) or a callable `ids ->
                vectors`; ignored when the sampler has an `embedding_fn`.
            start_tokens: int `(B,)`.
            end_token: int scalar.
        """
        self._lookup = embedding_lookup(
            self.embedding_fn, embedding, type(self).__name__
        )
        for name, value in (
            ("start_tokens", start_tokens),
            ("end_token", end_token),
        ):
            if value is None:
                raise ValueError(
                    f"`{name}` is required by {type(self).__name__}: "
                    "start_tokens int (B,), end_token an int."
                )
        self.start_tokens, self.end_token = start_and_end_tokens(
            start_tokens, end_token
        )
        finished = self._start(ops.shape(self.start_tokens)[0])
        self.start_inputs = self._lookup(self.start_tokens)
        return finished, self.start_inputs

    def sample(self, time, outputs, state):
        return ops.cast(ops.argmax(outputs, axis=-1), "int32")

    def next_inputs(self, time, outputs, state, sample_ids):
        finished = ops.equal(sample_ids, self.end_token)
        embedded = self._lookup(sample_ids)
        next_inputs = ops.where(
            ops.all(finished),
            ops.cast(self.start_inputs, embedded.dtype),
            embedded,
        )
        return finished, next_inputs, state
