"""Writing files atomically: a crash or a Ctrl-C never leaves half of one behind.

Below every layer of the package (parts, plots and the runner write with it).
"""

import json
import os
import tempfile
from pathlib import Path


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
