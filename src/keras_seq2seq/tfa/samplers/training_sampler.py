"""TFA's `TrainingSampler`: teacher forcing over given inputs."""

import keras
from keras import ops

from keras_seq2seq.ops import sequence_mask
from keras_seq2seq.tfa.dynamic_decode import known_all
from keras_seq2seq.tfa.samplers.sampler import BatchTrackingSampler


@keras.saving.register_keras_serializable(package="keras_seq2seq.tfa")
class TrainingSampler(BatchTrackingSampler):
    """Reads the next input from the given sequence (teacher forcing).

    A row is finished once `time + 1 >= sequence_length`; its sample ids are
    the argmax of the outputs. After every row has finished the next inputs
    are zeros.

    Args:
        time_major: bool. The inputs are `(T, B, ...)` rather than
            `(B, T, ...)`. Defaults to `False`.

    Example:

    >>> sampler = TrainingSampler()
    >>> finished, first = sampler.initialize(
    ...     np.ones((2, 4, 3), "float32"), sequence_length=[4, 1])
    >>> ops.convert_to_numpy(finished).tolist(), tuple(first.shape)
    ([False, False], (2, 3))
    """

    CONFIG_KEYS = ("time_major",)

    def __init__(self, time_major=False):
        self.time_major = time_major
        self.inputs = None
        self.sequence_length = None

    @property
    def steps_bound(self):
        if self.inputs is None:
            return None
        inputs = keras.tree.flatten(self.inputs)[0]
        if isinstance(inputs.shape[0], int):
            return inputs.shape[0]
        # A TensorFlow graph's unknown time axis: its length as a tensor
        # bounds the graph's loop (and lets XLA compile it); a symbolic
        # Keras tensor has none.
        return ops.shape(inputs)[0]

    def initialize(self, inputs, sequence_length=None, mask=None):
        """Returns `(finished, first_inputs)`.

        Args:
            inputs: `(B, T, E)` (or nested), time-major with `time_major`.
            sequence_length: optional int `(B,)`, at most `T`. Defaults to
                `T` per row.
            mask: optional bool `(B, T)` (`(T, B)` with `time_major`),
                instead of `sequence_length`; True on a prefix of each row.

        Raises:
            ValueError: for both `sequence_length` and `mask`, a
                `sequence_length` that is not a vector, a `mask` that is
                not a bool matrix, or (when their values are known) a
                length over `T` or a mask that is not right-padded, as
                TFA.
        """
        if sequence_length is not None and mask is not None:
            raise ValueError(
                "sequence_length and mask can't be provided at the same time."
            )
        inputs = keras.tree.map_structure(ops.convert_to_tensor, inputs)
        if not self.time_major:
            inputs = keras.tree.map_structure(
                lambda x: ops.swapaxes(x, 0, 1), inputs
            )  # (T, B, ...)
        self.inputs = inputs
        first = keras.tree.flatten(inputs)[0]
        self._batch_size = ops.shape(first)[1]
        self.sequence_length = self._lengths(first, sequence_length, mask)
        self.zero_inputs = keras.tree.map_structure(
            lambda x: ops.zeros_like(x[0]), inputs
        )
        finished = ops.equal(self.sequence_length, 0)
        return finished, self._read(0, finished)

    def _lengths(self, first, sequence_length, mask):
        if sequence_length is not None:
            lengths = ops.convert_to_tensor(sequence_length, "int32")
            if len(lengths.shape) != 1:
                raise ValueError(
                    "Expected sequence_length to be a vector. Received "
                    f"shape: {tuple(lengths.shape)}"
                )
            rows, batch_size = lengths.shape[0], self._batch_size
            if isinstance(rows, int) and isinstance(batch_size, int):
                if rows != batch_size:
                    raise ValueError(
                        f"sequence_length has {rows} rows, the inputs "
                        f"{batch_size}: give one length per row."
                    )
            # TFA's read past the inputs' end raised; without the check a
            # longer row would read the last step again. Checked where the
            # values are known (eagerly).
            steps = ops.shape(first)[0]
            if known_all(ops.less_equal(lengths, steps)) is False:
                raise ValueError(
                    f"sequence_length must be at most the inputs' {steps} "
                    "steps. Received: sequence_length="
                    f"{ops.convert_to_numpy(lengths).tolist()}"
                )
            return lengths
        if mask is not None:
            return mask_lengths(mask, self.time_major)
        return ops.full((self._batch_size,), ops.shape(first)[0], "int32")

    def _read(self, time, finished):
        """The inputs at step `time`; zeros once every row has finished."""
        all_finished = ops.all(finished)

        def read(x, zero):
            index = ops.minimum(time, ops.shape(x)[0] - 1)
            return ops.where(all_finished, zero, ops.take(x, index, axis=0))

        return keras.tree.map_structure(read, self.inputs, self.zero_inputs)

    def sample(self, time, outputs, state):
        return ops.cast(ops.argmax(outputs, axis=-1), "int32")

    def next_inputs(self, time, outputs, state, sample_ids):
        next_time = time + 1
        finished = next_time >= self.sequence_length
        return finished, self._read(next_time, finished), state


def mask_lengths(mask, time_major):
    """int32 `(B,)` lengths of a bool mask that is True on a prefix of each
    row (`(B, T)`, or `(T, B)` when `time_major`), checked as TFA checks it.

    A mask with a False step before a True one is not right-padded: TFA
    asserts against it (its sum would not be a length). The check runs when
    the mask has values (eagerly), not inside a compiled function.
    """
    mask = ops.convert_to_tensor(mask)
    if len(mask.shape) != 2:
        raise ValueError(
            f"Expected mask to be a 2D tensor. Received shape: "
            f"{tuple(mask.shape)}"
        )
    if keras.backend.standardize_dtype(mask.dtype) != "bool":
        raise ValueError(
            "Expected mask to be a boolean tensor. Received dtype: "
            f"{keras.backend.standardize_dtype(mask.dtype)}"
        )
    if time_major:
        mask = ops.transpose(mask)  # (B, T)
    lengths = ops.sum(ops.cast(mask, "int32"), axis=1)
    prefix = sequence_mask(lengths, ops.shape(mask)[1])
    if known_all(ops.equal(mask, prefix)) is False:
        raise ValueError("The input sequence should be right padded.")
    return lengths
