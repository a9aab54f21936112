import keras
from keras import ops


@keras.saving.register_keras_serializable(package="nndl_keras")
class Perceptron(keras.layers.Layer):
    """Perceptrons: step-activation neurons (chapter 1, equation 2).

    Each neuron outputs 1 if w·x + b > 0 and 0 otherwise. A perceptron with
    weights (−2, −2) and bias 3 is a NAND gate, and NAND gates compute anything:
    chapter 1 adds two bits with them. The step has zero derivative wherever it
    is defined, so these neurons are set by hand, not learned by gradient
    descent; the weights are created non-trainable for that reason.

    Args:
        units: number of perceptrons.
        kernel_initializer: initializer for the weights (set them with
            `set_weights` to build a circuit).
        bias_initializer: initializer for the biases.
        **kwargs: base `Layer` arguments.

    Example:

    >>> import numpy as np
    >>> nand = Perceptron(1)
    >>> nand.build((None, 2))
    >>> nand.set_weights([np.array([[-2.0], [-2.0]]), np.array([3.0])])
    >>> np.asarray(nand(np.array([[0., 0.], [0., 1.], [1., 0.], [1., 1.]]))).ravel().tolist()
    [1.0, 1.0, 1.0, 0.0]
    """

    def __init__(self, units, kernel_initializer="zeros", bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.supports_masking = True  # per example (per time step), as Dense: a mask passes through

    def build(self, input_shape):
        self.kernel = self.add_weight(
            shape=(input_shape[-1], self.units), initializer=self.kernel_initializer, trainable=False, name="kernel"
        )
        self.bias = self.add_weight(shape=(self.units,), initializer=self.bias_initializer, trainable=False, name="bias")

    def call(self, inputs):
        z = ops.matmul(inputs, self.kernel) + self.bias
        return ops.cast(ops.greater(z, 0), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            }
        )
        return config
