"""The book's own figure data and its table of experiments, shipped with the package
(see `book_data/README.md`)."""

import functools
import json
from importlib import resources


@functools.lru_cache(maxsize=None)
def figure(name):
    """The parsed JSON behind one of the book's figures, e.g. `figure("norms_during_training_4_layers")`."""
    return json.loads(resources.files("nndl_keras").joinpath("book_data", f"{name}.json").read_text())


@functools.lru_cache(maxsize=None)
def experiments():
    """Every row of `book_data/EXPERIMENTS.md`'s experiment tables, by its Id: a dict of
    column → cell (the hyperparameters, the reported result, where it comes from)."""
    text = resources.files("nndl_keras").joinpath("book_data", "EXPERIMENTS.md").read_text(encoding="utf-8")
    rows, header = {}, None
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else None
        if cells is None:
            header = None
        elif header is None:
            header = cells
        elif cells[0] != "---" and header[0] == "Id" and len(cells) == len(header):
            rows[cells[0]] = dict(zip(header, cells))
    return rows


def experiment(source):
    """The row a recipe's `BookResult.source` names ("ch6-ensemble (33 errors)": the row
    "ch6-ensemble"), or `None`. Its "Reported …" column (the tables name it differently)
    is also under "result"."""
    if not source:
        return None
    rows = experiments()
    ids = [i for i in rows if source == i or source.startswith(i + " ")]
    if not ids:
        return None
    row = rows[max(ids, key=len)]
    (reported,) = [v for k, v in row.items() if k.startswith("Reported")]
    return {**row, "result": reported.replace("**", "")}
