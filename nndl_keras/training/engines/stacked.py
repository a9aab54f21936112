"""The members of an ensemble trained together: one compiled step advances them all (JAX).

Chapter 6's ensemble trains five nets that differ only in their seeds. Trained
one after another, each of the book's mini-batches of 10 is far too small to
keep a device busy; stacked along a new leading axis and run under `jax.vmap`,
the five members take their steps in the same compiled call, each on its own
mini-batch, with its own weights, dropout masks and data order, so that every
member ends where it would have ended trained alone (to float rounding).
"""

import keras
import numpy as np

from nndl_keras.training.engines.base import _Engine, build_for_training, predict_in_batches, scaled


class StackedJaxSGD(_Engine):
    """Trains M models of one architecture side by side, as `FusedJaxSGD` trains one.

    Each model's state (trainable and non-trainable variables, the latter
    holding the dropout layers' seed generators, optimizer and metrics
    variables) is stacked along a new leading member axis, and Keras's
    stateless `train_step` runs under `jax.vmap` inside `jax.lax.scan`: one
    compiled step advances all M members, member k on its own mini-batch of
    `batch_size` examples, taken in the order that
    `np.random.default_rng(seeds[k])` draws each epoch (or the data's own order
    with `reshuffle=False`), exactly as `FusedJaxSGD` with seed `seeds[k]`
    draws it. So a member trained here equals the same member trained alone. The
    book's mini-batch is never split or changed; when `batch_size` does not
    divide the data, the last, smaller mini-batch of each epoch gets a step of
    its own, as in `FusedJaxSGD`.

    An epoch runs as a sequence of jitted chunks of steps, each about half a second
    long (timed on the first chunks), so that the Python loop regains control
    between them and asks `should_stop()`; when that returns True, the state
    is written back into the models, `position` records where the epoch
    stands, and `StopRequested` (a `KeyboardInterrupt`) is raised. `set_position(position)` makes
    the next `train_epochs` go on from there. The results do not depend on the
    length of the chunks.

    With several devices, the members are split over them: the largest number
    d of the given devices that divides M (5 members on 8 devices: 5 devices,
    one member each; 4 members on 8: 4), M/d members each, under `jax.pmap`.
    Each member's weights and whole mini-batch stay on one device; the training
    data is replicated on each. `pmap` and not a sharded `jit`: on JAX 0.7.2
    (Colab's), a `vmap` of a convolution's gradient fails on any array placed
    on a mesh, even a mesh of one device (jax-ml/jax#32157), and `pmap` places
    none.

    Args:
        models: compiled Keras models of identical architecture, each built
            with its own initialisation (after `keras.utils.set_random_seed`
            with its seed).
        x: the training inputs, for example uint8 pixels, which are scaled to
            [0, 1] as each mini-batch is taken.
        y: the training labels.
        batch_size: the mini-batch size m.
        seeds: one seed per model, for its data order.
        reshuffle: reshuffle the data every epoch (network.py), or keep its
            own order (`False`, network3).
        devices: the devices to spread the members over (default
            `jax.devices()`).

    Example:

    >>> import keras, numpy as np
    >>> def build(seed):
    ...     keras.utils.set_random_seed(seed)
    ...     model = keras.Sequential([keras.Input((4,)), keras.layers.Dropout(0.5),
    ...                               keras.layers.Dense(3, activation="softmax")])
    ...     model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    ...     return model
    >>> x, y = np.random.rand(100, 4).astype("float32"), np.arange(100) % 3
    >>> seeds = [0, 1, 2]
    >>> engine = StackedJaxSGD([build(s) for s in seeds], x, y, batch_size=10, seeds=seeds)
    >>> costs = engine.train_epochs(2)  # costs[epoch][member]
    >>> len(costs), len(costs[0]), engine.predict(x[:5]).shape
    (2, 3, (3, 5, 3))
    """

    name = "stacked"

    def __init__(self, models, x, y, batch_size, seeds, reshuffle=True, devices=None):
        if keras.backend.backend() != "jax":
            raise ValueError(f"StackedJaxSGD needs the JAX backend (KERAS_BACKEND=jax), not {keras.backend.backend()}")
        import jax

        models, seeds = list(models), list(seeds)
        if not models or len(models) != len(seeds):
            raise ValueError(f"StackedJaxSGD needs one seed per model: got {len(models)} models and {len(seeds)} seeds")
        super().__init__(models[0], batch_size, None, reshuffle)  # its own generators: one per member
        self._jax, self.models, self._n = jax, models, len(y)
        self._rngs = [np.random.default_rng(seed) for seed in seeds]
        for model in models:
            build_for_training(model, np.asarray(x[:batch_size]), np.asarray(y[:batch_size]))
        _check_alike(models)
        self.devices_used = _devices_for(len(models), jax.devices() if devices is None else list(devices))
        self._per_device = len(models) // len(self.devices_used)
        on_each = jax.pmap(lambda _, data: data, in_axes=(0, None), devices=self.devices_used)
        each = np.arange(len(self.devices_used))
        self._x, self._y = on_each(each, x), on_each(each, y)  # one copy a device, made once
        self._place = jax.pmap(lambda value: value, devices=self.devices_used)  # (device, ...) split over them
        self._run = jax.pmap(self._scan, donate_argnums=0, devices=self.devices_used)
        self._forward = jax.pmap(
            jax.vmap(self._call, in_axes=(0, 0, None)), in_axes=(0, 0, None), devices=self.devices_used
        )
        self._now = None

    # The compiled step: member by member under vmap, chunk by chunk under scan.

    def _step(self, state, indices, x, y):
        """One member's step; its loss on this mini-batch alone."""
        trainable, non_trainable, optimizer, metrics = state
        # Zeroed running means: the logged loss is this step's own (see FusedJaxSGD).
        metrics = [self._jax.numpy.zeros_like(v) for v in metrics]
        batch = scaled(x[indices], self.models[0].compute_dtype), y[indices]
        logs, state = self.models[0].train_step((trainable, non_trainable, optimizer, metrics), batch)
        return state, logs["loss"]

    def _scan(self, state, batches, x, y):
        """One device's steps over `batches` (member, step, example indices); its members'
        state and losses (step, member)."""
        jax = self._jax
        step = jax.vmap(self._step, in_axes=(0, 0, None, None))
        return jax.lax.scan(lambda s, indices: step(s, indices, x, y), state, jax.numpy.swapaxes(batches, 0, 1))

    def _call(self, trainable, non_trainable, inputs):
        return self.models[0].stateless_call(trainable, non_trainable, inputs)[0]

    # The engine protocol (`_Engine`), with a member axis.

    def _order(self, n):
        """This epoch's order for each member (member, n), as `_Engine._order` draws one."""
        if not self._reshuffle:
            return np.tile(np.arange(n, dtype=np.int32), (len(self._rngs), 1))
        return np.stack([rng.permutation(n).astype(np.int32) for rng in self._rngs])

    def rng_state(self):
        """The members' shuffling generators' states (JSON-able), for checkpoints."""
        return [rng.bit_generator.state for rng in self._rngs]

    def set_rng_state(self, state):
        for rng, member in zip(self._rngs, state):
            rng.bit_generator.state = member

    def _begin(self, orders, step):
        self._now = self._stack()

    def _run_rows(self, rows):
        self._now, losses = self._run(self._now, self._by_device(rows), self._x, self._y)
        losses = np.moveaxis(np.asarray(losses), 0, 1)  # (device, step, member) -> (step, device, member)
        return losses.reshape(losses.shape[0], -1)

    def _end(self):
        self._store(self._now)

    def _by_device(self, stacked):
        """An array with a leading member axis (M, ...) as (device, member on it, ...)."""
        return stacked.reshape(len(self.devices_used), self._per_device, *stacked.shape[1:])

    def _stack(self, groups=4):
        """The first `groups` of the models' state (see `_variables`), stacked along
        the member axis, split by device (device, member on it, ...)."""
        stacked = []
        for variables in zip(*(_variables(model)[:groups] for model in self.models)):
            values = (np.stack([np.asarray(v.value) for v in same]) for same in zip(*variables))
            stacked.append([self._place(self._by_device(v)) for v in values])
        return tuple(stacked)

    def _store(self, state):
        """Writes the stacked state back into each model (its variables, on the default device)."""
        host = self._jax.device_get(state[:3])  # the running means are this engine's own
        for k, model in enumerate(self.models):
            device, member = divmod(k, self._per_device)
            for variables, values in zip(_variables(model), host):
                for variable, value in zip(variables, values):
                    variable.assign(value[device, member])

    def predict(self, x):
        """Each member's outputs for `x` (uint8 pixels are scaled): an array (M, len(x), outputs)."""
        trainable, non_trainable = self._stack(2)

        def forward(inputs):
            outputs = np.asarray(self._forward(trainable, non_trainable, inputs))
            return outputs.reshape(len(self.models), *outputs.shape[2:])

        return predict_in_batches(forward, x, axis=1)


def _check_alike(models):
    """Raises ValueError unless every model's variables have the first one's shapes."""

    def shapes(model):
        return [[tuple(v.shape) for v in group] for group in _variables(model)]

    first = shapes(models[0])
    for k, model in enumerate(models[1:], start=1):
        if shapes(model) != first:
            raise ValueError(
                f"StackedJaxSGD needs models of identical architecture: the weights of model {k} "
                f"({model.name}) do not have the shapes of model 0's ({models[0].name})"
            )


def _variables(model):
    """The state Keras's stateless `train_step` takes, as lists of the model's variables."""
    return model.trainable_variables, model.non_trainable_variables, model.optimizer.variables, model.metrics_variables


def _devices_for(members, devices):
    """The first d of `devices`, d the largest count that divides `members` (one or more members each)."""
    count = max(d for d in range(1, min(members, len(devices)) + 1) if members % d == 0)
    return list(devices[:count])
