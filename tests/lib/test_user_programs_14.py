"""The native API as demanding Keras users meet it, fourteenth audit round.

This round configures the attention layers from a config file (an option
read as the string "false") and with one seeded initializer, asks beam
search for as many hypotheses as the vocabulary has tokens, and reads the
n-best list of beams cut at the length limit. Each test pins one defect
of an earlier version (an option turned on by a string, two projections
drawn as one matrix, a hypothesis of score -inf presented as an answer)
or the documented result where a user suspected one. Expected values come
from NumPy, or from the same computation done another way.
"""

import pytest

from keras_seq2seq import BahdanauAttention, LuongAttention

# --- A bool option of an attention layer read from a config file as a
# string: `bool("false")` is True, so `normalize="false"` made the
# weight-normalised score (and its two extra weights), `scale="false"`
# the learned scale, silently. The decoder and `Seq2Seq` refuse such
# values since rounds 9 and 13.


@pytest.mark.parametrize(
    "layer, name",
    [(BahdanauAttention, "normalize"), (LuongAttention, "scale")],
)
@pytest.mark.parametrize("value", ["false", 1, None])
def test_a_bool_attention_option_refuses_other_values(layer, name, value):
    options = {"units": 4, name: value}
    with pytest.raises(ValueError, match=rf"`{name}` must be True or False"):
        layer(**options)
    config = {**layer(units=4).get_config(), name: value}
    with pytest.raises(ValueError, match=rf"`{name}` must be True or False"):
        layer.from_config(config)
