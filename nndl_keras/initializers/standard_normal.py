import keras


@keras.saving.register_keras_serializable(package="nndl_keras")
class StandardNormal(keras.initializers.RandomNormal):
    """N(0, 1): chapter 1's weights and biases, and every sigmoid bias in the book.

    `network.py` initialises everything with `np.random.randn`; chapter 3 keeps
    it as `large_weight_initializer` and shows why such weights saturate the
    hidden neurons. Keras's `RandomNormal(0.0, 1.0)` is the same distribution;
    this alias names the book's choice and serialises as itself.

    Args:
        seed: integer seed or `None` (draws from Keras's global seed generator,
            set by `keras.utils.set_random_seed`).

    Example:

    >>> init = StandardNormal(seed=1)
    >>> tuple(init(shape=(784, 30)).shape)
    (784, 30)
    """

    def __init__(self, seed=None):
        super().__init__(mean=0.0, stddev=1.0, seed=seed)

    def get_config(self):
        return {"seed": self.seed}
