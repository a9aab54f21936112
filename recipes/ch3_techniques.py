"""Chapter 3's other techniques, which the book describes without running them.

Each changes one thing in the same network2 net ([784, 100, 10], cross-entropy,
N(0, 1/n_in) weights, eta 0.5, lambda 5.0, mini-batch 10, 30 epochs), so their
validation accuracies compare with each other and with `ch3-l2-100`. The book
reports no number for any of them; the README records what they measure here.
"""

import keras

from nndl_keras.callbacks import LearningRateHalving
from nndl_keras.models import feedforward
from nndl_keras.recipes import BookResult, Hyperparameters, Recipe, register

BASE = Hyperparameters(
    layers=(784, 100, 10), cost="cross_entropy", init="default", eta=0.5, lmbda=5.0, batch_size=10, epochs=30
)
# "Early stopping": stop when the best validation accuracy has not improved for ten epochs.
NO_IMPROVEMENT_IN = 10
UNTIL_STOPPED = 200  # epochs at most; the stopping rule ends the run well before


def early_stopping(hp, data):
    return [keras.callbacks.EarlyStopping(monitor="validation_accuracy", mode="max", patience=NO_IMPROVEMENT_IN)]


def halving_schedule(hp, data):
    return [LearningRateHalving(monitor="validation_accuracy", patience=NO_IMPROVEMENT_IN, min_fraction=1 / 128)]


def technique(name, description, hparams, **kwargs):
    register(
        Recipe(
            name=name,
            chapter=3,
            description=description,
            hparams=hparams,
            book=BookResult(None, split="validation", at="best", source="ch3: described, not run"),
            build=feedforward,
            **kwargs,
        )
    )


technique(
    "ch3-softmax",
    "softmax output layer with the log-likelihood cost",
    BASE.replace(output_activation="softmax", cost="log_likelihood"),
)
technique(
    "ch3-early-stopping",
    "stop when validation accuracy has not improved for 10 epochs",
    BASE.replace(epochs=UNTIL_STOPPED),
    callbacks=early_stopping,
)
technique(
    "ch3-eta-schedule",
    "halve eta after 10 epochs without improvement; stop at 1/128 of its start",
    BASE.replace(epochs=UNTIL_STOPPED),
    callbacks=halving_schedule,
)
technique(
    "ch3-momentum",
    "momentum-based gradient descent, mu 0.9 (eta 0.05, so eta/(1 - mu) is 0.5)",
    BASE.replace(momentum=0.9, eta=0.05),
)
technique("ch3-tanh", "tanh hidden neurons (sigmoid outputs)", BASE.replace(activation="tanh", eta=0.1))
technique("ch3-relu", "rectified linear hidden neurons (sigmoid outputs)", BASE.replace(activation="relu", eta=0.1))
# Keras's inverted dropout, as this recipe was measured (README); chapter 3's own
# "halve the outgoing weights at test time" is `--dropout-style book`.
technique(
    "ch3-dropout",
    "dropout: each hidden neuron dropped with probability 0.5 (Keras's inverted dropout)",
    BASE.replace(dropout=0.5, dropout_style="inverted"),
)
technique(
    "ch3-rotations",
    "training data expanded on the fly by random rotations of up to 15 degrees",
    BASE.replace(options={"rotation_degrees": 15}),
    xla=False,  # XLA cannot compile the image transform RandomRotation uses
)
