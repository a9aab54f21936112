import shutil
import time

import numpy as np
import pytest

from nndl_keras.data import load_mnist, mnist, write_idx
from nndl_keras.errors import DataError

# From ../shared/data/mnist/README.md.
TRAINING_LABEL_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_LABEL_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_book_split_of_the_real_mnist(mnist):
    assert mnist.training.x.shape == (50_000, 784)
    assert mnist.validation.x.shape == (10_000, 784)
    assert mnist.test.x.shape == (10_000, 784)
    for split in (mnist.training, mnist.validation, mnist.test):
        assert split.x.dtype == np.float32 and split.y.dtype == np.int32
        assert split.x.min() == 0.0 and split.x.max() == 1.0
    assert mnist.training.y[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    all_training = np.concatenate([mnist.training.y, mnist.validation.y])
    assert np.bincount(all_training).tolist() == TRAINING_LABEL_COUNTS
    assert np.bincount(mnist.test.y).tolist() == TEST_LABEL_COUNTS
    mean_pixel = np.concatenate([mnist.training.x, mnist.validation.x]).mean()
    assert abs(mean_pixel - 0.1307) < 1e-3


def test_decoded_once_per_process(mnist_dir, mnist):
    tick = time.perf_counter()
    again = load_mnist(mnist_dir)
    assert again is mnist
    assert time.perf_counter() - tick < 0.05


def test_environment_variable_names_the_directory(mnist_dir, mnist, monkeypatch):
    monkeypatch.setenv("NNDL_KERAS_DATA_DIR", str(mnist_dir))
    assert load_mnist() is mnist


def test_take_is_the_first_images(mnist):
    small = mnist.training.take(1000)
    assert len(small) == 1000
    np.testing.assert_array_equal(small.x, mnist.training.x[:1000])
    with pytest.raises(DataError):
        mnist.training.take(50_001)


def _raw(mnist):
    def to_uint8(x):
        return np.rint(x * 255).astype(np.uint8).reshape(-1, 28, 28)

    train_x = to_uint8(np.concatenate([mnist.training.x, mnist.validation.x]))
    train_y = np.concatenate([mnist.training.y, mnist.validation.y]).astype(np.uint8)
    return train_x, train_y, to_uint8(mnist.test.x), mnist.test.y.astype(np.uint8)


def test_uncompressed_idx_and_dotted_names(tmp_path, mnist):
    train_x, train_y, test_x, test_y = _raw(mnist)
    write_idx(tmp_path / "train-images.idx3-ubyte", train_x)
    write_idx(tmp_path / "train-labels.idx1-ubyte", train_y)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", test_x)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", test_y)
    loaded = load_mnist(tmp_path)
    np.testing.assert_array_equal(loaded.validation.x, mnist.validation.x)
    np.testing.assert_array_equal(loaded.test.y, mnist.test.y)


def test_keras_style_npz(tmp_path, mnist):
    train_x, train_y, test_x, test_y = _raw(mnist)
    np.savez(tmp_path / "mnist.npz", x_train=train_x, y_train=train_y, x_test=test_x, y_test=test_y)
    loaded = load_mnist(tmp_path)
    np.testing.assert_array_equal(loaded.training.x, mnist.training.x)
    np.testing.assert_array_equal(loaded.test.y, mnist.test.y)


def test_npz_missing_an_array(tmp_path):
    np.savez(tmp_path / "mnist.npz", x_train=np.zeros((1, 28, 28), np.uint8))
    with pytest.raises(DataError, match="missing array 'y_train'"):
        load_mnist(tmp_path)


def test_wrong_counts_are_refused(tmp_path, mnist_dir):
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        shutil.copy(mnist_dir / name, tmp_path / name)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.zeros((5, 28, 28), np.uint8))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(5, np.uint8))
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz: SHA-256"):
        load_mnist(tmp_path)
    with pytest.raises(DataError, match="5 test images and 5 labels, MNIST has 10000"):
        load_mnist(tmp_path, verify=False)


def test_truncated_real_file_is_named(tmp_path, mnist_dir):
    for name in ("train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(mnist_dir / name, tmp_path / name)
    data = (mnist_dir / "train-images-idx3-ubyte.gz").read_bytes()
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz: truncated gzip file"):
        load_mnist(tmp_path)


def test_directory_lacking_files_says_which_and_how(tmp_path):
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(3, np.uint8))
    with pytest.raises(DataError) as info:
        load_mnist(tmp_path)
    text = str(info.value)
    assert "train-images-idx3-ubyte" in text and "train-labels" not in text.split("lacks")[1].split(";")[0]
    assert "--data-dir" in text and "NNDL_KERAS_DATA_DIR" in text


def test_offline_without_data_fails_fast_with_instructions(tmp_path, monkeypatch):
    monkeypatch.delenv("NNDL_KERAS_DATA_DIR", raising=False)
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds"))
    # What this machine sees: no route to the download host.
    monkeypatch.setattr(mnist, "_host_reachable", lambda address, timeout=3.0: False)
    mnist._load_tfds.cache_clear()
    tick = time.perf_counter()
    with pytest.raises(DataError) as info:
        load_mnist()
    assert time.perf_counter() - tick < 30
    text = str(info.value)
    assert "no network" in text and "--data-dir" in text and str(tmp_path / "tfds") in text


def test_host_check_gives_up_quickly_on_a_closed_port():
    tick = time.perf_counter()
    assert mnist._host_reachable(("127.0.0.1", 9), timeout=2.0) is False
    assert time.perf_counter() - tick < 3


@pytest.mark.slow
def test_a_changed_pixel_fails_the_checksum_unless_allowed(tmp_path, mnist_dir, mnist):
    train_x, train_y, test_x, test_y = _raw(mnist)
    test_x[0, 14, 14] ^= 1  # one bit of one pixel
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", train_x)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", train_y)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", test_x)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", test_y)
    with pytest.raises(DataError) as info:
        load_mnist(tmp_path)
    assert "t10k-images-idx3-ubyte.gz: SHA-256" in str(info.value) and "--allow-unverified" in str(info.value)
    loaded = load_mnist(tmp_path, verify=False)
    assert loaded.test.x[0, 14 * 28 + 14] != mnist.test.x[0, 14 * 28 + 14]
