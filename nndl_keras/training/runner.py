"""The one runner behind every recipe: data → recipe → training → outputs.

`run("ch1-sgd", epochs=3, output_dir="out")` is what `nndl-keras run ch1-sgd
--epochs 3 --output-dir out` calls. It writes to the output directory:

- `metrics.json`: the recipe, the hyperparameters actually used, per-epoch
  training cost and validation/test accuracy, the summary numbers, the book's
  number, wall time and library versions;
- `model.keras`: the trained model (SGD recipes);
- `learning_curve.png`: accuracy and cost per epoch beside the book's number.
"""

import dataclasses
import platform
import sys
import time

import keras
import numpy as np

from nndl_keras import __version__
from nndl_keras.data import expanded_training, load_mnist
from nndl_keras.errors import NNDLError
from nndl_keras.training import outputs
from nndl_keras.training.session import Session, accuracy

MODEL_FILE = "model.keras"
CURVE_FILE = "learning_curve.png"


@dataclasses.dataclass
class RunResult:
    """What `run` returns: the metrics written, where, and the trained model (if any)."""

    metrics: dict
    output_dir: object
    model: object = None


def run(
    recipe,
    *,
    data_dir=None,
    output_dir=None,
    seed=0,
    runs=None,
    engine="auto",
    steps_per_execution=1,
    callbacks=(),
    verbose=1,
    overwrite=False,
    allow_unverified=False,
    **overrides,
):
    """Trains and evaluates one recipe and writes its outputs.

    Args:
        recipe: a `Recipe` or a registered recipe name.
        data_dir: MNIST directory (see `nndl_keras.data.load_mnist`).
        output_dir: where to write; a new `runs/<name>-<time>` when `None`.
        seed: seeds weights, shuffling and dropout (recorded in the metrics).
        runs: train this many times (seeds `seed`, `seed + 1`, ...) and keep the
            run with the best validation accuracy; defaults to the number of
            runs the book took the best of (`recipe.book.runs`).
        engine: `"auto"`, `"fused"` or `"fit"` (see `training.engines`).
        steps_per_execution: mini-batches per device call for the fit engine
            (an accelerator wants hundreds with the book's mini-batch of 10).
        callbacks: more Keras callbacks, called at the start and end of
            training and of every epoch (not per batch: the fused engine runs
            an epoch in one call), after the recipe's own.
        verbose: 0 silent, 1 progress on the terminal.
        overwrite: allow an `output_dir` that already holds a run.
        allow_unverified: use MNIST files whose SHA-256 is not MNIST's.
        **overrides: hyperparameters to change (`epochs=3`, `eta=0.5`, ...).

    Returns:
        A `RunResult`.
    """
    from nndl_keras import recipes

    if isinstance(recipe, str):
        recipe = recipes.get(recipe)
    hp = recipe.hparams.replace(**overrides)
    runs = recipe.book.runs if runs is None else runs
    if runs < 1:
        raise NNDLError(f"runs must be at least 1, got {runs}")

    started = time.perf_counter()
    # Everything that can be refused is checked before the output directory exists.
    data = load_mnist(data_dir, verify=not allow_unverified)
    available = len(expanded_training(data)) if recipe.expanded else len(data.training)
    if hp.train_size > available:
        kind = "expanded training images" if recipe.expanded else "training images"
        raise NNDLError(f"train size {hp.train_size} exceeds the {available} {kind}")
    out = outputs.prepare_output_dir(output_dir, recipe.name, overwrite=overwrite)
    session = Session(
        recipe,
        hp,
        data,
        out,
        seed=seed,
        engine=engine,
        steps_per_execution=steps_per_execution,
        callbacks=tuple(callbacks),
        verbose=verbose,
    )
    session.say(f"{recipe.name}: {recipe.description}")
    session.say(f"  data: {data.source}; book: {recipe.book.describe()}")

    model, engine_name, extra = None, "none", {}
    if recipe.experiment is not None:
        extra = recipe.experiment(session) or {}
        history = extra.pop("history", None)
    elif recipe.baseline is not None:
        history, engine_name = _run_baseline(recipe, hp, data), "baseline"
    else:
        trained, trials = _best_of(session, runs)
        model, history, engine_name = trained.model, trained.history, trained.engine
        extra = {"runs": trials, "seed": trained.seed}

    metrics = summarize(recipe, hp, history) if history else _describe(recipe, hp)
    metrics.update(extra)
    if model is not None and recipe.report is not None:
        metrics.update(recipe.report(out, trained.callbacks, metrics) or {})
    if recipe.book.accuracy is not None and metrics.get("measured_accuracy") is not None:
        metrics["difference"] = metrics["measured_accuracy"] - recipe.book.accuracy
    metrics.setdefault("seed", seed)
    metrics.update(
        engine=engine_name,
        data_source=data.source,
        wall_time_seconds=round(time.perf_counter() - started, 3),
        versions=versions(),
    )
    if model is not None:
        outputs.save_model(model, out / MODEL_FILE)
    if recipe.baseline is None and history and "validation_accuracy" in history and "test_accuracy" in history:
        from nndl_keras import plots

        plots.learning_curve(history, out / CURVE_FILE, title=f"{recipe.name}: {recipe.description}", book=recipe.book)
    outputs.write_json(out / outputs.METRICS_FILE, metrics)
    session.say(_verdict(metrics))
    session.say(f"  wrote {out}")
    return RunResult(metrics=metrics, output_dir=out, model=model)


def _best_of(session, runs):
    """The book's best-of-N protocol: train N seeds, keep the best on validation."""
    best, trials = None, []
    for run_seed in range(session.seed, session.seed + runs):
        label = f"Run {run_seed - session.seed + 1}/{runs}" if runs > 1 else None
        trained = session.train(seed=run_seed, label=label)
        score = max(trained.history["validation_accuracy"])
        trials.append({"seed": run_seed, "best_validation_accuracy": score})
        if best is None or score > max(best.history["validation_accuracy"]):
            best = trained
    return best, trials


def _run_baseline(recipe, hp, data):
    training = data.training.take(hp.train_size)
    tick = time.perf_counter()
    predict = recipe.baseline(training.x, training.y, hp)
    return {
        "epoch": [1],
        "loss": [None],
        "validation_accuracy": [accuracy(predict(data.validation.x), data.validation.y)],
        "test_accuracy": [accuracy(predict(data.test.x), data.test.y)],
        "seconds": [time.perf_counter() - tick],
    }


def _describe(recipe, hp):
    return {
        "recipe": recipe.name,
        "chapter": recipe.chapter,
        "description": recipe.description,
        "hyperparameters": hp.to_dict(),
        "book": dataclasses.asdict(recipe.book),
        "book_accuracy": recipe.book.accuracy,
        "measured_accuracy": None,
        "difference": None,
    }


def summarize(recipe, hp, history):
    """The metrics of a finished training, measured the way the book measured its number."""
    metrics = _describe(recipe, hp)
    metrics.update(history=history, epochs_run=history["epoch"][-1], seconds_per_epoch=float(np.mean(history["seconds"])))
    validation, test = history.get("validation_accuracy"), history.get("test_accuracy")
    if not validation or not test:
        return metrics
    # network3 keeps the later epoch on a tie (>=), so search from the end.
    best = len(validation) - 1 - int(np.argmax(validation[::-1]))
    on_split = validation if recipe.book.split == "validation" else test
    metrics.update(
        test_accuracy=test[-1],
        validation_accuracy=validation[-1],
        best_test_accuracy=max(test),
        best_validation_accuracy=validation[best],
        best_validation_epoch=history["epoch"][best],
        test_accuracy_at_best_validation=test[best],
        measured_accuracy={
            "best": max(on_split),
            "final": on_split[-1],
            "first": on_split[0],
            "best_validation": test[best],
        }[recipe.book.at],
    )
    return metrics


def _verdict(metrics):
    if metrics.get("measured_accuracy") is None:
        return "  done"
    measured = f"{100 * metrics['measured_accuracy']:.2f}%"
    book = metrics["book"]
    if metrics["book_accuracy"] is None:
        return f"  measured {measured} ({book['split']}, {book['at']}); book: not reported"
    return (
        f"  measured {measured} ({book['split']}, {book['at']}) against the book's "
        f"{100 * metrics['book_accuracy']:.2f}% ({100 * metrics['difference']:+.2f} points)"
    )


def versions():
    """Library versions for the record."""
    found = {
        "nndl_keras": __version__,
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
        "numpy": np.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }
    if "tensorflow" in sys.modules:
        found["tensorflow"] = sys.modules["tensorflow"].__version__
    return found
