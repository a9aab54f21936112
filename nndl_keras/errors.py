"""Errors a user can fix.

The CLI prints any `NNDLError` as one line and exits with status 2; everything
else is a bug and keeps its traceback.
"""


class NNDLError(Exception):
    """Base class of the errors that are the user's to fix (bad input, missing data)."""


class DataError(NNDLError):
    """MNIST could not be found, read or verified."""


class RecipeError(NNDLError):
    """A recipe name is unknown or an override is invalid."""
