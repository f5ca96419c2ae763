"""TFA's `ScheduledOutputTrainingSampler`: scheduled sampling of outputs."""

import keras
from keras import ops

from keras_seq2seq.tfa.samplers.sampler import (
    bernoulli,
    check_probability,
    feed_chosen,
    seed_generator,
)
from keras_seq2seq.tfa.samplers.training_sampler import TrainingSampler
from keras_seq2seq.tfa.scalars import python_int


@keras.saving.register_keras_serializable(package="keras_seq2seq.tfa")
class ScheduledOutputTrainingSampler(TrainingSampler):
    """Teacher forcing, or, with a probability, the step's own outputs.

    At every step each row is chosen with `sampling_probability` (its
    sample id is 1, else 0: int32, as TFA's); a chosen row's next input is
    its output (through
    `next_inputs_fn` if given, then concatenated with the next
    `auxiliary_inputs`), the others get the next given input. As in TFA,
    the outputs need the inputs' depth only at a step where a row is
    chosen (eagerly; inside a compiled function, always).

    Args:
        sampling_probability: float in `[0, 1]`, or float `(B,)`; a
            `keras.Variable` is read at every step, so a schedule can
            assign it.
        time_major: bool. Defaults to `False`.
        seed: optional int. Defaults to `None`.
        next_inputs_fn: optional callable `outputs -> inputs`. Defaults to
            `None` (the outputs themselves).
    """

    CONFIG_KEYS = (
        "sampling_probability",
        "time_major",
        "seed",
        "next_inputs_fn",
    )
    CALLABLE_KEYS = ("next_inputs_fn",)

    def __init__(
        self,
        sampling_probability,
        time_major=False,
        seed=None,
        next_inputs_fn=None,
    ):
        super().__init__(time_major=time_major)
        self.sampling_probability = check_probability(
            sampling_probability, type(self).__name__
        )
        self.seed = python_int(seed)
        self.next_inputs_fn = next_inputs_fn
        self._seed_generator = seed_generator(self.seed)
        self._auxiliary = None

    def initialize(
        self, inputs, sequence_length=None, mask=None, auxiliary_inputs=None
    ):
        """As `TrainingSampler.initialize`; `auxiliary_inputs` `(B, T, A)`
        are concatenated to the inputs and to the sampled outputs."""
        self._auxiliary = None
        if auxiliary_inputs is not None:
            auxiliary = ops.convert_to_tensor(auxiliary_inputs)
            inputs = ops.concatenate(
                [ops.convert_to_tensor(inputs), auxiliary], axis=-1
            )
            if not self.time_major:
                auxiliary = ops.swapaxes(auxiliary, 0, 1)
            self._auxiliary = auxiliary  # (T, B, A)
        return super().initialize(inputs, sequence_length, mask)

    def sample(self, time, outputs, state):
        chosen = bernoulli(
            self.sampling_probability, self.batch_size, self._seed_generator
        )
        return ops.cast(chosen, "int32")

    def next_inputs(self, time, outputs, state, sample_ids):
        finished, given, state = super().next_inputs(
            time, outputs, state, sample_ids
        )
        fed = outputs
        if self.next_inputs_fn is not None:
            fed = self.next_inputs_fn(outputs)
        if self._auxiliary is not None:
            index = ops.minimum(time + 1, ops.shape(self._auxiliary)[0] - 1)
            extra = ops.take(self._auxiliary, index, axis=0)
            fed = keras.tree.map_structure(
                lambda x: ops.concatenate([x, extra], axis=-1), fed
            )
        chosen = ops.logical_and(
            ops.cast(sample_ids, "bool"), ops.logical_not(ops.all(finished))
        )
        next_inputs = feed_chosen(
            chosen,
            fed,
            given,
            "the outputs (after `next_inputs_fn`, with the auxiliary inputs) "
            "must have the inputs' shape; pass a `next_inputs_fn` that maps "
            "the outputs to inputs.",
        )
        return finished, next_inputs, state
