"""The checks of `sequence_loss`'s and `SequenceLoss`'s arguments and of the
shapes of targets and weights against the logits."""


def check_reduction_flags(
    average_across_timesteps,
    average_across_batch,
    sum_over_timesteps,
    sum_over_batch,
):
    """Raises `ValueError` when an average flag meets a sum flag."""
    averages = average_across_timesteps or average_across_batch
    sums = sum_over_timesteps or sum_over_batch
    if averages and sums:
        raise ValueError(
            "An `average_across_*` flag cannot be combined with a "
            "`sum_over_*` flag. Received: "
            f"average_across_timesteps={average_across_timesteps}, "
            f"average_across_batch={average_across_batch}, "
            f"sum_over_timesteps={sum_over_timesteps}, "
            f"sum_over_batch={sum_over_batch}"
        )


def check_label_smoothing(label_smoothing, softmax_loss_function=None):
    """Raises `ValueError` unless `0 <= label_smoothing < 1` (no custom fn)."""
    if isinstance(label_smoothing, bool) or not (
        isinstance(label_smoothing, (int, float)) and 0 <= label_smoothing < 1
    ):
        raise ValueError(
            "`label_smoothing` must be a float in [0, 1). "
            f"Received: label_smoothing={label_smoothing!r}"
        )
    if label_smoothing and softmax_loss_function is not None:
        raise ValueError(
            "`label_smoothing` cannot be combined with "
            "`softmax_loss_function`; smooth inside that function instead. "
            f"Received: label_smoothing={label_smoothing!r}"
        )


def check_ranks(logits, targets, weights):
    """Raises `ValueError` unless logits `(B, T, V)`, targets `(B, T[, V])`
    and weights `(B, T)`."""
    if len(logits.shape) != 3:
        raise ValueError(
            "`logits` must be a rank-3 tensor (B, T, V). "
            f"Received: logits.shape={tuple(logits.shape)}"
        )
    if len(targets.shape) not in (2, 3):
        raise ValueError(
            "`targets` must be a rank-2 tensor of ids (B, T) or a rank-3 "
            "tensor of distributions (B, T, V). "
            f"Received: targets.shape={tuple(targets.shape)}"
        )
    if len(targets.shape) == 3 and targets.shape[-1] != logits.shape[-1]:
        raise ValueError(
            "Rank-3 `targets` must have the vocabulary size of `logits` as "
            f"last axis. Received: targets.shape={tuple(targets.shape)}, "
            f"logits.shape={tuple(logits.shape)}"
        )
    if len(weights.shape) != 2:
        raise ValueError(
            "`weights` must be a rank-2 tensor (B, T). "
            f"Received: weights.shape={tuple(weights.shape)}"
        )
    check_axes(targets.shape, logits.shape)
    # A weight of 1 on an axis is broadcast.
    weights_shape = [
        n if n != 1 else logits.shape[i] for i, n in enumerate(weights.shape)
    ]
    check_axes(weights_shape, logits.shape, "weights")


def axes_differ(shape, logits_shape):
    """Whether a known (static) batch or time axis of `shape` differs from
    that of `logits_shape`."""
    return any(
        isinstance(n, int) and isinstance(size, int) and n != size
        for n, size in zip(shape[:2], logits_shape[:2], strict=True)
    )


def check_axes(shape, logits_shape, name="targets"):
    """Raises `ValueError` unless the batch and time axes of `shape` that
    are known (static shapes) are those of `logits_shape`: a backend error
    from the gather or the weighting said less (PyTorch's "The size of
    tensor a (4) must match the size of tensor b (3)")."""
    if axes_differ(shape, logits_shape):
        raise ValueError(
            f"`{name}` must have the batch and time axes of `logits` "
            f"(B, T). Received: {name}.shape={tuple(shape)}, "
            f"logits.shape={tuple(logits_shape)}"
        )
