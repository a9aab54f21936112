"""Helpers shared by the tests (on sys.path through setup.cfg's pytest `pythonpath`)."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

def run_cli(*args, env=None, cwd=None, timeout=600):
    """Runs the installed `nndl-keras` command, as from a user's shell; returns the CompletedProcess."""
    # Importing TensorFlow in this test process set TF_CPP_MIN_LOG_LEVEL=1;
    # a user's shell has no such setting.
    inherited = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    full_env = {**inherited, **(env or {})}
    return subprocess.run(
        ["nndl-keras", *map(str, args)],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=timeout,
    )


def run_python(code, env=None, timeout=600):
    """Runs `code` in a fresh Python process; returns the CompletedProcess."""
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )


def assert_one_line_error(result, *fragments):
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("nndl-keras: error: "), lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
