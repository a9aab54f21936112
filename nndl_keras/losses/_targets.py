"""Target handling shared by the costs."""

from keras import ops


def as_labels(y_true, y_pred):
    """Integer labels as a tensor of rank `y_pred`'s minus 1, or `None` if `y_true` holds vectors.

    Labels may come shaped (N,) or, as Keras's sparse losses also take them,
    (N, 1). A (N, 1) target for a (N, 1) output is a vector (one output
    neuron), not a label.
    """
    rank, pred_rank = len(y_true.shape), len(y_pred.shape)
    if rank == pred_rank and rank > 1 and y_true.shape[-1] == 1 and y_pred.shape[-1] not in (1, None):
        y_true, rank = ops.squeeze(y_true, axis=-1), rank - 1
    if rank == pred_rank - 1:
        return ops.cast(y_true, "int32")
    return None


def as_vectors(y_true, y_pred):
    """The book's `vectorized_result`: integer labels become one-hot vectors.

    Labels shaped (N,) or (N, 1) are one-hot encoded; targets already shaped
    like `y_pred` are returned unchanged (cast to its dtype).
    """
    labels = as_labels(y_true, y_pred)
    if labels is not None:
        return ops.one_hot(labels, y_pred.shape[-1], dtype=y_pred.dtype)
    return ops.cast(y_true, y_pred.dtype)
