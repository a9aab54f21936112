"""Target handling shared by the costs."""

from keras import ops


def as_vectors(y_true, y_pred):
    """The book's `vectorized_result`: integer labels become one-hot vectors.

    Targets already shaped like `y_pred` are returned unchanged (cast to its dtype).
    """
    if len(y_true.shape) == len(y_pred.shape) - 1:
        return ops.one_hot(ops.cast(y_true, "int32"), y_pred.shape[-1], dtype=y_pred.dtype)
    return ops.cast(y_true, y_pred.dtype)
