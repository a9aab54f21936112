"""A run's plan, before anything is loaded or written: the settings, their defaults, the placement.

Every setting that can be refused is refused here, in one line (`NNDLError`).
"""

import dataclasses
import json
from pathlib import Path

import keras

from nndl_keras.errors import NNDLError, RecipeError
from nndl_keras.files import METRICS_FILE, RUN_FILE
from nndl_keras.training import devices

PRECISIONS = ("float32", "bfloat16")
SETTINGS = ("seed", "runs", "engine", "steps_per_execution", "device", "precision")  # run.json's, beside the overrides


@dataclasses.dataclass
class Plan:
    """What a run will do.

    Attributes:
        call: the settings as `run.json` records them, defaults filled in (resumed:
            the interrupted run's).
        hp: the hyperparameters, the recipe's with the overrides.
        placement: the `devices.Placement` it trains on.
    """

    call: dict
    hp: object
    placement: object


def plan(recipe, overrides, settings, *, resume=False, overwrite=False, output_dir=None, callbacks=(), tensorboard=False):
    """The `Plan` of `run`'s arguments; `settings` holds `run`'s `SETTINGS` (left out or `None`: the default)."""
    device = settings.get("device")
    call = _settings(recipe, overrides, settings, resume, overwrite, output_dir)
    placement = devices.select(device if device is not None and not isinstance(device, str) else call["device"])
    _resolve_defaults(call, recipe, placement)
    try:
        hp = recipe.hparams.replace(**call["overrides"])
    except RecipeError as e:
        raise RecipeError(f"{recipe.name}: {e}") from None
    placement, together = _place(recipe, hp, call, placement, user_chose_device=hasattr(device, "scope"))
    if tensorboard:
        _check_tensorboard()
    if together and (callbacks or tensorboard):
        # The stack is one compiled step for every member: there is no one model to hand a callback.
        raise NNDLError(
            f"{recipe.name}'s members train stacked here, and callbacks watch one net at a time; "
            "pass --engine fused (engine='fused') to train them one after another with callbacks"
        )
    return Plan(call, hp, placement)


def _settings(recipe, overrides, settings, resume, overwrite, output_dir):
    """The call as run.json records it; resuming, the interrupted run's settings (checked against these)."""
    if recipe.missing():
        raise NNDLError(f"{recipe.name} needs {'; '.join(recipe.missing())}")
    call = {"recipe": recipe.name, "overrides": {k: v for k, v in overrides.items() if v is not None}}
    call.update({key: settings.get(key) for key in SETTINGS})
    if call["device"] is not None and not isinstance(call["device"], str):  # a strategy or distribution: its kind
        call["device"] = type(call["device"]).__name__
    if resume:
        if overwrite:
            raise NNDLError("--resume continues a run and --overwrite starts it again: choose one")
        call = _resumed(output_dir, call)
    if call["precision"] not in (None, *PRECISIONS):
        raise NNDLError(f"unknown precision {call['precision']!r}: use {' or '.join(PRECISIONS)}")
    return call


def _resumed(output_dir, call):
    """The settings of the interrupted run in `output_dir`, checked against `call`: a setting
    left out of `call` (`None`) is taken from the run; one given must agree with it."""
    if output_dir is None:
        raise NNDLError("--resume needs the --output-dir of the run to continue")
    path = Path(output_dir)
    if (path / METRICS_FILE).exists():
        raise NNDLError(f"{path} holds a finished run; nothing to resume")
    try:
        with open(path / RUN_FILE) as f:
            saved = json.load(f)
    except FileNotFoundError:
        raise NNDLError(f"{path} holds no run to resume (no {RUN_FILE})") from None
    except (OSError, ValueError) as e:
        raise NNDLError(f"cannot read {path / RUN_FILE}: {e}") from None
    if saved.get("recipe") != call["recipe"]:
        raise NNDLError(f"{path} holds a run of {saved.get('recipe')}, not {call['recipe']}")
    given = {**call["overrides"], **{k: v for k, v in call.items() if k not in ("recipe", "overrides")}}
    stored = {**saved.get("overrides", {}), **{k: v for k, v in saved.items() if k not in ("recipe", "overrides")}}
    differ = [f"{k}={v} (the run has {stored.get(k)})" for k, v in given.items() if v is not None and v != stored.get(k)]
    if differ:
        raise NNDLError(f"--resume continues the run as it was started; these differ: {', '.join(differ)}")
    return {**dict.fromkeys(call), "overrides": {}, **saved}  # a setting the run did not record: the default


def _resolve_defaults(call, recipe, placement):
    """Fills in the defaults, so that run.json records them and a resumed run repeats them."""
    defaults = dict(seed=0, runs=recipe.runs or recipe.book.runs, engine="auto",
                    steps_per_execution=placement.steps_per_execution, device="auto", precision="float32")
    for key, default in defaults.items():
        call[key] = default if call[key] is None else call[key]
    if call["runs"] < 1:
        raise NNDLError(f"runs must be at least 1, got {call['runs']}")
    if call["steps_per_execution"] < 1:
        raise NNDLError(f"steps per execution must be at least 1, got {call['steps_per_execution']}")


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


def _check_tensorboard():
    if keras.backend.backend() != "tensorflow":
        raise NNDLError("--tensorboard needs the TensorFlow backend")
    try:
        import tensorboard  # noqa: F401  (TensorFlow's summaries need it; TF no longer installs it)
    except ImportError:
        raise NNDLError("--tensorboard needs TensorBoard: pip install 'nndl-keras[tensorboard]'") from None
