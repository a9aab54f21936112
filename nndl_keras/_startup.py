"""Importing Keras without TensorFlow's start-up banner under the `nndl-keras` command,
and only when the command needs it."""

import importlib
import logging
import os
import signal
import sys

COMMAND = "nndl-keras"
PARTS = ("callbacks", "initializers", "layers", "losses", "models", "regularizers")


def under_command():
    """Whether this process is the `nndl-keras` command (whose help, `list` and
    `show` answer without Keras), not a library user's."""
    return os.path.basename(sys.argv[0]) == COMMAND


def quiet_interrupts():
    """Until the command installs its own handling: Ctrl-C ends it with one line and status 130,
    not a traceback from the middle of an import."""

    def interrupted(signum, frame):
        os.write(2, b"nndl-keras: error: interrupted\n")
        os._exit(128 + signum)

    signal.signal(signal.SIGINT, interrupted)


def load_parts():
    """Imports Keras and registers the package's parts with it (what `import nndl_keras` does,
    except in the command, which calls this before a command that needs Keras)."""
    import_keras()
    for name in PARTS:
        importlib.import_module(f"nndl_keras.{name}")


def import_keras():
    """Imports Keras; under the `nndl-keras` command, without TensorFlow's C++ banner.

    TensorFlow writes its oneDNN/CUDA notices to file descriptor 2 before any
    log level applies. For the command alone (never for a library user's
    process) stderr points at /dev/null during the import, and
    TF_CPP_MIN_LOG_LEVEL defaults to 3. Python errors raised by the import
    still surface: stderr is restored before they propagate.
    """
    if not under_command() or "keras" in sys.modules:
        import keras  # noqa: F401

        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import keras  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    # Recipes with many small trainings (ch3-more-data) build many compiled
    # loops; TensorFlow's Python logger calls that "retracing" on the terminal.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
