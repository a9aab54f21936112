"""Chapter 3's recipes, shortened where the full run is a reproduction, not a test."""

import json

import pytest

from helpers import run_cli

pytestmark = pytest.mark.slow  # trains on the real MNIST or in new processes: the inner loop (-m 'not slow') leaves it to CI


def metrics_of(out):
    return json.loads((out / "metrics.json").read_text())


def test_overfitting_full_length_matches_the_books_curves(tmp_path, mnist_dir):
    # 400 epochs on 1,000 images: seconds with the runner's back-to-back epochs.
    out = tmp_path / "over"
    result = run_cli("run", "ch3-overfitting", "--data-dir", mnist_dir, "--output-dir", out, "--quiet")
    assert result.returncode == 0, result.stderr
    m = metrics_of(out)
    assert m["epochs_run"] == 400 and len(m["history"]["test_cost"]) == 400
    assert abs(m["measured_accuracy"] - 0.8227) <= 0.01  # the book's peak test accuracy
    assert m["final_training_accuracy"] == 1.0
    assert m["lowest_test_cost_epoch"] < 40  # the test cost turns up early (book: epoch 15)
    assert (out / "overfitting.png").read_bytes()[:4] == b"\x89PNG"


def test_l2_shrinks_the_gap_on_1000_images(tmp_path, mnist_dir):
    out = tmp_path / "l2"
    result = run_cli("run", "ch3-l2-small", "--epochs", "100", "--data-dir", mnist_dir, "--output-dir", out, "--quiet")
    assert result.returncode == 0, result.stderr
    assert metrics_of(out)["best_test_accuracy"] > 0.84  # unregularised peaks at 82%


def test_init_experiment_trains_four_configurations(tmp_path, mnist_dir):
    out = tmp_path / "init"
    result = run_cli("run", "ch3-init", "--epochs", "1", "--data-dir", mnist_dir, "--output-dir", out, "--quiet")
    assert result.returncode == 0, result.stderr
    first = metrics_of(out)["first_epoch_validation"]
    assert set(first) == {"30-large", "30-default", "100-large", "100-default"}
    assert first["30-default"] > first["30-large"]  # the chapter's point
    assert (out / "weight_initialization.png").exists()


def test_more_data_scales_epochs_and_lambda(tmp_path, mnist_dir):
    out = tmp_path / "more"
    result = run_cli("run", "ch3-more-data", "--epochs", "1", "--data-dir", mnist_dir, "--output-dir", out, "--quiet")
    assert result.returncode == 0, result.stderr
    by_size = metrics_of(out)["validation_accuracy_by_size"]
    assert list(by_size) == ["100", "200", "500", "1000", "2000", "5000", "10000", "20000", "50000"]
    assert by_size["50000"] > by_size["100"]


def test_eta_experiment_records_training_cost(tmp_path, mnist_dir):
    out = tmp_path / "eta"
    result = run_cli("run", "ch3-eta", "--epochs", "2", "--data-dir", mnist_dir, "--output-dir", out, "--quiet")
    assert result.returncode == 0, result.stderr
    costs = metrics_of(out)["training_cost_per_epoch"]
    assert set(costs) == {"eta 0.025", "eta 0.25", "eta 2.5"} and all(len(c) == 2 for c in costs.values())


@pytest.mark.parametrize(
    "name", ["ch3-softmax", "ch3-momentum", "ch3-tanh", "ch3-relu", "ch3-dropout", "ch3-rotations"]
)
def test_technique_recipes_learn(tmp_path, mnist_dir, name):
    out = tmp_path / name
    result = run_cli(
        "run", name, "--epochs", "1", "--train-size", "10000", "--data-dir", mnist_dir, "--output-dir", out, "--quiet"
    )
    assert result.returncode == 0, result.stderr
    assert metrics_of(out)["validation_accuracy"] > 0.85


def test_early_stopping_and_the_halving_schedule_end_runs(tmp_path, mnist_dir):
    for name in ("ch3-early-stopping", "ch3-eta-schedule"):
        out = tmp_path / name
        # 1,000 images: the validation accuracy plateaus within a few dozen epochs.
        result = run_cli("run", name, "--train-size", "1000", "--data-dir", mnist_dir, "--output-dir", out, "--quiet")
        assert result.returncode == 0, result.stderr
        m = metrics_of(out)
        assert m["epochs_run"] < 200, name
    history = m["history"]  # the schedule's run
    assert history["learning_rate"][-1] <= 0.5 / 128 * (1 + 1e-9)
