"""Writing a run's files so that a crash never leaves half of one behind."""

import datetime
import json
import tempfile
from pathlib import Path

from nndl_keras.errors import NNDLError
from nndl_keras.files import atomic_write, write_json  # noqa: F401  (a run's files are written with them)

METRICS_FILE = "metrics.json"
RUN_FILE = "run.json"


def new_run_dir(name, root="runs"):
    """A fresh directory `root/<name>-<timestamp>` for a run given no `--output-dir`."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = Path(root) / f"{name}-{stamp}"
    suffix = 1
    while path.exists():
        suffix += 1
        path = Path(root) / f"{name}-{stamp}-{suffix}"
    return path


def prepare_output_dir(output_dir, name, overwrite=False, resume=False):
    """Creates the run directory; refuses one that already holds a run, finished
    or interrupted, unless told to `overwrite` it or to `resume` it."""
    path = Path(output_dir) if output_dir is not None else new_run_dir(name)
    if path.exists() and not path.is_dir():
        raise NNDLError(f"output directory {path} is a file")
    if not (overwrite or resume):
        if (path / METRICS_FILE).exists():
            raise NNDLError(f"{path} already holds a run; pass --overwrite or choose another --output-dir")
        if (path / RUN_FILE).exists():
            raise NNDLError(f"{path} holds an interrupted run; pass --resume to continue it or --overwrite to start again")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise NNDLError(f"cannot create output directory {path}: {e.strerror or e}") from None
    try:  # a read-only directory: refused now, not after the training
        tempfile.TemporaryFile(dir=path).close()
    except OSError as e:
        raise NNDLError(f"cannot write in output directory {path}: {e.strerror or e}") from None
    return path


def resumed_call(output_dir, call):
    """The settings of the interrupted run in `output_dir`, checked against `call`.

    A setting left out of `call` (`None`) is taken from the run; one given must
    agree with it.
    """
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


def save_model(model, path):
    """Saves a Keras model as `.keras`, atomically."""
    return atomic_write(path, model.save)
