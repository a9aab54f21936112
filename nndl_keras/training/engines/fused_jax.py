"""`FusedJaxSGD`: an epoch's mini-batches as jitted `jax.lax.scan`s of Keras's stateless `train_step`."""

import numpy as np

from nndl_keras.training.engines.base import _Engine, build_for_training, predict_in_batches, scaled


class FusedJaxSGD(_Engine):
    """The epoch's mini-batches as jitted `jax.lax.scan`s of Keras's stateless `train_step`, a chunk per call.

    `FusedSGD` on the JAX backend: the model's state is taken out of its
    variables before a call, carried through the compiled steps, and put back
    after (`_begin`, `_end`).

    Args:
        model: a compiled Keras model (JAX backend).
        x: the training inputs (uint8 pixels are scaled per mini-batch).
        y: the training labels.
        batch_size: the book's mini-batch size m.
        seed: seeds the generator that reshuffles the data every epoch.
        reshuffle: reshuffle every epoch, or keep the data's own order (network3).

    Example (JAX backend):

    >>> import keras, numpy as np  # doctest: +SKIP
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])  # doctest: +SKIP
    >>> model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")  # doctest: +SKIP
    >>> x, y = np.random.rand(100, 4).astype("float32"), np.arange(100) % 3  # doctest: +SKIP
    >>> engine = FusedJaxSGD(model, x, y, batch_size=10, seed=0)  # doctest: +SKIP
    >>> len(engine.train_epochs(2)), engine.predict(x[:5]).shape  # doctest: +SKIP
    (2, (5, 3))
    """

    name = "fused"

    def __init__(self, model, x, y, batch_size, seed, reshuffle=True):
        import jax
        import jax.numpy as jnp

        super().__init__(model, batch_size, seed, reshuffle)
        self._jax, self._jnp = jax, jnp
        self._x, self._y = jnp.asarray(x), jnp.asarray(y)
        self._n = len(y)
        build_for_training(model, np.asarray(x[:batch_size]), np.asarray(y[:batch_size]))
        self._run = jax.jit(self._scan, donate_argnums=0)
        self._forward = jax.jit(lambda trainable, non_trainable, inputs: model.stateless_call(trainable, non_trainable, inputs)[0])
        self._now = None

    def _batch(self, indices):
        return scaled(self._x[indices], self.model.compute_dtype), self._y[indices]

    def _scan(self, state, rows):
        def body(state, indices):
            trainable, non_trainable, optimizer, metrics = state
            # Zeroed running means: the logged loss is this step's own, so an
            # epoch's cost comes from its steps' costs, whatever the chunks.
            metrics = [self._jnp.zeros_like(v) for v in metrics]
            logs, state = self.model.train_step((trainable, non_trainable, optimizer, metrics), self._batch(indices))
            return state, logs["loss"]

        return self._jax.lax.scan(body, state, rows)

    def _begin(self, orders, step):
        m = self.model
        self._now = (
            [v.value for v in m.trainable_variables],
            [v.value for v in m.non_trainable_variables],
            [v.value for v in m.optimizer.variables],
            [self._jnp.zeros_like(v.value) for v in m.metrics_variables],  # the engine's own: donated
        )

    def _run_rows(self, rows):
        self._now, costs = self._run(self._now, self._jnp.asarray(rows))
        return costs

    def _end(self):
        m = self.model
        for variables, values in zip((m.trainable_variables, m.non_trainable_variables, m.optimizer.variables), self._now):
            for variable, value in zip(variables, values):
                variable.assign(value)

    def predict(self, x):
        """The model's outputs for `x` (uint8 pixels scaled), in slices."""
        m = self.model
        trainable = [v.value for v in m.trainable_variables]
        non_trainable = [v.value for v in m.non_trainable_variables]
        return predict_in_batches(lambda inputs: self._forward(trainable, non_trainable, inputs), x)
