"""Token cross-entropy over sequences, with TFA's averaging options.

`sequence_loss` computes the cross-entropy of every target token, multiplies
it by a weight (0 at padding) and reduces it over the batch and/or the time
axis. The reductions are those of `tfa.seq2seq.sequence_loss`:

- `average_across_*` divide the weighted sum by the **sum of the weights**;
- `sum_over_*` divide it by the **number of non-zero weights** (despite the
  name, a mean over the real tokens);
- every division gives 0 where the denominator is 0, never NaN.

`SequenceLoss` is the same computation as a `keras.losses.Loss`, usable in
`model.compile(loss=...)` with flags that give a scalar (on JAX and
PyTorch Keras 3 trains on nothing else; see its docstring): it masks
targets equal to `pad_id` and honours the Keras mask that the predictions
carry.

Modules: `cross_entropy.py` (`sequence_loss`), `keras_loss.py`
(`SequenceLoss`), `masking.py` (the Keras mask as weights, shared with
`metrics.py`) and `checks.py` (the arguments' and shapes' checks, shared
with `models/`).
"""

from keras_seq2seq.losses.checks import axes_differ, check_axes
from keras_seq2seq.losses.cross_entropy import sequence_loss
from keras_seq2seq.losses.keras_loss import SequenceLoss
from keras_seq2seq.losses.masking import keras_mask_weights

__all__ = [
    "SequenceLoss",
    "axes_differ",
    "check_axes",
    "keras_mask_weights",
    "sequence_loss",
]
