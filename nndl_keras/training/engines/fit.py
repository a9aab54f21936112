"""`FitSGD`: one `model.fit` epoch per call."""

import keras

from nndl_keras.training.engines.base import PREDICT_BATCH, _Engine, book_batches, scaled


class FitSGD(_Engine):
    """One `model.fit` epoch per call: works on every backend, strategy and distribution.

    On TensorFlow each epoch is a `tf.data` pipeline (the uint8 expanded set is
    scaled per mini-batch, never copied as float), batched by the book's m:
    under a `tf.distribute` strategy that is the global batch, which `fit`
    splits across the replicas.

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

    def __init__(self, model, x, y, batch_size, seed, reshuffle=True, steps_per_execution=1, static_shapes=False):
        super().__init__(model, batch_size, seed, reshuffle)
        self.x, self.y = x, y
        self._static_shapes = static_shapes
        if steps_per_execution > 1:  # before any step, so recompiling loses nothing
            config = model.get_compile_config()
            config["steps_per_execution"] = steps_per_execution
            model.compile_from_config(config)

    def _epoch_data(self, order):
        x, y = self.x[order], self.y[order]
        if keras.backend.backend() != "tensorflow":
            return scaled(x), y
        return book_batches(x, y, self.batch_size, self._static_shapes), None

    def train_epochs(self, epochs):
        """Runs `epochs` epochs, one `fit` each; returns each one's mean cost."""
        costs = []
        for _ in range(epochs):
            x, y = self._epoch_data(self._order(len(self.y)))
            batch = None if y is None else self.batch_size
            history = self.model.fit(x, y, batch_size=batch, epochs=1, shuffle=False, verbose=0)
            costs.append(float(history.history["loss"][-1]))
        return costs

    def predict(self, x):
        """The model's outputs for `x` (uint8 pixels scaled), by Keras's `predict`."""
        return self.model.predict(scaled(x), batch_size=PREDICT_BATCH, verbose=0)
