"""Chapter 1's adder of two bits, built from NAND perceptrons."""

import keras
import numpy as np

from nndl_keras.layers import Perceptron

# A NAND perceptron: weights −2 on each input, bias 3 (chapter 1).
NAND_WEIGHT, NAND_BIAS = -2.0, 3.0


def nand_adder():
    """The book's figure: x1 + x2 as (sum bit, carry bit), from five NAND gates.

    g1 = NAND(x1, x2); g2 = NAND(x1, g1); g3 = NAND(x2, g1);
    sum = NAND(g2, g3); carry = NAND(g1, g1), which the book draws as one
    perceptron with weight −4 from g1.

    Example:

    >>> import numpy as np
    >>> adder = nand_adder()
    >>> adder.predict(np.array([[0.0, 1.0], [1.0, 1.0]]), verbose=0).tolist()  # 0 + 1 = 01, 1 + 1 = 10
    [[1.0, 0.0], [0.0, 1.0]]
    """
    w, b = NAND_WEIGHT, NAND_BIAS
    bits = keras.Input(shape=(2,), name="bits")
    g1 = Perceptron(1, name="g1")
    layer_1 = g1(bits)
    gates_23 = Perceptron(2, name="g2_g3")
    layer_2 = gates_23(keras.layers.Concatenate()([bits, layer_1]))
    out = Perceptron(2, name="sum_carry")
    outputs = out(keras.layers.Concatenate()([layer_2, layer_1]))
    model = keras.Model(bits, outputs, name="nand_adder")
    g1.set_weights([np.array([[w], [w]]), np.array([b])])
    #                        x1  x2  g1 -> g2, g3
    gates_23.set_weights([np.array([[w, 0], [0, w], [w, w]]), np.array([b, b])])
    #                   g2  g3  g1 -> sum, carry
    out.set_weights([np.array([[w, 0], [w, 0], [0, 2 * w]]), np.array([b, b])])
    return model
