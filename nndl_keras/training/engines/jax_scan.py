"""`JaxScan`: M ≥ 1 models' stateless `train_step`s, `jax.vmap`ped, under `jax.lax.scan` (JAX)."""

import keras
import numpy as np

from nndl_keras.training.engines.base import StepProgram, build_for_training, predict_in_batches, scaled


class JaxScan(StepProgram):
    """Trains M models of one architecture side by side: one compiled step advances them all.

    Chapter 6's ensemble trains five nets that differ only in their seeds, and a
    mini-batch of 10 is far too small to keep a device busy. Each model's state
    (variables, the dropout layers' seed generators, optimizer, metrics) is
    stacked along a leading member axis, and Keras's stateless `train_step` runs
    under `jax.vmap` inside `jax.lax.scan`: each member ends where it would have
    ended trained alone (to float rounding). A single net is M = 1. With several
    devices, the largest number d of them that divides M take M/d members each,
    under `jax.pmap`: not a sharded `jit`, because on JAX 0.7.2 (Colab's) a `vmap`
    of a convolution's gradient fails on any array placed on a mesh (jax#32157).

    Args:
        models: compiled Keras models of identical architecture (JAX backend).
        x: the training inputs (uint8 pixels are scaled per mini-batch).
        y: the training labels.
        batch_size: the mini-batch size m.
        devices: the devices to spread the members over (default `jax.devices()`).

    Example:

    >>> import keras, numpy as np  # doctest: +SKIP
    >>> models = [keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")]) for _ in range(2)]  # doctest: +SKIP
    >>> for model in models:  # doctest: +SKIP
    ...     model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    >>> x, y = np.random.rand(100, 4).astype("float32"), np.arange(100) % 3  # doctest: +SKIP
    >>> program = JaxScan(models, x, y, batch_size=10)  # doctest: +SKIP
    >>> program.begin(None, 0); costs = program.run(np.arange(200).reshape(2, 10, 10)); program.sync()  # doctest: +SKIP
    >>> costs.shape  # doctest: +SKIP
    (10, 2)
    """

    def __init__(self, models, x, y, batch_size, devices=None):
        if keras.backend.backend() != "jax":
            raise ValueError(f"JaxScan needs the JAX backend (KERAS_BACKEND=jax), not {keras.backend.backend()}")
        import jax

        super().__init__(models, y, batch_size)
        self.name = "fused" if len(self.models) == 1 else "stacked"
        for model in self.models:
            build_for_training(model, x[:batch_size], y[:batch_size])
        _check_alike(self.models)
        self._jax = jax
        self.devices_used = _devices_for(len(self.models), jax.devices() if devices is None else list(devices))
        self._per_device = len(self.models) // len(self.devices_used)
        on_each = jax.pmap(lambda _, data: data, in_axes=(0, None), devices=self.devices_used)
        each = np.arange(len(self.devices_used))
        self._x, self._y = on_each(each, x), on_each(each, y)  # one copy a device, made once
        self._place = jax.pmap(lambda value: value, devices=self.devices_used)
        self._run = jax.pmap(self._scan, donate_argnums=0, devices=self.devices_used)
        forward = jax.vmap(lambda t, n, inputs: self.models[0].stateless_call(t, n, inputs)[0], in_axes=(0, 0, None))
        self._forward = jax.pmap(forward, in_axes=(0, 0, None), devices=self.devices_used)
        self._now = None

    def _step(self, state, indices, x, y):
        """One member's step; its loss on this mini-batch alone (the metrics zeroed first)."""
        trainable, non_trainable, optimizer, metrics = state
        metrics = [self._jax.numpy.zeros_like(v) for v in metrics]
        batch = scaled(x[indices], self.models[0].compute_dtype), y[indices]
        logs, state = self.models[0].train_step((trainable, non_trainable, optimizer, metrics), batch)
        return state, logs["loss"]

    def _scan(self, state, batches, x, y):
        """One device's steps over `batches` (member, step, indices): its members' state and losses (step, member)."""
        jax = self._jax
        step = jax.vmap(self._step, in_axes=(0, 0, None, None))
        return jax.lax.scan(lambda s, indices: step(s, indices, x, y), state, jax.numpy.swapaxes(batches, 0, 1))

    def begin(self, orders, step):
        self._now = self._stack()

    def run(self, rows):
        self._now, losses = self._run(self._now, self._by_device(rows), self._x, self._y)
        losses = np.moveaxis(np.asarray(losses), 0, 1)  # (device, step, member) -> (step, device, member)
        return losses.reshape(losses.shape[0], -1)

    def sync(self):
        host = self._jax.device_get(self._now[:3])  # the zeroed metrics are this program's own
        for k, model in enumerate(self.models):
            device, member = divmod(k, self._per_device)
            for variables, values in zip(_variables(model), host):
                for variable, value in zip(variables, values):
                    variable.assign(value[device, member])

    def _by_device(self, stacked):
        """An array with a leading member axis (M, ...) as (device, member on it, ...)."""
        return stacked.reshape(len(self.devices_used), self._per_device, *stacked.shape[1:])

    def _stack(self, groups=4):
        """The first `groups` of the models' state (see `_variables`), stacked by member, split by device."""
        stacked = []
        for variables in zip(*(_variables(model)[:groups] for model in self.models)):
            values = (np.stack([np.asarray(v.value) for v in same]) for same in zip(*variables))
            stacked.append([self._place(self._by_device(v)) for v in values])
        return tuple(stacked)

    def predict(self, x):
        trainable, non_trainable = self._stack(2)

        def forward(inputs):
            outputs = np.asarray(self._forward(trainable, non_trainable, inputs))
            return outputs.reshape(len(self.models), *outputs.shape[2:])

        return predict_in_batches(forward, x, axis=1)


def _check_alike(models):
    """Raises ValueError unless every model's variables have the first one's shapes."""

    def shapes(model):
        return [[tuple(v.shape) for v in group] for group in _variables(model)]

    for k, model in enumerate(models[1:], start=1):
        if shapes(model) != shapes(models[0]):
            raise ValueError(
                f"JaxScan needs models of identical architecture: the weights of model {k} "
                f"({model.name}) do not have the shapes of model 0's ({models[0].name})"
            )


def _variables(model):
    """The state Keras's stateless `train_step` takes, as lists of the model's variables."""
    return model.trainable_variables, model.non_trainable_variables, model.optimizer.variables, model.metrics_variables


def _devices_for(members, devices):
    """The first d of `devices`, d the largest count that divides `members` (one or more members each)."""
    count = max(d for d in range(1, min(members, len(devices)) + 1) if members % d == 0)
    return list(devices[:count])
