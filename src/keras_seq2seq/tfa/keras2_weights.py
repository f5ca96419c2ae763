"""Keras 2's `add_weight(name, shape, ...)`, as TFA's layers called it."""

# Keras 2's positional order; Keras 3 takes `shape` first and refuses (older
# Keras 3 releases misread) a name given first.
KERAS2_ORDER = (
    "name",
    "shape",
    "dtype",
    "initializer",
    "regularizer",
    "trainable",
    "constraint",
)


class Keras2Weights:
    """`add_weight` that also takes Keras 2's positional arguments (a
    mixin of the tfa layers, before `keras.layers.Layer`).

    TFA's mechanisms created their weights as `self.add_weight(
    "attention_v", [units], dtype=..., initializer=...)`, and so did the
    subclasses programs wrote on them. A call whose first argument is a
    string takes Keras 2's order (`name, shape, dtype, initializer,
    regularizer, trainable, constraint`); any other call is Keras 3's.
    """

    def add_weight(self, *args, **kwargs):
        if args and isinstance(args[0], str):
            if len(args) > len(KERAS2_ORDER):
                raise TypeError(
                    f"add_weight() takes at most {len(KERAS2_ORDER)} "
                    f"positional arguments (Keras 2's {KERAS2_ORDER}); "
                    f"received {len(args)}."
                )
            for key, value in zip(KERAS2_ORDER, args, strict=False):
                if key in kwargs:
                    raise TypeError(
                        f"add_weight() got multiple values for {key!r}."
                    )
                kwargs[key] = value
            args = ()
        return super().add_weight(*args, **kwargs)
