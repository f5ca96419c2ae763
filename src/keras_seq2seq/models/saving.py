"""What a saved or exported `Seq2Seq` keeps beyond its constructor's
arguments: the `trainable` flags of its sublayers, and `export`'s and
`load_weights`' defaults for a model that builds from its config alone.

Keras saves a subclassed model's config and weights, not the flags of the
layers inside it: a model whose encoder was frozen loaded with every
layer trainable, and its optimizer's state (saved for fewer weights) was
skipped. `Seq2Seq.get_config` names its frozen sublayers
(`frozen_layers`), and `from_config` freezes them again
(`freeze_layers`).
"""

import keras


class SavingMixin:
    """`Seq2Seq`'s `export` and `load_weights`; mixed into `Seq2Seq`
    before `keras.Model`, whose methods `super()` calls."""

    def export(
        self,
        filepath,
        format="tf_saved_model",
        verbose=None,
        input_signature=None,
        **kwargs,
    ):
        """`keras.Model.export` of the teacher-forced call, any lengths.

        Keras would declare the shapes of the first call (fixed lengths,
        float ids). The default here is int32 ids of any batch and length:
        `serve((source_ids, target_in_ids)) -> logits`.
        """
        if input_signature is None:
            ids = keras.InputSpec(shape=(None, None), dtype="int32")
            input_signature = [(ids, ids)]
        return super().export(
            filepath,
            format=format,
            verbose=verbose,
            input_signature=input_signature,
            **kwargs,
        )

    def load_weights(self, filepath, skip_mismatch=False, **kwargs):
        """`keras.Model.load_weights`, building the model first if needed.

        Keras loads weights only into a built model; `Seq2Seq` builds from
        its config alone, so `Seq2Seq(**config).load_weights(path)` reads
        a `ModelCheckpoint`'s `.weights.h5` as it is.
        """
        if not self.built:
            self.build()
        return super().load_weights(
            filepath, skip_mismatch=skip_mismatch, **kwargs
        )


def frozen_layers(model):
    """Names of the layers inside `model` whose `trainable` is False, as
    paths from it: `"source_embedding"`, `"decoder/step/cell"`."""
    return [name for name, layer in _sublayers(model) if not layer.trainable]


def freeze_layers(model, names):
    """Sets `trainable` of every layer inside `model`: False for `names`
    (as `frozen_layers` gives them), True for the others.

    A layer's flag also sets its sublayers', so a layer is set before its
    sublayers; the model's own flag must be set before this call.
    """
    sublayers = dict(_sublayers(model))
    unknown = sorted(set(names) - set(sublayers))
    if unknown:
        raise ValueError(
            f"`frozen_layers` names layers that {model.name} does not have: "
            f"{unknown}. Its layers: {sorted(sublayers)}"
        )
    for name, layer in sublayers.items():
        layer.trainable = name not in names


def _sublayers(layer, prefix=""):
    """`(path, layer)` of every layer inside `layer`, each before its own
    sublayers (Keras' tracked sublayers, those `Model.layers` lists)."""
    for sublayer in layer._flatten_layers(include_self=False, recursive=False):
        path = prefix + sublayer.name
        yield path, sublayer
        yield from _sublayers(sublayer, path + "/")
