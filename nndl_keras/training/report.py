"""A finished run's report: its numbers measured as the book measured them, the verdict, the files."""

import dataclasses
import shutil

import numpy as np

from nndl_keras.provenance import provenance, versions
from nndl_keras import files

MODEL_FILE = "model.keras"
CURVE_FILE = "learning_curve.png"
CHECKPOINTS = "checkpoints"


def describe(recipe, hp):
    """What every record starts with: the recipe, its hyperparameters and the book's number."""
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
    metrics = describe(recipe, hp)
    if not history.get("epoch"):  # diverged in its first epoch: nothing measured
        return {**metrics, "history": history, "epochs_run": 0}
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
        measured_accuracy={"best": max(on_split), "final": on_split[-1], "first": on_split[0], "best_validation": test[best]}[
            recipe.book.at
        ],
    )
    return metrics


def metrics(recipe, hp, history, extra, trained, out, **context):
    """The run's record: the measurements against the book, what the recipe's own report adds,
    and `context` (engine, device, precision, data, times), versions and provenance."""
    found = summarize(recipe, hp, history) if history else describe(recipe, hp)
    found.update(extra)
    if trained is not None and recipe.report is not None:
        found.update(recipe.report(out, trained.callbacks, found) or {})
    if recipe.book.accuracy is not None and found.get("measured_accuracy") is not None:
        found["difference"] = round(found["measured_accuracy"] - recipe.book.accuracy, 6)  # not 0.0042000000000000925
    if recipe.headline is not None:  # what the recipe measures, rather than its accuracy
        found["headline"] = recipe.headline(found)
    found.setdefault("seed", context.pop("seed"))
    return {**found, **context, "versions": versions(), "provenance": provenance()}


def write(recipe, out, model, history, metrics, nets=None):
    """The run's files (each atomically); metrics.json last, then the checkpoints go.

    The learning curve is one net's (`history`), or, for an experiment that
    trains several alike (`nets`, `{label: history}`: an ensemble), a line per net.
    """
    if model is not None:
        files.save_model(model, out / MODEL_FILE)
    title = f"{recipe.name}: {recipe.description}"
    if recipe.baseline is None and history and "validation_accuracy" in history and "test_accuracy" in history:
        from nndl_keras import plots

        plots.learning_curve(history, out / CURVE_FILE, title=title, book=recipe.book)
    elif nets and all("test_accuracy" in net for net in nets.values()):
        from nndl_keras import plots

        plots.learning_curves(nets, out / CURVE_FILE, title=title, book=recipe.book)
    files.write_json(out / files.METRICS_FILE, metrics)
    shutil.rmtree(out / CHECKPOINTS, ignore_errors=True)  # finished: nothing left to resume


def verdict(metrics):
    """The run's last line: measured against the book's number."""
    if metrics.get("diverged"):
        return f"  diverged at epoch {metrics['diverged']['epoch']} (cost {metrics['diverged']['cost']}); kept the model before it"
    if metrics.get("headline"):  # a recipe that measures something other than an accuracy says what
        return f"  {metrics['headline']}"
    if metrics.get("measured_accuracy") is None:
        return "  done"
    measured, book = f"{100 * metrics['measured_accuracy']:.2f}%", metrics["book"]
    if metrics["book_accuracy"] is None:
        return f"  measured {measured} ({book['split']}, {book['at']}); book: not reported"
    return (
        f"  measured {measured} ({book['split']}, {book['at']}) against the book's "
        f"{100 * metrics['book_accuracy']:.2f}% ({100 * metrics['difference']:+.2f} points)"
    )
