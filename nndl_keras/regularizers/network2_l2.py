import keras

from nndl_keras.regularizers.weights import squared_weights


@keras.saving.register_keras_serializable(package="nndl_keras")
class Network2L2(keras.regularizers.L2):
    """network2's L2 regularisation: λ/(2n) Σ w² (chapter 3, equation 87).

    n is the size of the whole training set, not of the mini-batch. Added once
    to each mini-batch's mean cost, its gradient λw/n gives the book's update
    w ← (1 − ηλ/n) w − (η/m) Σ_x ∇C_x (equation 93) exactly. It is Keras's
    `L2(l2=λ / (2n))` under the book's parameters; attach it as a
    `kernel_regularizer` only, since the book never regularises biases.

    Args:
        lmbda: the book's λ (`lmbda` in its code).
        n: the number of training examples.

    Example:

    >>> reg = Network2L2(lmbda=5.0, n=50_000)
    >>> reg.l2
    5e-05
    """

    def __init__(self, lmbda, n):
        if n <= 0:
            raise ValueError(f"n must be the training-set size (> 0), got {n}")
        self.lmbda = float(lmbda)
        self.n = int(n)
        super().__init__(l2=self.lmbda / (2.0 * self.n))

    def book_cost(self, model, set_size):
        """The L2 term of network2's `total_cost` for a set of `set_size` examples:
        λ/(2·set_size) Σw², the book dividing by the size of the set it evaluates,
        not the training set's (which changes the reported cost only)."""
        return 0.5 * self.lmbda / set_size * squared_weights(model)

    def get_config(self):
        return {"lmbda": self.lmbda, "n": self.n}
