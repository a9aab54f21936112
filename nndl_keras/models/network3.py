"""Chapter 6's networks as network3 builds them: conv-pool layers, fully connected layers, softmax."""

import keras

from nndl_keras.initializers import Network3WeightInitializer, StandardNormal
from nndl_keras.layers import ConvPool2D
from nndl_keras.models.feedforward import compile_for_sgd, dropout_layer, l2_regularizer

IMAGE = (28, 28, 1)


def network3(hp, name=None):
    """A compiled network3 net.

    `hp.options["conv"]` lists the feature maps of each 5×5 conv + 2×2 max-pool
    layer (`[20, 40]` for the book's two), `hp.layers[1:-1]` the fully connected
    layers after them, `hp.layers[-1]` the softmax outputs. network3's choices
    throughout: N(0, 1/n_out) weights, N(0, 1) biases, a softmax layer that starts
    at zero, L2 scaled per mini-batch (λ/(2n/m) Σw², conv weights included) and,
    with `hp.dropout`, dropout on the inputs of every fully connected and softmax
    layer (never in conv layers), network3's own by default (`Network3Dropout`).

    Example:

    >>> from nndl_keras.recipe import Hyperparameters
    >>> hp = Hyperparameters(layers=(784, 100, 10), activation="relu", cost="log_likelihood",
    ...                      output_activation="softmax", init="network3", options={"conv": [20, 40]})
    >>> network3(hp).count_params()
    85670
    """
    regularizer = l2_regularizer(hp)
    model = keras.Sequential(name=name)
    model.add(keras.Input((hp.layers[0],)))
    conv = hp.options.get("conv", ())
    if conv:
        model.add(keras.layers.Reshape(IMAGE))
        for i, maps in enumerate(conv, start=1):
            model.add(
                ConvPool2D(maps, (5, 5), (2, 2), activation=hp.activation, kernel_regularizer=regularizer, name=f"conv_{i}")
            )
        model.add(keras.layers.Flatten())
    for i, units in enumerate(hp.layers[1:-1], start=1):
        if hp.dropout:
            model.add(dropout_layer(hp))
        model.add(
            keras.layers.Dense(
                units,
                activation=hp.activation,
                kernel_initializer=Network3WeightInitializer(),
                bias_initializer=StandardNormal(),
                kernel_regularizer=regularizer,
                name=f"fc_{i}",
            )
        )
    if hp.dropout:
        model.add(dropout_layer(hp))
    model.add(
        keras.layers.Dense(hp.layers[-1], activation="softmax", kernel_initializer="zeros", kernel_regularizer=regularizer, name="softmax")
    )
    return compile_for_sgd(model, hp)
