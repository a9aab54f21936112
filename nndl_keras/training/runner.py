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
from nndl_keras.data import load_mnist
from nndl_keras.errors import NNDLError
from nndl_keras.training import outputs
from nndl_keras.training.engines import make_engine

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
    callbacks=(),
    verbose=1,
    overwrite=False,
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
        callbacks: more Keras callbacks, called at the start and end of
            training and of every epoch (not per batch: the fused engine runs
            an epoch in one call), after the recipe's own.
        verbose: 0 silent, 1 progress on the terminal.
        overwrite: allow an `output_dir` that already holds a run.
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
    say = print if verbose else (lambda *a, **k: None)

    started = time.perf_counter()
    data = load_mnist(data_dir)  # before creating anything: bad data leaves no empty run behind
    out = outputs.prepare_output_dir(output_dir, recipe.name, overwrite=overwrite)
    training = data.training.take(hp.train_size)
    say(f"{recipe.name}: {recipe.description}")
    say(f"  data: {data.source} ({len(training)} training images); book: {recipe.book.describe()}")

    if recipe.baseline is not None:
        runs = 1  # deterministic: nothing to choose between
    best, trials = None, []
    for run_seed in range(seed, seed + runs):
        if runs > 1:
            say(f"Run {run_seed - seed + 1}/{runs} (seed {run_seed})")
        keras.utils.set_random_seed(run_seed)
        if recipe.baseline is not None:
            model, history, engine_name = None, _run_baseline(recipe, hp, training, data), "baseline"
            run_callbacks = []
        else:
            model = recipe.build(hp)
            trainer = make_engine(model, training.x, training.y, hp.batch_size, run_seed, engine=engine)
            engine_name = trainer.name
            say(f"  engine: {engine_name}, backend: {keras.backend.backend()}")
            run_callbacks = (recipe.callbacks(hp, data) if recipe.callbacks else []) + list(callbacks)
            history = _train(trainer, hp, data, run_callbacks, verbose)
        trials.append({"seed": run_seed, "best_validation_accuracy": max(history["validation_accuracy"])})
        if best is None or trials[-1]["best_validation_accuracy"] > trials[best[0]]["best_validation_accuracy"]:
            best = (len(trials) - 1, model, history, run_callbacks)

    chosen, model, history, run_callbacks = best
    metrics = summarize(recipe, hp, history)
    metrics.update(
        seed=trials[chosen]["seed"],
        runs=trials,
        engine=engine_name,
        data_source=data.source,
        wall_time_seconds=round(time.perf_counter() - started, 3),
        versions=versions(),
    )
    if model is not None:
        outputs.save_model(model, out / MODEL_FILE)
        from nndl_keras import plots

        plots.learning_curve(history, out / CURVE_FILE, title=f"{recipe.name}: {recipe.description}", book=recipe.book)
    if recipe.report is not None:
        metrics.update(recipe.report(out, run_callbacks, metrics) or {})
    outputs.write_json(out / outputs.METRICS_FILE, metrics)
    say(_verdict(metrics))
    say(f"  wrote {out}")
    return RunResult(metrics=metrics, output_dir=out, model=model)


def accuracy(probabilities_or_labels, labels):
    """Fraction of `labels` matched by the argmax of the outputs (or by the labels given)."""
    predicted = np.asarray(probabilities_or_labels)
    if predicted.ndim > 1:
        predicted = predicted.argmax(axis=-1)
    return float(np.mean(predicted == labels))


def _train(trainer, hp, data, callbacks, verbose):
    history = {k: [] for k in ("epoch", "training_cost", "validation_accuracy", "test_accuracy", "seconds")}
    model = trainer.model
    for callback in callbacks:
        callback.set_model(model)
        callback.set_params({"epochs": hp.epochs, "verbose": 0})

    def call(hook, *args):
        # Not keras.callbacks.CallbackList: it hands each callback a copy of the
        # logs, and what callbacks add to them (gradient norms) belongs in history.
        for callback in callbacks:
            getattr(callback, hook)(*args)

    model.stop_training = False
    call("on_train_begin")
    for epoch in range(1, hp.epochs + 1):
        call("on_epoch_begin", epoch - 1)
        tick = time.perf_counter()
        cost = trainer.train_epoch()
        seconds = time.perf_counter() - tick
        validation = accuracy(trainer.predict(data.validation.x), data.validation.y)
        test = accuracy(trainer.predict(data.test.x), data.test.y)
        for key, value in zip(history, (epoch, cost, validation, test, seconds)):
            history[key].append(value)
        logs = {"loss": cost, "val_accuracy": validation, "test_accuracy": test}
        call("on_epoch_end", epoch - 1, logs)
        for key, value in logs.items():  # what callbacks added (gradient norms, ...)
            if key not in ("loss", "val_accuracy", "test_accuracy"):
                history.setdefault(key, []).append(value)
        if verbose:  # one line per epoch, as Keras's fit(verbose=2): readable in logs too
            print(
                f"Epoch {epoch}/{hp.epochs} - {seconds:.2f}s - cost: {cost:.4f} - "
                f"val_accuracy: {validation:.4f} - test_accuracy: {test:.4f}",
                flush=True,
            )
        if model.stop_training:
            break
    call("on_train_end")
    return history


def _run_baseline(recipe, hp, training, data):
    tick = time.perf_counter()
    predict = recipe.baseline(training.x, training.y, hp)
    return {
        "epoch": [1],
        "training_cost": [None],
        "validation_accuracy": [accuracy(predict(data.validation.x), data.validation.y)],
        "test_accuracy": [accuracy(predict(data.test.x), data.test.y)],
        "seconds": [time.perf_counter() - tick],
    }


def summarize(recipe, hp, history):
    """The metrics of a finished run, measured the way the book measured its number."""
    validation, test = history["validation_accuracy"], history["test_accuracy"]
    # network3 keeps the later epoch on a tie (>=), so search from the end.
    best = len(validation) - 1 - int(np.argmax(validation[::-1]))
    on_split = validation if recipe.book.split == "validation" else test
    measured = {
        "best": max(on_split),
        "final": on_split[-1],
        "best_validation": test[best],
    }[recipe.book.at]
    book = recipe.book.accuracy
    return {
        "recipe": recipe.name,
        "chapter": recipe.chapter,
        "description": recipe.description,
        "hyperparameters": hp.to_dict(),
        "history": history,
        "epochs_run": len(test),
        "test_accuracy": test[-1],
        "validation_accuracy": validation[-1],
        "best_test_accuracy": max(test),
        "best_validation_accuracy": validation[best],
        "best_validation_epoch": history["epoch"][best],
        "test_accuracy_at_best_validation": test[best],
        "book": dataclasses.asdict(recipe.book),
        "book_accuracy": book,
        "measured_accuracy": measured,
        "difference": None if book is None else measured - book,
        "seconds_per_epoch": float(np.mean(history["seconds"])),
    }


def _verdict(metrics):
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
