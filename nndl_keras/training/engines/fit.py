"""`FitSGD`: Keras's own `model.fit`, a chunk of an epoch per call."""

import keras
import numpy as np

from nndl_keras.training.engines.base import PREDICT_BATCH, _FromArrays, book_batches, scaled


class FitSGD(_FromArrays):
    """Keras's own `model.fit` over a chunk of an epoch per call: works on every backend,
    strategy and distribution (a Colab TPU's JAX `keras.distribution` among them).

    An epoch runs as `fit` calls over consecutive chunks of its mini-batches
    (the chunks of every engine, about a second each: a `fit` call costs tens
    of milliseconds of its own), so that Ctrl-C is answered within one and the
    position in the epoch can be saved and resumed. On TensorFlow each chunk is
    a `tf.data` pipeline (the uint8 expanded set is scaled per mini-batch, never
    copied as float), batched by the book's m: under a `tf.distribute` strategy
    that is the global batch, which `fit` splits across the replicas.

    Args:
        model: a compiled Keras model.
        x: the training inputs (uint8 pixels are scaled to [0, 1]).
        y: the training labels.
        batch_size: the book's mini-batch size m.
        seed: seeds the generator that reshuffles the data every epoch.
        reshuffle: reshuffle every epoch (network.py, network2.py), or keep
            the data's own order (`False`, network3).
        steps_per_execution: steps per compiled call (recompiles the model).
        static_shapes: drop a last mini-batch smaller than m (TPUs).

    Example:

    >>> import keras, numpy as np
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    >>> model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    >>> x, y = np.random.rand(100, 4).astype("float32"), np.arange(100) % 3
    >>> engine = FitSGD(model, x, y, batch_size=10, seed=0)
    >>> len(engine.train_epochs(2)), engine.predict(x[:5]).shape
    (2, (5, 3))
    """

    name = "fit"
    chunk_seconds = 1.0

    def __init__(self, model, x, y, batch_size, seed, reshuffle=True, steps_per_execution=1, static_shapes=False):
        super().__init__(model, x, y, batch_size, seed, reshuffle, static_shapes)
        if steps_per_execution > 1:  # before any step, so recompiling loses nothing
            config = model.get_compile_config()
            config["steps_per_execution"] = steps_per_execution
            model.compile_from_config(config)

    def _run_rows(self, rows):
        """One `fit` over the chunk's mini-batches, in order; its mean cost for each of them
        (a chunk's mini-batches are all of one size, so the epoch's cost comes out the same)."""
        x, y, m = self._chunk_data(rows)
        if keras.backend.backend() == "tensorflow":
            data, labels, batch = book_batches(x, y, m), None, None
        else:
            data, labels, batch = scaled(x), y, m
        history = self.model.fit(data, labels, batch_size=batch, epochs=1, shuffle=False, verbose=0)
        return np.full(len(rows), history.history["loss"][-1])

    def predict(self, x):
        """The model's outputs for `x` (uint8 pixels scaled), by Keras's `predict`."""
        return self.model.predict(scaled(x), batch_size=PREDICT_BATCH, verbose=0)
