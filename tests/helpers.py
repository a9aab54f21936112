"""Helpers shared by the tests (on sys.path through setup.cfg's pytest `pythonpath`)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

def cli_env(env=None):
    """The environment of a user's shell, plus `env`."""
    # Importing TensorFlow in this test process set TF_CPP_MIN_LOG_LEVEL=1;
    # a user's shell has no such setting.
    inherited = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return {**inherited, **(env or {})}


def run_cli(*args, env=None, cwd=None, timeout=600):
    """Runs the installed `nndl-keras` command, as from a user's shell; returns the CompletedProcess."""
    return subprocess.run(
        ["nndl-keras", *map(str, args)],
        capture_output=True,
        text=True,
        env=cli_env(env),
        cwd=cwd,
        timeout=timeout,
    )


def kill_when(args, is_moment, delay=0.0, sig=signal.SIGKILL):
    """Starts `nndl-keras *args` and sends it `sig` `delay` seconds after the first
    stdout line for which `is_moment(lines so far)` holds; returns (lines, exit status, stderr)."""
    process = subprocess.Popen(
        ["nndl-keras", *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env()
    )
    lines = []
    for line in process.stdout:
        lines.append(line)
        if is_moment(lines):
            time.sleep(delay)
            process.send_signal(sig)
            break
    _, stderr = process.communicate(timeout=120)
    return lines, process.returncode, stderr


def run_python(code, env=None, timeout=600):
    """Runs `code` in a fresh Python process, against the installed package; returns the CompletedProcess."""
    return subprocess.run(
        [sys.executable, "-P", "-c", code],  # -P: not the checkout in the working directory
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )


def invoke_cli(*args):
    """Runs `nndl-keras *args` in this process (click's runner), for a refusal that comes before
    any training: no new process to import TensorFlow into. Returns what `run_cli` returns."""
    from click.testing import CliRunner

    from nndl_keras.cli import main

    result = CliRunner().invoke(main, [str(a) for a in args], prog_name="nndl-keras")
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)


def assert_one_line_error(result, *fragments):
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("nndl-keras: error: "), lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
