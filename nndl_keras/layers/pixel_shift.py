import keras
from keras import ops

# The order of expand_mnist.py: down, up, right, left (np.roll by +1/-1 along
# rows, then columns, zeroing the row or column that wrapped around).
DIRECTIONS = ("down", "up", "right", "left")


def shift_images(images, direction):
    """Shifts a batch of images by one pixel with zero fill, as expand_mnist.py does.

    Args:
        images: tensor of shape `(batch, height, width)` or `(batch, height, width, channels)`.
        direction: one of `"down"`, `"up"`, `"right"`, `"left"`.

    Example:

    >>> import numpy as np
    >>> image = np.arange(1, 5, dtype="float32").reshape(1, 2, 2)  # [[1, 2], [3, 4]]
    >>> np.asarray(shift_images(image, "down")).tolist()
    [[[0.0, 0.0], [1.0, 2.0]]]
    """
    height, width = images.shape[1], images.shape[2]
    rest = [[0, 0]] * (len(images.shape) - 3)
    if direction == "down":
        return ops.pad(images, [[0, 0], [1, 0], [0, 0], *rest])[:, :height]
    if direction == "up":
        return ops.pad(images, [[0, 0], [0, 1], [0, 0], *rest])[:, 1:]
    if direction == "right":
        return ops.pad(images, [[0, 0], [0, 0], [1, 0], *rest])[:, :, :width]
    if direction == "left":
        return ops.pad(images, [[0, 0], [0, 0], [0, 1], *rest])[:, :, 1:]
    raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")


@keras.saving.register_keras_serializable(package="nndl_keras")
class PixelShift(keras.layers.Layer):
    """The book's expanded training data, drawn on the fly (chapter 6).

    `expand_mnist.py` turns each training image into five: itself and its
    copies shifted by one pixel down, up, right and left, with the vacated row
    or column filled with zeros. During training this layer gives each image one
    of those five versions, chosen uniformly (or one of the four shifts when
    `include_original=False`), so every epoch sees the expanded set's
    distribution without holding 250,000 images. At inference it is the identity.

    Args:
        include_original: whether the unshifted image is one of the choices, as
            in the book's expanded set.
        seed: integer seed for the choice of shifts.
        **kwargs: base `Layer` arguments.

    Input shape: `(batch, height, width)` or `(batch, height, width, channels)`.
    Output shape: the same.

    Example:

    >>> import numpy as np
    >>> images = np.zeros((2, 28, 28, 1), "float32")
    >>> tuple(PixelShift(seed=0)(images, training=True).shape)
    (2, 28, 28, 1)
    """

    def __init__(self, include_original=True, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.include_original = bool(include_original)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def call(self, inputs, training=False):
        if not training:
            return inputs
        candidates = [shift_images(inputs, d) for d in DIRECTIONS]
        if self.include_original:
            candidates.insert(0, inputs)
        choice = keras.random.randint(
            (ops.shape(inputs)[0],), 0, len(candidates), seed=self.seed_generator
        )
        one_hot = ops.one_hot(choice, len(candidates), dtype=inputs.dtype)
        one_hot = ops.reshape(one_hot, (-1, len(candidates)) + (1,) * (len(inputs.shape) - 1))
        # Each weight is exactly 0 or 1, so the sum picks one candidate bit for bit.
        return sum(one_hot[:, k] * candidate for k, candidate in enumerate(candidates))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"include_original": self.include_original, "seed": self.seed})
        return config
