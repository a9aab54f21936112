"""Chapter 3: more training data beats a cleverer algorithm, and how accuracy grows with it."""

import numpy as np

from nndl_keras import book, plots
from nndl_keras.models import feedforward
from nndl_keras.recipes import BookResult, Hyperparameters, Recipe, register

SIZES = (100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000)
FULL = 50_000
# fig/more_data.py: [784, 30, 10], cross-entropy, N(0, 1) weights, eta 0.5; for
# each size, 1,500,000/size epochs (30 at 50,000) and lambda = size * 0.0001.
SETUP = Hyperparameters(
    layers=(784, 30, 10), cost="cross_entropy", init="large", eta=0.5, lmbda=5.0, batch_size=10, epochs=30
)


def scaled(hp, size):
    """The book's settings for a training set of `size`: same number of steps, lambda in proportion."""
    return hp.replace(train_size=size, epochs=max(1, round(hp.epochs * FULL / size)), lmbda=hp.lmbda * size / FULL)


def more_data(session):
    accuracies = {}
    for size in SIZES:
        hp = scaled(session.hp, size)
        # Only the final validation accuracy counts: epochs run back to back in one call.
        trained = session.train(hp, monitor=("validation_accuracy",), evaluate_every=None, label=f"{size} images, {hp.epochs} epochs")
        accuracies[size] = trained.history["validation_accuracy"][-1]
    ours = 100 * np.array([accuracies[s] for s in SIZES])
    spec = {
        "title": "accuracy against training-set size",
        "xlabel": "training images",
        "ylabel": "validation accuracy (%)",
        "logx": True,
        "ours": {"network": (SIZES, ours)},
        "book": {"network": (SIZES, book.figure("more_data")), "SVM": (SIZES, book.figure("more_data_svm"))},
    }
    plots.panels(session.output_dir / "more_data.png", "More training data", [spec])
    return {
        "validation_accuracy_by_size": {str(s): a for s, a in accuracies.items()},
        "book_validation_accuracy_by_size": {str(s): a / 100 for s, a in zip(SIZES, book.figure("more_data"))},
        "measured_accuracy": accuracies[5_000],
    }


register(
    Recipe(
        name="ch3-more-data",
        chapter=3,
        description="[784, 30, 10] trained on 100 ... 50,000 images (epochs and lambda scaled as the book)",
        hparams=SETUP,
        book=BookResult(0.9324, split="validation", at="final", source="more_data: 93.24% at 5,000 images"),
        build=feedforward,
        experiment=more_data,
    )
)
