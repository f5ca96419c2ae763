"""`AttentionWrapper`'s weights and configuration, in TFA's terms.

A mixin of `AttentionWrapper` (`attention_wrapper.py`): `weights` and
`set_weights` in TFA's order (the attention layers, the cell, the
mechanisms, then any layer a subclass added), and the config round trip,
which TFA's wrapper did not have.
"""

import keras


class WrapperWeights:
    """`AttentionWrapper`'s weights and config (a mixin of it, before
    `keras.layers.Layer`, whose methods these extend)."""

    def get_config(self):
        # Not TFA's (its wrapper had none). The layers and functions are
        # serialized as Keras objects; as for the mechanisms' memory, an
        # `initial_cell_state` tensor is not configuration.
        serialize = keras.saving.serialize_keras_object
        config = {
            "cell": serialize(self.cell),
            "attention_mechanism": serialize(self.attention_mechanism),
            "attention_layer_size": self.attention_layer_size,
            "alignment_history": self.alignment_history,
            "cell_input_fn": serialize(self.cell_input_fn),
            "output_attention": self.output_attention,
            "initial_cell_state": None,
            "attention_layer": serialize(self.attention_layer),
            "attention_fn": serialize(self.attention_fn),
        }
        return {**super().get_config(), **config}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in (
            "cell",
            "attention_mechanism",
            "cell_input_fn",
            "attention_layer",
            "attention_fn",
        ):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)

    @property
    def weights(self):
        # TFA's order: the attention layers, the cell, the mechanisms (the
        # order the layer tracks them in; see `_tfa_layers`), then those of
        # any layer a subclass added; Keras 2 lists the trainable variables
        # first.
        variables, seen = [], set()
        layer_weights = [layer.weights for layer in self._tfa_layers()]
        for variable in sum(layer_weights, []) + super().weights:
            if id(variable) not in seen:
                seen.add(id(variable))
                variables.append(variable)
        trainable = [v for v in variables if v.trainable]
        return trainable + [v for v in variables if not v.trainable]

    def set_weights(self, weights):
        """Sets the weights from a list in TFA's order (`weights`).

        Raises:
            ValueError: for a list of another length or shapes.
        """
        variables = self.weights
        weights = list(weights)
        if len(weights) != len(variables):
            raise ValueError(
                f"AttentionWrapper has {len(variables)} weights (TFA's order: "
                "attention layers, cell, mechanisms, any other layer's); "
                f"received {len(weights)}."
            )
        values = {id(v): w for v, w in zip(variables, weights, strict=True)}
        # Layer by layer: a mechanism's `set_weights` recomputes the keys of
        # a memory already set up, so that the new kernel takes effect.
        done = set()
        for layer in self._tfa_layers():
            layer.set_weights([values[id(v)] for v in layer.weights])
            done.update(id(v) for v in layer.weights)
        for variable in variables:
            if id(variable) not in done:  # a subclass's own layer's
                variable.assign(values[id(variable)])

    def _tfa_layers(self):
        """The layers holding the wrapper's weights, in TFA's order: the
        order its wrapper set them as attributes (Keras 2 tracked them
        so), a Keras layer given as `attention_fn` or `cell_input_fn`
        included."""
        if self.core is not None:
            own = [self.core.attention_layer]
        else:
            own = list(self.attention_layers or [])
        layers = (
            own
            + [self.attention_fn, self.cell]
            + list(self.attention_mechanisms)
            + [self.cell_input_fn]
        )
        return [x for x in layers if isinstance(x, keras.layers.Layer)]
