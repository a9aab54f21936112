import keras


@keras.saving.register_keras_serializable(package="nndl_keras")
class StandardNormal(keras.initializers.RandomNormal):
    """N(0, 1): chapter 1's weights and biases, and every sigmoid bias in the book.

    `network.py` initialises everything with `np.random.randn`; chapter 3 keeps
    it as `large_weight_initializer` and shows why such weights saturate the
    hidden neurons. Keras's `RandomNormal(0.0, 1.0)` is the same distribution;
    this alias names the book's choice and serialises as itself.

    Args:
        seed: an integer, a `keras.random.SeedGenerator` or `None`, as for
            Keras's random initializers. `None` draws a seed from Keras's
            global seed generator (set by `keras.utils.set_random_seed`) and
            records `seed=None` in the config, so a copy made from the config
            (`from_config`, `keras.models.clone_model`) draws weights of its
            own; an integer repeats the same values, a `SeedGenerator` draws
            new ones on every call.

    Example:

    >>> init = StandardNormal(seed=1)
    >>> tuple(init(shape=(784, 30)).shape)
    (784, 30)
    """

    def __init__(self, seed=None):
        super().__init__(mean=0.0, stddev=1.0, seed=seed)

    def get_config(self):
        # Keras's record of the seed as given: None when unseeded (not the
        # default seed drawn), a SeedGenerator serialised.
        return {"seed": super().get_config()["seed"]}
