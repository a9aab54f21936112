"""Chapter 1: network.py, a sigmoid net trained by mini-batch SGD on the quadratic cost."""

from nndl_keras.models import feedforward
from nndl_keras.recipes import BookResult, Hyperparameters, Recipe, register

# network.SGD(training_data, 30, 10, 3.0, test_data=test_data) with Init-A.
# Chapter 1 quotes the best of three runs: with N(0, 1) weights and the
# quadratic cost, a run whose output neurons start saturated learns slowly.
NETWORK_PY = Hyperparameters(
    layers=(784, 30, 10),
    activation="sigmoid",
    cost="quadratic",
    init="large",
    eta=3.0,
    batch_size=10,
    epochs=30,
    train_size=50_000,
)

register(
    Recipe(
        name="ch1-sgd",
        chapter=1,
        description="[784, 30, 10] sigmoid net, quadratic cost, mini-batch SGD (network.py)",
        hparams=NETWORK_PY,
        book=BookResult(0.9542, split="test", at="best", runs=3, source="ch1-30h"),
        build=feedforward,
    )
)

register(
    Recipe(
        name="ch1-sgd-100",
        chapter=1,
        description="the same with 100 hidden neurons",
        hparams=NETWORK_PY.replace(layers=(784, 100, 10)),
        book=BookResult(0.9659, split="test", at="best", runs=3, source="ch1-100h"),
        build=feedforward,
    )
)
