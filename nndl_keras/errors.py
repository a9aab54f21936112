"""Errors a user can fix.

The CLI prints any `NNDLError` as one line and exits with its `exit_code` (2
for bad input); everything else is a bug and keeps its traceback.
"""

import signal


class NNDLError(Exception):
    """Base class of the errors that are the user's to fix (bad input, missing data)."""

    exit_code = 2


class Diverged(NNDLError):
    """Training stopped because the cost was no longer finite (η too large, say)."""

    exit_code = 1


class DataError(NNDLError):
    """MNIST could not be found, read or verified."""


class RecipeError(NNDLError):
    """A recipe name is unknown or an override is invalid."""


class Interrupted(KeyboardInterrupt):
    """Stopped by SIGINT or SIGTERM (`signum`; see `nndl_keras.stopping`). A run stopped so
    keeps its checkpoints, and the runner's message says how `--resume` continues it.

    Still a `KeyboardInterrupt`, so code that catches those keeps working.
    """

    def __init__(self, signum=signal.SIGINT, message="interrupted"):
        super().__init__(message)
        self.signum = signum
