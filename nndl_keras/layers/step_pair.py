import keras
from keras import ops


@keras.saving.register_keras_serializable(package="nndl_keras")
class StepPair(keras.layers.Layer):
    """Chapter 4's "bump": a pair of steep sigmoid steps at s1 < s2 with height h.

    Two hidden sigmoid neurons with a large weight w and biases −w·s1 and −w·s2
    are steps at s1 and s2; output weights +h and −h turn them into a bump of
    height h on [s1, s2):

        bump(x) = h·σ(w(x − s1)) − h·σ(w(x − s2))

    Adding many bumps approximates any continuous function of one variable,
    the book's visual proof of universality. Each of the layer's `units`
    outputs is one bump; sum them (or feed them to a Dense layer) to build a
    function. s1, s2 and h are the layer's weights.

    Args:
        units: number of bumps.
        steepness: the hidden neurons' weight w (the book uses w = 1000).
        s1_initializer, s2_initializer, height_initializer: initial s1, s2, h.
        **kwargs: base `Layer` arguments.

    Input shape: `(batch, 1)`, or any `(..., 1)`.
    Output shape: `(batch, units)`, or `(..., units)`.

    Example:

    >>> import numpy as np
    >>> bump = StepPair(1)
    >>> bump.build((None, 1))
    >>> bump.set_weights([np.array([0.4]), np.array([0.6]), np.array([0.8])])
    >>> np.round(np.asarray(bump(np.array([[0.2], [0.5], [0.7]])), dtype=float).ravel(), 3).tolist()
    [0.0, 0.8, 0.0]
    """

    def __init__(
        self,
        units,
        steepness=1000.0,
        s1_initializer="zeros",
        s2_initializer="ones",
        height_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = int(units)
        self.steepness = float(steepness)
        self.s1_initializer = keras.initializers.get(s1_initializer)
        self.s2_initializer = keras.initializers.get(s2_initializer)
        self.height_initializer = keras.initializers.get(height_initializer)
        self.supports_masking = True  # per example (per time step), as Dense: a mask passes through

    def build(self, input_shape):
        self.s1 = self.add_weight(shape=(self.units,), initializer=self.s1_initializer, name="s1")
        self.s2 = self.add_weight(shape=(self.units,), initializer=self.s2_initializer, name="s2")
        self.height = self.add_weight(shape=(self.units,), initializer=self.height_initializer, name="height")

    def call(self, inputs):
        w = self.steepness
        return self.height * (ops.sigmoid(w * (inputs - self.s1)) - ops.sigmoid(w * (inputs - self.s2)))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "steepness": self.steepness,
                "s1_initializer": keras.initializers.serialize(self.s1_initializer),
                "s2_initializer": keras.initializers.serialize(self.s2_initializer),
                "height_initializer": keras.initializers.serialize(self.height_initializer),
            }
        )
        return config
