"""Importing Keras without TensorFlow's start-up banner under the `nndl-keras` command."""

import logging
import os
import sys

COMMAND = "nndl-keras"


def import_keras():
    """Imports Keras; under the `nndl-keras` command, without TensorFlow's C++ banner.

    TensorFlow writes its oneDNN/CUDA notices to file descriptor 2 before any
    log level applies. For the command alone (never for a library user's
    process) stderr points at /dev/null during the import, and
    TF_CPP_MIN_LOG_LEVEL defaults to 3. Python errors raised by the import
    still surface: stderr is restored before they propagate.
    """
    if os.path.basename(sys.argv[0]) != COMMAND or "keras" in sys.modules:
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
