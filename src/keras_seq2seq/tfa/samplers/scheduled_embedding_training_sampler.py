"""TFA's `ScheduledEmbeddingTrainingSampler`: scheduled sampling of ids."""

import keras
from keras import ops

from keras_seq2seq.tfa.samplers.sampler import (
    bernoulli,
    categorical_ids,
    check_embedding_fn,
    check_probability,
    embedding_lookup,
    feed_chosen,
    seed_generator,
)
from keras_seq2seq.tfa.samplers.training_sampler import TrainingSampler
from keras_seq2seq.tfa.scalars import python_int


@keras.saving.register_keras_serializable(package="keras_seq2seq.tfa")
class ScheduledEmbeddingTrainingSampler(TrainingSampler):
    """Teacher forcing, or, with a probability, the embedding of a sampled id.

    Scheduled sampling (Bengio et al. 2015, arXiv:1506.03099): at every step
    each row is chosen with `sampling_probability`; a chosen row's sample id
    is drawn from `softmax(outputs)` and its next input is that id's
    embedding; the other rows get sample id `-1` and the next given input.
    As in TFA, the embedding needs the inputs' depth only at a step where a
    row is chosen (eagerly; inside a compiled function, always).

    Args:
        sampling_probability: float in `[0, 1]`, or float `(B,)`; a
            `keras.Variable` is read at every step, so a schedule can
            assign it.
        embedding_fn: optional callable `ids -> vectors`; else the
            `embedding` given to `initialize`. Defaults to `None`.
        time_major: bool. Defaults to `False`.
        seed: optional int for the id draws. Defaults to `None`.
        scheduling_seed: optional int for choosing the rows. Defaults to
            `None`.
    """

    CONFIG_KEYS = (
        "sampling_probability",
        "embedding_fn",
        "time_major",
        "seed",
        "scheduling_seed",
    )
    CALLABLE_KEYS = ("embedding_fn",)

    def __init__(
        self,
        sampling_probability,
        embedding_fn=None,
        time_major=False,
        seed=None,
        scheduling_seed=None,
    ):
        check_embedding_fn(embedding_fn)
        super().__init__(time_major=time_major)
        self.sampling_probability = check_probability(
            sampling_probability, type(self).__name__
        )
        self.embedding_fn = embedding_fn
        self.seed = python_int(seed)
        self.scheduling_seed = python_int(scheduling_seed)
        self._seed_generator = seed_generator(self.seed)
        self._scheduling_generator = seed_generator(self.scheduling_seed)
        self._lookup = None

    def initialize(
        self, inputs, sequence_length=None, mask=None, embedding=None
    ):
        """As `TrainingSampler.initialize`; `embedding` is a `(V, E)` matrix
        (or a callable), required without `embedding_fn`."""
        self._lookup = embedding_lookup(
            self.embedding_fn, embedding, type(self).__name__
        )
        return super().initialize(inputs, sequence_length, mask)

    def sample(self, time, outputs, state):
        chosen = bernoulli(
            self.sampling_probability,
            self.batch_size,
            self._scheduling_generator,
        )
        ids = categorical_ids(outputs, self._seed_generator)
        return ops.where(chosen, ids, -1)

    def next_inputs(self, time, outputs, state, sample_ids):
        finished, given, state = super().next_inputs(
            time, outputs, state, sample_ids
        )
        sampled = self._lookup(ops.maximum(sample_ids, 0))
        chosen = ops.logical_and(
            sample_ids > -1, ops.logical_not(ops.all(finished))
        )
        next_inputs = feed_chosen(
            chosen,
            sampled,
            given,
            "the embedding's vectors must have the inputs' depth; pass the "
            "embedding that made the inputs.",
        )
        return finished, next_inputs, state
