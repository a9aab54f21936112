"""Chapter 3: the cross-entropy cost, overfitting, and L2 regularisation (network2)."""

import numpy as np

from nndl_keras import book, plots
from nndl_keras.models import feedforward
from nndl_keras.recipes import BookResult, Hyperparameters, Recipe, register

# network2 with large_weight_initializer(): the chapter's first experiments.
CROSS_ENTROPY = Hyperparameters(
    layers=(784, 30, 10),
    activation="sigmoid",
    cost="cross_entropy",
    init="large",
    eta=0.5,
    lmbda=0.0,
    batch_size=10,
    epochs=30,
    train_size=50_000,
)
EVERYTHING = ("training_cost", "training_accuracy", "test_cost", "test_accuracy", "validation_accuracy")


def against_figure(name, title):
    """A report drawing the book's four curves (`[test cost, test accuracy,
    training cost, training accuracy]` in `fig/<name>.json`) beside ours."""

    def report(out, callbacks, metrics):
        history, hp = metrics["history"], metrics["hyperparameters"]
        test_cost, test_hits, train_cost, train_hits = book.figure(name)
        book_epochs = np.arange(1, len(test_cost) + 1)
        ours = history["epoch"]

        def pair(key, values, scale=1.0):
            return {"ours": {"": (ours, np.array(history[key]) * scale)}, "book": {"": (book_epochs, np.array(values) * scale)}}

        specs = [
            {"title": "cost on the test data", "ylabel": "cost", **pair("test_cost", test_cost)},
            {"title": "accuracy on the test data", "ylabel": "%", **pair("test_accuracy", np.array(test_hits) / 10_000, 100)},
            {"title": "cost on the training data", "ylabel": "cost", **pair("training_cost", train_cost)},
            {
                "title": "accuracy on the training data",
                "ylabel": "%",
                **pair("training_accuracy", np.array(train_hits) / hp["train_size"], 100),
            },
        ]
        plots.panels(out / f"{name}.png", title, specs)
        best = int(np.argmax(history["test_accuracy"]))
        return {
            "peak_test_epoch": history["epoch"][best],
            "final_training_accuracy": history["training_accuracy"][-1],
            "lowest_test_cost_epoch": history["epoch"][int(np.argmin(history["test_cost"]))],
            "book_peak_test_accuracy": max(test_hits) / 10_000,
        }

    return report


def recipe(name, description, hparams, book_result, figure=None, **kwargs):
    register(
        Recipe(
            name=name,
            chapter=3,
            description=description,
            hparams=hparams,
            book=book_result,
            build=feedforward,
            monitor=EVERYTHING if figure else ("validation_accuracy", "test_accuracy"),
            report=against_figure(figure, f"{name}: ours (solid) and the book's (dashed)") if figure else None,
            **kwargs,
        )
    )


recipe(
    "ch3-cross-entropy",
    "[784, 30, 10] sigmoid net, cross-entropy cost, N(0, 1) weights, eta 0.5",
    CROSS_ENTROPY,
    BookResult(0.9549, split="test", at="best", source="ch3-ce-30"),
    figure="overfitting_full",
)
recipe(
    "ch3-cross-entropy-100",
    "the same with 100 hidden neurons",
    CROSS_ENTROPY.replace(layers=(784, 100, 10)),
    BookResult(0.9682, split="test", at="best", source="ch3-ce-100"),
)
recipe(
    "ch3-overfitting",
    "[784, 30, 10] on the first 1,000 images for 400 epochs: the test accuracy stalls, training reaches 100%",
    CROSS_ENTROPY.replace(train_size=1_000, epochs=400),
    BookResult(0.8227, split="test", at="best", source="ch3-overfit-1000"),
    figure="overfitting",
)
recipe(
    "ch3-l2-small",
    "the overfitting net with L2 regularisation, lambda 0.1 (network2: lambda/2n sum w^2)",
    CROSS_ENTROPY.replace(train_size=1_000, epochs=400, lmbda=0.1),
    BookResult(0.871, split="test", at="best", source="ch3-L2-1000"),
    figure="regularized",
)
recipe(
    "ch3-l2",
    "[784, 30, 10] on 50,000 images with L2, lambda 5.0",
    CROSS_ENTROPY.replace(lmbda=5.0),
    BookResult(0.9649, split="test", at="best", source="ch3-full-30-L2"),
    figure="regularized_full",
)
recipe(
    "ch3-l2-100",
    "[784, 100, 10] with L2, lambda 5.0",
    CROSS_ENTROPY.replace(layers=(784, 100, 10), lmbda=5.0),
    BookResult(0.9792, split="validation", at="final", source="ch3-full-100-L2"),
)
recipe(
    "ch3-l2-100-long",
    "[784, 100, 10] with L2, lambda 5.0, eta 0.1, 60 epochs",
    CROSS_ENTROPY.replace(layers=(784, 100, 10), lmbda=5.0, eta=0.1, epochs=60),
    BookResult(0.9804, split="validation", at="final", source="ch3-98.04"),
)
