import keras


@keras.saving.register_keras_serializable(package="nndl_keras")
class DefaultWeightInitializer(keras.initializers.VarianceScaling):
    """N(0, 1/n_in): network2's `default_weight_initializer` (chapter 3, "Weight initialization").

    Scaling the standard deviation by 1/√n_in keeps the weighted input
    z = Σ w x + b of width about 1, so sigmoid neurons start unsaturated. This is
    Keras's `VarianceScaling(scale=1.0, mode="fan_in",
    distribution="untruncated_normal")` (LeCun normal without truncation);
    biases stay N(0, 1) (`StandardNormal`).

    Args:
        seed: an integer, a `keras.random.SeedGenerator` or `None`, as for
            Keras's random initializers. `None` draws a seed from Keras's
            global seed generator (set by `keras.utils.set_random_seed`) and
            records `seed=None` in the config, so a copy made from the config
            (`from_config`, `keras.models.clone_model`) draws weights of its
            own; an integer repeats the same values, a `SeedGenerator` draws
            new ones on every call.

    Example:

    >>> init = DefaultWeightInitializer(seed=1)
    >>> w = init(shape=(784, 30))
    >>> 0.03 < float(keras.ops.std(w)) < 0.04   # 1/sqrt(784) = 0.0357
    True
    """

    def __init__(self, seed=None):
        super().__init__(scale=1.0, mode="fan_in", distribution="untruncated_normal", seed=seed)

    def get_config(self):
        # Keras's record of the seed as given: None when unseeded (not the
        # default seed drawn), a SeedGenerator serialised.
        return {"seed": super().get_config()["seed"]}
