"""`tfa.seq2seq`'s public names over keras-seq2seq, for porting old code.

`import keras_seq2seq.tfa as tfa` lets code written as
`tfa.seq2seq.BahdanauAttention(...)` run unchanged: `keras_seq2seq.tfa` and
`keras_seq2seq.tfa.seq2seq` hold the same names. Arguments, return
structures and `get_weights()` order follow TensorFlow Addons 0.23.
"""

from keras_seq2seq.ops import monotonic_attention
from keras_seq2seq.tfa import samplers
from keras_seq2seq.tfa.attention_mechanism import AttentionMechanism
from keras_seq2seq.tfa.attention_mechanisms import (
    BahdanauAttention,
    LuongAttention,
)
from keras_seq2seq.tfa.attention_wrapper import (
    AttentionWrapper,
    AttentionWrapperState,
)
from keras_seq2seq.tfa.basic_decoder import BasicDecoder, BasicDecoderOutput
from keras_seq2seq.tfa.beam_search_decoder import BeamSearchDecoder
from keras_seq2seq.tfa.beam_search_outputs import (
    BeamSearchDecoderOutput,
    BeamSearchDecoderState,
    FinalBeamSearchDecoderOutput,
)
from keras_seq2seq.tfa.decoder import BaseDecoder, Decoder
from keras_seq2seq.tfa.dynamic_decode import dynamic_decode
from keras_seq2seq.tfa.functions import (
    gather_tree,
    gather_tree_from_array,
    hardmax,
    safe_cumprod,
    tile_batch,
)
from keras_seq2seq.tfa.monotonic_mechanisms import (
    BahdanauMonotonicAttention,
    LuongMonotonicAttention,
)
from keras_seq2seq.tfa.samplers import (
    CustomSampler,
    GreedyEmbeddingSampler,
    InferenceSampler,
    SampleEmbeddingSampler,
    Sampler,
    ScheduledEmbeddingTrainingSampler,
    ScheduledOutputTrainingSampler,
    TrainingSampler,
)
from keras_seq2seq.tfa.sequence_losses import SequenceLoss, sequence_loss

# TFA's module name: `tfa.seq2seq.sampler.TrainingSampler()`.
sampler = samplers

__all__ = [
    "AttentionMechanism",
    "AttentionWrapper",
    "AttentionWrapperState",
    "BahdanauAttention",
    "BahdanauMonotonicAttention",
    "BaseDecoder",
    "BasicDecoder",
    "BasicDecoderOutput",
    "BeamSearchDecoder",
    "BeamSearchDecoderOutput",
    "BeamSearchDecoderState",
    "CustomSampler",
    "Decoder",
    "FinalBeamSearchDecoderOutput",
    "GreedyEmbeddingSampler",
    "InferenceSampler",
    "LuongAttention",
    "LuongMonotonicAttention",
    "SampleEmbeddingSampler",
    "Sampler",
    "ScheduledEmbeddingTrainingSampler",
    "ScheduledOutputTrainingSampler",
    "SequenceLoss",
    "TrainingSampler",
    "dynamic_decode",
    "gather_tree",
    "gather_tree_from_array",
    "hardmax",
    "monotonic_attention",
    "safe_cumprod",
    "sampler",
    "sequence_loss",
    "tile_batch",
]

# Last: `seq2seq` re-exports the names above.
from keras_seq2seq.tfa import seq2seq  # noqa: E402, F401
