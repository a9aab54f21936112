import operator

import keras
from keras import ops

from nndl_keras.initializers import Network3WeightInitializer, StandardNormal


@keras.saving.register_keras_serializable(package="nndl_keras")
class ConvPool2D(keras.layers.Layer):
    """network3's `ConvPoolLayer`: convolution, max-pooling, bias, activation (chapter 6).

    The book's convolutional-pooling layer computes, in this order, a valid
    (unpadded, stride 1) convolution with shared weights, non-overlapping
    max-pooling, the addition of one shared bias per feature map, and the
    activation: a = σ(maxpool(w ∗ x) + b). Because the bias is shared across
    each pooling window and σ is monotonic, this equals the familiar
    conv → bias → activation → pool; computing it the book's way pools before the
    activation, so the activation runs on a quarter of the values.

    The default initialisation is network3's: weights N(0, 1/n_out) with
    n_out = filters·kh·kw / (pool area) (`Network3WeightInitializer`) and biases
    N(0, 1) (`StandardNormal`).

    Args:
        filters: number of feature maps.
        kernel_size: local receptive field (the book uses 5×5): an int or a
            tuple of 2 ints, as `Conv2D` takes it (stored as a tuple).
        pool_size: max-pooling window, also its stride (the book uses 2×2):
            an int or a tuple of 2 ints, as `MaxPooling2D` takes it.
        activation: the neurons' activation (`"sigmoid"`, `"tanh"`, `"relu"`).
        kernel_initializer: defaults to network3's, see above.
        bias_initializer: defaults to N(0, 1).
        kernel_regularizer: e.g. `nndl_keras.regularizers.Network3L2`.
        **kwargs: base `Layer` arguments (`name`, `dtype`, ...).

    Input shape: `(batch, height, width, channels)`.
    Output shape: `(batch, (height - kh + 1) // ph, (width - kw + 1) // pw, filters)`.

    Example:

    >>> import numpy as np
    >>> layer = ConvPool2D(20, kernel_size=5, pool_size=2)
    >>> tuple(layer(np.zeros((1, 28, 28, 1), "float32")).shape)
    (1, 12, 12, 20)
    """

    def __init__(
        self,
        filters,
        kernel_size=(5, 5),
        pool_size=(2, 2),
        activation="sigmoid",
        kernel_initializer=None,
        bias_initializer=None,
        kernel_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.pool_size = _pair(pool_size, "pool_size")
        self.activation = keras.activations.get(activation)
        self.kernel_initializer = keras.initializers.get(
            kernel_initializer or Network3WeightInitializer(pool_size=self.pool_size)
        )
        self.bias_initializer = keras.initializers.get(bias_initializer or StandardNormal())
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.input_spec = keras.layers.InputSpec(ndim=4)

    def build(self, input_shape):
        channels = input_shape[-1]
        self.kernel = self.add_weight(
            shape=(*self.kernel_size, channels, self.filters),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            name="kernel",
        )
        self.bias = self.add_weight(shape=(self.filters,), initializer=self.bias_initializer, name="bias")

    def call(self, inputs):
        z = ops.conv(inputs, self.kernel, strides=1, padding="valid")
        z = ops.max_pool(z, pool_size=self.pool_size, strides=self.pool_size, padding="valid")
        return self.activation(z + self.bias)

    def compute_output_shape(self, input_shape):
        batch, height, width, _ = input_shape

        def pooled(size, k, p):
            return None if size is None else (size - k + 1) // p

        return (
            batch,
            pooled(height, self.kernel_size[0], self.pool_size[0]),
            pooled(width, self.kernel_size[1], self.pool_size[1]),
            self.filters,
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": list(self.kernel_size),
                "pool_size": list(self.pool_size),
                "activation": keras.activations.serialize(self.activation),
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            }
        )
        return config


def _pair(value, name):
    """An int or 2 ints as a tuple of 2 positive ints, as Keras's `Conv2D` and `MaxPooling2D` read them."""
    try:
        pair = (operator.index(value),) * 2
    except TypeError:
        try:
            pair = tuple(map(operator.index, value))
        except TypeError:
            pair = ()
    if len(pair) != 2 or min(pair) < 1:
        raise ValueError(f"The `{name}` argument must be an int or a tuple of 2 positive ints. Received {name}={value!r}")
    return pair
