"""The one runner behind every recipe: plan → data → the recipe's trainings → report.

`run("ch1-sgd", epochs=3, output_dir="out")` is what `nndl-keras run ch1-sgd
--epochs 3 --output-dir out` calls. It writes `metrics.json` (the record: see
`training.report`), `model.keras`, `learning_curve.png`, `run.json` (the
settings, so that `resume=True` can repeat them), `checkpoints/` while the run
is unfinished (`training.checkpoints`) and, asked, `tensorboard/`.
"""

import contextlib
import dataclasses
import shutil
import signal
import time

import keras

from nndl_keras import files, requirements
from nndl_keras.data import expanded_training, load_mnist
from nndl_keras.data.expand import COPIES
from nndl_keras.errors import Interrupted, NNDLError
from nndl_keras.training import report
from nndl_keras.training.loop import accuracy
from nndl_keras.training.plan import plan
from nndl_keras.training.session import Session


@dataclasses.dataclass
class RunResult:
    """What `run` returns: the metrics written, where, and the trained model (if any)."""

    metrics: dict
    output_dir: object
    model: object = None


def run(recipe, *, data_dir=None, output_dir=None, seed=None, runs=None, engine=None, steps_per_execution=None,
        device=None, precision=None, callbacks=(), verbose=1, overwrite=False, resume=False, allow_unverified=False,
        deterministic=True, tensorboard=False, **overrides):
    """Trains and evaluates one recipe and writes its outputs.

    Args:
        recipe: a `Recipe` or a registered recipe name.
        data_dir: MNIST directory (see `nndl_keras.data.load_mnist`).
        output_dir: where to write; a new `runs/<name>-<time>` when `None`.
        seed: seeds weights, shuffling and dropout (default 0).
        runs: train this many times (seeds `seed`, `seed + 1`, ...) and keep the run with the
            best validation accuracy; default: as many as the book took the best of.
        engine: `"auto"` (default), `"fused"`, `"distributed"`, `"fit"` or `"stacked"` (see
            `training.engines`).
        steps_per_execution: mini-batches per device call for the fit and distributed
            engines (default 1; 100 when distributed).
        device: `"auto"` (default), `"cpu"`, `"gpu"` or `"tpu"`, or a `tf.distribute.Strategy`
            or `keras.distribution.Distribution` (see `training.devices`); distributed, the
            book's mini-batch is the global batch, split across the replicas.
        precision: `"float32"` (default) or `"bfloat16"` (Keras's `mixed_bfloat16` policy).
        callbacks: more Keras callbacks, after the recipe's own, driven as `fit` drives
            them (batch hooks once per chunk of steps, as with `steps_per_execution`).
        verbose: 0 silent, 1 progress on the terminal.
        overwrite: start again in an `output_dir` that holds a run (finished or not).
        resume: continue the interrupted run in `output_dir` with the settings it was
            started with (its `run.json`); settings given here must agree with them.
        allow_unverified: use MNIST files whose SHA-256 is not MNIST's.
        deterministic: on TensorFlow, deterministic ops, so that a seed gives the same
            numbers (`tf.config.experimental.enable_op_determinism`, for the process).
        tensorboard: also write TensorBoard logs.
        **overrides: hyperparameters to change (`epochs=3`, `eta=0.5`, ...).

    Returns:
        A `RunResult`. Where the cost stopped being finite, training stopped: `metrics["diverged"]`
        says at which epoch, and the model is the one before it.
    """
    from nndl_keras import recipes

    recipe = recipes.get(recipe) if isinstance(recipe, str) else recipe
    requirements.check(keras.backend.backend())
    settings = dict(seed=seed, runs=runs, engine=engine, steps_per_execution=steps_per_execution, device=device, precision=precision)
    planned = plan(recipe, overrides, settings, resume=resume, overwrite=overwrite, output_dir=output_dir,
                   callbacks=callbacks, tensorboard=tensorboard)
    started = time.perf_counter()
    data = _load(recipe, planned.hp, data_dir, allow_unverified, verbose)  # then, and only then, the output directory
    out = _output_dir(output_dir, recipe, planned.call, overwrite, resume)
    if tensorboard:
        callbacks = [*callbacks, keras.callbacks.TensorBoard(log_dir=str(out / "tensorboard"), write_graph=False)]
    if deterministic and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    precision = planned.call["precision"]
    try:
        with _dtype_policy(precision):
            session = _session(recipe, planned, data, out, callbacks, verbose, resume)
            if recipe.experiment is not None or recipe.baseline is not None:
                return _report(session, None, *_experiment(session), precision, started)
            trained, trials = session.best_of(planned.call["runs"])  # a recipe's one model: the book's best of N
            extra = {"runs": trials, "seed": trained.seed, **({"diverged": trained.diverged} if trained.diverged else {})}
            return _report(session, trained, trained.history, trained.engine, extra, precision, started)
    except KeyboardInterrupt as e:
        # Every finished epoch (and a stopped one's position) is in out/checkpoints: say how to go on.
        raise Interrupted(
            getattr(e, "signum", signal.SIGINT),
            f"{recipe.name} interrupted; continue with: nndl-keras run {recipe.name} --output-dir {out} --resume",
        ) from None


def _output_dir(output_dir, recipe, call, overwrite, resume):
    """The run's folder, made ready (`files.prepare_output_dir`); a new run's settings in its run.json."""
    out = files.prepare_output_dir(output_dir, recipe.name, overwrite=overwrite, resume=resume)
    if not resume:
        shutil.rmtree(out / report.CHECKPOINTS, ignore_errors=True)  # an overwritten run's
        files.write_json(out / files.RUN_FILE, call)
    return out


def _session(recipe, planned, data, out, callbacks, verbose, resume):
    """The run's `Session`, once it has said what will run, on what, where."""
    call = planned.call
    session = Session(
        recipe, planned.hp, data, out, seed=call["seed"], engine=call["engine"],
        steps_per_execution=call["steps_per_execution"], callbacks=tuple(callbacks), verbose=verbose,
        checkpoints=out / report.CHECKPOINTS, resume=resume, placement=planned.placement,
    )
    session.say(f"{recipe.name}: {recipe.description}")
    session.say(f"  data: {data.source}; book: {recipe.book.describe()}")
    session.say(f"  device: {planned.placement.description}; precision {call['precision']}")
    session.say(f"  output: {out}")
    return session


def _report(session, trained, history, engine_name, extra, precision, started):
    """The run's record and files (see `training.report`), its verdict said."""
    recipe, out = session.recipe, session.output_dir
    nets = extra.pop("histories", None)  # an experiment's several nets trained alike (an ensemble)
    metrics = report.metrics(
        recipe, session.hp, history, extra, trained, out, seed=session.seed, engine=engine_name,
        device=session.placement.to_dict(), precision=precision,
        data_source=session.data.source, wall_time_seconds=round(time.perf_counter() - started, 3),
    )
    if processes := session.processes():  # resumed: wall_time_seconds is this process's, each one's is here
        metrics["processes"] = processes
        metrics["training_seconds_all_processes"] = round(sum(p["seconds"] for p in processes), 3)
    model = trained.model if trained is not None else None
    report.write(recipe, out, model, history, metrics, nets)
    session.say(report.verdict(metrics))
    session.say(f"  wrote {out}")
    return RunResult(metrics=metrics, output_dir=out, model=model)


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


def _experiment(session):
    """(history, engine name, extra metrics) of the recipe's experiment or its baseline."""
    if session.recipe.experiment is not None:
        extra = session.recipe.experiment(session) or {}
        # The engine of its (last) training; "none" if it trained nothing.
        return extra.pop("history", None), session.last_engine, extra
    return _baseline(session.recipe, session.hp, session.data), "baseline", {}


def _baseline(recipe, hp, data):
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


@contextlib.contextmanager
def _dtype_policy(precision):
    """Keras's global dtype policy for the run ("float32" or mixed "bfloat16"), put back after."""
    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16" if precision == "bfloat16" else "float32")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(before)
