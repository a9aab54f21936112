"""Ways to run one epoch of the book's mini-batch SGD on a compiled Keras model.

Both engines take the same steps: reshuffle the training data every epoch (as
network.py and network2.py do), cut it into consecutive mini-batches of m (the
last one smaller when m does not divide n), and apply the optimizer once per
mini-batch to the gradient of the model's compiled loss, regularisation included.

- `FusedSGD` (TensorFlow backend) keeps the data on the device and runs the
  mini-batches as compiled `tf.while_loop`s, in chunks of about half a second (so
  that a Ctrl-C is answered between two of them, see `_Engine`). With the
  book's m = 10 a plain `fit` spends most of its time between steps (about
  8.6 s an epoch for ch1 here); the fused loop takes about 0.2 s.
- `FusedJaxSGD` is the same on the JAX backend: Keras's stateless
  `train_step` under `jax.lax.scan`, a jitted call per chunk.
- `DistributedSGD` runs Keras's own `train_step` under a `tf.distribute`
  strategy (`strategy.run`), many steps per compiled call: the strategy splits
  each global mini-batch across the replicas and all-reduces the gradients.
- `FitSGD` calls `model.fit` for one epoch: any Keras backend, any
  `keras.distribution`.
"""

import signal
import time

import keras
import numpy as np

from nndl_keras.training.stopping import StopRequested

PREDICT_BATCH = 2000
FIRST_CHUNK = 20  # mini-batches in the first chunks of an epoch, before one is timed
CHUNK_SECONDS = 0.5  # how long a chunk should take: how often a Ctrl-C is looked at


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


def _book_batches(x, y, batch_size, drop_remainder):
    """One epoch as a `tf.data` pipeline: consecutive mini-batches in the order given,
    uint8 pixels scaled per mini-batch; sharded by data, never by file, when distributed."""
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size, drop_remainder=drop_remainder)
    if x.dtype == np.uint8:
        data = data.map(lambda images, labels: (tf.cast(images, tf.float32) / 255.0, labels))
    return data.with_options(options).prefetch(tf.data.AUTOTUNE)


class _Engine:
    """What the engines share: the book's epoch order, and one epoch as a run of one.

    The fused engines also share how an epoch runs: as a sequence of compiled
    chunks of consecutive mini-batches, each about `CHUNK_SECONDS` long (the
    length is timed on the first chunks; it does not change the numbers), so
    that between two chunks the engine can report progress (`progress(done,
    total, rate)`: steps of the current call, and the chunk's steps per second
    unless it compiled) and stop when `should_stop()` says so.
    Stopped, it raises `StopRequested` with `position` saying where it was;
    `set_position(position)` on an engine holding the same weights makes the
    next `train_epochs` go on from there, to the same numbers.
    """

    interruptible = False  # whether an epoch runs in chunks that can stop between them

    def __init__(self, model, batch_size, seed, reshuffle):
        self.model, self.batch_size = model, batch_size
        self._rng = np.random.default_rng(seed)
        self._reshuffle = reshuffle
        self.should_stop = lambda: False
        self.progress = None
        self.position = None
        self.rate = None  # steps per second of the last chunk, when it did not compile
        self._resume = None
        self._chunk, self._tuned, self._compiled = FIRST_CHUNK, False, set()

    def _order(self, n):
        """This epoch's order of the examples: reshuffled, or the data's own (network3)."""
        return self._rng.permutation(n).astype(np.int32) if self._reshuffle else np.arange(n, dtype=np.int32)

    def rng_state(self):
        """The shuffling generator's state (JSON-able), for checkpoints."""
        return self._rng.bit_generator.state

    def set_rng_state(self, state):
        self._rng.bit_generator.state = state

    def set_position(self, position):
        """Makes the next `train_epochs` continue the stopped call `position` describes."""
        self._resume = position

    def train_epoch(self):
        """Runs one epoch; returns the cost averaged over its examples (as `fit` reports)."""
        return self.train_epochs(1)[0]

    def train_epochs(self, epochs):
        """Runs `epochs` epochs in chunks (see the class); returns each one's mean cost.

        Raises:
            StopRequested: `should_stop()` was true between two chunks; the
                model holds the weights reached and `position` says where
                (the state of the shuffling generator before this call's
                orders were drawn, the steps done and their costs).
        """
        resume, self._resume, self.position = self._resume, None, None
        if resume is not None:
            self.set_rng_state(resume["rng"])  # the same orders, drawn again
        before = self.rng_state()
        n = self._n
        orders = [self._order(n) for _ in range(epochs)]
        total = epochs * -(-n // self.batch_size)
        losses = [] if resume is None else [np.asarray(resume["losses"], np.float64)]
        start = 0 if resume is None else resume["step"]
        self._begin()
        for step, rows in self._chunks(orders, start):
            if step != start and self.should_stop():  # never before a call's first chunk
                self._end()
                self.position = {"rng": before, "step": step, "losses": np.concatenate(losses).tolist()}
                raise StopRequested(signal.SIGINT)
            losses.append(self._timed(rows))
            if self.progress is not None:
                self.progress(step + rows.shape[-2], total, self.rate)
        self._end()
        return self._costs(np.concatenate(losses), epochs)

    def _chunks(self, orders, step):
        """The call's chunks of mini-batches from global step `step`: (step, rows of indices).

        Chunks start at multiples of the chunk length, so that every epoch has
        the same lengths (XLA compiles each new one). Where m divides n the
        epochs run back to back; otherwise each epoch's smaller last
        mini-batch is a step of its own. An order may have a leading member
        axis (`StackedJaxSGD`): the rows then have it too.
        """
        m, n = self.batch_size, orders[0].shape[-1]
        lead = orders[0].shape[:-1]
        full, rest = divmod(n, m)
        if not rest:
            rows = np.concatenate(orders, axis=-1).reshape(*lead, -1, m)
            while step < rows.shape[-2]:
                length = min(self._chunk - step % self._chunk, rows.shape[-2] - step)
                yield step, rows[..., step : step + length, :]
                step += length
            return
        per_epoch = full + 1
        while step < per_epoch * len(orders):
            epoch, at = divmod(step, per_epoch)
            if at < full:
                length = min(self._chunk - at % self._chunk, full - at)
                yield step, orders[epoch][..., at * m : (at + length) * m].reshape(*lead, length, m)
            else:
                length = 1
                yield step, orders[epoch][..., full * m :].reshape(*lead, 1, rest)
            step += length

    def _timed(self, rows):
        """Runs one chunk; the first chunk timed without compiling sets the chunk length."""
        tick = time.perf_counter()
        losses = np.asarray(self._run_rows(rows), np.float64)  # waits for the chunk to finish
        seconds = time.perf_counter() - tick
        compiled = rows.shape in self._compiled  # else this call compiled (or traced) first
        # Steps per second of a chunk that did not compile: what an estimate can use.
        self.rate = rows.shape[-2] / max(seconds, 1e-9) if compiled else None
        if not self._tuned and rows.shape[-2] == self._chunk and compiled:
            self._chunk = max(1, int(round(self._chunk * CHUNK_SECONDS / max(seconds, 1e-6))))
            self._tuned = True
        self._compiled.add(rows.shape)
        return losses

    def _costs(self, losses, epochs):
        """Each epoch's cost: its steps' costs weighted by their mini-batch sizes, over n
        (with a member axis, a list of the members' costs per epoch)."""
        m, n = self.batch_size, self._n
        sizes = np.full(-(-n // m), m, dtype=np.float64)
        if n % m:
            sizes[-1] = n % m
        per_epoch = losses.reshape(epochs, len(sizes), *losses.shape[1:])
        return (np.tensordot(per_epoch, sizes, axes=([1], [0])) / n).tolist()

    def _begin(self):
        """Before a call's first chunk (the JAX engine takes the model's state)."""

    def _end(self):
        """After a call's last chunk, or when it stops (the JAX engine puts the state back)."""


class FitSGD(_Engine):
    """One `model.fit` epoch per call: works on every backend, strategy and distribution.

    On TensorFlow each epoch is a `tf.data` pipeline (the uint8 expanded set is
    scaled per mini-batch, never copied as float), batched by the book's m:
    under a `tf.distribute` strategy that is the global batch, which `fit`
    splits across the replicas.
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
            return (x.astype(np.float32) / 255 if x.dtype == np.uint8 else x), y
        return _book_batches(x, y, self.batch_size, self._static_shapes), None

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
        return self.model.predict(x, batch_size=PREDICT_BATCH, verbose=0)


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
    """

    name = "distributed"

    def __init__(self, model, x, y, batch_size, seed, strategy, reshuffle=True, steps_per_execution=100, static_shapes=False):
        import tensorflow as tf

        super().__init__(model, batch_size, seed, reshuffle)
        self.x, self.y = x, y
        self._tf, self._strategy = tf, strategy
        self._static_shapes = static_shapes
        self._per_call = max(1, int(steps_per_execution))
        first = x[:batch_size]
        with strategy.scope():  # the loss, metrics and optimizer, built outside the compiled loop
            model._symbolic_build(data_batch=(first.astype(np.float32) / 255 if first.dtype == np.uint8 else first, y[:batch_size]))
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
        data = _book_batches(self.x[order], self.y[order], self.batch_size, self._static_shapes)
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
        outputs = [
            np.asarray(self._forward(x[start : start + PREDICT_BATCH])) for start in range(0, len(x), PREDICT_BATCH)
        ]
        return np.concatenate(outputs)


class FusedSGD(_Engine):
    """The epoch's mini-batches as compiled TensorFlow loops over in-memory tensors, a chunk per call."""

    name = "fused"
    interruptible = True

    @staticmethod
    def available():
        return keras.backend.backend() == "tensorflow"

    def __init__(self, model, x, y, batch_size, seed, jit_compile=True, reshuffle=True):
        import tensorflow as tf

        if not self.available():
            raise ValueError("the fused engine needs the TensorFlow backend; use engine='fit'")
        super().__init__(model, batch_size, seed, reshuffle)
        self._tf = tf
        self._x = tf.constant(x)
        self._y = tf.constant(y)
        self._n = len(y)
        # Variables must exist before tracing: the optimizer creates its own
        # on the first apply otherwise, which a compiled loop cannot do.
        model.optimizer.build(model.trainable_variables)
        # In graph mode one trace serves every chunk length; XLA compiles each length.
        rows = None if jit_compile else [tf.TensorSpec([None, None], tf.int32)]
        self._loop = tf.function(self._loop_over, jit_compile=jit_compile, reduce_retracing=True, input_signature=rows)
        self._forward = tf.function(
            lambda inputs: model(inputs, training=False), jit_compile=jit_compile, reduce_retracing=True
        )

    def _train_step(self, indices):
        tf, model = self._tf, self.model
        x, y = tf.gather(self._x, indices), tf.gather(self._y, indices)
        if x.dtype == tf.uint8:  # the expanded set: scaled here, never stored as float
            x = tf.cast(x, model.compute_dtype) / 255.0
        with tf.GradientTape() as tape:
            y_pred = model(x, training=True)
            loss = model.compute_loss(x=x, y=y, y_pred=y_pred, training=True)
        gradients = tape.gradient(loss, model.trainable_variables)
        model.optimizer.apply(gradients, model.trainable_variables)
        return loss

    def _loop_over(self, rows):
        """One SGD step per row of example indices; each step's cost."""
        tf = self._tf
        steps = tf.shape(rows)[0]

        def body(i, costs):
            return i + 1, costs.write(i, tf.cast(self._train_step(rows[i]), tf.float32))

        _, costs = tf.while_loop(lambda i, _: i < steps, body, (tf.constant(0), tf.TensorArray(tf.float32, size=steps)))
        return costs.stack()

    def _run_rows(self, rows):
        return self._loop(rows).numpy()

    def predict(self, x):
        outputs = [
            np.asarray(self._forward(x[start : start + PREDICT_BATCH]))
            for start in range(0, len(x), PREDICT_BATCH)
        ]
        return np.concatenate(outputs)


class FusedJaxSGD(_Engine):
    """The epoch's mini-batches as jitted `jax.lax.scan`s of Keras's stateless `train_step`, a chunk per call."""

    name = "fused"
    interruptible = True

    def __init__(self, model, x, y, batch_size, seed, reshuffle=True):
        import jax
        import jax.numpy as jnp

        super().__init__(model, batch_size, seed, reshuffle)
        self._jax, self._jnp = jax, jnp
        self._x, self._y = jnp.asarray(x), jnp.asarray(y)
        self._n = len(y)
        model.optimizer.build(model.trainable_variables)
        # Builds the compiled loss and metrics outside the jitted loop (fit does the same).
        model._symbolic_build(data_batch=(np.asarray(x[:batch_size]), np.asarray(y[:batch_size])))
        self._run = jax.jit(self._scan, donate_argnums=0)
        self._forward = jax.jit(lambda trainable, non_trainable, inputs: model.stateless_call(trainable, non_trainable, inputs)[0])
        self._now = None

    def _batch(self, indices):
        x = self._x[indices]
        if x.dtype == self._jnp.uint8:  # the expanded set, scaled as it is taken
            x = x.astype(self.model.compute_dtype) / 255.0
        return x, self._y[indices]

    def _scan(self, state, rows):
        def body(state, indices):
            trainable, non_trainable, optimizer, metrics = state
            # Zeroed running means: the logged loss is this step's own, so an
            # epoch's cost comes from its steps' costs, whatever the chunks.
            metrics = [self._jnp.zeros_like(v) for v in metrics]
            logs, state = self.model.train_step((trainable, non_trainable, optimizer, metrics), self._batch(indices))
            return state, logs["loss"]

        return self._jax.lax.scan(body, state, rows)

    def _begin(self):
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
        m = self.model
        trainable = [v.value for v in m.trainable_variables]
        non_trainable = [v.value for v in m.non_trainable_variables]
        outputs = [
            np.asarray(self._forward(trainable, non_trainable, x[start : start + PREDICT_BATCH]))
            for start in range(0, len(x), PREDICT_BATCH)
        ]
        return np.concatenate(outputs)
