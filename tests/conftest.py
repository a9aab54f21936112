import os
import sys
from pathlib import Path

import pytest

from helpers import REPO

# The tests check the installed package (where recipes/ is nndl_keras.recipes),
# never the source tree, which `python -m pytest` would put first on sys.path.
sys.path[:] = [p for p in sys.path if Path(p or os.curdir).resolve() != REPO]

# One worker a core (setup.cfg): each worker, and the runs it starts, computes on one thread,
# instead of TensorFlow's one per core in every process, which then wait on each other
# (two ch6-relu runs side by side on 2 cores finished sooner so). Set only for the tests.
if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
    for _threads in ("TF_NUM_INTRAOP_THREADS", "OMP_NUM_THREADS"):  # inter-op: collectives need it
        os.environ.setdefault(_threads, "1")

# .ci/run points NNDL_KERAS_DATA_DIR at the shared MNIST; a checkout beside
# shared/ finds it without the variable.
MNIST_DIR = Path(os.environ.get("NNDL_KERAS_DATA_DIR") or REPO.parent / "shared" / "data" / "mnist")


@pytest.fixture(scope="session")
def mnist_dir():
    if not (MNIST_DIR / "train-images-idx3-ubyte.gz").exists():
        pytest.fail(f"the real MNIST is needed at {MNIST_DIR}; set NNDL_KERAS_DATA_DIR")
    return MNIST_DIR


@pytest.fixture(scope="session")
def mnist(mnist_dir):
    from nndl_keras.data import load_mnist

    return load_mnist(mnist_dir)


def pytest_collection_modifyitems(config, items):
    # The Colab notebook runs where Colab's TPU image is emulated (the colab_tpu nox session of
    # the README's test command sets NNDL_KERAS_COLAB_IMAGE), not again in the suite beside it.
    if not os.environ.get("NNDL_KERAS_COLAB_IMAGE"):
        notebook = [item for item in items if item.get_closest_marker("colab")]
        if notebook:
            config.hook.pytest_deselected(items=notebook)
            items[:] = [item for item in items if not item.get_closest_marker("colab")]
    # The slow tests first: run side by side (pytest-xdist), the long ones start at once
    # and the short ones fill in around them, rather than one long test ending the suite alone.
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
