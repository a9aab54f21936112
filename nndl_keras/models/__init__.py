"""Builders for the book's networks."""

from nndl_keras.models.feedforward import compile_for_sgd, feedforward

__all__ = ["compile_for_sgd", "feedforward"]
