"""Chapter 3: how the learning rate shapes the training cost (eta 0.025, 0.25, 2.5)."""

import numpy as np

from nndl_keras import book, plots
from nndl_keras.models import feedforward
from nndl_keras.recipes import BookResult, Hyperparameters, Recipe, register

ETAS = (0.025, 0.25, 2.5)
SETUP = Hyperparameters(
    layers=(784, 30, 10), cost="cross_entropy", init="default", eta=0.25, lmbda=5.0, batch_size=10, epochs=30
)


def compare_learning_rates(session):
    ours, theirs, final = {}, {}, {}
    for eta, book_run in zip(ETAS, book.figure("multiple_eta")):
        hp = session.hp.replace(eta=eta)
        trained = session.train(hp, monitor=("training_cost", "validation_accuracy"), label=f"eta {eta}")
        cost = trained.history["training_cost"]
        ours[f"eta {eta}"] = (trained.history["epoch"], cost)
        theirs[f"eta {eta}"] = (np.arange(1, len(book_run[2]) + 1), book_run[2])
        final[str(eta)] = cost[-1]
    spec = {"title": "cost on the training data", "ylabel": "cost", "ours": ours, "book": theirs}
    plots.panels(session.output_dir / "multiple_eta.png", "Three learning rates", [spec])
    return {
        "final_training_cost": final,
        "book_final_training_cost": {str(e): run[2][-1] for e, run in zip(ETAS, book.figure("multiple_eta"))},
        "training_cost_per_epoch": {k: v[1] for k, v in ours.items()},
    }


def costs_headline(metrics):
    """The three final training costs against the book's figure."""
    ours, book = metrics["final_training_cost"], metrics["book_final_training_cost"]
    return "final training cost " + ", ".join(f"η {eta}: {ours[eta]:.3f} (book {book[eta]:.3f})" for eta in ours)


register(
    Recipe(
        name="ch3-eta",
        chapter=3,
        description="training cost for eta 0.025, 0.25 and 2.5: smooth, saturating, oscillating",
        hparams=SETUP,
        book=BookResult(None, split="validation", at="final", source="ch3-multi-eta (costs only)"),
        build=feedforward,
        experiment=compare_learning_rates,
        headline=costs_headline,
    )
)
