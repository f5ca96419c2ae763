"""Scheduled sampling: decoder inputs replaced by the model's own predictions.

Bengio et al. 2015, "Scheduled Sampling for Sequence Prediction with
Recurrent Neural Networks" (arXiv:1506.03099): while training, each decoder
input token after the first is, with probability `p`, the model's own
prediction at the previous step instead of the reference token. `p` is a
constant or a schedule of the training step (the paper's inverse-sigmoid,
exponential or linear decays of `1 - p`).

The prediction fed back is the argmax of the previous step's logits (the
model's greedy choice), so that a run is reproducible from the coin flips
alone; TFA's `ScheduledEmbeddingTrainingSampler` draws it from the logits.
"""

import keras
from keras import ops

from keras_seq2seq.decoder.attention_decoder import scan


def check_scheduled_sampling(value):
    """Returns `value` if it is `None`, a probability or a callable.

    Raises:
        ValueError: for a number outside `[0, 1]` or another type.
    """
    if value is None or callable(value):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if 0.0 <= value <= 1.0:
            return float(value)
    raise ValueError(
        "`scheduled_sampling` must be None, a probability in [0, 1] or a "
        f"schedule of the training step. Received: scheduled_sampling={value!r}"
    )


def sampling_probability(scheduled_sampling, step):
    """The probability `p` (float32 scalar) of feeding back a prediction.

    Args:
        scheduled_sampling: a float, or a callable of the training step
            (e.g. a `keras.optimizers.schedules.LearningRateSchedule`).
        step: int scalar tensor, the training step.
    """
    p = scheduled_sampling
    if callable(p):
        p = p(step)
    return ops.cast(p, "float32")


def decode_with_sampling(
    model, target_in_ids, memory, initial_state, target_mask, feed_back
):
    """Runs `model.decoder`'s step, feeding back predictions where told.

    The target embedding and the output projection run inside the loop (the
    projection only for the argmax, without gradient); the logits of every
    step are then computed once after the loop, as in teacher forcing.

    Args:
        model: the `Seq2Seq` model (`target_embedding`, `dropout_layer`,
            `decoder`, `output_layer`).
        target_in_ids: int `(B, Tt)` reference input tokens.
        memory: `AttentionMemory` of the source, from `step.prepare`.
        initial_state: the decoder's initial cell state, or `None`.
        target_mask: bool `(B, Tt)`, True at real target steps.
        feed_back: bool `(B, Tt)`, True where the input token is replaced by
            the previous step's prediction (ignored at step 0).

    Returns:
        decoder outputs `(B, Tt, O)`, zeros at padded steps.
    """
    step = model.decoder.step
    state = step.get_initial_state(memory, initial_state)
    batch_size = ops.shape(target_in_ids)[0]
    predicted = ops.zeros((batch_size,), dtype="int32")

    def one_step(carry, step_inputs):
        state, predicted = carry
        token, use_prediction, real, *keep = step_inputs
        token = ops.where(use_prediction, predicted, token)
        x = model.target_embedding(token)
        if keep:  # this step's dropout mask of the embeddings
            x = x * keep[0]
        output, new_state = step(x, state, memory, training=True)
        state = keras.tree.map_structure(
            lambda new, old: ops.where(real[:, None], new, old),
            new_state,
            state,
        )
        logits = model.output_layer(ops.stop_gradient(output))
        predicted = ops.cast(ops.argmax(logits, axis=-1), "int32")
        output = ops.where(real[:, None], output, 0)
        return (state, predicted), output

    first = ops.arange(ops.shape(target_in_ids)[1]) == 0
    feed_back = ops.logical_and(feed_back, ops.logical_not(first)[None])
    steps = tuple(
        ops.transpose(x)  # (Tt, B)
        for x in (
            ops.cast(target_in_ids, "int32"),
            ops.cast(feed_back, "bool"),
            ops.cast(target_mask, "bool"),
        )
    )
    if model.dropout > 0:
        # The target embeddings' dropout (as `Seq2Seq.call` applies it),
        # drawn before the loop: a traced loop body must not advance a seed
        # (JAX).
        depth = model.target_embedding.output_dim
        keep = model.dropout_layer(
            ops.ones((batch_size, ops.shape(target_in_ids)[1], depth)),
            training=True,
        )
        keep = ops.transpose(ops.cast(keep, step.compute_dtype), (1, 0, 2))
        steps += (keep,)
    empty = ops.zeros((batch_size, step.output_size), step.compute_dtype)
    step.hold_dropout_masks(batch_size)
    _, outputs = scan(one_step, (state, predicted), steps, empty)
    step.reset_dropout_masks()
    return ops.transpose(outputs, (1, 0, 2))  # (B, Tt, O)
