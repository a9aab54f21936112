"""Errors a user can fix.

The CLI prints any `NNDLError` as one line and exits with its `exit_code` (2
for bad input); everything else is a bug and keeps its traceback.
"""


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
    """A run stopped by Ctrl-C or SIGTERM; its checkpoints let `--resume` continue it.

    Still a `KeyboardInterrupt`, so code that catches those keeps working.
    """

    def __init__(self, recipe, output_dir, signum=None):
        super().__init__(f"{recipe} interrupted; continue with: nndl-keras run {recipe} --output-dir {output_dir} --resume")
        self.recipe, self.output_dir, self.signum = recipe, output_dir, signum
