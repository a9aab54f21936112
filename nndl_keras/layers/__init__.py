"""The book's layers as Keras layers.

Dropout is Keras's own `keras.layers.Dropout`. network3 drops a layer's inputs
with probability p during training and scales the weighted input by (1 − p) at
test time; Keras's inverted dropout scales the kept inputs by 1/(1 − p) during
training and does nothing at test time. The two give the same expected weighted
input at training and test time, and the same test-time network up to a fixed
rescaling of the weights by (1 − p), which SGD absorbs; both draw a fresh
mask for every mini-batch.
"""

from nndl_keras.layers.conv_pool_2d import ConvPool2D
from nndl_keras.layers.perceptron import Perceptron
from nndl_keras.layers.pixel_shift import DIRECTIONS, PixelShift, shift_images
from nndl_keras.layers.step_pair import StepPair

__all__ = ["DIRECTIONS", "ConvPool2D", "Perceptron", "PixelShift", "StepPair", "shift_images"]
