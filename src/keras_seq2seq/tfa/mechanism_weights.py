"""`AttentionMechanism`'s weights and configuration, in TFA's terms.

A mixin of `AttentionMechanism` (`attention_mechanism.py`): `weights` in
TFA's `get_weights()` order (the class's `WEIGHT_ORDER`), `set_weights`,
which recomputes the keys of a memory already set up, and the config
round trip (`get_config` of the class's `CONFIG_KEYS`, `from_config`, and
TFA's `deserialize_inner_layer_from_config`).
"""

import keras

from keras_seq2seq.tfa.memory_checks import resolve


class MechanismWeights:
    """`AttentionMechanism`'s weights and config (a mixin of it, before
    `keras.layers.Layer`, whose methods these extend)."""

    def get_config(self):
        config = {name: getattr(self, name) for name in self.CONFIG_KEYS}
        if "probability_fn" in config:
            config["probability_fn"] = self.probability_fn_name  # TFA's
        if hasattr(self, "kernel_initializer"):  # the Bahdanau ones (TFA's)
            config["kernel_initializer"] = keras.initializers.serialize(
                keras.initializers.get(self.kernel_initializer)
            )
        for name, layer in self.given_layers.items():
            config[name] = keras.saving.serialize_keras_object(layer)
        # As TFA's: the memory is a tensor, not configuration; a mechanism
        # made from the config has none until `setup_memory`.
        config["memory"] = None
        return {**super().get_config(), **config}

    @classmethod
    def from_config(cls, config):
        return cls(**cls.deserialize_inner_layer_from_config(config))

    @classmethod
    def deserialize_inner_layer_from_config(cls, config, custom_objects=None):
        """A copy of `config` with its `query_layer` and `memory_layer`
        made layers again (TFA's helper for a subclass's `from_config`)."""
        config = dict(config)
        for name in ("memory_layer", "query_layer"):
            if isinstance(config.get(name), dict):
                config[name] = keras.saving.deserialize_keras_object(
                    config[name], custom_objects=custom_objects
                )
        return config

    @property
    def weights(self):
        # TFA's order (Keras 2's: a layer's own variables, then its
        # sublayers'): the core's variables, any a subclass added, then
        # the core's layers. A mechanism of a program's own: Keras' order.
        variables, layer_weights = [], []
        for path in self.WEIGHT_ORDER:
            found = resolve(self.core, path)
            if isinstance(found, keras.layers.Layer):
                layer_weights.extend(found.weights)
            elif found is not None:
                variables.append(found)
        listed = {id(w) for w in variables + layer_weights}
        added = [w for w in super().weights if id(w) not in listed]
        return variables + added + layer_weights

    def set_weights(self, weights):
        super().set_weights(weights)
        if self._raw_memory is not None:
            self.setup_memory(
                self._raw_memory[0], memory_mask=self._raw_memory[1]
            )
