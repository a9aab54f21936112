"""nndl-keras: Michael Nielsen's *Neural Networks and Deep Learning* as Keras parts and recipes.

Importing the package registers its losses, regularizers, initializers and
layers with Keras, so models that use them save and load like any other.
"""

__version__ = "0.1.0"

from nndl_keras._startup import import_keras

import_keras()

from nndl_keras import callbacks, initializers, layers, losses, models, regularizers  # noqa: E402  (registers the parts)
from nndl_keras.errors import NNDLError  # noqa: E402


def run(recipe, **kwargs):
    """Runs a recipe by name; see `nndl_keras.training.run`."""
    from nndl_keras.training import run as _run

    return _run(recipe, **kwargs)


__all__ = ["NNDLError", "callbacks", "initializers", "layers", "losses", "models", "regularizers", "run"]
