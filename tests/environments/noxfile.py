"""Test environments (issue 26, item 4): the project's wheel installed as a user installs it, into
emulations of the environments users have, then a short selection of the tests against it.

    nox -f tests/environments/noxfile.py -s colab_tpu      # or colab_gpu, floor, newest

colab_tpu  Python 3.13, Keras on JAX, Colab's TPU image (colab-tpu.txt), `pip install <wheel>[jax]`
colab_gpu  Python 3.13, Keras on TensorFlow, Colab's GPU/CPU image (colab-gpu.txt), `pip install <wheel>`
floor      Python 3.11 (Keras 3.13 needs it), every `>=` floor of setup.cfg (install_requires and the jax extra) installed
           at exactly that version, read from setup.cfg as the session starts; `pip install <wheel>`
newest     Python 3.11, whatever pip resolves today; `pip install <wheel>`

Each session, in a fresh virtualenv (kept outside the checkout): installs the image's pins and the
test tools in one resolution, so that the tools cannot move the pins; records `pip freeze`; builds the
wheel once, from a copy of the working tree in a temporary folder (a build in the checkout would write
build/ and *.egg-info there); installs it with plain pip, no constraints, as a user would; records
`pip freeze` again. It fails if the install changed or removed any of GUARDED that the image had (every
other change is listed, not failed), if `pip check` is not clean, if a module of the installed package
does not import, or if a test fails; each check runs even after an earlier one failed, so that one
record shows them all. The tests (SELECTION) run from tests/ against the installed package (setup.cfg's
addopts import it from site-packages). docs/results/environments/<session>.json records it all, also
when a check fails, and the session's error lists the failures.
"""

from __future__ import annotations

import configparser
import datetime
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import nox
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
TESTS = REPO / "tests"
RESULTS = REPO / "docs" / "results" / "environments"
DATA_DIR = os.environ.get("NNDL_KERAS_DATA_DIR") or str(REPO.parent / "shared" / "data" / "mnist")

# The tests every session runs (from tests/): each file with a -k expression that picks its quick
# tests, or None for the whole file. One place; colab_tpu adds NOTEBOOK.
SELECTION = {
    # The parts' contract tests: seconds each, so every one of them.
    "test_layer_contract.py": None,
    "test_cost_contract.py": None,
    "test_initializer_seeds.py": None,
    "test_callback_config.py": None,
    "test_parts.py": None,
    # One short run of each engine (fused, fit, and tf.distribute's on TensorFlow): two epochs on 25
    # examples checked against the book's update rule, 1-5 s each. The file's other tests (chunking,
    # resuming, uint8 pixels, the L2 term) take 5-25 s each, about 3 minutes on two cores.
    "test_engines.py": "two_epochs_match_the_books_update_rule and quadratic",
    # The stacked engine (jax.vmap over members): three members, three epochs, equal to each member
    # trained alone (~20 s). Its 8-device (~25 s), interrupted-and-resumed (~60 s) and refusal (~35 s)
    # tests stay with the full suite.
    "test_stacked.py": "members_trained_together_equal_members_trained_alone",
}
# The Colab notebook, run cell by cell on eight forced host devices (the test sets XLA_FLAGS itself).
NOTEBOOK = {"test_notebook.py": None}

# Test tools installed beside the image (in the same resolution as its pins, so they cannot move them).
# hypothesis is left out: only test_bad_input_properties.py, not in SELECTION, uses it.
TEST_TOOLS = ["pytest", "pytest-xdist"]
NOTEBOOK_TOOLS = ["nbclient", "nbformat", "ipykernel"]

# The install must leave these as the image had them; a changed or missing one fails the session.
GUARDED = ["keras", "jax", "jaxlib", "numpy", "ml-dtypes", "protobuf"]
# The versions each record reports after the install.
REPORTED = ["keras", "jax", "jaxlib", "tensorflow", "numpy", "ml-dtypes", "protobuf", "h5py"]

# nox runs from this folder; keep its virtualenvs out of the checkout. Every run starts a fresh image.
nox.options.envdir = str(Path(tempfile.gettempdir()) / "nndl-keras-nox")
nox.options.error_on_missing_interpreters = True
try:
    nox.options.download_python = "never"  # nothing but PyPI can be reached; use the interpreters here
except AttributeError:  # an older nox, which never downloads
    pass


def interpreter(version):
    """A path to Python `version`: from PATH if it answers (a pyenv shim answers only when that
    version is selected), else from pyenv's versions folder; else the bare version, for nox to report."""
    candidates = [shutil.which(f"python{version}")]
    root = os.environ.get("PYENV_ROOT")
    if not root and shutil.which("pyenv"):
        found = subprocess.run(["pyenv", "root"], capture_output=True, text=True)
        root = found.stdout.strip() if found.returncode == 0 else None
    root = Path(root or Path.home() / ".pyenv")
    installed = glob.glob(str(root / "versions" / f"{version}.*" / "bin" / "python"))
    candidates += sorted(installed, key=lambda p: [int(n) for n in re.findall(r"\d+", Path(p).parents[1].name)], reverse=True)
    for candidate in filter(None, candidates):
        try:
            answer = subprocess.run(
                [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True, text=True, timeout=60,
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if answer.returncode == 0 and answer.stdout.strip() == version:
            return candidate
    return version


# --- the sessions -------------------------------------------------------------------------------------


@nox.session(python=interpreter("3.13"))
def colab_tpu(session):
    """Colab's TPU runtime: Python 3.13, no TensorFlow, Keras on JAX; `pip install <wheel>[jax]`."""
    environment(session, image=pins_file(HERE / "colab-tpu.txt"), backend="jax", extras="[jax]",
                tools=TEST_TOOLS + NOTEBOOK_TOOLS, selection={**SELECTION, **NOTEBOOK}, colab_image=True)


@nox.session(python=interpreter("3.13"))
def colab_gpu(session):
    """Colab's GPU runtime without its CUDA packages (so its CPU runtime): TensorFlow 2.20; `pip install <wheel>`."""
    environment(session, image=pins_file(HERE / "colab-gpu.txt"), backend="tensorflow", extras="",
                tools=TEST_TOOLS, selection=SELECTION)


@nox.session(python=interpreter("3.11"))
def floor(session):
    """The oldest versions setup.cfg allows: each `>=` floor installed exactly; `pip install <wheel>`."""
    environment(session, image=floors(REPO / "setup.cfg"), backend="tensorflow", extras="",
                tools=TEST_TOOLS, selection=SELECTION)


@nox.session(python=interpreter("3.11"))
def newest(session):
    """Nothing preinstalled but the test tools (and JAX, the test extra's, for the stacked engine)."""
    environment(session, image=[], backend="tensorflow", extras="", tools=TEST_TOOLS + ["jax[cpu]"],
                selection=SELECTION)


# --- the images -----------------------------------------------------------------------------------------


def pins_file(path):
    """The requirement lines of a pins file (comments dropped)."""
    lines = (line.split(" #")[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def floors(setup_cfg):
    """`name[extras]==floor` for each requirement of install_requires and the jax extra with a `>=`."""
    config = configparser.ConfigParser(interpolation=None)
    config.read(setup_cfg)
    lines = config.get("options", "install_requires", fallback="").splitlines()
    lines += config.get("options.extras_require", "jax", fallback="").splitlines()
    pins = []
    for line in lines:
        line = line.split(" #")[0].strip()
        if not line or line.startswith("#"):
            continue
        requirement = Requirement(line)
        lowest = [spec.version for spec in requirement.specifier if spec.operator == ">="]
        if lowest:
            extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
            marker = f"; {requirement.marker}" if requirement.marker else ""
            pins.append(f"{requirement.name}{extras}=={lowest[0]}{marker}")
    return pins


# --- one session ----------------------------------------------------------------------------------------


def environment(session, *, image, backend, extras, tools, selection, colab_image=False):
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix=f"nndl-keras-{session.name}-"))
    env = {"KERAS_BACKEND": backend, "NNDL_KERAS_DATA_DIR": DATA_DIR, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    if colab_image:  # the notebook's tests (marked colab) run here only: tests/conftest.py
        env["NNDL_KERAS_COLAB_IMAGE"] = "1"
    record = {
        "session": session.name,
        "command": " ".join(["nox", *sys.argv[1:]]),
        "git": git_state(),
        "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine(),
        "python": None,
        "keras_backend": backend,
        "data_dir": DATA_DIR,
        "image": image,
        "test_tools": tools,
    }
    failures = []
    timings = record["step_s"] = {}  # the longer steps' wall times
    marks = [time.monotonic()]

    def lap():
        marks.append(time.monotonic())
        return round(marks[-1] - marks[-2], 1)

    step, finished = "starting", False
    try:
        step = "reading the interpreter's version"
        rc, out = run(session, "python", "-c", "import platform; print(platform.python_version())", echo=False)
        record["python"] = out[-1] if rc == 0 and out else None

        step = "installing the image and the test tools"
        pins = tmp / "image.txt"
        pins.write_text("".join(f"{line}\n" for line in image))
        rc, out = run(session, "python", "-m", "pip", "install", "-r", str(pins), *tools, env=env)
        if rc:
            raise StepFailed(step, rc, out)
        timings["image_install"] = lap()
        before = freeze(session)
        record["freeze_before"] = before["lines"]

        step = "building the wheel"
        wheel = build_wheel(session, tmp, env)
        record["wheel"] = wheel.name
        timings["wheel_build"] = lap()

        step = "installing the wheel"
        installed = f"{wheel}{extras}"
        record["install_command"] = f"pip install {wheel.name}{extras}"
        rc, out = run(session, "python", "-m", "pip", "install", installed, env=env)
        if rc:
            raise StepFailed(step, rc, out)
        timings["wheel_install"] = lap()
        after = freeze(session)
        record["freeze_after"] = after["lines"]
        record["versions"] = {name: after["versions"].get(name) for name in REPORTED}

        step = "comparing the freezes"
        changed = [
            {"package": name, "before": before["versions"].get(name), "after": after["versions"].get(name)}
            for name in sorted(set(before["versions"]) | set(after["versions"]))
            if name != "nndl-keras" and before["versions"].get(name) != after["versions"].get(name)
        ]
        record["install_changed"] = changed
        for change in changed:
            if change["package"] in GUARDED and change["before"] is not None:
                what = f"{change['before']} -> {change['after']}" if change["after"] else f"{change['before']} removed"
                failures.append(f"the install changed {change['package']} the image had: {what}")

        step = "pip check"
        rc, out = run(session, "python", "-m", "pip", "check", env=env)
        record["pip_check"] = {"clean": rc == 0, "output": [line for line in out if line.strip()]}
        if rc:
            failures.append("pip check: " + "; ".join(line for line in out if line.strip())[:2000])

        step = "importing the installed package"
        rc, out = run(session, "python", "-c", IMPORT_EVERY_MODULE, env=env, cwd=TESTS, echo=False)
        imported = json.loads(next((line for line in reversed(out) if line.startswith('{"file"')), "null") or "null")
        if rc or not imported:
            raise StepFailed(step, rc, out)
        record["imports"] = imported
        if not imported["file"].startswith(str(Path(session.virtualenv.location))):
            failures.append(f"nndl_keras imports from {imported['file']}, not from the session's site-packages")
        failures += [f"import {name}: {error}" for name, error in imported["failed"].items()]

        step = "pytest"
        lap()
        record["pytest"] = pytest(session, tmp, env, selection)
        timings["pytest"] = lap()
        outcome = record["pytest"]
        if outcome["exit_code"] != 0:
            failures.append(
                f"pytest exited {outcome['exit_code']}: {outcome['failed']} failed, {outcome['errors']} errors, "
                f"{outcome['passed']} passed, {outcome['skipped']} skipped"
            )
            failures += [f"  {f['test']}: {f['error']}" for f in outcome["failures"]]
        finished = True
    except StepFailed as failed:
        failures.append(str(failed))
        record["failed_step_output"] = failed.tail
    except Exception as error:  # the record is written whatever went wrong
        failures.append(f"{step}: {type(error).__name__}: {error}")
    finally:
        if not finished and not failures:  # interrupted (Ctrl-C)
            failures.append(f"{step}: interrupted")
        record["failures"] = failures
        record["ok"] = not failures
        record["wall_s"] = round(time.monotonic() - started, 1)
        RESULTS.mkdir(parents=True, exist_ok=True)
        out_path = RESULTS / f"{session.name}.json"
        out_path.write_text(json.dumps(record, indent=2) + "\n")
        session.log(f"record: {out_path.relative_to(REPO)} ({record['wall_s']} s)")
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        session.error(f"{session.name} failed:\n" + "\n".join(failures))


# Every module of the installed package, imported as a user's code may import it: the tests cover some
# modules only (matplotlib, for one, is imported by nndl_keras.plots and the recipes that plot).
IMPORT_EVERY_MODULE = """
import importlib, json, pkgutil
import nndl_keras
modules = [m.name for m in pkgutil.walk_packages(nndl_keras.__path__, "nndl_keras.")]
failed = {}
for name in modules:
    try:
        importlib.import_module(name)
    except BaseException as error:
        failed[name] = (f"{type(error).__name__}: {error}".splitlines() or [""])[0][:300]
print(json.dumps({"file": nndl_keras.__file__, "modules": len(modules), "failed": failed}))
"""


class StepFailed(Exception):
    def __init__(self, step, rc, output):
        self.tail = output[-40:]
        error = next((line for line in reversed(output) if line.startswith("ERROR")), output[-1] if output else "")
        super().__init__(f"{step}: exit {rc}: {error}")


def run(session, *args, env=None, cwd=None, echo=True):
    """Runs `args` in the session's virtualenv, echoing its output; returns (exit code, output lines)."""
    bin_dir = session.bin
    command = [str(Path(bin_dir) / args[0]) if args[0] == "python" else args[0], *args[1:]]
    session.log(" ".join(arg if "\n" not in arg else f"'{arg.strip().splitlines()[0]} ...'" for arg in args))
    environ = {**os.environ, **(env or {}), "VIRTUAL_ENV": session.virtualenv.location,
               "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    environ.pop("PYTHONHOME", None)
    process = subprocess.Popen(command, cwd=cwd, env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, errors="replace")
    lines = []
    for line in process.stdout:
        if echo:
            sys.stdout.write(line)
            sys.stdout.flush()
        lines.append(line.rstrip("\n"))
    return process.wait(), lines


def freeze(session):
    rc, out = run(session, "python", "-m", "pip", "freeze", "--all", echo=False)
    if rc:
        raise StepFailed("pip freeze", rc, out)
    lines = [line for line in out if re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*( @ |==)", line)]
    versions = {}
    for line in lines:
        name, _, version = line.partition("==") if "==" in line else line.partition(" @ ")
        versions[canonicalize_name(name)] = version if "==" in line else f"@ {version}"
    return {"lines": lines, "versions": versions}


def build_wheel(session, tmp, env):
    """Builds the wheel, without dependencies, from a copy of the working tree's files (what git tracks
    or would track, as they are now), so that nothing is written into the checkout."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=REPO, capture_output=True, text=True, check=True).stdout.split("\0")
    source = tmp / "source"
    for name in filter(None, listed):
        if (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    dist = tmp / "dist"
    rc, out = run(session, "python", "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(dist), str(source), env=env)
    if rc:
        raise StepFailed("building the wheel", rc, out)
    (wheel,) = dist.glob("*.whl")
    return wheel


def pytest(session, tmp, env, selection):
    """Runs the selection from tests/ (two workers); the outcome, parsed from its JUnit XML."""
    junit = tmp / "junit.xml"
    chosen = [f"(not {Path(name).stem} or ({expression}))" for name, expression in selection.items() if expression]
    args = ["python", "-m", "pytest", "-p", "no:cacheprovider", "-n", "2", f"--junitxml={junit}", *selection]
    if chosen:
        args += ["-k", " and ".join(chosen)]
    rc, out = run(session, *args, env=env, cwd=TESTS)
    outcome = {"command": " ".join(["pytest", *args[3:]]).replace(str(junit), "junit.xml"), "exit_code": rc}
    outcome.update(junit_outcome(junit))
    outcome["summary"] = next((line.strip("= ") for line in reversed(out) if re.search(r"\b(passed|failed|error|no tests ran)\b", line)), None)
    return outcome


def junit_outcome(path):
    if not path.exists():
        return {"passed": 0, "failed": 0, "errors": 0, "skipped": 0, "failures": [], "junit": "missing"}
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    count = {key: sum(int(suite.get(key, 0)) for suite in suites) for key in ("tests", "failures", "errors", "skipped")}
    failures = []
    for case in root.iter("testcase"):
        for kind in ("failure", "error"):
            element = case.find(kind)
            if element is not None:
                failures.append({"test": node_id(case), "kind": kind, "error": first_error(element)})
    slowest = sorted(root.iter("testcase"), key=lambda case: -float(case.get("time") or 0))[:5]
    return {
        "passed": count["tests"] - count["failures"] - count["errors"] - count["skipped"],
        "failed": count["failures"],
        "errors": count["errors"],
        "skipped": count["skipped"],
        "failures": failures,
        "slowest_s": {node_id(case): round(float(case.get("time") or 0), 1) for case in slowest},
    }


def node_id(case):
    """pytest's node id (test_parts.py::test_x[...]) from JUnit's classname (tests.test_parts) and name."""
    parts = (case.get("classname") or "").split(".")
    module = next((i for i, part in enumerate(parts) if part.startswith("test_")), len(parts) - 1)
    return "::".join([f"{parts[module]}.py", *parts[module + 1:], case.get("name") or "?"])


def first_error(element):
    """The line that names the error: the last `SomethingError: ...` of the text (a traceback from a
    child process included), else the message's first line."""
    lines = [line.strip().removeprefix("E").strip() for line in (element.text or "").splitlines()]
    named = [i for i, line in enumerate(lines) if re.match(r"^[\w.]*(Error|Exception|Interrupt|Exit)\b:?", line)]
    if named:
        # a bare "AssertionError:" (numpy's assert_allclose) says what failed on the lines after it
        found = [line for line in lines[named[-1]:named[-1] + 4] if line][:3 if lines[named[-1]].endswith(":") else 1]
        return " ".join(found)[:500]
    message = (element.get("message") or "").strip().splitlines()
    return (message[0] if message else "")[:500]


# --- what the record says about where it ran --------------------------------------------------------------


def git_state():
    def git(*args):
        result = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
        return result.stdout.rstrip("\n") if result.returncode == 0 else None

    # The records this file writes are left out: a rerun would otherwise call every tree dirty.
    status = git("status", "--porcelain", "--", ".", f":(exclude){RESULTS.relative_to(REPO)}")
    changed = status.splitlines() if status else []
    return {"commit": (git("rev-parse", "HEAD") or "").strip() or None, "dirty": bool(changed), "changed": changed[:50]}


def machine():
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"^model name\s*:\s*(.*)$", cpuinfo, re.M)
    flags = re.search(r"^flags\s*:\s*(.*)$", cpuinfo, re.M)
    return {
        "cpu": model.group(1).strip() if model else None,
        "avx_flags": sorted(f for f in (flags.group(1).split() if flags else []) if f.startswith("avx")),
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
    }
