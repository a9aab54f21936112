"""The book's three weight initialisations, as named aliases of Keras initializers."""

from nndl_keras.initializers.default_weight_initializer import DefaultWeightInitializer
from nndl_keras.initializers.network3_weight_initializer import Network3WeightInitializer
from nndl_keras.initializers.standard_normal import StandardNormal

__all__ = ["DefaultWeightInitializer", "Network3WeightInitializer", "StandardNormal"]
