import math

import keras


@keras.saving.register_keras_serializable(package="nndl_keras")
class Network3WeightInitializer(keras.initializers.VarianceScaling):
    """N(0, 1/n_out): the weights of network3's fully connected and conv layers (chapter 6).

    network3 draws weights with standard deviation √(1/n_out), where n_out is
    the layer's number of outputs for a fully connected layer and
    maps·fh·fw / (pool area) for a convolutional-pooling layer (the author later
    called n_out a mistake for n_in, but every chapter-6 number was measured
    with it). Keras's `fan_out` for a conv kernel is maps·fh·fw, so this is
    `VarianceScaling(scale=pool area, mode="fan_out",
    distribution="untruncated_normal")`: std 0.1 for FC→100, 0.089 for the
    20-map conv layer, 0.063 for the 40-map one. network3's softmax layer starts
    at zero (Keras's `"zeros"`); its biases are N(0, 1) (`StandardNormal`).

    Args:
        pool_size: the max-pooling window that follows the convolution (an
            int for a square one, as `MaxPooling2D` takes it), `(1, 1)` for a
            fully connected layer.
        seed: an integer, a `keras.random.SeedGenerator` or `None`, as for
            Keras's random initializers. `None` draws a seed from Keras's
            global seed generator (set by `keras.utils.set_random_seed`) and
            records `seed=None` in the config, so a copy made from the config
            (`from_config`, `keras.models.clone_model`) draws weights of its
            own; an integer repeats the same values, a `SeedGenerator` draws
            new ones on every call.

    Example:

    >>> init = Network3WeightInitializer(pool_size=(2, 2), seed=1)
    >>> w = init(shape=(5, 5, 1, 20))
    >>> 0.08 < float(keras.ops.std(w)) < 0.10   # sqrt(4 / 500) = 0.089
    True
    """

    def __init__(self, pool_size=(1, 1), seed=None):
        self.pool_size = (pool_size, pool_size) if isinstance(pool_size, int) else tuple(pool_size)
        super().__init__(
            scale=float(math.prod(self.pool_size)),
            mode="fan_out",
            distribution="untruncated_normal",
            seed=seed,
        )

    def get_config(self):
        # Keras's record of the seed as given: None when unseeded (not the
        # default seed drawn), a SeedGenerator serialised.
        return {"pool_size": list(self.pool_size), "seed": super().get_config()["seed"]}
