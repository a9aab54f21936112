"""MNIST as the book uses it."""

from nndl_keras.data.expand import expand, expanded_training, shifted_copies
from nndl_keras.data.idx import read_idx, write_idx
from nndl_keras.data.mnist import MNIST, Split, load_mnist

__all__ = ["MNIST", "Split", "expand", "expanded_training", "load_mnist", "read_idx", "shifted_copies", "write_idx"]
