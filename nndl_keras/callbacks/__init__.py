"""Keras callbacks for the book's measurements and schedules."""

from nndl_keras.callbacks.gradient_norm_monitor import GradientNormMonitor, load_table
from nndl_keras.callbacks.learning_rate_halving import LearningRateHalving

__all__ = ["GradientNormMonitor", "LearningRateHalving", "load_table"]
