import keras
from keras import ops

from nndl_keras.losses._base import OutputCost
from nndl_keras.losses._targets import as_vectors


@keras.saving.register_keras_serializable(package="nndl_keras")
class CrossEntropyCost(OutputCost):
    """The book's cross-entropy cost for sigmoid outputs (chapter 3, equation 63).

    C_x = −Σ_j [y_j ln a_j + (1 − y_j) ln(1 − a_j)], summed over the output
    neurons and averaged over the mini-batch. Its gradient with respect to the
    output weighted input is a − y, with no σ′(z) factor, which is why it
    learns fast from a badly wrong start.

    Where a is exactly 0 or 1 the book's `np.nan_to_num` keeps the cost finite;
    here the outputs are clipped to [ε, 1 − ε] (Keras's `epsilon()`), and with
    `from_logits=True` the cost is computed from the weighted inputs z without
    any rounding to 0 or 1 at all.

    Targets may be integer labels shaped (N,) or (N, 1) (one-hot encoded, as
    the book's `vectorized_result` does) or vectors shaped like the
    predictions; a (N, 1) target for a single output is a value, not a label.

    Args:
        from_logits: whether `y_pred` holds weighted inputs z rather than σ(z).
        reduction: how per-example costs are reduced (default: batch mean).
        name: name of the loss instance.
        dtype: dtype of the computation, defaults to the global float type.

    Example:

    >>> import numpy as np
    >>> cost = CrossEntropyCost()
    >>> round(float(cost(np.array([[1.0, 0.0]]), np.array([[0.5, 0.5]]))), 4)
    1.3863
    """

    def __init__(self, from_logits=False, reduction="sum_over_batch_size", name="cross_entropy_cost", dtype=None):
        super().__init__(from_logits=from_logits, reduction=reduction, name=name, dtype=dtype)

    def call(self, y_true, y_pred):
        y_true = as_vectors(y_true, y_pred)
        per_output = ops.binary_crossentropy(y_true, y_pred, from_logits=self.from_logits)
        return ops.sum(per_output, axis=-1)
