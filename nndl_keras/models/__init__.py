"""Builders for the book's networks."""

from nndl_keras.models.feedforward import compile_for_sgd, feedforward
from nndl_keras.models.nand_adder import nand_adder

__all__ = ["compile_for_sgd", "feedforward", "nand_adder"]
