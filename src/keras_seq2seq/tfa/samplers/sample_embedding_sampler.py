"""TFA's `SampleEmbeddingSampler`: feed back the embedding of a drawn id."""

import keras
from keras import ops

from keras_seq2seq.tfa.samplers.greedy_embedding_sampler import (
    GreedyEmbeddingSampler,
)
from keras_seq2seq.tfa.samplers.sampler import categorical_ids, seed_generator
from keras_seq2seq.tfa.scalars import python_int


@keras.saving.register_keras_serializable(package="keras_seq2seq.tfa")
class SampleEmbeddingSampler(GreedyEmbeddingSampler):
    """As `GreedyEmbeddingSampler`, but the id is drawn from
    `softmax(outputs / softmax_temperature)`.

    Args:
        embedding_fn: optional callable `ids -> vectors`. Defaults to
            `None`.
        softmax_temperature: optional float > 0; below 1 sharpens, above 1
            flattens the distribution. Defaults to `None` (1).
        seed: optional int. Defaults to `None`.
    """

    CONFIG_KEYS = ("embedding_fn", "softmax_temperature", "seed")

    def __init__(self, embedding_fn=None, softmax_temperature=None, seed=None):
        super().__init__(embedding_fn)
        if isinstance(softmax_temperature, (int, float)) and (
            softmax_temperature <= 0
        ):
            raise ValueError(
                "`softmax_temperature` must be > 0. "
                f"Received: softmax_temperature={softmax_temperature!r}"
            )
        self.softmax_temperature = softmax_temperature
        self.seed = python_int(seed)
        self._seed_generator = seed_generator(self.seed)

    def sample(self, time, outputs, state):
        logits = ops.cast(outputs, "float32")
        if self.softmax_temperature is not None:
            logits = logits / ops.cast(self.softmax_temperature, "float32")
        return categorical_ids(logits, self._seed_generator)
