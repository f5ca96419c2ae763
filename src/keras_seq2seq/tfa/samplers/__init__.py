"""TFA's samplers (`tfa.seq2seq.sampler`): how `BasicDecoder` feeds itself."""

from keras_seq2seq.tfa.samplers.custom_sampler import CustomSampler
from keras_seq2seq.tfa.samplers.greedy_embedding_sampler import (
    GreedyEmbeddingSampler,
)
from keras_seq2seq.tfa.samplers.inference_sampler import InferenceSampler
from keras_seq2seq.tfa.samplers.sample_embedding_sampler import (
    SampleEmbeddingSampler,
)
from keras_seq2seq.tfa.samplers.sampler import (
    Sampler,
    bernoulli_sample,
    categorical_sample,
)
from keras_seq2seq.tfa.samplers.scheduled_embedding_training_sampler import (
    ScheduledEmbeddingTrainingSampler,
)
from keras_seq2seq.tfa.samplers.scheduled_output_training_sampler import (
    ScheduledOutputTrainingSampler,
)
from keras_seq2seq.tfa.samplers.training_sampler import TrainingSampler

__all__ = [
    "CustomSampler",
    "GreedyEmbeddingSampler",
    "InferenceSampler",
    "SampleEmbeddingSampler",
    "Sampler",
    "ScheduledEmbeddingTrainingSampler",
    "ScheduledOutputTrainingSampler",
    "TrainingSampler",
    "bernoulli_sample",
    "categorical_sample",
]
