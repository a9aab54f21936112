"""Chapter 3, "Weight initialization": N(0, 1/n_in) weights learn faster than N(0, 1)."""

import numpy as np

from nndl_keras import book, plots
from nndl_keras.models import feedforward
from nndl_keras.recipes import BookResult, Hyperparameters, Recipe, register

SETUP = Hyperparameters(
    layers=(784, 30, 10), cost="cross_entropy", init="default", eta=0.1, lmbda=5.0, batch_size=10, epochs=30
)
BOOK_NAMES = {"default": "default_weight_initialization", "large": "large_weight_initialization"}


def compare_initialisations(session):
    curves, specs = {}, []
    for hidden in (30, 100):
        ours, theirs = {}, {}
        figure = book.figure(f"weight_initialization_{hidden}")
        for init in ("large", "default"):
            hp = session.hp.replace(layers=(784, hidden, 10), init=init)
            trained = session.train(hp, monitor=("validation_accuracy",), label=f"{hidden} hidden, {init} init")
            history = trained.history
            curves[f"{hidden}-{init}"] = history["validation_accuracy"]
            ours[init] = (history["epoch"], 100 * np.array(history["validation_accuracy"]))
            book_hits = np.array(figure[BOOK_NAMES[init]][1]) / 100  # counts of 10,000 -> %
            theirs[init] = (np.arange(1, len(book_hits) + 1), book_hits)
        specs.append({"title": f"{hidden} hidden neurons", "ylabel": "validation accuracy (%)", "ours": ours, "book": theirs})
    plots.panels(session.output_dir / "weight_initialization.png", "N(0, 1/n_in) against N(0, 1) weights", specs)
    return {
        "validation_accuracy_per_epoch": curves,
        "first_epoch_validation": {k: v[0] for k, v in curves.items()},
        "final_validation": {k: v[-1] for k, v in curves.items()},
        "measured_accuracy": curves["30-default"][0],
    }


register(
    Recipe(
        name="ch3-init",
        chapter=3,
        description="default N(0, 1/n_in) against large N(0, 1) weights, 30 and 100 hidden neurons",
        hparams=SETUP,
        book=BookResult(0.9270, split="validation", at="first", source="ch3-winit-30-new (large: 86.43%)"),
        build=feedforward,
        experiment=compare_initialisations,
    )
)
