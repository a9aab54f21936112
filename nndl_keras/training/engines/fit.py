"""`FitSteps`: Keras's own `model.fit`, over a chunk of an epoch per call."""

import keras
import numpy as np

from nndl_keras.training.engines.base import PREDICT_BATCH, StepProgram, book_batches, scaled


class FitSteps(StepProgram):
    """Keras's own `model.fit` over a chunk of an epoch's mini-batches per call: every backend,
    strategy and distribution. A `fit` call costs tens of milliseconds, so a chunk lasts
    about a second; on TensorFlow it is a `tf.data` pipeline (uint8 scaled per mini-batch).

    Args:
        model: a compiled Keras model.
        x: the training inputs (uint8 pixels are scaled to [0, 1]).
        y: the training labels.
        batch_size: the book's mini-batch size m.
        steps_per_execution: steps per compiled call (recompiles the model).
        static_shapes: drop a last mini-batch smaller than m (TPUs).

    Example:

    >>> import keras, numpy as np
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    >>> model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    >>> x, y = np.random.rand(100, 4).astype("float32"), np.arange(100) % 3
    >>> FitSteps(model, x, y, batch_size=10).run(np.arange(100).reshape(1, 10, 10)).shape
    (10, 1)
    """

    name = "fit"
    chunk_seconds = 1.0

    def __init__(self, model, x, y, batch_size, steps_per_execution=1, static_shapes=False):
        super().__init__([model], y, batch_size, static_shapes)
        self.x, self.y = x, y
        if steps_per_execution > 1:  # before any step, so recompiling loses nothing
            config = model.get_compile_config()
            config["steps_per_execution"] = steps_per_execution
            model.compile_from_config(config)

    def run(self, rows):
        """One `fit` over the chunk's mini-batches, in order; its mean cost for each of them
        (a chunk's mini-batches are all of one size, so the epoch's cost comes out the same)."""
        indices, m = rows[0].reshape(-1), rows.shape[-1]
        x, y = self.x[indices], self.y[indices]
        if keras.backend.backend() == "tensorflow":
            data, labels, batch = book_batches(x, y, m), None, None
        else:
            data, labels, batch = scaled(x), y, m
        history = self.models[0].fit(data, labels, batch_size=batch, epochs=1, shuffle=False, verbose=0)
        return np.full((rows.shape[1], 1), history.history["loss"][-1])

    def predict(self, x):
        return self.models[0].predict(scaled(x), batch_size=PREDICT_BATCH, verbose=0)[None]
