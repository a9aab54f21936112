"""The book's own figure data, shipped with the package (see `book_data/README.md`)."""

import functools
import json
from importlib import resources


@functools.lru_cache(maxsize=None)
def figure(name):
    """The parsed JSON behind one of the book's figures, e.g. `figure("norms_during_training_4_layers")`."""
    return json.loads(resources.files("nndl_keras").joinpath("book_data", f"{name}.json").read_text())
