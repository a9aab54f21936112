"""Bad input, generated (issue 8): any command line and any damaged MNIST file gets
one line on stderr and exit status 2, never a traceback, never an output left behind."""

import gzip
import string
import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from helpers import invoke_cli
from nndl_keras import recipes
from nndl_keras.data import read_idx
from nndl_keras.errors import DataError

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")

text = st.text(string.ascii_letters + string.digits + "-_.,/ ", max_size=12)
number = st.one_of(
    st.integers(-10**12, 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["nan", "inf", "-inf", "1e400", "0x10", ""]),
    text,
)
OPTIONS = {
    "--epochs": number,
    "--batch-size": number,
    "--eta": number,
    "--lmbda": number,
    "--train-size": number,
    "--members": number,
    "--runs": number,
    "--seed": number,
    "--engine": st.one_of(st.sampled_from(["auto", "fused", "distributed", "fit"]), text),
    "--device": st.one_of(st.sampled_from(["auto", "cpu", "gpu", "tpu"]), text),
    "--precision": st.one_of(st.sampled_from(["float32", "bfloat16"]), text),
    "--steps-per-execution": number,
}
FLAGS = ("--overwrite", "--resume", "--quiet", "--allow-unverified", "--tensorboard")


@st.composite
def command_lines(draw):
    name = draw(st.one_of(st.sampled_from(recipes.names()), text))
    chosen = draw(st.lists(st.sampled_from(sorted(OPTIONS)), unique=True, max_size=5))
    # --option=value, so that a value such as "-1" is not read as an option.
    words = [f"{option}={draw(OPTIONS[option])}" for option in chosen]
    words += draw(st.lists(st.sampled_from(FLAGS), unique=True, max_size=2))
    return ["run", name, *draw(st.permutations(words))]


def assert_one_line(result, args):
    assert result.returncode == 2, (args, result.returncode, result.stdout, result.stderr)
    assert result.stdout == "", (args, result.stdout)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nndl-keras: error: "), (args, result.stderr)
    assert "Traceback" not in result.stderr


@SETTINGS
@given(args=command_lines())
def test_any_command_line_without_data_is_one_line_and_leaves_nothing(args):
    # The data directory is empty, so even a valid command line stops, at the
    # data, before any training: every case is refused, each with one line.
    with tempfile.TemporaryDirectory() as tmp:
        empty, out = Path(tmp, "empty"), Path(tmp, "out")
        empty.mkdir()
        result = invoke_cli(*args, "--data-dir", empty, "--output-dir", out)
        assert_one_line(result, args)
        assert not out.exists(), args


# With the real MNIST and an output directory no one may write in (/sys/kernel, read-only
# even for root), a command line that passes every check stops at the output directory,
# just before it would train: so each line's own verdict can be seen.
READ_ONLY = "/sys/kernel"
REACHED = f"cannot write in output directory {READ_ONLY}"
SMALL_RECIPES = ("ch1-sgd", "ch3-cross-entropy", "ch6-relu", "ch1-darkness")
VALID = {
    "--epochs": st.integers(1, 400),
    "--batch-size": st.integers(1, 1000),
    "--eta": st.floats(1e-6, 1e3),
    "--lmbda": st.floats(0, 1e3),
    "--train-size": st.integers(1000, 50_000),  # at least one mini-batch (the largest drawn: 1,000)
    "--seed": st.integers(0, 2**31 - 1),
    "--engine": st.sampled_from(["auto", "fused", "fit"]),
    "--precision": st.sampled_from(["float32", "bfloat16"]),
}
INVALID = {
    "--epochs": st.integers(-10**6, 0),
    "--batch-size": st.integers(-10**6, 0),
    "--eta": st.one_of(st.floats(max_value=0), st.sampled_from(["nan", "inf"])),
    "--lmbda": st.one_of(st.floats(max_value=-1e-9), st.sampled_from(["nan", "inf"])),
    "--train-size": st.one_of(st.integers(-10**6, 0), st.integers(50_001, 10**9)),
}


@st.composite
def one_line(draw, invalid):
    """A `run` line of valid options, and with `invalid` exactly one out-of-range value among them."""
    chosen = draw(st.lists(st.sampled_from(sorted(VALID)), unique=True, max_size=4))
    words = [f"{option}={draw(VALID[option])}" for option in chosen]
    if invalid:
        bad = draw(st.sampled_from(sorted(set(INVALID) - set(chosen))))
        words.append(f"{bad}={draw(INVALID[bad])}")
    return ["run", draw(st.sampled_from(SMALL_RECIPES)), *draw(st.permutations(words))]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(args=one_line(invalid=False))
def test_a_valid_command_line_passes_every_check(args, mnist_dir):
    result = invoke_cli(*args, "--data-dir", mnist_dir, "--output-dir", READ_ONLY)
    assert_one_line(result, args)
    assert REACHED in result.stderr, (args, result.stderr)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(args=one_line(invalid=True))
def test_an_out_of_range_value_is_refused_before_the_output_directory(args, mnist_dir):
    result = invoke_cli(*args, "--data-dir", mnist_dir, "--output-dir", READ_ONLY)
    assert_one_line(result, args)
    assert REACHED not in result.stderr, (args, result.stderr)


# -- damaged data files --------------------------------------------------------


def idx_bytes(array):
    array = np.asarray(array, dtype=np.uint8)
    return bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


GOOD = idx_bytes(np.arange(3 * 28 * 28).reshape(3, 28, 28) % 256)


@st.composite
def damaged(draw):
    """A damaged IDX file's bytes, as a download or a disk can damage one."""
    kind = draw(st.sampled_from(["truncated", "truncated-gzip", "magic", "counts", "not-gzip", "empty", "trailing"]))
    if kind == "truncated":
        return gzip.compress(GOOD[: draw(st.integers(0, len(GOOD) - 1))])
    if kind == "truncated-gzip":
        packed = gzip.compress(GOOD)
        return packed[: draw(st.integers(2, len(packed) - 1))]
    if kind == "magic":
        magic = draw(st.binary(min_size=4, max_size=4))
        assume(not (magic[:2] == b"\0\0" and magic[2] in (8, 9, 11, 12, 13, 14) and magic[3] == 3))
        return gzip.compress(magic + GOOD[4:])
    if kind == "counts":
        shape = draw(st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1)))
        assume(shape != (3, 28, 28))
        return gzip.compress(GOOD[:4] + struct.pack(">3I", *shape) + GOOD[16:])
    if kind == "not-gzip":
        return b"\x1f\x8b" + draw(st.binary(max_size=200))
    if kind == "trailing":
        return gzip.compress(GOOD + draw(st.binary(min_size=1, max_size=50)))
    return b""


@SETTINGS
@given(content=damaged())
def test_a_damaged_idx_file_is_one_line_error(content, tmp_path):
    path = tmp_path / "file.gz"
    path.write_bytes(content)
    with pytest.raises(DataError) as raised:
        read_idx(path)
    message = str(raised.value)
    assert "\n" not in message and str(path) in message


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=damaged(), which=st.sampled_from(FILES), verify=st.booleans())
def test_a_damaged_mnist_directory_is_refused_by_the_cli(content, which, verify, mnist_dir):
    # The real MNIST with one file damaged; with --allow-unverified the damage
    # itself is found, not just a wrong checksum.
    with tempfile.TemporaryDirectory() as tmp:
        data, out = Path(tmp, "data"), Path(tmp, "out")
        data.mkdir()
        for name in FILES:
            (data / name).symlink_to(mnist_dir / name)
        (data / which).unlink()
        (data / which).write_bytes(content)
        args = ["run", "ch1-darkness", "--data-dir", data, "--output-dir", out]
        result = invoke_cli(*args, *([] if verify else ["--allow-unverified"]))
        assert_one_line(result, args)
        assert which in result.stderr and not out.exists()
        if not verify:
            assert "SHA-256" not in result.stderr
