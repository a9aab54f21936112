"""One run's context: the data, the settings, and training as the book does it."""

import dataclasses
import time
from pathlib import Path

import keras
import numpy as np

from nndl_keras.training.checkpoints import Checkpoint
from nndl_keras.training.engines import make_engine

# What the runner can measure after an epoch, as the book's `monitor_*` flags.
MEASURES = (
    "training_cost",
    "training_accuracy",
    "validation_cost",
    "validation_accuracy",
    "test_cost",
    "test_accuracy",
)
DEFAULT_MONITOR = ("validation_accuracy", "test_accuracy")


def accuracy(probabilities_or_labels, labels):
    """Fraction of `labels` matched by the argmax of the outputs (or by the labels given)."""
    predicted = np.asarray(probabilities_or_labels)
    if predicted.ndim > 1:
        predicted = predicted.argmax(axis=-1)
    return float(np.mean(predicted == labels))


def book_cost(model, hp, probabilities, labels):
    """network2's `total_cost`: mean cost over the set plus ½(λ/N)Σ‖w‖², N the set's size.

    The book divides the L2 term by the size of the set evaluated, not of the
    training set (EXPERIMENTS.md, note 10); that changes the reported cost only.
    """
    cost = float(model.loss(labels, probabilities))
    if hp.lmbda:
        squares = sum(float(np.sum(np.square(layer.kernel))) for layer in model.layers if hasattr(layer, "kernel"))
        cost += 0.5 * hp.lmbda / len(labels) * squares
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

    def __post_init__(self):
        if self.placement is None:
            from nndl_keras.training.devices import Placement

            self.placement = Placement("cpu", description="the backend's default device")

    def training_set(self):
        """The training images: the book's 50,000, or the expanded 250,000 (uint8)."""
        if self.recipe.expanded:
            from nndl_keras.data import expanded_training

            return expanded_training(self.data)  # built once per process (runner.run), then shared
        return self.data.training

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
        training = self.training_set().take(hp.train_size)
        with self.placement.scope():
            return self._train(hp, seed, training, monitor, evaluate_every, callbacks, label)

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
        checkpoint, state = None, None
        if self.checkpoints is not None:
            settings = {"recipe": self.recipe.name, "hparams": hp.to_dict(), "seed": seed, "engine": trainer.name}
            checkpoint = Checkpoint(Path(self.checkpoints) / f"training-{self.trainings}", settings)
            state = checkpoint.load() if self.resume else None
        self.say(f"{label or 'Training'} (seed {seed}, engine {trainer.name}, backend {keras.backend.backend()})")
        every = evaluate_every or hp.epochs
        loop = _Loop(trainer, hp, callbacks, checkpoint, self.say)
        history, diverged = loop.run(self.data, training, monitor, every, state)
        return Trained(model, history, callbacks, trainer.name, seed, diverged)


class _Loop:
    """The epochs of one training: measurements, callbacks, checkpoints, divergence."""

    def __init__(self, trainer, hp, callbacks, checkpoint, say):
        self.trainer, self.model, self.hp = trainer, trainer.model, hp
        self.callbacks, self.checkpoint, self.say = callbacks, checkpoint, say

    def call(self, hook, *args):
        # Not keras.callbacks.CallbackList: it hands each callback a copy of the
        # logs, and what callbacks add to them (gradient norms) belongs in history.
        for callback in self.callbacks:
            getattr(callback, hook)(*args)

    def run(self, data, training, monitor, every, state=None):
        """Trains to `hp.epochs` (from `state`, a checkpoint's, if given); returns (history, diverged)."""
        model, hp, callbacks = self.model, self.hp, self.callbacks
        if training.x.dtype == np.uint8 and any(m.startswith("training_") for m in monitor):
            # Expanded images are uint8; measure them in [0, 1] like the rest.
            training = type(training)(training.x.astype(np.float32) / 255, training.y)
        sets = {"training": training, "validation": data.validation, "test": data.test}
        history = {"epoch": [], "loss": [], "seconds": [], **{m: [] for m in monitor}}
        for callback in callbacks:
            callback.set_model(model)
            callback.set_params({"epochs": hp.epochs, "verbose": 0})
        model.stop_training = False
        self.call("on_train_begin")
        epoch = 0
        if state is not None:  # after on_train_begin, which would reset what is restored
            self.checkpoint.restore(state, model, self.trainer, callbacks)
            epoch, history = state["epoch"], state["history"]
            model.stop_training = state["finished"]
            self.say(f"Resumed after epoch {epoch}/{hp.epochs} from {self.checkpoint.folder}")
        diverged = None
        while epoch < hp.epochs and not model.stop_training:
            # Epochs between measurements run in one call unless a callback needs each one.
            chunk = 1 if callbacks else min(every - epoch % every, hp.epochs - epoch)
            last_good = [v.numpy() for v in model.variables]
            self.call("on_epoch_begin", epoch)
            tick = time.perf_counter()
            losses = self.trainer.train_epochs(chunk)
            seconds = (time.perf_counter() - tick) / chunk
            if not np.all(np.isfinite(losses)):
                # The book's eta 100 runs: weights overflow and every later step
                # is NaN. Keep the weights from before this call and stop.
                bad = int(np.flatnonzero(~np.isfinite(losses))[0])
                diverged = {"epoch": epoch + bad + 1, "cost": str(losses[bad])}
                for variable, value in zip(model.variables, last_good):
                    variable.assign(value)
                self.say(f"Epoch {diverged['epoch']}/{hp.epochs} - the cost is {diverged['cost']}: diverged, stopping")
                break
            epoch += chunk
            logs = {"loss": losses[-1]}
            measured = epoch % every == 0 or epoch == hp.epochs or bool(callbacks)
            if measured:
                logs.update(_measure(model, self.trainer, hp, sets, monitor))
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
                self.say(f"Epoch {epoch}/{hp.epochs} - {seconds:.2f}s - {shown}")
            if self.checkpoint is not None:
                finished = epoch >= hp.epochs or model.stop_training
                self.checkpoint.save(model, self.trainer, callbacks, epoch, history, finished=finished)
        self.call("on_train_end")
        return history, diverged


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
