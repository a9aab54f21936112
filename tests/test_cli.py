import json
import signal
import subprocess
import time

import pytest

from helpers import assert_one_line_error, cli_env, invoke_cli, run_cli


HEAVY = ("keras", "tensorflow", "numpy", "jax")


@pytest.mark.parametrize("args", [("--help",), ("list",), ("show", "ch6-relu"), ("run", "no-such-recipe")])
def test_help_list_show_and_a_mistyped_name_answer_without_keras(args, tmp_path):
    """They answer at once (benchmarks/cli_startup.py times them): the command imports
    neither Keras nor TensorFlow nor NumPy (looked at as the process exits)."""
    (tmp_path / "sitecustomize.py").write_text(
        "import atexit, json, sys\n"
        f"atexit.register(lambda: open({str(tmp_path / 'imported.json')!r}, 'w').write("
        f"json.dumps([m for m in {HEAVY!r} if m in sys.modules])))\n"
    )
    result = run_cli(*args, env={"PYTHONPATH": str(tmp_path)})
    assert result.returncode in (0, 2), result.stderr[-2000:]
    assert json.loads((tmp_path / "imported.json").read_text()) == []


def test_list_shows_names_chapters_and_book_results():
    result = run_cli("list")
    assert result.returncode == 0, result.stderr
    line = next(l for l in result.stdout.splitlines() if l.startswith("ch1-sgd "))
    assert "95.42% test" in line and " 1 " in line


def test_list_keeps_its_columns_aligned():
    header, *rows = run_cli("list").stdout.splitlines()
    column = header.index("description")
    misaligned = [row for row in rows if row[column - 2:column] != "  " or row[column] == " "]
    assert rows and not misaligned, misaligned[:3]


def test_show_prints_hyperparameters_and_book_result():
    result = run_cli("show", "ch1-sgd")
    assert result.returncode == 0
    assert "95.42%" in result.stdout
    assert "the book's experiment ch1-30h: 95.42% (9542/10000)" in result.stdout  # the shipped table's row
    assert "eta                3.0" in result.stdout


# Refused by the registry, the hyperparameters or click: the same in this process as in a
# new one, so they run here (click's runner) rather than each importing TensorFlow anew.
REFUSED_BEFORE_ANY_DATA = [
    (("run", "no-such-recipe"), ("unknown recipe 'no-such-recipe'",)),
    (("run", "ch1-sdg"), ("did you mean ch1-sgd",)),
    (("run", "ch1-sgd", "--eta", "-1"), ("eta must be positive",)),
    (("run", "ch1-sgd", "--batch-size", "0"), ("batch size must be at least 1",)),
    (("run", "ch1-sgd", "--members", "3"), ("ch1-sgd: unknown hyperparameter(s): members (only ensembles",)),
    (("run", "ch6-relu", "--members", "3"), ("ch6-relu: unknown hyperparameter(s): members", "its own options: conv")),
    (("run", "ch1-sgd", "--epochs", "abc"), ("'--epochs'",)),
    (("run", "ch1-sgd", "--no-such-option"), ("--no-such-option",)),
    (("show", "nope"), ("unknown recipe 'nope'",)),
    (("list", "--chapter", "9"), ("no recipes for chapter 9", "1, 2, 3, 4, 5, 6")),
    (("reproduce", "--exclude", "nope"), ("unknown recipe 'nope'",)),
    (("reproduce", "--epochs-scale", "0"), ("epochs scale must be positive",)),
    (("frobnicate",), ("frobnicate",)),
]
# Refused once the data or the output directory is reached, with TensorFlow imported: in a
# new process, as from a user's shell, where whatever TensorFlow logs would also reach stderr.
REFUSED_AT_THE_DATA_OR_THE_OUTPUT = [
    (("run", "ch1-sgd", "--train-size", "60000"), ("train size 60000 exceeds the 50000 training images",)),
    (("run", "ch1-sgd", "--data-dir", "/no/such/dir"), ("/no/such/dir does not exist", "--data-dir", "mnist.npz (https://")),
    # a directory no one may write in, even root (these tests may run as root)
    (("run", "ch1-darkness", "--output-dir", "/sys/kernel"), ("cannot write in output directory /sys/kernel",)),
]


@pytest.mark.parametrize("args, fragments", REFUSED_BEFORE_ANY_DATA)
def test_bad_input_is_one_line_and_exit_2(args, fragments, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert_one_line_error(invoke_cli(*args), *fragments)
    assert list(tmp_path.iterdir()) == []  # nothing left behind


@pytest.mark.parametrize("args, fragments", REFUSED_AT_THE_DATA_OR_THE_OUTPUT)
def test_bad_input_is_one_line_and_exit_2_in_a_new_process(args, fragments, tmp_path):
    result = run_cli(*args, cwd=tmp_path)
    assert_one_line_error(result, *fragments)
    assert list(tmp_path.iterdir()) == []


def test_a_bad_data_directory_from_the_environment_says_so(tmp_path):
    result = run_cli("run", "ch1-sgd", "--output-dir", tmp_path / "out", env={"NNDL_KERAS_DATA_DIR": "/no/such/mnist"})
    assert_one_line_error(result, "$NNDL_KERAS_DATA_DIR: MNIST directory /no/such/mnist does not exist", "mirrored at https://")
    assert not (tmp_path / "out").exists()


def test_ctrl_c_while_starting_is_one_line(tmp_path, mnist_dir):
    """A second into `run` the command is importing Keras and TensorFlow: Ctrl-C there ends
    it with one line and 130, as later in the run, and leaves no output behind."""
    process = subprocess.Popen(["nndl-keras", "run", "ch1-sgd", "--data-dir", str(mnist_dir), "--output-dir",
                                str(tmp_path / "out")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=cli_env())
    time.sleep(1.0)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130 and stderr.strip() == "nndl-keras: error: interrupted", stderr[-2000:]
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_an_existing_run_is_not_overwritten(tmp_path, mnist_dir):
    out = tmp_path / "out"
    first = run_cli("run", "ch1-darkness", "--data-dir", mnist_dir, "--output-dir", out)
    assert first.returncode == 0, first.stderr
    before = (out / "metrics.json").read_text()
    second = run_cli("run", "ch1-darkness", "--data-dir", mnist_dir, "--output-dir", out)
    assert_one_line_error(second, "already holds a run", "--overwrite")
    assert (out / "metrics.json").read_text() == before
    third = run_cli("run", "ch1-darkness", "--data-dir", mnist_dir, "--output-dir", out, "--overwrite", "--quiet")
    assert third.returncode == 0 and third.stdout == ""


def test_no_tensorflow_banner_on_the_terminal():
    result = run_cli("list")
    assert "oneDNN" not in result.stderr and "cuda" not in result.stderr.lower()


def test_help_and_version():
    assert "reproduce" in run_cli("--help").stdout
    assert run_cli("--version").returncode == 0


@pytest.mark.slow
def test_checksum_failure_is_one_line_and_allow_unverified_runs(tmp_path, mnist_dir):
    import shutil

    data = tmp_path / "data"
    data.mkdir()
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz"):
        shutil.copy(mnist_dir / name, data / name)
    from nndl_keras.data import read_idx, write_idx

    labels = read_idx(mnist_dir / "t10k-labels-idx1-ubyte.gz").copy()
    labels[0] = (labels[0] + 1) % 10
    write_idx(data / "t10k-labels-idx1-ubyte.gz", labels)
    refused = run_cli("run", "ch1-darkness", "--data-dir", data, "--output-dir", tmp_path / "out")
    assert_one_line_error(refused, "t10k-labels-idx1-ubyte.gz: SHA-256", "--allow-unverified")
    assert not (tmp_path / "out").exists()
    allowed = run_cli("run", "ch1-darkness", "--data-dir", data, "--output-dir", tmp_path / "out", "--allow-unverified")
    assert allowed.returncode == 0, allowed.stderr
