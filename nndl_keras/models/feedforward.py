"""The book's fully connected networks (network.py and network2.py)."""

import keras

from nndl_keras import initializers, layers, losses, regularizers

COSTS = {
    "quadratic": losses.QuadraticCost,
    "cross_entropy": losses.CrossEntropyCost,
    "log_likelihood": losses.LogLikelihoodCost,
}


def weight_initializer(init, pool_size=(1, 1)):
    """The kernel initializer for the book's `init` name."""
    if init == "large":
        return initializers.StandardNormal()
    if init == "default":
        return initializers.DefaultWeightInitializer()
    if init == "network3":
        return initializers.Network3WeightInitializer(pool_size=pool_size)
    raise ValueError(f"unknown initialisation {init!r}: use 'large', 'default' or 'network3'")


def l2_regularizer(hp):
    """The book's L2 term for `hp`, or `None` when λ is 0."""
    if not hp.lmbda:
        return None
    if hp.l2 == "network3":
        return regularizers.Network3L2(hp.lmbda, hp.train_size, hp.batch_size)
    return regularizers.Network2L2(hp.lmbda, hp.train_size)


def dropout_layer(hp):
    """The dropout `hp` asks for: the book's (`Network3Dropout`) or Keras's inverted `Dropout`."""
    if hp.dropout_style == "book":
        return layers.Network3Dropout(hp.dropout)
    return keras.layers.Dropout(hp.dropout)


def compile_for_sgd(model, hp):
    """Compiles `model` for the book's SGD: step η on the mini-batch mean gradient of `hp.cost`.

    Example:

    >>> from nndl_keras.recipe import Hyperparameters
    >>> model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(10, activation="sigmoid")])
    >>> model = compile_for_sgd(model, Hyperparameters(layers=(784, 10), cost="cross_entropy", eta=0.5))
    >>> type(model.loss).__name__, round(float(model.optimizer.learning_rate), 3)
    ('CrossEntropyCost', 0.5)
    """
    if hp.cost not in COSTS:
        raise ValueError(f"unknown cost {hp.cost!r}: use one of {', '.join(COSTS)}")
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=hp.eta, momentum=hp.momentum),
        loss=COSTS[hp.cost](),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    return model


def feedforward(hp, name=None):
    """A compiled fully connected net with the book's layers, neurons, initialisation and L2.

    Args:
        hp: `Hyperparameters`; `hp.layers` lists the layer sizes, input first.
        name: the model's name.

    Example:

    >>> from nndl_keras.recipe import Hyperparameters
    >>> model = feedforward(Hyperparameters(layers=(784, 30, 10), eta=3.0))
    >>> model.count_params()
    23860
    """
    sizes = hp.layers
    regularizer = l2_regularizer(hp)
    model = keras.Sequential(name=name)
    model.add(keras.Input(shape=(sizes[0],)))
    rotation = hp.options.get("rotation_degrees")
    if rotation:  # chapter 3's expanded data: each image rotated by a small random angle
        side = int(round(sizes[0] ** 0.5))
        model.add(keras.layers.Reshape((side, side, 1)))
        model.add(keras.layers.RandomRotation(rotation / 360.0, fill_mode="constant", fill_value=0.0))
        model.add(keras.layers.Flatten())
    for i, units in enumerate(sizes[1:], start=1):
        output = i == len(sizes) - 1
        if hp.dropout and i > 1:  # drop hidden neurons (chapter 3, "Dropout")
            model.add(dropout_layer(hp))
        model.add(
            keras.layers.Dense(
                units,
                activation=hp.output_activation if output else hp.activation,
                kernel_initializer=weight_initializer(hp.init),
                bias_initializer=initializers.StandardNormal(),
                kernel_regularizer=regularizer,
                name="output" if output else f"hidden_{i}",
            )
        )
    return compile_for_sgd(model, hp)
