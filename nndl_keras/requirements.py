"""The versions this package declares it needs, checked before a run trains.

The ranges live in one place, the installed package's metadata (setup.cfg's
`install_requires` and the `jax` extra), and are read back from it here: a
Keras, TensorFlow or JAX below its floor is refused in one line that names the
version needed, before any data is loaded or any file written.
"""

import importlib.metadata

from packaging.requirements import Requirement

from nndl_keras.errors import NNDLError

DISTRIBUTION = "nndl-keras"


def declared(name):
    """This package's requirement on `name` (with or without an extra), or None when none is declared
    or the package runs uninstalled (from a source tree)."""
    try:
        requirements = importlib.metadata.requires(DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError:
        return None
    return next((req for req in map(Requirement, requirements) if req.name == name), None)


def check(backend):
    """Raises `NNDLError` naming the version needed when Keras, TensorFlow (if installed) or, on
    the JAX backend, JAX is outside the range this package declares."""
    names = ["keras", "tensorflow"] + (["jax"] if backend == "jax" else [])
    for name in names:
        requirement = declared(name)
        try:
            have = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue  # TensorFlow absent (a TPU image): the imports say so where it is needed
        if requirement is not None and not requirement.specifier.contains(have, prereleases=True):
            raise NNDLError(
                f"nndl-keras needs {name}{requirement.specifier} and this environment has {name} {have}: "
                f"pip install '{name}{requirement.specifier}'"
            )
