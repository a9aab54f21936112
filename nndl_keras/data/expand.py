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


# Where each copy's pixels go and come from, as (rows, columns) slices: the image
# itself, then shifted down, up, right and left (the vacated row or column stays 0).
_ALL, _HEAD, _TAIL = slice(None), slice(None, -1), slice(1, None)
SHIFTS = (
    ((_ALL, _ALL), (_ALL, _ALL)),
    ((_TAIL, _ALL), (_HEAD, _ALL)),
    ((_HEAD, _ALL), (_TAIL, _ALL)),
    ((_ALL, _TAIL), (_ALL, _HEAD)),
    ((_ALL, _HEAD), (_ALL, _TAIL)),
)


def shifted_copies(images):
    """`(n, 28, 28)` images -> `(n, 5, 28, 28)`: each image, then down, up, right, left.

    The same as `expand_mnist.py`'s np.roll-and-zero, and as
    `nndl_keras.layers.shift_images` for each direction, done for all images at once.
    """
    out = np.zeros((images.shape[0], COPIES, *images.shape[1:]), dtype=images.dtype)
    for copy, (to, source) in enumerate(SHIFTS):
        out[:, copy][(_ALL, *to)] = images[(_ALL, *source)]
    return out


def shifted(images, copies):
    """`(n, 28, 28)` images, image i as its copy `copies[i]` (0 itself, 1-4 down, up, right, left)."""
    out = np.empty_like(images)
    for copy, (to, source) in enumerate(SHIFTS):
        which = np.flatnonzero(copies == copy)
        moved = np.zeros((len(which), *images.shape[1:]), dtype=images.dtype)
        moved[(_ALL, *to)] = images[which][(_ALL, *source)]
        out[which] = moved
    return out


def expand(training, seed=0, size=None):
    """The expanded set for a `Split` of flattened images in [0, 1], or its first `size` images.

    The 5·n images are shuffled once with `seed` (the book shuffles once too,
    with Python's unseeded RNG), so the first `size` are a sample of every
    copy; only they are built (a quick run on 5,000 images builds 5,000).

    Returns:
        A `Split` of uint8 images (0..255) with their labels.
    """
    order = np.random.default_rng(seed).permutation(COPIES * len(training))[:size]
    originals, copies = np.divmod(order, COPIES)  # expanded image i is copy i % 5 of image i // 5
    needed, each = np.unique(originals, return_inverse=True)  # as uint8 once each, then copied
    images = np.rint(training.x[needed].reshape(-1, 28, 28) * 255).astype(np.uint8)[each]
    return Split(shifted(images, copies).reshape(-1, 28 * 28), training.y[originals])


@functools.lru_cache(maxsize=2)
def _expanded(data, seed, size):
    return expand(data.training, seed, size)


def expanded_training(data, seed=0, size=None):
    """The expanded training set of an `MNIST` (its first `size` images), built once per process."""
    return _expanded(data, seed, size)
