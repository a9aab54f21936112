"""Reading IDX files, the format MNIST is distributed in.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of
dimensions), one big-endian uint32 per dimension, then the data in C order.
Files may be gzip-compressed; that is detected from the content, not the name.
"""

import gzip
import hashlib
import math
import struct
import zlib

import numpy as np

from nndl_keras.errors import DataError

_GZIP_MAGIC = b"\x1f\x8b"

# IDX type codes -> big-endian NumPy dtypes.
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_bytes(path):
    """Returns the content of `path`, decompressed if it is gzip data."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from None
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except EOFError:
        raise DataError(f"{path}: truncated gzip file") from None
    except (OSError, zlib.error) as e:
        raise DataError(f"{path}: corrupt gzip file ({e})") from None


def read_idx(path, sha256=None):
    """Reads one IDX file into a NumPy array of its declared shape.

    Args:
        path: the file, gzipped or not.
        sha256: if given, the hex SHA-256 the decompressed content must have.

    Raises:
        DataError: one line naming `path` when the file is missing, not IDX,
            truncated, carries trailing data or fails its checksum.
    """
    raw = read_bytes(path)
    if len(raw) < 4:
        raise DataError(f"{path}: truncated IDX file ({len(raw)} bytes, no header)")
    if raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES or raw[3] == 0:
        magic = int.from_bytes(raw[:4], "big")
        raise DataError(f"{path}: not an IDX file (magic number 0x{magic:08x})")
    dtype, ndim = _IDX_DTYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated IDX header")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    expected = math.prod(shape) * dtype.itemsize
    found = len(raw) - header
    if found != expected:
        what = "truncated" if found < expected else "corrupt (trailing data)"
        raise DataError(
            f"{path}: {what}: header declares shape {shape} ({expected} bytes) "
            f"but {found} bytes follow"
        )
    if sha256 is not None:
        digest = hashlib.sha256(raw).hexdigest()
        if digest != sha256:
            raise DataError(
                f"{path}: SHA-256 {digest[:16]}... is not the known MNIST digest {sha256[:16]}...; "
                "replace the file, or pass --allow-unverified to use it anyway"
            )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)


def write_idx(path, array, compress=None):
    """Writes `array` as an IDX file (gzip when `compress`, or when `path` ends in .gz)."""
    array = np.asarray(array)
    codes = {dt.newbyteorder("="): code for code, dt in _IDX_DTYPES.items()}
    code = codes[array.dtype.newbyteorder("=")]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(_IDX_DTYPES[code]).tobytes()
    if compress is None:
        compress = str(path).endswith(".gz")
    with open(path, "wb") as f:
        f.write(gzip.compress(data) if compress else data)
