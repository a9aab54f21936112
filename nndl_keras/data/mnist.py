"""MNIST with the book's split.

The book (`mnist_loader.py`) splits MNIST's 60,000 training images into the
first 50,000 for training and the last 10,000 for validation, and keeps the
10,000 test images for testing; pixels are scaled to [0, 1].

Where the data comes from, in order:
1. a directory (`data_dir`, else the `NNDL_KERAS_DATA_DIR` environment variable)
   holding the four IDX files, gzipped or not, or a Keras-style `mnist.npz`;
2. `tensorflow-datasets` (`mnist`, honouring `TFDS_DATA_DIR`), downloading it
   only when the download host answers, so that an offline machine fails in
   seconds instead of retrying for minutes.
"""

import contextlib
import dataclasses
import functools
import logging
import os
import socket
import zipfile
from pathlib import Path

import numpy as np

from nndl_keras.data.idx import read_idx
from nndl_keras.errors import DataError

DATA_DIR_ENV = "NNDL_KERAS_DATA_DIR"
TRAINING_IMAGES = 60_000
TEST_IMAGES = 10_000
VALIDATION_IMAGES = 10_000
IMAGE_SHAPE = (28, 28)

# Each file under the names it is published with: the LeCun/CVDF names, the
# variant with a dot that some mirrors use, each gzipped or not.
_IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
# SHA-256 of the decompressed IDX files (the originals from LeCun's site).
SHA256 = {
    "train_images": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train_labels": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "test_images": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "test_labels": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
_NPZ_NAME = "mnist.npz"
_TFDS_HOST = ("storage.googleapis.com", 443)

HOW_TO_SUPPLY = (
    "put the four MNIST IDX files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
    "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz; mirrored at "
    "https://ossci-datasets.s3.amazonaws.com/mnist/) or Keras's mnist.npz "
    "(https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz) in a directory and "
    f"pass it as data_dir (--data-dir on the command line) or set {DATA_DIR_ENV}"
)


@dataclasses.dataclass(frozen=True, eq=False)  # compared and hashed by identity: they hold arrays
class Split:
    """One part of the data: `x` float32 images flattened to 784 values in [0, 1],
    `y` int32 digit labels."""

    x: np.ndarray
    y: np.ndarray

    def __len__(self):
        return len(self.y)

    def take(self, n):
        """The first `n` examples (the book's way of training on less data)."""
        if not 0 < n <= len(self):
            raise DataError(f"cannot take {n} examples from a split of {len(self)}")
        return Split(self.x[:n], self.y[:n])


@dataclasses.dataclass(frozen=True, eq=False)  # compared and hashed by identity: they hold arrays
class MNIST:
    """The book's three splits and where they came from."""

    training: Split
    validation: Split
    test: Split
    source: str


def load_mnist(data_dir=None, verify=True):
    """Loads MNIST with the book's 50,000 / 10,000 / 10,000 split.

    Args:
        data_dir: directory holding the IDX files or `mnist.npz`. Defaults to
            `$NNDL_KERAS_DATA_DIR`; when neither is set, tensorflow-datasets.
        verify: check the IDX files' SHA-256 against MNIST's known digests
            (`mnist.npz` and tensorflow-datasets carry no such digests).

    Returns:
        An `MNIST` whose splits hold float32 pixels in [0, 1] and int32 labels.
        Files are decoded once per process and the arrays shared between calls.

    Raises:
        DataError: one line naming the file or saying how to supply the data.

    Example:

    >>> data = load_mnist("shared/data/mnist")          # doctest: +SKIP
    >>> data.training.x.shape, data.validation.x.shape  # doctest: +SKIP
    ((50000, 784), (10000, 784))
    """
    if not data_dir and os.environ.get(DATA_DIR_ENV):
        try:
            return _load_directory(str(Path(os.environ[DATA_DIR_ENV]).expanduser().resolve()), bool(verify))
        except DataError as e:  # say where the path came from: the user did not type it here
            raise DataError(f"${DATA_DIR_ENV}: {e}") from None
    if data_dir:
        return _load_directory(str(Path(data_dir).expanduser().resolve()), bool(verify))
    return _load_tfds(os.environ.get("TFDS_DATA_DIR"))


def book_split(train_images, train_labels, test_images, test_labels, source):
    """Checks raw uint8 MNIST arrays and splits them as the book does."""
    _check_images(train_images, train_labels, TRAINING_IMAGES, "training", source)
    _check_images(test_images, test_labels, TEST_IMAGES, "test", source)

    def split(images, labels):
        x = images.reshape(len(images), -1).astype(np.float32)
        x /= 255.0
        return Split(x, labels.astype(np.int32))

    n = TRAINING_IMAGES - VALIDATION_IMAGES
    return MNIST(
        training=split(train_images[:n], train_labels[:n]),
        validation=split(train_images[n:], train_labels[n:]),
        test=split(test_images, test_labels),
        source=source,
    )


def _check_images(images, labels, count, name, source):
    if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
        raise DataError(f"{source}: {name} images have shape {images.shape}, expected (N, 28, 28)")
    if labels.ndim != 1:
        raise DataError(f"{source}: {name} labels have shape {labels.shape}, expected (N,)")
    if len(images) != count or len(labels) != count:
        raise DataError(
            f"{source}: {len(images)} {name} images and {len(labels)} labels, "
            f"MNIST has {count} of each"
        )
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DataError(f"{source}: {name} labels outside 0..9")


def _find(directory, stem):
    for name in (stem, stem.replace("-idx", ".idx")):
        for candidate in (name + ".gz", name):
            path = directory / candidate
            if path.is_file():
                return path
    return None


@functools.lru_cache(maxsize=4)
def _load_directory(data_dir, verify=True):
    directory = Path(data_dir)
    if not directory.is_dir():
        raise DataError(f"MNIST directory {data_dir} does not exist; {HOW_TO_SUPPLY}")
    npz = directory / _NPZ_NAME
    paths = {key: _find(directory, stem) for key, stem in _IDX_FILES.items()}
    if all(paths.values()):
        arrays = {key: read_idx(path, SHA256[key] if verify else None) for key, path in paths.items()}
        _check_uint8(arrays, paths)
        return book_split(**arrays, source=data_dir)
    if npz.is_file():
        return _load_npz(npz)
    missing = ", ".join(_IDX_FILES[k] + "[.gz]" for k, p in paths.items() if p is None)
    raise DataError(f"{data_dir} has no mnist.npz and lacks {missing}; {HOW_TO_SUPPLY}")


def _check_uint8(arrays, paths):
    for key, array in arrays.items():
        if array.dtype != np.uint8:
            raise DataError(f"{paths[key]}: holds {array.dtype} data, MNIST is unsigned bytes")


def _load_npz(path):
    keys = ("x_train", "y_train", "x_test", "y_test")
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in keys if k not in f.files]
            if missing:
                raise DataError(f"{path}: missing array {missing[0]!r}; expected {', '.join(keys)}")
            arrays = {k: f[k] for k in keys}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(f"{path}: not a readable .npz file ({e})") from None
    return book_split(
        arrays["x_train"].astype(np.uint8),
        arrays["y_train"],
        arrays["x_test"].astype(np.uint8),
        arrays["y_test"],
        source=str(path),
    )


def _host_reachable(address, timeout=3.0):
    try:
        with socket.create_connection(address, timeout=timeout):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def _absl_errors_only():
    logger = logging.getLogger("absl")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


@functools.lru_cache(maxsize=2)
def _load_tfds(tfds_data_dir):
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise DataError(f"tensorflow-datasets is not installed; {HOW_TO_SUPPLY}") from None
    with _absl_errors_only():
        # An empty version folder left by an interrupted download makes tfds log
        # warnings on the terminal; the error below says what matters.
        builder = tfds.builder("mnist", data_dir=tfds_data_dir)
        prepared = builder.is_prepared()
    if not prepared:
        # tfds retries an unreachable download for minutes; ask the host first.
        if not _host_reachable(_TFDS_HOST):
            raise DataError(
                f"no MNIST directory given and tensorflow-datasets has no copy in "
                f"{builder.data_dir} and cannot download one (no network); {HOW_TO_SUPPLY}"
            )
        builder.download_and_prepare()
    # TFDS stores MNIST in its own order, so its last 10,000 training images
    # are not the book's validation set, though equally distributed.
    splits = tfds.as_numpy(builder.as_dataset(batch_size=-1, as_supervised=True, shuffle_files=False))
    (x_train, y_train), (x_test, y_test) = splits["train"], splits["test"]
    return book_split(
        x_train.reshape(-1, *IMAGE_SHAPE),
        y_train,
        x_test.reshape(-1, *IMAGE_SHAPE),
        y_test,
        source=f"tensorflow-datasets:{builder.data_dir}",
    )
