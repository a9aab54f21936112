"""Run many recipes and tabulate the book's numbers against the measured ones."""

import dataclasses
import json
import time
from pathlib import Path

from nndl_keras import files
from nndl_keras.errors import NNDLError
from nndl_keras.provenance import provenance
from nndl_keras.training import run


@dataclasses.dataclass
class Report:
    """The rows of a reproduction and the files they were written to."""

    rows: list
    markdown: str
    output_dir: Path


def reproduce(
    chapter=None,
    only=(),
    exclude=(),
    epochs_scale=1.0,
    output_dir=None,
    verbose=1,
    **run_kwargs,
):
    """Runs the selected recipes; writes `reproduce.md` and `reproduce.json`.

    Args:
        chapter: only this chapter's recipes.
        only: only these recipe names.
        exclude: skip these recipe names.
        epochs_scale: multiplies each recipe's epochs (rounded, at least 1),
            for quick checks such as `--epochs-scale 0.1`.
        output_dir: root directory; each recipe writes to a subdirectory.
        verbose: 0 silent, 1 progress.
        **run_kwargs: passed to `nndl_keras.run` (`data_dir`, `seed`, `engine`).

    Returns:
        A `Report`.
    """
    from nndl_keras import recipes

    if epochs_scale <= 0:
        raise NNDLError(f"epochs scale must be positive, got {epochs_scale}")
    selected = [recipes.get(name) for name in only] if only else recipes.list_recipes(chapter)
    for name in exclude:
        recipes.get(name)  # an unknown name is an error, not a silent no-op
    selected = [r for r in selected if r.name not in exclude and (chapter is None or r.chapter == chapter)]
    if not selected:
        raise NNDLError("no recipe selected")
    root = Path(output_dir) if output_dir is not None else files.new_run_dir("reproduce")
    if (root / "reproduce.json").exists():
        raise NNDLError(f"{root} already holds a reproduction; choose another --output-dir")
    root.mkdir(parents=True, exist_ok=True)

    rows = []
    for index, recipe in enumerate(selected, start=1):
        epochs = max(1, round(recipe.hparams.epochs * epochs_scale))
        if verbose:
            print(f"[{index}/{len(selected)}] {recipe.name} ({epochs} epochs)")
        tick = time.perf_counter()
        folder = root / recipe.name
        missing = recipe.missing()
        if missing:  # an optional dependency is not installed: say so, go on
            if verbose:
                print(f"  skipped: needs {'; '.join(missing)}")
            rows.append(_row(recipe, epochs, {}, skipped="needs " + "; ".join(missing)))
            continue
        if (folder / files.METRICS_FILE).exists():  # finished before this reproduction was interrupted
            with open(folder / files.METRICS_FILE) as f:
                metrics = json.load(f)
            if verbose:
                print(f"  finished earlier: {folder / files.METRICS_FILE}")
        else:
            resume = (folder / files.RUN_FILE).exists()  # interrupted in this recipe
            metrics = run(recipe, output_dir=folder, epochs=epochs, verbose=verbose, resume=resume, **run_kwargs).metrics
        rows.append(_row(recipe, epochs, metrics, seconds=round(time.perf_counter() - tick, 1)))
    markdown = to_markdown(rows)
    # Where the table came from (each recipe's metrics.json also records its own run).
    files.write_json(root / "reproduce.json", {"epochs_scale": epochs_scale, **provenance(), "rows": rows})
    files.atomic_write(root / "reproduce.md", lambda tmp: Path(tmp).write_text(markdown))
    return Report(rows=rows, markdown=markdown, output_dir=root)


def _row(recipe, epochs, metrics, seconds=None, skipped=None):
    row = {
        "recipe": recipe.name,
        "chapter": recipe.chapter,
        "epochs": epochs,
        "book": recipe.book.accuracy,
        "measured": metrics.get("measured_accuracy"),
        "difference": metrics.get("difference"),
        "measured_on": f"{recipe.book.split}, {recipe.book.at}",
        "seconds": seconds,
    }
    if "passed" in metrics:  # a recipe that checks a claim rather than measuring an accuracy
        row["passed"] = metrics["passed"]
    if metrics.get("headline"):  # one that measures something else (ch5-speed's norms)
        row["headline"] = metrics["headline"]
    if skipped:
        row["skipped"] = skipped
    return row


def _measured(row):
    if row.get("skipped"):
        return f"skipped: {row['skipped']}"
    if row["measured"] is None and "passed" in row:
        return "pass" if row["passed"] else "FAIL"
    if row["measured"] is None and "headline" in row:
        return row["headline"]
    return _percent(row["measured"])


def _percent(value, signed=False):
    if value is None:
        return "–"
    return f"{100 * value:+.2f}" if signed else f"{100 * value:.2f}%"


def to_markdown(rows):
    """The reproduction as a Markdown table."""

    lines = [
        "| recipe | epochs | book | measured | difference (points) | measured on | time (s) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        lines.append(
            f"| {row['recipe']} | {row['epochs']} | {_percent(row['book']) if row['book'] is not None else 'not reported'} | "
            f"{_measured(row)} | {_percent(row['difference'], signed=True)} | {row['measured_on']} | "
            f"{'–' if row['seconds'] is None else row['seconds']} |"
        )
    return "\n".join(lines) + "\n"
