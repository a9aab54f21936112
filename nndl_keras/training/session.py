"""One run's context: the data, the settings, and training as the book does it."""

import contextlib
import dataclasses
import time
from pathlib import Path

import keras
import numpy as np

from nndl_keras.models.feedforward import l2_regularizer
from nndl_keras.training.checkpoints import Checkpoint
from nndl_keras.training.engines import make_engine
from nndl_keras.training.progress import Progress
from nndl_keras.training.stopping import DeferredStop, StopRequested

# What the runner can measure after an epoch, as the book's `monitor_*` flags.
MEASURES = (
    "training_cost",
    "training_accuracy",
    "validation_cost",
    "validation_accuracy",
    "test_cost",
    "test_accuracy",
)


def accuracy(probabilities_or_labels, labels):
    """Fraction of `labels` matched by the argmax of the outputs (or by the labels given)."""
    predicted = np.asarray(probabilities_or_labels)
    if predicted.ndim > 1:
        predicted = predicted.argmax(axis=-1)
    return float(np.mean(predicted == labels))


def book_cost(model, hp, probabilities, labels):
    """The cost of a set as the recipe's book program reports it: the mean cost over
    the set plus the L2 term of `hp.l2`'s program (network2's `total_cost`, or
    network3's per-mini-batch term; see `Network2L2.book_cost`, `Network3L2.book_cost`).
    """
    cost = float(model.loss(labels, probabilities))
    regularizer = l2_regularizer(hp)
    if regularizer is not None:
        cost += regularizer.book_cost(model, len(labels))
    return cost


@dataclasses.dataclass
class Trained:
    """A trained model, its history and the callbacks that watched it.

    `diverged` is `None`, or `{"epoch": e, "cost": c}` when the cost of epoch
    `e` was not finite: training stopped there and `model` holds the weights
    of the last epoch before it.
    """

    model: object
    history: dict
    callbacks: list
    engine: str
    seed: int
    diverged: object = None


@dataclasses.dataclass
class Session:
    """What a recipe runs in: its hyperparameters, the data, where outputs go.

    Experiments (recipes with several trainings, such as `ch3-init`) call
    `train` once per configuration; a plain recipe is trained the same way.
    With `checkpoints` (a folder), every training saves its state after each
    completed epoch, and with `resume` a training picks up from its saved
    state (see `training.checkpoints`); trainings are told apart by the order
    in which the recipe asks for them, which the same settings repeat.
    """

    recipe: object
    hp: object
    data: object
    output_dir: object
    seed: int = 0
    engine: str = "auto"
    steps_per_execution: int = 1
    callbacks: tuple = ()
    verbose: int = 1
    checkpoints: object = None
    resume: bool = False
    placement: object = None
    trainings: int = 0
    progress: object = None
    last_engine: str = "none"  # the engine of the last training, for metrics.json
    saved: list = dataclasses.field(default_factory=list, repr=False)  # (training, its Checkpoint)

    def __post_init__(self):
        if self.placement is None:
            from nndl_keras.training.devices import Placement

            self.placement = Placement("cpu", description="the backend's default device")
        if self.progress is None:
            self.progress = Progress(self.say, quick_look=self.quick_look(), verbose=self.verbose)

    def quick_look(self):
        """A command that runs this recipe briefly: one epoch on 10,000 images (three members)."""
        members = " --members 3" if "members" in self.hp.options else ""
        return f"nndl-keras run {self.recipe.name}{members} --epochs 1 --train-size 10000"

    def plan(self, trainings):
        """Tells the progress line how many trainings the run will take (best-of-N, members)."""
        self.progress.plan(trainings)

    def training_set(self, size):
        """The first `size` training images: of the book's 50,000, or of the expanded 250,000 (uint8)."""
        if self.recipe.expanded:
            from nndl_keras.data import expanded_training

            return expanded_training(self.data, size=size)  # built once per process (runner.run), then shared
        return self.data.training.take(size)

    def say(self, *args):
        if self.verbose:
            print(*args, flush=True)

    def train(self, hp=None, *, seed=None, monitor=None, evaluate_every=1, callbacks=None, label=None):
        """Builds `recipe.build(hp)` and trains it by the book's SGD.

        Args:
            hp: hyperparameters (default: the session's).
            seed: weights and shuffling seed (default: the session's).
            monitor: measures to take, from `MEASURES` (default: the recipe's).
            evaluate_every: measure every this many epochs (`None`: after the
                last epoch only). Between measurements, epochs run back to
                back in one compiled call: the fast path for small data.
            callbacks: Keras callbacks (default: the recipe's and the session's).
            label: printed before the epochs.

        Returns:
            A `Trained`.
        """
        hp = hp or self.hp
        seed = self.seed if seed is None else seed
        monitor = tuple(monitor or self.recipe.monitor)
        if callbacks is None:
            own = self.recipe.callbacks(hp, self.data) if self.recipe.callbacks else []
            callbacks = own + list(self.callbacks)
        self.trainings += 1
        keras.utils.set_random_seed(seed)
        training = self.training_set(hp.train_size)
        with self.placement.scope():
            return self._train(hp, seed, training, monitor, evaluate_every, callbacks, label)

    def can_train_together(self):
        """Whether an ensemble's members train side by side here (see `devices.trains_together`)."""
        from nndl_keras.training.devices import trains_together

        return trains_together(self.hp, self.engine, self.placement)

    def train_together(self, seeds, label=None):
        """Trains one net per seed side by side, in one compiled step (`StackedJaxSGD`, JAX).

        Each net equals the net `train(seed=...)` would give (to float rounding):
        its own initialisation, dropout masks and data order. Epochs are
        measured (the recipe's monitor), printed and checkpointed together.

        Returns:
            A list of `Trained`, one per seed.
        """
        from nndl_keras.training.engines import StackedJaxSGD

        hp, monitor = self.hp, tuple(self.recipe.monitor)
        self.trainings += 1
        models = []
        for seed in seeds:
            keras.utils.set_random_seed(seed)
            models.append(self.recipe.build(hp))
        training = self.training_set(hp.train_size)
        engine = StackedJaxSGD(models, training.x, training.y, hp.batch_size, seeds, reshuffle=self.recipe.reshuffle)
        checkpoint, state = self._checkpoint(hp, seeds=list(seeds), engine=engine.name)
        devices = len(engine.devices_used)
        self.say(f"{label or 'Training'} (seeds {seeds[0]}-{seeds[-1]}, stacked on {devices} device(s), backend jax)")
        engine.progress = self.progress.steps
        histories = _StackedLoop(engine, hp, checkpoint, self.progress).run(self.data, monitor, state)
        self.last_engine = engine.name
        return [Trained(m, h, [], engine.name, seed) for m, h, seed in zip(models, histories, seeds)]

    def _train(self, hp, seed, training, monitor, evaluate_every, callbacks, label):
        model = self.recipe.build(hp)
        trainer = make_engine(
            model,
            training.x,
            training.y,
            hp.batch_size,
            seed,
            engine=self.engine,
            jit_compile=self.recipe.xla,
            reshuffle=self.recipe.reshuffle,
            steps_per_execution=self.steps_per_execution,
            static_shapes=self.placement.kind == "tpu",
            strategy=self.placement.strategy,
            distribution=self.placement.distribution,
        )
        checkpoint, state = self._checkpoint(hp, seed=seed, engine=trainer.name)
        self.say(f"{label or 'Training'} (seed {seed}, engine {trainer.name}, backend {keras.backend.backend()})")
        every = evaluate_every or hp.epochs
        trainer.progress = self.progress.steps
        loop = _Loop(trainer, hp, callbacks, checkpoint, self.progress)
        history, diverged = loop.run(self.data, training, monitor, every, state)
        self.last_engine = trainer.name
        return Trained(model, history, callbacks, trainer.name, seed, diverged)


    def _checkpoint(self, hp, **settings):
        """This training's `Checkpoint` (None without a checkpoint folder) and, resuming, its saved state.

        The settings (recipe, hyperparameters, seeds, engine) are stored with it:
        a checkpoint of another training is refused rather than restored.
        """
        if self.checkpoints is None:
            return None, None
        settings = {"recipe": self.recipe.name, "hparams": hp.to_dict(), **settings}
        checkpoint = Checkpoint(Path(self.checkpoints) / f"training-{self.trainings}", settings)
        self.saved.append((self.trainings, checkpoint))
        return checkpoint, checkpoint.load() if self.resume else None

    def processes(self):
        """Every process that trained this run with the epochs of each training it took,
        when more than one did (a run resumed, perhaps elsewhere); else []."""
        if all(len(checkpoint.processes) <= 1 for _, checkpoint in self.saved):
            return []
        return [{"training": k, **process} for k, checkpoint in self.saved for process in checkpoint.processes]


class _Epochs:
    """What both loops share: the engine's epochs, stopped, saved and resumed the same way.

    A loop has `engine`, `models` (a model, or a list trained stacked),
    `callbacks`, `hp`, `checkpoint` (or None), `progress`, and the `epoch`
    reached with its `history` (a list of histories when stacked).
    """

    def _train(self, epochs, stop):
        """`engine.train_epochs(epochs)`; stopped between two chunks (Ctrl-C, SIGTERM), the
        position inside the epoch is checkpointed, so that --resume loses seconds, not the
        epoch, and `StopRequested` is raised with the signal that came."""
        try:
            return self.engine.train_epochs(epochs)
        except StopRequested:
            if self.checkpoint is not None:
                self._save(position=self.engine.position)
            raise StopRequested(stop.signum) from None

    def _save(self, finished=False, position=None):
        self.checkpoint.save(
            self.models, self.engine, self.callbacks, self.epoch, self.history, finished=finished, position=position
        )

    def _restore(self, state):
        """Puts a checkpoint's state back (after `on_train_begin`, which would reset it)."""
        self.checkpoint.restore(state, self.models, self.engine, self.callbacks)
        self.epoch, self.history = state["epoch"], state["history"]
        within = state.get("position")
        self.resumed_at = within["step"] if within else 0  # mini-batches into the next epoch
        into = f", {within['step']:,} mini-batches into the next," if within else ""
        self.progress.say(f"Resumed after epoch {self.epoch}/{self.hp.epochs}{into} from {self.checkpoint.folder}")
        elsewhere = self.checkpoint.trained_elsewhere()
        if elsewhere:
            self.progress.say(f"  saved on {elsewhere}: this processor rounds differently; metrics.json will name both")


class _StackedLoop(_Epochs):
    """The epochs of nets trained side by side: each one measured, all checkpointed together."""

    def __init__(self, engine, hp, checkpoint, progress):
        self.engine, self.models, self.callbacks = engine, engine.models, []
        self.hp, self.checkpoint, self.progress = hp, checkpoint, progress

    def run(self, data, monitor, state=None):
        engine, hp = self.engine, self.hp
        self.history = [{"epoch": [], "loss": [], "seconds": [], **{m: [] for m in monitor}} for _ in engine.models]
        self.epoch, self.resumed_at = 0, 0
        if state is not None:
            self._restore(state)
        self.progress.start_training(self.epoch, hp.epochs, -(-engine._n // hp.batch_size), self.resumed_at)
        with DeferredStop() as stop:
            engine.should_stop = stop.requested
            while self.epoch < hp.epochs:
                tick = time.perf_counter()
                (costs,) = self._train(1, stop)
                seconds = time.perf_counter() - tick
                self.epoch += 1
                shown = self._measure(data, monitor, costs, seconds)
                self.progress.epoch_done(self.epoch, seconds, shown)
                if self.checkpoint is not None:
                    self._save(finished=self.epoch >= hp.epochs)
                stop.check()
        return self.history

    def _measure(self, data, monitor, costs, seconds):
        histories, sets = self.history, {"validation": data.validation, "test": data.test}
        for history, cost in zip(histories, costs):
            history["epoch"].append(self.epoch)
            history["loss"].append(cost)
            history["seconds"].append(seconds)
        for name, split in sets.items():
            wanted = [m for m in monitor if m == f"{name}_accuracy"]
            if wanted:
                for history, outputs in zip(histories, self.engine.predict(split.x)):
                    history[wanted[0]].append(accuracy(outputs, split.y))
        return "; ".join(
            f"{m}: " + " ".join(f"{h[m][-1]:.4f}" for h in histories) for m in ("loss", *monitor) if histories[0].get(m)
        )


class _Loop(_Epochs):
    """The epochs of one training: measurements, callbacks, checkpoints, divergence, stops."""

    def __init__(self, engine, hp, callbacks, checkpoint, progress):
        self.engine, self.model, self.hp = engine, engine.model, hp
        self.models = self.model  # what a checkpoint holds
        self.callbacks, self.checkpoint, self.progress = callbacks, checkpoint, progress

    def call(self, hook, *args):
        # Not keras.callbacks.CallbackList: it hands each callback a copy of the
        # logs, and what callbacks add to them (gradient norms) belongs in history.
        for callback in self.callbacks:
            getattr(callback, hook)(*args)

    def run(self, data, training, monitor, every, state=None):
        """Trains to `hp.epochs` (from `state`, a checkpoint's, if given); returns (history, diverged).

        With an engine that runs in chunks, Ctrl-C and SIGTERM are answered at
        the end of the chunk they arrive in (about half a second): the position in
        the epoch is checkpointed, and `StopRequested` raised.
        """
        model, hp = self.model, self.hp
        # The engines scale uint8 images (the expanded set) as they measure them.
        self.sets = {"training": training, "validation": data.validation, "test": data.test}
        self.monitor, self.every = monitor, every
        self.history = {"epoch": [], "loss": [], "seconds": [], **{m: [] for m in monitor}}
        for callback in self.callbacks:
            callback.set_model(model)
            callback.set_params({"epochs": hp.epochs, "verbose": 0})
        model.stop_training = False
        self.call("on_train_begin")
        self.epoch, self.resumed_at = 0, 0
        if state is not None:  # after on_train_begin, which would reset what is restored
            self._restore(state)
            model.stop_training = state["finished"]
        deferred = DeferredStop() if self.engine.interruptible else contextlib.nullcontext()
        with deferred as stop:
            if stop is not None:
                self.engine.should_stop = stop.requested
            diverged = self._epochs(stop)
        self.call("on_train_end")
        return self.history, diverged

    def _epochs(self, stop):
        model, hp = self.model, self.hp
        steps_per_epoch = -(-len(self.sets["training"].y) // hp.batch_size)
        self.progress.start_training(self.epoch, hp.epochs, steps_per_epoch, self.resumed_at)
        while self.epoch < hp.epochs and not model.stop_training:
            # Epochs between measurements run in one call unless a callback needs each one.
            chunk = 1 if self.callbacks else min(self.every - self.epoch % self.every, hp.epochs - self.epoch)
            last_good = [v.numpy() for v in model.variables]
            self.call("on_epoch_begin", self.epoch)
            tick = time.perf_counter()
            losses = self._train(chunk, stop)
            seconds = (time.perf_counter() - tick) / chunk
            if not np.all(np.isfinite(losses)):
                return self._diverged(losses, last_good)
            self.epoch += chunk
            self._after(losses, seconds)
            if stop is not None:
                stop.check()  # a signal during the measurements: the epoch is saved, stop now
        return None

    def _diverged(self, losses, last_good):
        # The book's eta 100 runs: weights overflow and every later step
        # is NaN. Keep the weights from before this call and stop.
        bad = int(np.flatnonzero(~np.isfinite(losses))[0])
        diverged = {"epoch": self.epoch + bad + 1, "cost": str(losses[bad])}
        for variable, value in zip(self.model.variables, last_good):
            variable.assign(value)
        self.progress.say(f"Epoch {diverged['epoch']}/{self.hp.epochs} - the cost is {diverged['cost']}: diverged, stopping")
        return diverged

    def _after(self, losses, seconds):
        """An epoch's measurements, callbacks, line and checkpoint."""
        epoch, hp, history, monitor = self.epoch, self.hp, self.history, self.monitor
        logs = {"loss": losses[-1]}
        measured = epoch % self.every == 0 or epoch == hp.epochs or bool(self.callbacks)
        if measured:
            logs.update(_measure(self.model, self.engine, hp, self.sets, monitor))
            history["epoch"].append(epoch)
            history["loss"].append(float(np.mean(losses)))
            history["seconds"].append(seconds)
            for m in monitor:
                history[m].append(logs[m])
        self.call("on_epoch_end", epoch - 1, logs)
        for key, value in logs.items():  # what callbacks added (gradient norms, ...)
            if key != "loss" and key not in monitor:
                history.setdefault(key, []).append(value)
        if measured:
            shown = " - ".join(f"{k}: {logs[k]:.4f}" for k in ("loss", *monitor))
            self.progress.epoch_done(epoch, seconds, shown)
        if self.checkpoint is not None:
            self._save(finished=epoch >= hp.epochs or self.model.stop_training)


def _measure(model, trainer, hp, sets, monitor):
    measured = {}
    for name, split in sets.items():
        wanted = [m for m in monitor if m.startswith(name + "_")]
        if not wanted:
            continue
        outputs = trainer.predict(split.x)
        for m in wanted:
            if m.endswith("_accuracy"):
                measured[m] = accuracy(outputs, split.y)
            else:
                measured[m] = book_cost(model, hp, outputs, split.y)
    return measured
