"""`DistributedSGD`: Keras's `train_step` under a `tf.distribute` strategy."""

from nndl_keras.training.engines.base import _Engine, book_batches, predict_in_batches, scaled


class DistributedSGD(_Engine):
    """Keras's `train_step` under a `tf.distribute` strategy, `steps_per_execution` steps per call.

    Each epoch is a `tf.data` pipeline batched by the book's m, the global
    batch, which `strategy.experimental_distribute_dataset` splits across the
    replicas (and the workers); `strategy.run(model.train_step)` takes the step,
    and Keras's optimizer all-reduces the gradients, so every replica applies
    the mean gradient of the whole mini-batch, as the book does. Keras 3's own
    `fit` cannot be used here: it fails under `MultiWorkerMirroredStrategy`
    (keras-team/keras#20585) and runs one step per call under
    `MirroredStrategy` (keras-team/keras#19246).

    Args:
        model: a Keras model compiled under `strategy.scope()`.
        x: the training inputs (uint8 pixels are scaled to [0, 1]).
        y: the training labels.
        batch_size: the book's mini-batch size m (the global batch).
        seed: seeds the generator that reshuffles the data every epoch.
        strategy: the `tf.distribute` strategy.
        reshuffle: reshuffle every epoch, or keep the data's own order (network3).
        steps_per_execution: steps per compiled call.
        static_shapes: drop a last mini-batch smaller than m (TPUs).

    Example:

    >>> import keras, numpy as np, tensorflow as tf
    >>> strategy = tf.distribute.get_strategy()
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    >>> model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    >>> x, y = np.random.rand(100, 4).astype("float32"), np.arange(100) % 3
    >>> engine = DistributedSGD(model, x, y, batch_size=10, seed=0, strategy=strategy)
    >>> len(engine.train_epochs(2)), engine.predict(x[:5]).shape
    (2, (5, 3))
    """

    name = "distributed"

    def __init__(self, model, x, y, batch_size, seed, strategy, reshuffle=True, steps_per_execution=100, static_shapes=False):
        import tensorflow as tf

        super().__init__(model, batch_size, seed, reshuffle)
        self.x, self.y = x, y
        self._tf, self._strategy = tf, strategy
        self._static_shapes = static_shapes
        self._per_call = max(1, int(steps_per_execution))
        with strategy.scope():  # the loss, metrics and optimizer, built outside the compiled loop
            model._symbolic_build(data_batch=(scaled(x[:batch_size]), y[:batch_size]))
            model.optimizer.build(model.trainable_variables)
        self._steps = tf.function(self._run_steps)
        self._forward = tf.function(lambda inputs: model(inputs, training=False), reduce_retracing=True)

    def _run_steps(self, iterator, steps):
        tf, strategy = self._tf, self._strategy
        loss = tf.constant(0.0)
        for _ in tf.range(steps):
            logs = strategy.run(self.model.train_step, args=(next(iterator),))
            loss = strategy.reduce("MEAN", logs["loss"], axis=None)
        return loss

    def _dataset(self, order):
        data = book_batches(self.x[order], self.y[order], self.batch_size, self._static_shapes)
        return self._strategy.experimental_distribute_dataset(data)

    def train_epochs(self, epochs):
        """Runs `epochs` epochs; returns each one's mean cost (Keras's running mean, over the replicas)."""
        n, m = len(self.y), self.batch_size
        steps = n // m if self._static_shapes else -(-n // m)
        costs = []
        for _ in range(epochs):
            for metric in self.model.metrics:
                metric.reset_state()
            iterator = iter(self._dataset(self._order(n)))
            for start in range(0, steps, self._per_call):
                loss = self._steps(iterator, self._tf.constant(min(self._per_call, steps - start)))
            costs.append(float(loss))
        return costs

    def predict(self, x):
        """The model's outputs for `x` (uint8 pixels scaled), in slices."""
        return predict_in_batches(self._forward, x)
