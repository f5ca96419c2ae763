"""TFA's `sequence_loss` and `SequenceLoss`, over the library's.

They take TFA's arguments in TFA's order (then the library's
`label_smoothing`; `SequenceLoss` also the library's `pad_id`), and read
the reduction flags as TFA did: an average and a sum on the same axis are
refused (the library's error), but an average on one axis and a sum on the
other reduce the average's axis alone, the sum flag ignored (TFA's
branches; the library refuses the pair).
"""

import keras

from keras_seq2seq import losses


def sequence_loss(
    logits,
    targets,
    weights,
    average_across_timesteps=True,
    average_across_batch=True,
    sum_over_timesteps=False,
    sum_over_batch=False,
    softmax_loss_function=None,
    name=None,
    label_smoothing=0.0,
):
    """TFA's `sequence_loss` (and the library's `label_smoothing`): see
    `keras_seq2seq.losses.sequence_loss`, and this module for the flags."""
    del name
    return losses.sequence_loss(
        logits,
        targets,
        weights,
        **tfa_flags(
            average_across_timesteps,
            average_across_batch,
            sum_over_timesteps,
            sum_over_batch,
        ),
        softmax_loss_function=softmax_loss_function,
        label_smoothing=label_smoothing,
    )


@keras.saving.register_keras_serializable(package="keras_seq2seq.tfa")
class SequenceLoss(losses.SequenceLoss):
    """TFA's `SequenceLoss`: the library's, its flags read as TFA's (see
    this module); `name` defaults to `"sequence_loss"`."""

    def __init__(
        self,
        average_across_timesteps=False,
        average_across_batch=False,
        sum_over_timesteps=True,
        sum_over_batch=True,
        softmax_loss_function=None,
        name=None,
        **kwargs,
    ):
        super().__init__(
            **tfa_flags(
                average_across_timesteps,
                average_across_batch,
                sum_over_timesteps,
                sum_over_batch,
            ),
            softmax_loss_function=softmax_loss_function,
            name=name or "sequence_loss",
            **kwargs,
        )


def tfa_flags(
    average_across_timesteps,
    average_across_batch,
    sum_over_timesteps,
    sum_over_batch,
):
    """The flags as TFA's branches use them: with an average flag and no
    average and sum on the same axis, the sum flags have no effect."""
    flags = {
        "average_across_timesteps": average_across_timesteps,
        "average_across_batch": average_across_batch,
        "sum_over_timesteps": sum_over_timesteps,
        "sum_over_batch": sum_over_batch,
    }
    same_axis = (average_across_timesteps and sum_over_timesteps) or (
        average_across_batch and sum_over_batch
    )
    if (average_across_timesteps or average_across_batch) and not same_axis:
        flags.update(sum_over_timesteps=False, sum_over_batch=False)
    return flags
