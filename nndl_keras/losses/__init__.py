"""The book's cost functions as Keras losses."""

from nndl_keras.losses.cross_entropy_cost import CrossEntropyCost
from nndl_keras.losses.log_likelihood_cost import LogLikelihoodCost
from nndl_keras.losses.quadratic_cost import QuadraticCost

__all__ = ["CrossEntropyCost", "LogLikelihoodCost", "QuadraticCost"]
