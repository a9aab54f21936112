"""Training the book's models: the runner and its SGD engines."""

from nndl_keras.training.engines import FitSGD, FusedSGD, make_engine
from nndl_keras.training.runner import RunResult, run

__all__ = ["FitSGD", "FusedSGD", "RunResult", "make_engine", "run"]
