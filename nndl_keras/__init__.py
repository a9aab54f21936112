"""nndl-keras: Michael Nielsen's *Neural Networks and Deep Learning* as Keras parts and recipes.

Importing the package registers its losses, regularizers, initializers and
layers with Keras, so models that use them save and load like any other.
"""

__version__ = "0.1.0"

import importlib

from nndl_keras import _startup
from nndl_keras.errors import NNDLError

if _startup.under_command():  # the command imports Keras only for what needs it
    _startup.quiet_interrupts()
else:
    _startup.load_parts()


def __getattr__(name):
    # In the command, the parts are imported when first used.
    if name in _startup.PARTS:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def run(recipe, **kwargs):
    """Runs a recipe by name; see `nndl_keras.training.run`."""
    from nndl_keras.training import run as _run

    return _run(recipe, **kwargs)


__all__ = ["NNDLError", "callbacks", "initializers", "layers", "losses", "models", "regularizers", "run"]
