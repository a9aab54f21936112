"""What the costs for sigmoid and softmax outputs share."""

import keras


class OutputCost(keras.losses.Loss):
    """A cost that takes either the output activations or, with `from_logits`, the weighted inputs z."""

    def __init__(self, from_logits=False, reduction="sum_over_batch_size", name=None, dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.from_logits = from_logits

    def get_config(self):
        return {
            "from_logits": self.from_logits,
            "name": self.name,
            "reduction": self.reduction,
            "dtype": self.dtype,
        }
