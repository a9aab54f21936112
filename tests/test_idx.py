import gzip

import numpy as np
import pytest

from nndl_keras.data import read_idx, write_idx
from nndl_keras.errors import DataError


@pytest.mark.parametrize("name", ["images-idx3-ubyte", "images-idx3-ubyte.gz"])
def test_round_trip_plain_and_gzipped(tmp_path, name):
    images = np.random.default_rng(0).integers(0, 256, size=(7, 28, 28), dtype=np.uint8)
    write_idx(tmp_path / name, images)
    assert (tmp_path / name).read_bytes()[:2] == (b"\x1f\x8b" if name.endswith(".gz") else b"\x00\x00")
    np.testing.assert_array_equal(read_idx(tmp_path / name), images)


def test_header_declares_shape_and_type(tmp_path):
    labels = np.arange(10, dtype=np.uint8)
    write_idx(tmp_path / "labels", labels)
    raw = (tmp_path / "labels").read_bytes()
    assert raw[:8] == bytes([0, 0, 8, 1, 0, 0, 0, 10])
    assert read_idx(tmp_path / "labels").shape == (10,)


def test_gzip_detected_from_content_not_name(tmp_path):
    labels = np.arange(5, dtype=np.uint8)
    write_idx(tmp_path / "labels-idx1-ubyte", labels, compress=True)
    np.testing.assert_array_equal(read_idx(tmp_path / "labels-idx1-ubyte"), labels)


def _damaged(tmp_path, data, name="f-idx3-ubyte"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _valid_bytes(shape=(3, 28, 28)):
    array = np.ones(shape, dtype=np.uint8)
    return bytes([0, 0, 8, len(shape)]) + b"".join(d.to_bytes(4, "big") for d in shape) + array.tobytes()


DAMAGED = [
    (b"", "truncated IDX file"),
    (b"\x00\x00", "truncated IDX file"),
    (b"\x12\x34\x56\x78" + bytes(100), "not an IDX file (magic number 0x12345678)"),
    (bytes([0, 0, 8, 3, 0, 0]), "truncated IDX header"),
    (_valid_bytes()[:-1], "truncated: header declares shape (3, 28, 28)"),
    (_valid_bytes() + b"\x00", "corrupt (trailing data)"),
    # mtime=0: the same bytes in every process (pytest-xdist's workers collect the tests apart)
    (gzip.compress(_valid_bytes(), mtime=0)[:-20], "truncated gzip file"),
    (b"\x1f\x8b" + b"not really gzip at all", "corrupt gzip file"),
]


@pytest.mark.parametrize("data, message", DAMAGED, ids=[f"{k}-{message}" for k, (_, message) in enumerate(DAMAGED)])
def test_damaged_files_give_one_line_naming_the_file(tmp_path, data, message):
    path = _damaged(tmp_path, data)
    with pytest.raises(DataError) as info:
        read_idx(path)
    text = str(info.value)
    assert str(path) in text and message in text
    assert "\n" not in text


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="cannot read"):
        read_idx(tmp_path / "nope")
