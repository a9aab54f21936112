"""The book's epochs over a step program: order, chunks, stopping and resuming, written once.

Every engine takes the same steps: reshuffle the data every epoch (network.py,
network2.py; network3 keeps its order), cut it into consecutive mini-batches of m
(the last one smaller when m does not divide n), one SGD step each. An epoch runs
in chunks of about `chunk_seconds` (timed on the first ones; the length never
changes the numbers), between which progress is shown, batch hooks are called
and a stop is answered.
"""

import time

import numpy as np

from nndl_keras.training.engines import make_program

FIRST_CHUNK = 20  # mini-batches in the first chunks of an epoch, before one is timed


def make_engine(models, x, y, batch_size, seeds, engine="auto", reshuffle=True, chunk_steps=None, **options):
    """`Epochs` over `engines.make_program(models, ..., engine, **options)`; `models` and
    `seeds` may be one model and one seed.

    Example:

    >>> import keras, numpy as np
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    >>> model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    >>> x, y = np.random.rand(100, 4).astype("float32"), np.arange(100) % 3
    >>> trainer = make_engine(model, x, y, batch_size=10, seeds=0, engine="fit")
    >>> trainer.name, len(trainer.train_epochs(2))
    ('fit', 2)
    """
    models = list(models) if isinstance(models, (list, tuple)) else [models]
    return Epochs(make_program(models, x, y, batch_size, engine, **options), seeds, reshuffle, chunk_steps)


class Epochs:
    """Trains a step program's models by the book's epochs (see the module).

    Args:
        program: a `StepProgram` of M models.
        seeds: one seed per model (an int for one), each seeding its own shuffling
            generator: a member trained in a stack takes the order it takes alone.
        reshuffle: reshuffle every epoch, or keep the data's own order (network3).
        chunk_steps: mini-batches a chunk (default: the program's `fixed_chunk`, else
            as many as take about its `chunk_seconds`, timed on the first chunks).

    Attributes:
        progress: if set, called after each chunk with (steps done, steps of the call,
            the chunk's steps per second, or `None` if it compiled).
        on_chunk: if set, called before each chunk with (its first step, its steps, None)
            and after it, the models synced, with the costs so far (batch hooks).
        every_n_batches: chunks also end at these multiples of an epoch's mini-batches.
        position: where a stopped call was (see `train_epochs`).
    """

    def __init__(self, program, seeds, reshuffle=True, chunk_steps=None):
        seeds = list(seeds) if isinstance(seeds, (list, tuple)) else [seeds]
        if len(seeds) != len(program.models):
            raise ValueError(f"one seed per model: got {len(program.models)} models and {len(seeds)} seeds")
        self.program, self.name, self.models = program, program.name, program.models
        self._rngs, self._reshuffle = [np.random.default_rng(seed) for seed in seeds], reshuffle
        self.steps_per_epoch = -(-program.n // program.batch_size)
        self.progress = self.on_chunk = self.every_n_batches = None
        self.position, self._resume, self.rate = None, None, None
        fixed = chunk_steps or program.fixed_chunk
        self._chunk, self._tuned, self._compiled = fixed or FIRST_CHUNK, fixed is not None, set()

    def rng_state(self):
        """The shuffling generators' states (JSON-able), for checkpoints."""
        return [rng.bit_generator.state for rng in self._rngs]

    def set_rng_state(self, state):
        for rng, one in zip(self._rngs, state):
            rng.bit_generator.state = one

    def set_position(self, position):
        """Makes the next call continue the stopped call `position` describes."""
        self._resume = position

    def train_epochs(self, epochs, stop=None):
        """`train`'s costs as lists: one float per epoch for one model, else one list per epoch."""
        costs = self.train(epochs, stop)
        return costs[:, 0].tolist() if len(self.models) == 1 else costs.tolist()

    def train(self, epochs, stop=None):
        """Runs `epochs` epochs; returns each one's cost per model (epochs, M), averaged over
        its examples as `fit` reports it.

        Raises:
            Interrupted: `stop` (a `nndl_keras.stopping.StopRequest`) was requested between two
                chunks; the models hold the weights reached, and `position` says where (the
                generators' states before this call's orders were drawn, the steps done, their costs).
        """
        resume, self._resume, self.position = self._resume, None, None
        if resume is not None:
            self.set_rng_state(resume["rng"])  # the same orders, drawn again
        before = self.rng_state()
        orders = [self._order() for _ in range(epochs)]
        total, start = epochs * self.steps_per_epoch, 0 if resume is None else resume["step"]
        losses = [] if resume is None else [np.asarray(resume["losses"], np.float64).reshape(-1, len(self.models))]
        self.program.begin(np.stack(orders), start)
        for step, rows in self._chunks(orders, start):
            if step != start and stop is not None and stop.requested():  # never before a call's first chunk
                self.program.sync()
                self.position = {"rng": before, "step": step, "losses": np.concatenate(losses).tolist()}
                stop.check()
            if self.on_chunk is not None:
                self.on_chunk(step, rows.shape[1], None)
            losses.append(self._timed(rows))
            if self.on_chunk is not None:
                self.program.sync()
                self.on_chunk(step, rows.shape[1], losses)
            if self.progress is not None:
                self.progress(step + rows.shape[1], total, self.rate)
        self.program.sync()
        return self._costs(np.concatenate(losses), epochs)

    def _order(self):
        """This epoch's order of the examples for each model (M, n): reshuffled, or the data's own."""
        n, size = self.program.n, self.program.size
        if not self._reshuffle:
            return np.tile(np.arange(n, dtype=np.int32), (len(self._rngs), 1))
        return np.stack([rng.permutation(size).astype(np.int32)[:n] for rng in self._rngs])

    def _length(self, grid, step, left):
        """The chunk from global step `step`: to the next multiple of the chunk length from
        `grid` (XLA compiles each new length, so every epoch has the same ones), or of
        `every_n_batches` in the epoch; at most `left`."""
        length = min(self._chunk - grid % self._chunk, left)
        every, at = self.every_n_batches, step % self.steps_per_epoch
        return length if not every else min(length, every - at % every, self.steps_per_epoch - at)

    def _chunks(self, orders, step):
        """The call's chunks from global step `step`: (step, rows of indices (M, steps, m)).
        Where m divides n the epochs run back to back, as one; otherwise each epoch's
        smaller last mini-batch is a step of its own."""
        m, lead = self.program.batch_size, len(self.models)
        full, rest = divmod(orders[0].shape[-1], m)
        if not rest:
            orders, full = [np.concatenate(orders, axis=-1)], full * len(orders)
        per_epoch = full + (rest > 0)
        while step < per_epoch * len(orders):
            epoch, at = divmod(step, per_epoch)
            length = 1 if at == full else self._length(at, step, full - at)
            yield step, orders[epoch][:, at * m : (at + length) * m].reshape(lead, length, -1)
            step += length

    def _timed(self, rows):
        """Runs one chunk; the first chunk timed without compiling sets the chunk length."""
        tick = time.perf_counter()
        losses = np.asarray(self.program.run(rows), np.float64)  # waits for the chunk to finish
        seconds = time.perf_counter() - tick
        compiled = rows.shape in self._compiled  # else this call compiled (or traced) first
        self.rate = rows.shape[1] / max(seconds, 1e-9) if compiled else None
        if not self._tuned and rows.shape[1] == self._chunk and compiled:
            self._chunk = max(1, int(round(self._chunk * self.program.chunk_seconds / max(seconds, 1e-6))))
            self._tuned = True
        self._compiled.add(rows.shape)
        return losses

    def _costs(self, losses, epochs):
        """Each epoch's cost per model (epochs, M): its steps' costs weighted by their mini-batch sizes, over n."""
        m, n = self.program.batch_size, self.program.n
        sizes = np.full(self.steps_per_epoch, m, dtype=np.float64)
        if n % m:
            sizes[-1] = n % m
        per_epoch = losses.reshape(epochs, len(sizes), losses.shape[-1])
        return np.tensordot(per_epoch, sizes, axes=([1], [0])) / n
