"""The weights the book's L2 term sums over, found through the model's variables."""

import numpy as np


def squared_weights(model):
    """Σw² over the kernels of every layer of `model`, nested layers and models included.

    The book regularises weights only, never biases (chapter 3, equation 87;
    network3 sums the `w` of its conv, fully connected and softmax layers). A
    kernel is found by its variable's name, `kernel`, wherever it sits in the
    model, so a layer inside a layer or a model inside a model counts too.

    Example:

    >>> import keras, numpy as np
    >>> inner = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, kernel_initializer="ones")])
    >>> model = keras.Sequential([keras.Input((2,)), inner, keras.layers.Dense(1, kernel_initializer="ones")])
    >>> float(squared_weights(model))  # 4 ones inside, 2 outside; the biases are not counted
    6.0
    """
    return sum(float(np.sum(np.square(v.numpy()))) for v in model.variables if v.name == "kernel")
