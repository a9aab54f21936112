"""nndl-keras: Michael Nielsen's *Neural Networks and Deep Learning* as Keras parts and recipes.

Importing the package registers its losses, regularizers, initializers and
layers with Keras (when Keras loads, if it has not yet: see `_startup`), so
models that use them save and load like any other. The parts are imported
when first used: `nndl_keras.layers`, `nndl_keras.losses`, ...
"""

__version__ = "0.1.0"

import importlib

from nndl_keras import _startup
from nndl_keras.errors import NNDLError

_startup.register_when_keras_loads()


def __getattr__(name):
    """The parts, and `run` (`nndl_keras.training.run`), imported when first used."""
    if name in _startup.PARTS:
        return importlib.import_module(f"{__name__}.{name}")
    if name == "run":
        return importlib.import_module(f"{__name__}.training").run
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["NNDLError", "callbacks", "initializers", "layers", "losses", "models", "regularizers", "run"]
