"""Where a number came from: the command, the commit, the date and the machine.

Every `metrics.json` records these, so that a number quoted in the README can
be traced to the run that measured it. The CPU is recorded with its model and
vector-instruction flags because floating-point results, not only speeds,
differ between processors (the same seed is a different run on another CPU).
"""

import datetime
import functools
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path

# The flags that decide which kernels oneDNN and XLA pick (and so the rounding).
_VECTOR_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile")


def provenance():
    """The command, commit, date and machine of this process, for `metrics.json`."""
    return {
        "command": command(),
        "commit": commit(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
    }


def versions():
    """The library versions that made a record."""
    import keras
    import numpy as np

    from nndl_keras import __version__

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


@functools.cache
def this_process():
    """`provenance()` as of this process's first call: the same for every training it runs,
    so that the trainings of a run resumed elsewhere name the processes that trained them."""
    return provenance()


def command():
    """The command line as typed, when this process is the `nndl-keras` CLI; else the Python call."""
    program = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    if program.startswith("nndl-keras"):
        return shlex.join(["nndl-keras", *sys.argv[1:]])
    if program in ("", "-c"):
        return "python (interactive or -c)"
    return shlex.join(["python", program, *sys.argv[1:]])


def commit(folder="."):
    """The git commit of the checkout in `folder` (the source the run was installed
    from, when run from it), with `+dirty` for uncommitted changes; `None` outside one."""

    def git(*args):
        return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=10)

    try:
        head = git("rev-parse", "HEAD")
        if head.returncode != 0:
            return None
        dirty = git("status", "--porcelain", "--untracked-files=no").stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("+dirty" if dirty else "")


def machine():
    """The CPU (model, vector flags, cores, the 1-minute load average as the record is
    written) and any accelerator the backend sees."""
    found = {"cpu": _cpu_model(), "cpu_flags": _cpu_flags(), "cores": os.cpu_count()}
    if hasattr(os, "getloadavg"):  # busy cores (another training) make a time longer than the machine's own
        found["load_average"] = round(os.getloadavg()[0], 2)
    accelerators = _accelerators()
    if accelerators:
        found["accelerators"] = accelerators
    return found


def describe(found=None):
    """One line for a machine recorded by `machine()`."""
    found = found or machine()
    if found.get("accelerators"):
        return ", ".join(found["accelerators"])
    flags = [f for f in found.get("cpu_flags", []) if f in ("avx2", "avx512f")]
    return f"{found['cpu']} ({found['cores']} cores{', ' + ', '.join(flags) if flags else ''})"


def _cpuinfo():
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def _cpu_model():
    for line in _cpuinfo().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    import platform

    return platform.processor() or platform.machine()


def _cpu_flags():
    for line in _cpuinfo().splitlines():
        if line.startswith("flags"):
            present = set(line.split(":", 1)[1].split())
            return [f for f in _VECTOR_FLAGS if f in present]
    return []


def _accelerators():
    """Names of the GPUs/TPUs the loaded backend sees (no import of one that is not loaded)."""
    names = []
    if "jax" in sys.modules:
        names += [d.device_kind for d in sys.modules["jax"].devices() if d.platform != "cpu"]
    elif "tensorflow" in sys.modules:
        tf = sys.modules["tensorflow"]
        for device in tf.config.list_physical_devices():
            if device.device_type in ("GPU", "TPU"):
                details = tf.config.experimental.get_device_details(device)
                names.append(details.get("device_name", device.device_type))
    return names
