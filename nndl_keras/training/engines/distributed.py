"""`DistributedSGD`: Keras's `train_step` under a `tf.distribute` strategy."""

import numpy as np

from nndl_keras.training.engines.base import _FromArrays, book_batches, build_for_training, predict_in_batches


class DistributedSGD(_FromArrays):
    """Keras's `train_step` under a `tf.distribute` strategy, `steps_per_execution` steps per call.

    Each epoch is a `tf.data` pipeline batched by the book's m, the global
    batch, which `strategy.experimental_distribute_dataset` splits across the
    replicas (and the workers); `strategy.run(model.train_step)` takes the step,
    and Keras's optimizer all-reduces the gradients, so every replica applies
    the mean gradient of the whole mini-batch, as the book does. One dataset
    serves a whole call; its steps run in chunks, so that Ctrl-C is answered
    within one. With several workers every chunk has the same length (reading
    the chunk's cost is a collective, which all workers must make at the same
    step). Keras 3's own `fit` cannot be used here: it fails under
    `MultiWorkerMirroredStrategy` (keras-team/keras#20585) and runs one step
    per call under `MirroredStrategy` (keras-team/keras#19246).

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
    WORKERS_CHUNK = 200  # mini-batches a chunk when several workers must agree on it

    def __init__(self, model, x, y, batch_size, seed, strategy, reshuffle=True, steps_per_execution=100, static_shapes=False):
        import tensorflow as tf

        super().__init__(model, x, y, batch_size, seed, reshuffle, static_shapes)
        self._tf, self._strategy = tf, strategy
        self._per_call, self._tensors = max(1, int(steps_per_execution)), None
        if _workers(strategy) > 1:
            self._chunk, self._tuned = max(self.WORKERS_CHUNK, self._per_call), True
        with strategy.scope():  # the loss, metrics and optimizer, built outside the compiled loop
            build_for_training(model, x[:batch_size], y[:batch_size])
        self._loss = next(metric for metric in model.metrics if metric.name == "loss")
        self._steps = tf.function(self._run_steps)
        self._forward = tf.function(lambda inputs: model(inputs, training=False), reduce_retracing=True)

    def _run_steps(self, iterator, steps):
        for _ in self._tf.range(steps):
            self._strategy.run(self.model.train_step, args=(next(iterator),))

    def _begin(self, orders, step):
        """The call's mini-batches from global step `step` on, as one distributed dataset."""
        if self._tensors is None:  # the set as tensors once, not again at each call (each epoch)
            self._tensors = (self._tf.constant(self.x), self._tf.constant(self.y))
        data = book_batches(*self._tensors, self.batch_size, orders).skip(step)
        self._iterator = iter(self._strategy.experimental_distribute_dataset(data))

    def _run_rows(self, rows):
        """The chunk's steps, `steps_per_execution` a call; the chunk's mean cost for each
        step (Keras's loss tracker, summed over the replicas, reset for the chunk)."""
        self._loss.reset_state()
        for start in range(0, len(rows), self._per_call):
            self._steps(self._iterator, self._tf.constant(min(self._per_call, len(rows) - start)))
        return np.full(len(rows), float(self._loss.result()))

    def _end(self):
        self._iterator = None

    def predict(self, x):
        """The model's outputs for `x` (uint8 pixels scaled), in slices."""
        return predict_in_batches(self._forward, x)


def _workers(strategy):
    """How many workers (hosts) take part in `strategy`: its cluster's chief and workers, or 1."""
    resolver = strategy.cluster_resolver
    if resolver is None:
        return 1
    spec = resolver.cluster_spec()
    return max(1, sum(spec.num_tasks(job) for job in ("chief", "worker") if job in spec.jobs))
