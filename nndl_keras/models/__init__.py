"""Builders for the book's networks, and the ensemble of chapter 6."""

from nndl_keras.models.feedforward import compile_for_sgd, feedforward
from nndl_keras.models.nand_adder import nand_adder
from nndl_keras.models.network3 import network3
from nndl_keras.models.voting_ensemble import VotingEnsemble, plurality_votes

__all__ = ["VotingEnsemble", "compile_for_sgd", "feedforward", "nand_adder", "network3", "plurality_votes"]
