"""Keras callbacks for the book's measurements."""

from nndl_keras.callbacks.gradient_norm_monitor import GradientNormMonitor

__all__ = ["GradientNormMonitor"]
