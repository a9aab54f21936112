import keras

from nndl_keras.regularizers.weights import squared_weights


@keras.saving.register_keras_serializable(package="nndl_keras")
class Network3L2(keras.regularizers.L2):
    """network3's L2 regularisation: ½ λ Σ w² / (n/m) per mini-batch (chapter 6).

    network3 adds 0.5·λ·Σw² divided by the number of mini-batches n/m to each
    mini-batch's mean cost, so its update is w ← (1 − ηλm/n) w − …: a network3
    λ equals a network2 λ divided by m (λ = 0.1 with m = 10 decays weights like
    network2's λ = 1.0). It is Keras's `L2(l2=λm / (2n))`; the sum covers conv,
    fully connected and softmax weights, never biases.

    Args:
        lmbda: network3's λ.
        n: the number of training examples.
        batch_size: the mini-batch size m.

    Example:

    >>> reg = Network3L2(lmbda=0.1, n=50_000, batch_size=10)
    >>> reg.l2
    1e-05
    """

    def __init__(self, lmbda, n, batch_size):
        if n <= 0 or batch_size <= 0:
            raise ValueError(f"n and batch_size must be positive, got {n} and {batch_size}")
        self.lmbda = float(lmbda)
        self.n = int(n)
        self.batch_size = int(batch_size)
        super().__init__(l2=self.lmbda * self.batch_size / (2.0 * self.n))

    def book_cost(self, model, set_size):
        """network3's L2 term, 0.5·λ·Σw² / num_training_batches, whatever the set
        (`set_size` is not used: network3 divides by the training set's n/m)."""
        return 0.5 * self.lmbda * squared_weights(model) / (self.n / self.batch_size)

    def get_config(self):
        return {"lmbda": self.lmbda, "n": self.n, "batch_size": self.batch_size}
