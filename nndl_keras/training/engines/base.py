"""What every engine shares: the book's epoch order, chunked epochs that can stop, and
the pieces each one needs the same way (uint8 scaling, predicting in batches)."""

import signal
import time

import keras
import numpy as np

from nndl_keras.training.stopping import StopRequested

PREDICT_BATCH = 2000
FIRST_CHUNK = 20  # mini-batches in the first chunks of an epoch, before one is timed


def scaled(images, dtype="float32"):
    """uint8 pixels (the expanded set, stored so: 250,000 images in a quarter of
    the memory) as floats in [0, 1]; any other input unchanged.

    Takes NumPy arrays (scaled with NumPy) and the backend's tensors, inside
    compiled code too (scaled with `keras.ops`), so that every engine scales
    the same way, mini-batch by mini-batch.
    """
    if keras.backend.standardize_dtype(images.dtype) != "uint8":
        return images
    if isinstance(images, np.ndarray):
        return images.astype(dtype) / np.asarray(255, dtype)
    return keras.ops.cast(images, dtype) / 255.0


def build_for_training(model, x, y):
    """Creates the compiled loss's, metrics' and optimizer's variables, outside any compiled
    loop, through Keras's public calls on one mini-batch (`x`, `y`), as `fit` builds them
    before its first step. An inference call draws no dropout mask, so no random state moves."""
    x = scaled(x, model.compute_dtype)
    y_pred = model(x, training=False)
    model.compute_loss(x=x, y=y, y_pred=y_pred, training=False)
    model.compute_metrics(x, y, y_pred)
    model.reset_metrics()  # the mini-batch above counts in no logged mean
    model.optimizer.build(model.trainable_variables)


def predict_in_batches(forward, x, axis=0):
    """`forward` of `x` in slices of `PREDICT_BATCH` examples (uint8 pixels scaled),
    joined along `axis` (1 where the outputs have a leading member axis)."""
    outputs = [np.asarray(forward(scaled(x[start : start + PREDICT_BATCH]))) for start in range(0, len(x), PREDICT_BATCH)]
    return np.concatenate(outputs, axis=axis)


def book_batches(x, y, batch_size, orders=None):
    """Mini-batches as a `tf.data` pipeline: consecutive examples in the order given, or, with
    `orders` (epochs, n), each epoch's examples in its order; uint8 pixels scaled per
    mini-batch; sharded by data, never by file, when distributed. `x` and `y` may be
    arrays or, so that calls share one copy of a large set, `tf` tensors."""
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    if orders is None:
        data = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)
    else:  # an epoch gathered at a time, as it is reached: one copy of the set in memory
        x, y = tf.convert_to_tensor(x), tf.convert_to_tensor(y)  # tensors given are not copied
        data = tf.data.Dataset.from_tensor_slices(np.asarray(orders)).flat_map(
            lambda order: tf.data.Dataset.from_tensor_slices((tf.gather(x, order), tf.gather(y, order))).batch(batch_size)
        )
    if x.dtype == np.uint8:  # tf.data runs TensorFlow ops whatever Keras's backend: scaled by tf
        data = data.map(lambda images, labels: (tf.cast(images, tf.float32) / 255.0, labels))
    return data.with_options(options).prefetch(tf.data.AUTOTUNE)


class _Engine:
    """What the engines share: the book's epoch order, and one epoch as a run of one.

    Every engine here runs an epoch the same way: as a sequence of chunks of
    consecutive mini-batches (compiled loops, or `fit` calls), each about
    `chunk_seconds` long (the length is timed on the first chunks; it does not
    change the numbers), so that between two chunks the engine can report
    progress (`progress(done, total, rate)`: steps of the current call, and the
    chunk's steps per second unless it compiled) and stop when `should_stop()`
    says so.
    Stopped, it raises `StopRequested` with `position` saying where it was;
    `set_position(position)` on an engine holding the same weights makes the
    next `train_epochs` go on from there, to the same numbers.

    `seed` seeds the one shuffling generator; an engine that draws its orders
    otherwise (`StackedJaxSGD`, one generator per member) passes `None` and
    overrides `_order`, `rng_state` and `set_rng_state`.
    """

    interruptible = True  # an epoch runs in chunks that can stop between them (False: an engine
    # with a `train_epochs` of its own, stopped by KeyboardInterrupt wherever it is)
    chunk_seconds = 0.5  # how long a chunk should take: how often a Ctrl-C is looked at

    def __init__(self, model, batch_size, seed, reshuffle):
        self.model, self.batch_size = model, batch_size
        self._rng = None if seed is None else np.random.default_rng(seed)
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
        self._begin(orders, start)
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
            self._chunk = max(1, int(round(self._chunk * self.chunk_seconds / max(seconds, 1e-6))))
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

    def _begin(self, orders, step):
        """Before a call's first chunk, which starts at global step `step` of `orders` (the JAX
        engines take the models' state; tf.distribute's makes the call's dataset)."""

    def _end(self):
        """After a call's last chunk, or when it stops (the JAX engines put the state back)."""


class _FromArrays(_Engine):
    """Engines that hand each chunk's mini-batches to Keras from the NumPy arrays (fit, distributed).

    `static_shapes` (TPUs) drops each epoch's smaller last mini-batch, as
    tf.data's `drop_remainder` does, so that every step has the same shape.
    """

    def __init__(self, model, x, y, batch_size, seed, reshuffle, static_shapes):
        super().__init__(model, batch_size, seed, reshuffle)
        self.x, self.y = x, y
        full = len(y) - len(y) % batch_size
        self._n = full if static_shapes and full else len(y)

    def _order(self, n):
        """This epoch's order of all the examples, of which the first `n` are trained on."""
        return super()._order(len(self.y))[:n]

    def _chunk_data(self, rows):
        """The chunk's examples (x, y), in order, and its mini-batch size."""
        indices = rows.reshape(-1)
        return self.x[indices], self.y[indices], rows.shape[-1]
