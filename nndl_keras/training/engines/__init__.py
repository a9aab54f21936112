"""Engines: step programs that run the model's own `train_step` on the mini-batches given
(`base.StepProgram`), one a module: `TensorFlowLoop` and `JaxScan` (`fused`; `JaxScan` is also
`stacked`, an ensemble's members side by side), `DistributedSteps` (`tf.distribute`) and
`FitSteps` (Keras's `fit`). The book's epochs (order, chunks, stops, resumes) are `training.epochs`'s.
"""

import keras

from nndl_keras.training.engines.base import PREDICT_BATCH, StepProgram
from nndl_keras.training.engines.distributed import DistributedSteps
from nndl_keras.training.engines.fit import FitSteps
from nndl_keras.training.engines.jax_scan import JaxScan
from nndl_keras.training.engines.tensorflow_loop import TensorFlowLoop

ENGINES = ("auto", "fused", "distributed", "fit", "stacked")


def make_program(models, x, y, batch_size, engine="auto", *, jit_compile=True, steps_per_execution=1,
                 static_shapes=False, strategy=None, distribution=None):
    """The step program named `engine` for `models` (a list; several train stacked, on JAX):
    `"auto"` is distributed under a `strategy`, fit under a `distribution`, else the
    backend's fused program (fit where there is none). `static_shapes` (TPUs) drops a
    last mini-batch smaller than the rest."""
    backend = keras.backend.backend()
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}: use {', '.join(map(repr, ENGINES))}")
    if engine == "auto":
        engine = "distributed" if strategy is not None else "fit" if distribution is not None else "fused"
    if len(models) > 1 or engine == "stacked" or (engine == "fused" and backend == "jax"):
        return JaxScan(models, x, y, batch_size)
    (model,) = models
    if engine == "distributed":
        if strategy is None:
            import tensorflow as tf

            strategy = tf.distribute.get_strategy()
        return DistributedSteps(model, x, y, batch_size, strategy, steps_per_execution, static_shapes)
    if engine == "fused" and backend == "tensorflow":
        return TensorFlowLoop(model, x, y, batch_size, jit_compile=jit_compile)
    return FitSteps(model, x, y, batch_size, steps_per_execution, static_shapes)


__all__ = ["ENGINES", "PREDICT_BATCH", "DistributedSteps", "FitSteps", "JaxScan", "StepProgram", "TensorFlowLoop", "make_program"]
