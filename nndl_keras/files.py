"""Writing files atomically, a crash or a Ctrl-C never leaving half of one behind, and a run's folder.

Below every layer of the package (parts, plots, recipes and the runner write with it).
"""

import datetime
import json
import os
import tempfile
from pathlib import Path

from nndl_keras.errors import NNDLError

METRICS_FILE = "metrics.json"
RUN_FILE = "run.json"


def atomic_write(path, write):
    """Calls `write(tmp_path)` then renames the temporary file onto `path`."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=path.suffix)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 is not what a plain open() gives
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path, obj, indent=2):
    """Writes `obj` as JSON, atomically; indented for people, or `indent=None`
    for files only programs read (`json.dumps` then uses its C encoder)."""

    def write(tmp):
        with open(tmp, "w") as f:
            f.write(json.dumps(obj, indent=indent) + "\n")

    return atomic_write(path, write)


def save_model(model, path):
    """Saves a Keras model as `.keras`, atomically."""
    return atomic_write(path, model.save)


def new_run_dir(name, root="runs"):
    """A fresh directory `root/<name>-<timestamp>` for a run given no `--output-dir`."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    path, suffix = Path(root) / f"{name}-{stamp}", 1
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
        tempfile.TemporaryFile(dir=path).close()  # a read-only directory: refused now, not after the training
    except OSError as e:
        raise NNDLError(f"cannot write in output directory {path}: {e.strerror or e}") from None
    return path
