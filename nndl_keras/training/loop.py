"""The one epoch loop: M ≥ 1 models (a single net, or an ensemble's members stacked on JAX)
measured, called back, checkpointed and stopped alike. Callbacks (M = 1) are driven by
`keras.callbacks.CallbackList` with `fit`'s params; batch hooks run once per chunk of
steps, as `fit` calls them once per execution with `steps_per_execution`.
"""

import math
import time

import keras
import numpy as np

from nndl_keras.errors import Interrupted
from nndl_keras.models.feedforward import l2_regularizer
from nndl_keras.stopping import deferred_stop

# What the loop can measure after an epoch, as the book's `monitor_*` flags.
MEASURES = ("training_cost", "training_accuracy", "validation_cost", "validation_accuracy", "test_cost", "test_accuracy")


def accuracy(probabilities_or_labels, labels):
    """Fraction of `labels` matched by the argmax of the outputs (or by the labels given)."""
    predicted = np.asarray(probabilities_or_labels)
    if predicted.ndim > 1:
        predicted = predicted.argmax(axis=-1)
    return float(np.mean(predicted == labels))


def book_cost(model, hp, probabilities, labels):
    """The cost of a set as the recipe's book program reports it: the mean cost over the set
    plus the L2 term of `hp.l2`'s program (network2's `total_cost`, or network3's
    per-mini-batch term; see `Network2L2.book_cost`, `Network3L2.book_cost`)."""
    cost = float(model.loss(labels, probabilities))
    regularizer = l2_regularizer(hp)
    if regularizer is not None:
        cost += regularizer.book_cost(model, len(labels))
    return cost


class EpochLoop:
    """Trains `engine`'s models (an `epochs.Epochs`) to `hp.epochs`.

    Args:
        engine: the `Epochs` that runs the steps.
        hp: the hyperparameters (`epochs`, and what the costs need).
        sets: `{"training": split, "validation": split, "test": split}` to measure.
        monitor: the measures to take, from `MEASURES`.
        every: measure every this many epochs (epochs between run in one call, unless
            a callback needs each one).
        callbacks: Keras callbacks (one model only).
        checkpoint: a `checkpoints.Checkpoint` saved after every epoch, or None.
        progress: the run's `nndl_keras.progress.Progress`.
    """

    def __init__(self, engine, hp, sets, monitor, *, every=1, callbacks=(), checkpoint=None, progress=None):
        if callbacks and len(engine.models) > 1:
            raise ValueError("callbacks watch one model; an ensemble stacked has several")
        self.engine, self.models, self.hp, self.sets, self.monitor = engine, engine.models, hp, sets, tuple(monitor)
        self.every, self.user_callbacks, self.checkpoint, self.progress = every, list(callbacks), checkpoint, progress
        self.callbacks = keras.callbacks.CallbackList(
            [*self.user_callbacks, _Recorder(self)], model=self.models[0], epochs=hp.epochs, steps=engine.steps_per_epoch, verbose=0
        )
        self.history = [{"epoch": [], "loss": [], "seconds": [], **{m: [] for m in self.monitor}} for _ in self.models]
        self.epoch, self.resumed_at, self.diverged = 0, 0, None
        if self.user_callbacks:  # their batch hooks, at chunk boundaries (and at their every_n_batches)
            engine.on_chunk = self._batch_hooks
            wanted = [c.every_n_batches for c in self.user_callbacks if getattr(c, "every_n_batches", None)]
            engine.every_n_batches = math.gcd(*wanted) if wanted else None

    def run(self, state=None):
        """Trains (from `state`, a checkpoint's, if given); returns (histories, diverged).

        Ctrl-C and SIGTERM are answered at the end of the chunk they arrive in:
        the position in the epoch is checkpointed, and `Interrupted` raised.
        """
        self.models[0].stop_training = False
        self.callbacks.on_train_begin()
        if state is not None:  # after on_train_begin, which would reset what is restored
            self._restore(state)
        self.engine.progress = self.progress.steps
        self.progress.start_training(self.epoch, self.hp.epochs, self.engine.steps_per_epoch, self.resumed_at)
        with deferred_stop() as stop:
            while self.epoch < self.hp.epochs and not self.models[0].stop_training and self.diverged is None:
                self._span(stop)
                stop.check()  # a signal during the measurements: the epoch is saved, stop now
        self.callbacks.on_train_end()
        return self.history, self.diverged

    def _span(self, stop):
        """The epochs up to the next measurement (one with callbacks), then their measurements."""
        span = 1 if self.user_callbacks else min(self.every - self.epoch % self.every, self.hp.epochs - self.epoch)
        last_good = [[v.numpy() for v in model.variables] for model in self.models]
        self.callbacks.on_epoch_begin(self.epoch)
        tick = time.perf_counter()
        try:
            costs = self.engine.train(span, stop)  # (span, M)
        except Interrupted:
            if self.checkpoint is not None:
                self._save(position=self.engine.position)
            raise
        seconds = (time.perf_counter() - tick) / span
        if not np.all(np.isfinite(costs)):
            return self._diverge(costs, last_good)
        self.epoch += span
        self._after(costs, seconds)

    def _diverge(self, costs, last_good):
        # The book's eta 100 runs: weights overflow and every later step is NaN.
        # Keep the weights from before this call and stop.
        bad = int(np.flatnonzero(~np.all(np.isfinite(costs), axis=1))[0])
        cost = next(c for c in costs[bad] if not np.isfinite(c))
        self.diverged = {"epoch": self.epoch + bad + 1, "cost": str(float(cost))}
        for model, values in zip(self.models, last_good):
            for variable, value in zip(model.variables, values):
                variable.assign(value)
        self.progress.say(f"Epoch {self.diverged['epoch']}/{self.hp.epochs} - the cost is {self.diverged['cost']}: diverged, stopping")

    def _after(self, costs, seconds):
        """An epoch's measurements, callbacks, line and checkpoint."""
        epoch, logs = self.epoch, [{"loss": float(c)} for c in costs[-1]]
        measured = epoch % self.every == 0 or epoch == self.hp.epochs or bool(self.user_callbacks)
        if measured:
            for k, (history, found) in enumerate(zip(self.history, self._measure())):
                logs[k].update(found)
                history["epoch"].append(epoch)
                history["loss"].append(float(np.mean(costs[:, k])))
                history["seconds"].append(seconds)
                for m in self.monitor:
                    history[m].append(found[m])
        self.callbacks.on_epoch_end(epoch - 1, logs[0])  # what they add to the logs, _Recorder keeps
        if measured:
            shown = " - ".join(f"{key}: " + " ".join(f"{one[key]:.4f}" for one in logs) for key in ("loss", *self.monitor))
            self.progress.epoch_done(epoch, seconds, shown)
        if self.checkpoint is not None:
            self._save(finished=epoch >= self.hp.epochs or self.models[0].stop_training)

    def _measure(self):
        """Each model's measures (`monitor`) on the sets, the engine's predictions (uint8 scaled)."""
        found = [{} for _ in self.models]
        for name, split in self.sets.items():
            wanted = [m for m in self.monitor if m.startswith(name + "_")]
            outputs = self.engine.program.predict(split.x) if wanted else ()
            for one, model, predicted in zip(found, self.models, outputs):
                for m in wanted:
                    one[m] = accuracy(predicted, split.y) if m.endswith("_accuracy") else book_cost(model, self.hp, predicted, split.y)
        return found

    def _batch_hooks(self, step, steps, losses):
        """Before a chunk, `on_train_batch_begin`; after it, `on_train_batch_end` with the
        epoch's mean cost so far (the batch numbered from 0 in each epoch, as `fit` does)."""
        at = step % self.engine.steps_per_epoch
        if losses is None:
            self.callbacks.on_train_batch_begin(at)
        else:
            self.callbacks.on_train_batch_end(at + steps - 1, {"loss": float(np.mean(np.concatenate(losses)[-(at + steps):]))})

    def _one(self, values):
        """A list per model, as checkpoints keep it: the value itself for one model."""
        return values[0] if len(self.models) == 1 else values

    def _save(self, finished=False, position=None):
        self.checkpoint.save(
            self._one(self.models), self.engine.rng_state(), self.user_callbacks, self.epoch, self._one(self.history),
            finished=finished, position=position,
        )

    def _restore(self, state):
        """Puts a checkpoint's state back, and says so."""
        self.checkpoint.restore(state, self._one(self.models), self.user_callbacks)
        self.engine.set_rng_state(state["rng"])
        within = state.get("position")
        if within is not None:
            self.engine.set_position(within)
        self.epoch, self.models[0].stop_training = state["epoch"], state["finished"]
        self.history = state["history"] if len(self.models) > 1 else [state["history"]]
        self.resumed_at = within["step"] if within else 0  # mini-batches into the next epoch
        into = f", {within['step']:,} mini-batches into the next," if within else ""
        self.progress.say(f"Resumed after epoch {self.epoch}/{self.hp.epochs}{into} from {self.checkpoint.folder}")
        fresh = [type(c).__name__ for c, saved in zip(self.user_callbacks, state["callbacks"]) if saved is None]
        if fresh:
            self.progress.say(f"  {', '.join(fresh)}: no get_state/set_state, so it goes on from its state at on_train_begin")
        elsewhere = self.checkpoint.trained_elsewhere()
        if elsewhere:
            self.progress.say(f"  saved on {elsewhere}: this processor rounds differently; metrics.json will name both")


class _Recorder(keras.callbacks.Callback):
    """Last in the list: keeps in the history what the callbacks before it added to an
    epoch's logs (gradient norms, ...), as Keras's `History` does for `fit`."""

    def __init__(self, loop):
        super().__init__()
        self._loop = loop

    def on_epoch_end(self, epoch, logs=None):
        history, monitor = self._loop.history[0], self._loop.monitor
        for key, value in (logs or {}).items():
            if key != "loss" and key not in monitor:
                history.setdefault(key, []).append(value)
