"""One run's context: the data, the settings, and training as the book does it."""

import contextlib
import dataclasses
from pathlib import Path

import keras

from nndl_keras.training.checkpoints import Checkpoint
from nndl_keras.training.epochs import make_engine
from nndl_keras.training.loop import EpochLoop
from nndl_keras.progress import Progress


@dataclasses.dataclass
class Trained:
    """A trained model, its history and the callbacks that watched it; `diverged` is `None`, or
    `{"epoch": e, "cost": c}` when epoch e's cost was not finite (`model` is the epoch before it)."""

    model: object
    history: dict
    callbacks: list
    engine: str
    seed: int
    diverged: object = None


@dataclasses.dataclass
class Session:
    """What a recipe runs in: its hyperparameters, the data, where outputs go.

    Experiments (`ch3-init`, ...) call `train` once per configuration; a plain recipe
    is trained by `best_of`. With `checkpoints` (a folder) every training saves its
    state after each epoch, and with `resume` picks up from it (`training.checkpoints`);
    trainings are told apart by the order the recipe asks for them in.
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
            monitor: measures to take, from `loop.MEASURES` (default: the recipe's).
            evaluate_every: measure every this many epochs (`None`: after the
                last epoch only). Between measurements, epochs run back to
                back in one compiled call: the fast path for small data.
            callbacks: Keras callbacks (default: the recipe's and the session's).
            label: printed before the epochs.

        Returns:
            A `Trained`.
        """
        hp = hp or self.hp
        callbacks = self._callbacks(hp) if callbacks is None else callbacks
        seeds = [self.seed if seed is None else seed]
        (trained,) = self._build_and_train(hp, seeds, monitor, evaluate_every or hp.epochs, callbacks, label)
        return trained

    def _callbacks(self, hp):
        """The recipe's callbacks for `hp`, then the session's."""
        return (self.recipe.callbacks(hp, self.data) if self.recipe.callbacks else []) + list(self.callbacks)

    def can_train_together(self):
        """Whether an ensemble's members train side by side here (see `devices.trains_together`)."""
        from nndl_keras.training.devices import trains_together

        return trains_together(self.hp, self.engine, self.placement)

    def train_together(self, seeds, label=None):
        """Trains one net per seed side by side, in one compiled step (`engines.JaxScan`, JAX).

        Each net equals the net `train(seed=...)` would give (to float rounding):
        its own initialisation, dropout masks and data order, and its own history.

        Returns:
            A list of `Trained`, one per seed.
        """
        return self._build_and_train(self.hp, list(seeds), None, 1, [], label)

    def best_of(self, runs):
        """The book's best-of-N protocol: trains seeds `seed` ... `seed + runs - 1` and keeps the
        best on validation; returns (it, each run's record, as the book would report it alone)."""
        from nndl_keras.training.report import summarize

        self.plan(runs)
        keys = ("best_validation_accuracy", "best_validation_epoch", "test_accuracy_at_best_validation", "measured_accuracy")
        best, trials = (None, -1.0), []
        for seed in range(self.seed, self.seed + runs):
            label = f"Run {seed - self.seed + 1}/{runs}" if runs > 1 else None
            (trained,) = self._build_and_train(self.hp, [seed], None, 1, self._callbacks(self.hp), label)
            measured = summarize(self.recipe, self.hp, trained.history)
            trials.append({"seed": seed, **{key: measured.get(key) for key in keys}})
            trials[-1]["seconds"] = float(sum(trained.history.get("seconds", [])))
            if trained.diverged:
                trials[-1]["diverged"] = trained.diverged
            score = trials[-1]["best_validation_accuracy"]  # None if it diverged at once
            if best[0] is None or (score is not None and score > best[1]):
                best = trained, -1.0 if score is None else score
        return best[0], trials

    def _build_and_train(self, hp, seeds, monitor, every, callbacks, label):
        """`seeds`' nets, built and trained by one `EpochLoop`; a list of `Trained`."""
        self.trainings += 1
        training = self.training_set(hp.train_size)
        models, alone = [], len(seeds) == 1
        with self.placement.scope() if alone else contextlib.nullcontext():  # a stack places its members itself
            for seed in seeds:
                keras.utils.set_random_seed(seed)
                models.append(self.recipe.build(hp))
            engine = make_engine(
                models, training.x, training.y, hp.batch_size, seeds, self.engine if alone else "stacked",
                reshuffle=self.recipe.reshuffle, jit_compile=self.recipe.xla, steps_per_execution=self.steps_per_execution,
                static_shapes=self.placement.kind == "tpu", strategy=self.placement.strategy, distribution=self.placement.distribution,
            )
            checkpoint, state = self._checkpoint(hp, **({"seed": seeds[0]} if alone else {"seeds": seeds}), engine=engine.name)
            if alone:
                self.say(f"{label or 'Training'} (seed {seeds[0]}, engine {engine.name}, backend {keras.backend.backend()})")
            else:
                devices = len(engine.program.devices_used)
                self.say(f"{label or 'Training'} (seeds {seeds[0]}-{seeds[-1]}, stacked on {devices} device(s), backend jax)")
            sets = {"training": training, "validation": self.data.validation, "test": self.data.test}
            loop = EpochLoop(engine, hp, sets, monitor or self.recipe.monitor, every=every, callbacks=callbacks,
                             checkpoint=checkpoint, progress=self.progress)
            histories, diverged = loop.run(state)
        self.last_engine = engine.name
        return [Trained(m, h, callbacks, engine.name, s, diverged) for m, h, s in zip(models, histories, seeds)]

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

