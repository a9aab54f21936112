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
        seed: integer seed or `None` (Keras's global seed generator).

    Example:

    >>> init = DefaultWeightInitializer(seed=1)
    >>> w = init(shape=(784, 30))
    >>> 0.03 < float(keras.ops.std(w)) < 0.04   # 1/sqrt(784) = 0.0357
    True
    """

    def __init__(self, seed=None):
        super().__init__(scale=1.0, mode="fan_in", distribution="untruncated_normal", seed=seed)

    def get_config(self):
        return {"seed": self.seed}
