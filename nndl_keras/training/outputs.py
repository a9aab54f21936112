"""Writing a run's files so that a crash never leaves half of one behind."""

import datetime
import json
import os
import tempfile
from pathlib import Path

from nndl_keras.errors import NNDLError

METRICS_FILE = "metrics.json"


def new_run_dir(name, root="runs"):
    """A fresh directory `root/<name>-<timestamp>` for a run given no `--output-dir`."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = Path(root) / f"{name}-{stamp}"
    suffix = 1
    while path.exists():
        suffix += 1
        path = Path(root) / f"{name}-{stamp}-{suffix}"
    return path


def prepare_output_dir(output_dir, name, overwrite=False):
    """Creates the run directory; refuses one that already holds a finished run."""
    path = Path(output_dir) if output_dir is not None else new_run_dir(name)
    if path.exists() and not path.is_dir():
        raise NNDLError(f"output directory {path} is a file")
    if (path / METRICS_FILE).exists() and not overwrite:
        raise NNDLError(f"{path} already holds a run; pass --overwrite or choose another --output-dir")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise NNDLError(f"cannot create output directory {path}: {e.strerror or e}") from None
    return path


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


def write_json(path, obj):
    """Writes `obj` as indented JSON, atomically."""

    def write(tmp):
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=2)
            f.write("\n")

    return atomic_write(path, write)


def save_model(model, path):
    """Saves a Keras model as `.keras`, atomically."""
    return atomic_write(path, model.save)
