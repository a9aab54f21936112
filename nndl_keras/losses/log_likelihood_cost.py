import keras
from keras import ops

from nndl_keras.losses._base import OutputCost
from nndl_keras.losses._targets import as_labels


@keras.saving.register_keras_serializable(package="nndl_keras")
class LogLikelihoodCost(OutputCost):
    """The book's log-likelihood cost for softmax outputs (chapter 3, equation 80).

    C_x = −ln a_y, where y is the correct digit; averaged over the mini-batch.
    With a softmax output layer its gradient with respect to the weighted
    input is a − y, as for cross-entropy with sigmoids. network3 (chapter 6)
    trains every convolutional net with it.

    Args:
        from_logits: whether `y_pred` holds weighted inputs z rather than softmax(z).
        reduction: how per-example costs are reduced (default: batch mean).
        name: name of the loss instance.
        dtype: dtype of the computation, defaults to the global float type.

    Targets may be integer labels, shaped (N,) or (N, 1) as for Keras's
    `SparseCategoricalCrossentropy`, or one-hot vectors.

    Example:

    >>> import numpy as np
    >>> cost = LogLikelihoodCost()
    >>> round(float(cost(np.array([1]), np.array([[0.75, 0.25]]))), 4)
    1.3863
    """

    def __init__(self, from_logits=False, reduction="sum_over_batch_size", name="log_likelihood_cost", dtype=None):
        super().__init__(from_logits=from_logits, reduction=reduction, name=name, dtype=dtype)

    def call(self, y_true, y_pred):
        labels = as_labels(y_true, y_pred)
        if labels is not None:
            return ops.sparse_categorical_crossentropy(labels, y_pred, from_logits=self.from_logits)
        return ops.categorical_crossentropy(y_true, y_pred, from_logits=self.from_logits)
