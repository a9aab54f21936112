"""`make_engine`: the engine a training runs with, chosen by name or by where it runs."""

import keras

from nndl_keras.training.engines.distributed import DistributedSGD
from nndl_keras.training.engines.fit import FitSGD
from nndl_keras.training.engines.fused import FusedSGD
from nndl_keras.training.engines.fused_jax import FusedJaxSGD


def make_engine(
    model,
    x,
    y,
    batch_size,
    seed,
    engine="auto",
    jit_compile=True,
    reshuffle=True,
    steps_per_execution=1,
    static_shapes=False,
    strategy=None,
    distribution=None,
):
    """The engine named `engine` ("fused", "distributed", "fit", or "auto": the
    distributed engine under a `tf.distribute` `strategy`, fit under a
    `keras.distribution`, else fused where it can run).

    `x` may be uint8 pixels (the expanded set), scaled to [0, 1] as each
    mini-batch is taken. With `reshuffle=False` every epoch uses the data's own
    order, as network3 does. `static_shapes` (TPUs) drops a last mini-batch
    smaller than the rest, so that every step has the same shape.

    Example:

    >>> import keras, numpy as np
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    >>> model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    >>> x, y = np.random.rand(100, 4).astype("float32"), np.arange(100) % 3
    >>> engine = make_engine(model, x, y, batch_size=10, seed=0, engine="fit")
    >>> engine.name, len(engine.train_epochs(2))
    ('fit', 2)
    """
    backend = keras.backend.backend()
    if engine == "auto" and strategy is not None:
        engine = "distributed"
    if engine == "auto" and distribution is not None:
        engine = "fit"
    if engine == "auto":
        engine = "fused" if backend in ("tensorflow", "jax") else "fit"
    if engine == "distributed":
        if strategy is None:
            import tensorflow as tf

            strategy = tf.distribute.get_strategy()
        return DistributedSGD(
            model, x, y, batch_size, seed, strategy, reshuffle=reshuffle, steps_per_execution=steps_per_execution,
            static_shapes=static_shapes,
        )
    if engine == "fused" and backend == "jax":
        return FusedJaxSGD(model, x, y, batch_size, seed, reshuffle=reshuffle)
    if engine == "fused":
        return FusedSGD(model, x, y, batch_size, seed, jit_compile=jit_compile, reshuffle=reshuffle)
    if engine == "fit":
        return FitSGD(
            model, x, y, batch_size, seed, reshuffle=reshuffle, steps_per_execution=steps_per_execution, static_shapes=static_shapes
        )
    raise ValueError(f"unknown engine {engine!r}: use 'auto', 'fused', 'distributed' or 'fit'")
