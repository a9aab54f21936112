"""L2 regularisation exactly as network2 and network3 define it."""

from nndl_keras.regularizers.network2_l2 import Network2L2
from nndl_keras.regularizers.network3_l2 import Network3L2
from nndl_keras.regularizers.weights import squared_weights

__all__ = ["Network2L2", "Network3L2", "squared_weights"]
