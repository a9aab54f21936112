import keras
from keras import ops

from nndl_keras.losses._targets import as_vectors


@keras.saving.register_keras_serializable(package="nndl_keras")
class QuadraticCost(keras.losses.Loss):
    """The book's quadratic cost, C_x = ½‖y − a‖² (chapter 1, equation 6).

    Summed over the output neurons and averaged over the mini-batch, so that
    SGD with learning rate η takes the book's step w ← w − (η/m) Σ_x ∇C_x.
    Keras's `"mse"` averages over the outputs instead, which divides the
    gradient by the number of outputs and changes what η = 3.0 means.

    Args:
        reduction: how per-example costs are reduced; the default
            `"sum_over_batch_size"` is the book's mean over the mini-batch.
        name: name of the loss instance.
        dtype: dtype of the computation, defaults to the global float type.

    Targets may be integer labels shaped (N,) or (N, 1) (one-hot encoded
    here, as the book's `vectorized_result` does) or vectors shaped like the
    predictions; a (N, 1) target for a single output is a value, not a label.

    Example:

    >>> import numpy as np
    >>> cost = QuadraticCost()
    >>> float(cost(np.array([1]), np.array([[0.0, 0.5]])))
    0.125
    """

    def __init__(self, reduction="sum_over_batch_size", name="quadratic_cost", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        y_true = as_vectors(y_true, y_pred)
        return 0.5 * ops.sum(ops.square(y_true - y_pred), axis=-1)

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction, "dtype": self.dtype}
