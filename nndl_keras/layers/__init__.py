"""The book's layers as Keras layers.

`Network3Dropout` is the book's dropout (no rescaling in training, inputs
scaled by 1 − p at inference); Keras's `Dropout` is inverted dropout, a
different experiment for SGD (see `Network3Dropout`).
"""

from nndl_keras.layers.conv_pool_2d import ConvPool2D
from nndl_keras.layers.network3_dropout import Network3Dropout
from nndl_keras.layers.perceptron import Perceptron
from nndl_keras.layers.pixel_shift import DIRECTIONS, PixelShift, shift_images
from nndl_keras.layers.step_pair import StepPair

__all__ = ["DIRECTIONS", "ConvPool2D", "Network3Dropout", "Perceptron", "PixelShift", "StepPair", "shift_images"]
