"""Chapter 1 end to end on the real MNIST, through the installed command."""

import json

import pytest

from helpers import assert_one_line_error, run_cli, run_python

pytestmark = pytest.mark.slow  # trains on the real MNIST or in new processes: the inner loop (-m 'not slow') leaves it to CI


def test_one_epoch_of_ch1_sgd_writes_every_output(tmp_path, mnist_dir):
    out = tmp_path / "out"
    result = run_cli("run", "ch1-sgd", "--epochs", "1", "--data-dir", mnist_dir, "--output-dir", out)
    assert result.returncode == 0, result.stderr
    assert "Epoch 1/1" in result.stdout and "validation_accuracy" in result.stdout
    assert "cuInit" not in result.stderr and "oneDNN" not in result.stderr  # no TensorFlow banner
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_accuracy"] >= 0.90
    assert metrics["recipe"] == "ch1-sgd" and metrics["book_accuracy"] == 0.9542
    assert metrics["hyperparameters"]["epochs"] == 1 and metrics["hyperparameters"]["eta"] == 3.0
    assert len(metrics["runs"]) == 3  # the book's best of three
    # Each run keeps its own number, so the best can be read against the spread between seeds;
    # the run kept is the one its seed names.
    (kept,) = [run for run in metrics["runs"] if run["seed"] == metrics["seed"]]
    assert kept["measured_accuracy"] == metrics["measured_accuracy"]
    assert kept["best_validation_accuracy"] == max(run["best_validation_accuracy"] for run in metrics["runs"])
    assert all(run["seconds"] > 0 and 0.5 < run["test_accuracy_at_best_validation"] < 1 for run in metrics["runs"])
    history = metrics["history"]
    assert history["epoch"] == [1] and len(history["loss"]) == 1
    for key in ("best_validation_accuracy", "test_accuracy_at_best_validation", "wall_time_seconds", "versions"):
        assert key in metrics
    assert metrics["versions"]["keras"].startswith("3")
    assert (out / "learning_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "model.keras").stat().st_size > 0


def test_three_epochs_reach_92_percent_and_the_model_reloads(tmp_path, mnist_dir, mnist):
    out = tmp_path / "out"
    result = run_cli("run", "ch1-sgd", "--epochs", "3", "--data-dir", mnist_dir, "--output-dir", out, "--quiet")
    assert result.returncode == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_accuracy"] >= 0.92
    # A fresh process that imports nndl_keras loads the model and scores the same.
    code = f"""
import nndl_keras, keras, numpy as np
from nndl_keras.data import load_mnist
test = load_mnist({str(mnist_dir)!r}).test
model = keras.saving.load_model({str(out / "model.keras")!r})
print(float(np.mean(model.predict(test.x, verbose=0).argmax(1) == test.y)))
"""
    reloaded = run_python(code)
    assert reloaded.returncode == 0, reloaded.stderr
    assert abs(float(reloaded.stdout.strip().splitlines()[-1]) - metrics["test_accuracy"]) < 1e-9


def test_average_darkness_reproduces_the_book_exactly(tmp_path, mnist_dir):
    result = run_cli("run", "ch1-darkness", "--data-dir", mnist_dir, "--output-dir", tmp_path / "d")
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "d" / "metrics.json").read_text())
    assert round(metrics["test_accuracy"] * 10_000) == 2225


def _needs_a_missing_package(folder):
    """A plug-in recipe (an installed entry point) that requires a module no one has."""
    (folder / "nndl_needy.py").write_text(
        "from nndl_keras.recipes import BookResult, Hyperparameters, Recipe\n"
        "from nndl_keras.recipes.ch1_darkness import average_darkness\n"
        "NEEDY = Recipe(name='ch1-needy', chapter=1, description='needs a package', hparams=Hyperparameters(epochs=1),\n"
        "               book=BookResult(0.5), baseline=average_darkness,\n"
        "               requires=(('no_such_module_anywhere', 'nothing: pip install nothing'),))\n"
    )
    dist = folder / "nndl_needy-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: nndl-needy\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[nndl_keras.recipes]\nneedy = nndl_needy:NEEDY\n")
    return {"PYTHONPATH": str(folder)}


def test_reproduce_prints_and_writes_the_table(tmp_path, mnist_dir):
    out = tmp_path / "rep"
    plugin = _needs_a_missing_package(tmp_path)
    result = run_cli(
        "reproduce", "--only", "ch1-darkness", "--only", "ch1-needy", "--only", "ch1-nand-adder", "--only", "ch1-sgd",
        "--epochs-scale", "0.034", "--data-dir", mnist_dir, "--output-dir", out, env=plugin,
    )
    assert result.returncode == 0, result.stderr
    assert "| recipe | epochs | book | measured |" in result.stdout
    assert "| ch1-darkness | 1 | 22.25% | 22.25% | +0.00 |" in result.stdout
    # A recipe whose package is missing is a row that says so; the others still run.
    assert "| ch1-needy | 1 | 50.00% | skipped: needs nothing: pip install nothing | – |" in result.stdout
    assert "| ch1-nand-adder | 1 | not reported | pass | – |" in result.stdout
    assert not (out / "ch1-needy").exists()
    record = json.loads((out / "reproduce.json").read_text())
    assert record["command"].startswith("nndl-keras reproduce --only ch1-darkness") and record["machine"]["cpu"]
    rows = record["rows"]
    assert [r["recipe"] for r in rows] == ["ch1-darkness", "ch1-needy", "ch1-nand-adder", "ch1-sgd"]
    assert all(r["seconds"] > 0 for r in rows if r["recipe"] != "ch1-needy")
    assert rows[3]["epochs"] == 1 and rows[3]["measured"] >= 0.90
    refused = run_cli("run", "ch1-needy", "--output-dir", tmp_path / "needy", env=plugin)
    assert_one_line_error(refused, "ch1-needy needs nothing: pip install nothing")
    assert not (tmp_path / "needy").exists()
    assert (out / "reproduce.md").read_text().startswith("| recipe |")
    assert (out / "ch1-sgd" / "metrics.json").exists()
