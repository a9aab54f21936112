"""The book's expanded training set (chapter 6, `expand_mnist.py`).

Each of the 50,000 training images, followed by its copies shifted by one pixel
down, up, right and left with the vacated row or column zero-filled: 250,000
images, shuffled once. Held as uint8 (196 MB rather than 784 MB of float32);
the runner scales them to [0, 1] on the fly.
"""

import functools

import numpy as np

from nndl_keras.data.mnist import Split

COPIES = 5  # the image itself and four shifts


def shifted_copies(images):
    """`(n, 28, 28)` images -> `(n, 5, 28, 28)`: each image, then down, up, right, left.

    The same as `expand_mnist.py`'s np.roll-and-zero, and as
    `nndl_keras.layers.shift_images` for each direction, done for all images at once.
    """
    n, h, w = images.shape
    out = np.zeros((n, COPIES, h, w), dtype=images.dtype)
    out[:, 0] = images
    out[:, 1, 1:, :] = images[:, :-1, :]  # down: row 0 vacated
    out[:, 2, :-1, :] = images[:, 1:, :]  # up: last row vacated
    out[:, 3, :, 1:] = images[:, :, :-1]  # right: column 0 vacated
    out[:, 4, :, :-1] = images[:, :, 1:]  # left: last column vacated
    return out


def expand(training, seed=0):
    """The expanded set for a `Split` of flattened images in [0, 1].

    Returns:
        A `Split` of 5·n uint8 images (0..255) with their labels, shuffled once
        with `seed` (the book shuffles once too, with Python's unseeded RNG).
    """
    images = np.rint(training.x.reshape(-1, 28, 28) * 255).astype(np.uint8)
    copies = shifted_copies(images).reshape(-1, 28 * 28)
    labels = np.repeat(training.y, COPIES)
    order = np.random.default_rng(seed).permutation(len(labels))
    return Split(copies[order], labels[order])


@functools.lru_cache(maxsize=2)
def _expanded(data, seed):
    return expand(data.training, seed)


def expanded_training(data, seed=0):
    """The expanded training set of an `MNIST`, built once per process (a few seconds)."""
    return _expanded(data, seed)
