"""The one runner behind every recipe: data → recipe → training → outputs.

`run("ch1-sgd", epochs=3, output_dir="out")` is what `nndl-keras run ch1-sgd
--epochs 3 --output-dir out` calls. It writes to the output directory:

- `metrics.json`: the recipe, the hyperparameters actually used, per-epoch
  training cost and validation/test accuracy, the summary numbers, the book's
  number, wall time, library versions and provenance (command, commit, date,
  machine: see `training.provenance`); for a run resumed in another process,
  `processes`: each process that trained it, with its epochs and wall time,
  and `training_seconds_all_processes`, their wall times on training summed;
- `model.keras`: the trained model (SGD recipes);
- `learning_curve.png`: accuracy and cost per epoch beside the book's number;
- `run.json`: the call's settings, so that `resume=True` can repeat it;
- `checkpoints/`: each training's state after its last completed epoch, while
  the run is unfinished (see `training.checkpoints`);
- `tensorboard/`: TensorBoard logs, with `tensorboard=True`.
"""

import contextlib
import dataclasses
import platform
import shutil
import sys
import time

import keras
import numpy as np

from nndl_keras import __version__
from nndl_keras.data import expanded_training, load_mnist
from nndl_keras.data.expand import COPIES
from nndl_keras.errors import Interrupted, NNDLError, RecipeError
from nndl_keras.training import devices, outputs, requirements
from nndl_keras.training.provenance import provenance
from nndl_keras.training.session import Session, accuracy

MODEL_FILE = "model.keras"
CURVE_FILE = "learning_curve.png"
CHECKPOINTS = "checkpoints"
PRECISIONS = ("float32", "bfloat16")


@dataclasses.dataclass
class RunResult:
    """What `run` returns: the metrics written, where, and the trained model (if any)."""

    metrics: dict
    output_dir: object
    model: object = None


def run(
    recipe,
    *,
    data_dir=None,
    output_dir=None,
    seed=None,
    runs=None,
    engine=None,
    steps_per_execution=None,
    device=None,
    precision=None,
    callbacks=(),
    verbose=1,
    overwrite=False,
    resume=False,
    allow_unverified=False,
    deterministic=True,
    tensorboard=False,
    **overrides,
):
    """Trains and evaluates one recipe and writes its outputs.

    Args:
        recipe: a `Recipe` or a registered recipe name.
        data_dir: MNIST directory (see `nndl_keras.data.load_mnist`).
        output_dir: where to write; a new `runs/<name>-<time>` when `None`.
        seed: seeds weights, shuffling and dropout (default 0; recorded in
            the metrics).
        runs: train this many times (seeds `seed`, `seed + 1`, ...) and keep the
            run with the best validation accuracy; defaults to the number of
            runs the book took the best of (`recipe.book.runs`).
        engine: `"auto"` (default), `"fused"`, `"distributed"` or `"fit"` (see
            `training.engines`).
        steps_per_execution: mini-batches per device call for the fit engine
            and the distributed engine (default 1; 100 when distributed: an
            accelerator wants hundreds with the book's mini-batch of 10).
        device: `"auto"` (default), `"cpu"`, `"gpu"` or `"tpu"`, or a
            `tf.distribute.Strategy` / `keras.distribution.Distribution` (see
            `training.devices`). Distributed, the book's mini-batch is the
            global batch, split across the replicas; training runs Keras's
            `train_step` under the `tf.distribute` strategy (the distributed
            engine), or `fit` under a `keras.distribution`.
        precision: `"float32"` (default) or `"bfloat16"` (Keras's
            `mixed_bfloat16` policy: bfloat16 compute, float32 weights).
        callbacks: more Keras callbacks, called at the start and end of
            training and of every epoch (not per batch: the fused engine runs
            an epoch in one call), after the recipe's own.
        verbose: 0 silent, 1 progress on the terminal.
        overwrite: allow an `output_dir` that already holds a run (finished
            or interrupted): it is started again.
        resume: continue the interrupted run in `output_dir` from its last
            completed epoch, with the settings it was started with (its
            `run.json`); settings given here must agree with them.
        allow_unverified: use MNIST files whose SHA-256 is not MNIST's.
        deterministic: on TensorFlow, enable deterministic ops, so that the
            same seed gives the same numbers (`tf.config.experimental.
            enable_op_determinism`; it stays enabled in this process).
        tensorboard: also write TensorBoard logs (every epoch's measurements
            and what the recipe's callbacks add, such as gradient norms).
        **overrides: hyperparameters to change (`epochs=3`, `eta=0.5`, ...).

    Returns:
        A `RunResult`. When the cost stopped being finite, training stopped:
        `metrics["diverged"]` says at which epoch, and the model is the last
        one before it.
    """
    from nndl_keras import recipes

    recipe = recipes.get(recipe) if isinstance(recipe, str) else recipe
    # 1. Validate: every setting that can be refused is refused before anything is written.
    requirements.check(keras.backend.backend())
    call = _settings(recipe, overrides, seed, runs, engine, steps_per_execution, device, precision, resume, overwrite, output_dir)
    placement = devices.select(device if device is not None and not isinstance(device, str) else call["device"])
    _resolve_defaults(call, recipe, placement)
    hp = _hyperparameters(recipe, call)
    # 2. Place: which devices train, and whether an ensemble's members train together.
    placement, together = _place(recipe, hp, call, placement, user_chose_device=hasattr(device, "scope"))
    if together and (callbacks or tensorboard):
        # The stack is one compiled step for every member: there is no one model to hand a callback.
        raise NNDLError(
            f"{recipe.name}'s members train stacked here, and callbacks watch one net at a time; "
            "pass --engine fused (engine='fused') to train them one after another with callbacks"
        )
    if tensorboard:
        _check_tensorboard()
    started = time.perf_counter()
    # 3. Load the data; then, and only then, the output directory.
    data = _load(recipe, hp, data_dir, allow_unverified, verbose)
    out = outputs.prepare_output_dir(output_dir, recipe.name, overwrite=overwrite, resume=resume)
    if not resume:
        shutil.rmtree(out / CHECKPOINTS, ignore_errors=True)  # an overwritten run's
        outputs.write_json(out / outputs.RUN_FILE, call)
    if deterministic and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    if tensorboard:
        callbacks = [*callbacks, _tensorboard(out)]
    try:
        with _dtype_policy(call["precision"]):
            session = Session(
                recipe, hp, data, out, seed=call["seed"], engine=call["engine"],
                steps_per_execution=call["steps_per_execution"], callbacks=tuple(callbacks), verbose=verbose,
                checkpoints=out / CHECKPOINTS, resume=resume, placement=placement,
            )
            session.say(f"{recipe.name}: {recipe.description}")
            session.say(f"  data: {data.source}; book: {recipe.book.describe()}")
            session.say(f"  device: {placement.description}; precision {call['precision']}")
            session.say(f"  output: {out}")
            # 4. Train.
            trained, history, engine_name, extra = _train(session, call["runs"])
            nets = extra.pop("histories", None)  # an experiment's several nets trained alike (an ensemble)
            # 5. Write: metrics, model, learning curve; the checkpoints go.
            metrics = _metrics(recipe, hp, history, extra, trained, out)
            metrics.setdefault("seed", call["seed"])
            metrics.update(
                engine=engine_name,
                device=placement.to_dict(),
                precision=call["precision"],
                data_source=data.source,
                wall_time_seconds=round(time.perf_counter() - started, 3),
                versions=versions(),
                provenance=provenance(),
            )
            if processes := session.processes():  # resumed: wall_time_seconds is this process's, each one's is here
                metrics["processes"] = processes
                metrics["training_seconds_all_processes"] = round(sum(p["seconds"] for p in processes), 3)
            model = trained.model if trained is not None else None
            _write(recipe, out, model, history, metrics, nets)
            session.say(_verdict(metrics))
            session.say(f"  wrote {out}")
            return RunResult(metrics=metrics, output_dir=out, model=model)
    except KeyboardInterrupt as e:
        # Every finished epoch (and a stopped one's position) is in out/checkpoints: say how to go on.
        raise Interrupted(recipe.name, out, signum=getattr(e, "signum", None)) from None


def _settings(recipe, overrides, seed, runs, engine, steps_per_execution, device, precision, resume, overwrite, output_dir):
    """The call as run.json records it; resuming, the interrupted run's settings (checked against these)."""
    if recipe.missing():
        raise NNDLError(f"{recipe.name} needs {'; '.join(recipe.missing())}")
    call = {
        "recipe": recipe.name,
        "overrides": {k: v for k, v in overrides.items() if v is not None},
        "seed": seed,
        "runs": runs,
        "engine": engine,
        "steps_per_execution": steps_per_execution,
        "device": device if device is None or isinstance(device, str) else type(device).__name__,
        "precision": precision,
    }
    if resume:
        if overwrite:
            raise NNDLError("--resume continues a run and --overwrite starts it again: choose one")
        call = outputs.resumed_call(output_dir, call)
    if call["precision"] not in (None, *PRECISIONS):
        raise NNDLError(f"unknown precision {call['precision']!r}: use {' or '.join(PRECISIONS)}")
    return call


def _resolve_defaults(call, recipe, placement):
    """Fills in the defaults, so that run.json records them and a resumed run repeats them."""
    defaults = {
        "seed": 0,
        "runs": recipe.book.runs,
        "engine": "auto",
        "steps_per_execution": placement.steps_per_execution,
        "device": "auto",
        "precision": "float32",
    }
    for key, default in defaults.items():
        call[key] = default if call[key] is None else call[key]
    if call["runs"] < 1:
        raise NNDLError(f"runs must be at least 1, got {call['runs']}")
    if call["steps_per_execution"] < 1:
        raise NNDLError(f"steps per execution must be at least 1, got {call['steps_per_execution']}")


def _hyperparameters(recipe, call):
    try:
        return recipe.hparams.replace(**call["overrides"])
    except RecipeError as e:
        raise RecipeError(f"{recipe.name}: {e}") from None


def _place(recipe, hp, call, placement, user_chose_device):
    """(placement, together): the engine checked against the devices, and the book's mini-batch kept."""
    engine, backend = call["engine"], keras.backend.backend()
    if placement.mirrored and engine == "fit" and call["steps_per_execution"] > 1:
        raise NNDLError(
            f"{placement.description}: Keras 3's fit runs one step per execution under a MirroredStrategy "
            "(keras-team/keras#19246); use the default engine or --steps-per-execution 1"
        )
    if engine == "distributed" and backend != "tensorflow":
        raise NNDLError(f"the distributed engine runs under tf.distribute, on the TensorFlow backend (this is {backend})")
    if engine == "fused" and backend not in ("tensorflow", "jax"):
        raise NNDLError(f"the fused engine needs the TensorFlow or JAX backend (this is {backend}); use --engine fit")
    if placement.distributed and engine == "fused":
        raise NNDLError(f"the fused engine trains on one device; {placement.description} needs --engine auto or fit")
    together = devices.trains_together(hp, engine, placement)  # whole members per device: m is not split
    if engine == "stacked" and not together:
        raise NNDLError(f"--engine stacked trains an ensemble's members side by side on the JAX backend; not {recipe.name} on {backend}")
    if hp.batch_size % placement.replicas and not together and not user_chose_device:
        placement = devices.one_of(placement, hp.batch_size) or placement  # the book's mini-batch is kept
    if hp.batch_size % placement.replicas and not together:
        raise NNDLError(
            f"the mini-batch of {hp.batch_size} does not split across {placement.replicas} replicas; "
            f"pass a --batch-size that is a multiple of {placement.replicas}"
        )
    return placement, together


def _load(recipe, hp, data_dir, allow_unverified, verbose):
    """MNIST (and the expanded set a chapter-6 recipe trains on), checked against the train size."""
    data = load_mnist(data_dir, verify=not allow_unverified)
    available = len(data.training) * (COPIES if recipe.expanded else 1)
    if hp.train_size > available:
        kind = "expanded training images" if recipe.expanded else "training images"
        raise NNDLError(f"train size {hp.train_size} exceeds the {available} {kind}")
    if recipe.expanded:  # only the images trained on: a quick run on 5,000 builds 5,000
        tick = time.perf_counter()
        expanded_training(data, size=hp.train_size)  # kept for the session's trainings
        if verbose:
            print(
                f"Expanded training set: {hp.train_size:,} of {available:,} images (uint8), "
                f"built in {time.perf_counter() - tick:.1f} s",
                flush=True,
            )
    return data


def _train(session, runs):
    """(trained, history, engine name, extra metrics): the recipe's experiment, its baseline,
    or the best of `runs` trainings of its model."""
    recipe = session.recipe
    if recipe.experiment is not None:
        extra = recipe.experiment(session) or {}
        # The engine of its (last) training; "none" if it trained nothing.
        return None, extra.pop("history", None), session.last_engine, extra
    if recipe.baseline is not None:
        return None, _run_baseline(recipe, session.hp, session.data), "baseline", {}
    session.plan(runs)
    trained, trials = _best_of(session, runs)
    extra = {"runs": trials, "seed": trained.seed}
    if trained.diverged:
        extra["diverged"] = trained.diverged
    return trained, trained.history, trained.engine, extra


def _metrics(recipe, hp, history, extra, trained, out):
    """The measurements against the book, and what the recipe's own report adds."""
    metrics = summarize(recipe, hp, history) if history else _describe(recipe, hp)
    metrics.update(extra)
    if trained is not None and recipe.report is not None:
        metrics.update(recipe.report(out, trained.callbacks, metrics) or {})
    if recipe.book.accuracy is not None and metrics.get("measured_accuracy") is not None:
        metrics["difference"] = round(metrics["measured_accuracy"] - recipe.book.accuracy, 6)  # not 0.0042000000000000925
    return metrics


def _write(recipe, out, model, history, metrics, nets=None):
    """The run's files (each atomically); metrics.json last, then the checkpoints go.

    The learning curve is one net's (`history`), or, for an experiment that
    trains several alike (`nets`, `{label: history}`: an ensemble), a line per net.
    """
    if model is not None:
        outputs.save_model(model, out / MODEL_FILE)
    title = f"{recipe.name}: {recipe.description}"
    if recipe.baseline is None and history and "validation_accuracy" in history and "test_accuracy" in history:
        from nndl_keras import plots

        plots.learning_curve(history, out / CURVE_FILE, title=title, book=recipe.book)
    elif nets and all("test_accuracy" in net for net in nets.values()):
        from nndl_keras import plots

        plots.learning_curves(nets, out / CURVE_FILE, title=title, book=recipe.book)
    outputs.write_json(out / outputs.METRICS_FILE, metrics)
    shutil.rmtree(out / CHECKPOINTS, ignore_errors=True)  # finished: nothing left to resume


def _best_of(session, runs):
    """The book's best-of-N protocol: train N seeds, keep the best on validation."""
    best, trials = None, []
    for run_seed in range(session.seed, session.seed + runs):
        label = f"Run {run_seed - session.seed + 1}/{runs}" if runs > 1 else None
        trained = session.train(seed=run_seed, label=label)
        score = max(trained.history["validation_accuracy"], default=None)  # none if it diverged at once
        trials.append({"seed": run_seed, **_trial(session, trained.history)})
        if trained.diverged:
            trials[-1]["diverged"] = trained.diverged
        if best is None or (score is not None and score > max(best.history["validation_accuracy"], default=-1)):
            best = trained
    return best, trials


def _trial(session, history):
    """One run of a best-of-N, as the book would report it alone: kept in the record so
    that the best can be read against the spread between seeds (chapter 6's best of 3)."""
    measured = summarize(session.recipe, session.hp, history)
    keys = ("best_validation_accuracy", "best_validation_epoch", "test_accuracy_at_best_validation", "measured_accuracy")
    trial = {key: measured.get(key) for key in keys}
    trial["seconds"] = float(sum(history.get("seconds", [])))
    return trial


@contextlib.contextmanager
def _dtype_policy(precision):
    """Keras's global dtype policy for the run ("float32" or mixed "bfloat16"), put back after."""
    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16" if precision == "bfloat16" else "float32")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(before)


def _check_tensorboard():
    if keras.backend.backend() != "tensorflow":
        raise NNDLError("--tensorboard needs the TensorFlow backend")
    try:
        import tensorboard  # noqa: F401  (TensorFlow's summaries need it; TF no longer installs it)
    except ImportError:
        raise NNDLError("--tensorboard needs TensorBoard: pip install 'nndl-keras[tensorboard]'") from None


def _tensorboard(out):
    return keras.callbacks.TensorBoard(log_dir=str(out / "tensorboard"), write_graph=False)


def _run_baseline(recipe, hp, data):
    training = data.training.take(hp.train_size)
    tick = time.perf_counter()
    predict = recipe.baseline(training.x, training.y, hp)
    return {
        "epoch": [1],
        "loss": [None],
        "validation_accuracy": [accuracy(predict(data.validation.x), data.validation.y)],
        "test_accuracy": [accuracy(predict(data.test.x), data.test.y)],
        "seconds": [time.perf_counter() - tick],
    }


def _describe(recipe, hp):
    return {
        "recipe": recipe.name,
        "chapter": recipe.chapter,
        "description": recipe.description,
        "hyperparameters": hp.to_dict(),
        "book": dataclasses.asdict(recipe.book),
        "book_accuracy": recipe.book.accuracy,
        "measured_accuracy": None,
        "difference": None,
    }


def summarize(recipe, hp, history):
    """The metrics of a finished training, measured the way the book measured its number."""
    metrics = _describe(recipe, hp)
    if not history.get("epoch"):  # diverged in its first epoch: nothing measured
        return {**metrics, "history": history, "epochs_run": 0}
    metrics.update(history=history, epochs_run=history["epoch"][-1], seconds_per_epoch=float(np.mean(history["seconds"])))
    validation, test = history.get("validation_accuracy"), history.get("test_accuracy")
    if not validation or not test:
        return metrics
    # network3 keeps the later epoch on a tie (>=), so search from the end.
    best = len(validation) - 1 - int(np.argmax(validation[::-1]))
    on_split = validation if recipe.book.split == "validation" else test
    metrics.update(
        test_accuracy=test[-1],
        validation_accuracy=validation[-1],
        best_test_accuracy=max(test),
        best_validation_accuracy=validation[best],
        best_validation_epoch=history["epoch"][best],
        test_accuracy_at_best_validation=test[best],
        measured_accuracy={
            "best": max(on_split),
            "final": on_split[-1],
            "first": on_split[0],
            "best_validation": test[best],
        }[recipe.book.at],
    )
    return metrics


def _verdict(metrics):
    if metrics.get("diverged"):
        return f"  diverged at epoch {metrics['diverged']['epoch']} (cost {metrics['diverged']['cost']}); kept the model before it"
    if metrics.get("headline"):  # a recipe that measures something other than an accuracy says what
        return f"  {metrics['headline']}"
    if metrics.get("measured_accuracy") is None:
        return "  done"
    measured = f"{100 * metrics['measured_accuracy']:.2f}%"
    book = metrics["book"]
    if metrics["book_accuracy"] is None:
        return f"  measured {measured} ({book['split']}, {book['at']}); book: not reported"
    return (
        f"  measured {measured} ({book['split']}, {book['at']}) against the book's "
        f"{100 * metrics['book_accuracy']:.2f}% ({100 * metrics['difference']:+.2f} points)"
    )


def versions():
    """Library versions for the record."""
    found = {
        "nndl_keras": __version__,
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
        "numpy": np.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }
    if "tensorflow" in sys.modules:
        found["tensorflow"] = sys.modules["tensorflow"].__version__
    return found
