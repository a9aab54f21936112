"""Registering the package's parts with Keras without importing Keras first.

`import nndl_keras` registers its losses, regularizers, initializers and layers
with Keras: at once when Keras is already loaded, else the moment anything
imports it (an import hook, `_WhenKerasLoads`), so that a saved model that uses
them loads like any other. The package itself imports no Keras, so the
`nndl-keras` command answers `--help`, `list` and `show` without it.
"""

import importlib
import importlib.abc
import importlib.util
import logging
import os
import sys

PARTS = ("callbacks", "initializers", "layers", "losses", "models", "regularizers")
QUIET = False  # set by the `nndl-keras` command: TensorFlow's start-up banner is noise on its terminal


def load_parts():
    """Imports the parts, which registers them with Keras (`register_keras_serializable`)."""
    for name in PARTS:
        importlib.import_module(f"nndl_keras.{name}")


def register_when_keras_loads():
    """The parts registered now if Keras is loaded, else as soon as Keras is."""
    if "keras" in sys.modules:
        load_parts()
    elif not any(isinstance(finder, _WhenKerasLoads) for finder in sys.meta_path):
        sys.meta_path.insert(0, _WhenKerasLoads())


class _WhenKerasLoads(importlib.abc.MetaPathFinder):
    """Finds `keras` as the other finders do, and loads the parts once it has run."""

    def find_spec(self, name, path=None, target=None):
        if name != "keras":
            return None
        sys.meta_path.remove(self)  # once; importlib.util.find_spec now asks the others
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        run_keras = spec.loader.exec_module

        def exec_module(module):
            run_keras(module)
            load_parts()

        spec.loader.exec_module = exec_module  # this spec's own loader object
        return spec


def import_keras():
    """Imports Keras; after the command set `QUIET` (never in a library user's process), without
    TensorFlow's C++ start-up banner: TensorFlow writes its oneDNN/CUDA notices to file
    descriptor 2 before any log level applies, so stderr points at /dev/null during the import
    and TF_CPP_MIN_LOG_LEVEL defaults to 3. Python errors raised by the import still surface:
    stderr is restored before they propagate."""
    if not QUIET or "keras" in sys.modules:
        import keras  # noqa: F401

        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import keras  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    # Recipes with many small trainings (ch3-more-data) build many compiled
    # loops; TensorFlow's Python logger calls that "retracing" on the terminal.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
