"""Training the book's models: the runner, its one epoch loop and the engines' step programs."""

from nndl_keras.training.epochs import make_engine
from nndl_keras.training.runner import RunResult, run

__all__ = ["RunResult", "make_engine", "run"]
