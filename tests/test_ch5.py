"""Chapter 5: the book's initial gradient norms, the vanishing and the exploding gradient."""

import json

import keras
import numpy as np
import pytest

from helpers import run_cli
from nndl_keras import backprop, book, recipes
from nndl_keras.callbacks import GradientNormMonitor

pytestmark = pytest.mark.slow  # trains on the real MNIST or in new processes: the inner loop (-m 'not slow') leaves it to CI


def initial_bias_norms(name, mnist, seed):
    keras.utils.set_random_seed(seed)
    model = recipes.create_model(name)
    monitor = GradientNormMonitor((mnist.training.x[:1000], mnist.training.y[:1000]))
    monitor.set_model(model)
    norms = monitor.gradient_norms()
    return [v for k, v in norms.items() if "/hidden_" in k and k.endswith("/bias")]


def test_initial_norms_have_the_books_pattern_and_size(mnist):
    for hidden in (2, 3, 4):
        per_seed = np.array([initial_bias_norms(f"ch5-speed-{hidden}", mnist, seed) for seed in range(5)])
        ours = per_seed.mean(axis=0)
        theirs = np.array(book.figure(f"norms_during_training_{hidden}_layers")[0])
        ratio = ours / theirs
        assert np.all((ratio > 1 / 2.5) & (ratio < 2.5)), (hidden, ours, theirs)
        assert np.all(np.diff(ours) > 0), ours  # each layer learns faster than the one before
        if hidden == 4:
            assert ours[0] / ours[-1] <= 1 / 20, ours


def test_speed_of_learning_recipe_writes_norms_and_the_book_curve(tmp_path, mnist_dir):
    out = tmp_path / "speed4"
    result = run_cli("run", "ch5-speed-4", "--data-dir", mnist_dir, "--output-dir", out)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    # The headline is the norms it exists for, not its accuracy (10%, at chance).
    (verdict,) = [line for line in result.stdout.splitlines() if line.startswith("  ‖δ^l‖ of hidden layers 1-4: ")]
    assert verdict.strip() == metrics["headline"] and "after 500 epochs" in verdict, result.stdout
    assert f"faster than the first (book: {metrics['book_final_last_over_first']:.0f}x)" in verdict
    assert metrics["measured_accuracy"] is None and metrics["validation_accuracy"] is not None
    assert "measured " not in result.stdout
    assert metrics["hyperparameters"]["batch_size"] == 1000 and metrics["epochs_run"] == 500
    rows = json.loads((out / "gradient_norms.json").read_text())["rows"]
    assert len(rows) == 501  # before training and after each of the 500 epochs
    assert (out / "gradient_norms.csv").read_text().count("\n") == 502
    assert (out / "gradient_norms.png").read_bytes()[:4] == b"\x89PNG"
    first, last = metrics["final_bias_norms"][0], metrics["final_bias_norms"][-1]
    assert last / first > 100  # after 500 epochs the first layer still learns far slower (the book: about 113)
    assert metrics["book_final_last_over_first"] > 100
    # The monitor's diagnosis: one line, once, after the first epoch.
    alerts = [line for line in result.stdout.splitlines() if line.startswith("GradientNormMonitor:")]
    assert len(alerts) == 1 and alerts[0].startswith("GradientNormMonitor: vanishing gradient after epoch 1:"), result.stdout
    assert all("grad_norm/speed_ratio" in row and row["grad_norm/speed_ratio"] < 0.01 for row in rows[:2])


def test_exploding_gradient_grows_towards_the_first_layer(tmp_path, mnist_dir):
    out = tmp_path / "exploding"
    result = run_cli("run", "ch5-exploding", "--data-dir", mnist_dir, "--output-dir", out, "--quiet")
    assert result.returncode == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    norms = metrics["initial_bias_norms"]
    assert all(a > b for a, b in zip(norms, norms[1:])), norms
    growth = metrics["initial_growth_per_layer"]
    assert abs(growth[0] - 25) < 0.1 and abs(growth[1] - 25) < 0.1  # w·σ′(0) = 100/4
    # The monitor's diagnosis: exploding before training, then (every hidden neuron
    # saturated by the first step) vanishing.
    alerts = [line for line in result.stdout.splitlines() if line.startswith("GradientNormMonitor:")]
    assert [line.split(":")[1] for line in alerts] == [" exploding gradient before training", " vanishing gradient after epoch 1"], result.stdout
    assert "x faster than the last (‖∂C/∂b‖ of hidden_1 over output" in alerts[0], alerts[0]


def test_depth_recipe_records_norms_every_epoch_and_the_first_figure(tmp_path, mnist_dir, mnist):
    out = tmp_path / "d2"
    result = run_cli(
        "run", "ch5-depth-2", "--epochs", "2", "--train-size", "5000", "--data-dir", mnist_dir, "--output-dir", out, "--quiet"
    )
    assert result.returncode == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    history = metrics["history"]
    assert len(history["grad_norm/hidden_1/bias"]) == 2 and len(history["grad_norm/hidden_2/kernel"]) == 2
    # Chapter 5's first figure: the first six neurons' dC/db (BP3) of the seed-0 net before
    # training, on the first 1,000 images, as the book's own backpropagation computes them.
    keras.utils.set_random_seed(0)
    params = backprop.dense_parameters(recipes.create_model("ch5-depth-2"))
    x, y = mnist.training.x[:1000].astype(np.float64), mnist.training.y[:1000]
    grads = backprop.backprop(params, x, y, cost="cross_entropy")
    assert np.allclose(metrics["initial_deltas"], [gb[:6] for _, gb in grads[:2]], rtol=1e-3, atol=1e-7)
    assert metrics["book_initial_deltas"] == book.figure("initial_gradient")
    assert (out / "initial_deltas.png").read_bytes()[:4] == b"\x89PNG"


def test_a_users_own_monitor_beside_the_recipes(tmp_path, mnist_dir, mnist):
    # The recipe reports from its own monitor; a user's, passed to run, measures alongside.
    import nndl_keras

    mine = GradientNormMonitor((mnist.training.x[:100], mnist.training.y[:100]))
    result = nndl_keras.run("ch5-exploding", data_dir=mnist_dir, output_dir=tmp_path / "run", callbacks=[mine], verbose=0)
    assert len(result.metrics["initial_growth_per_layer"]) == 3 and (tmp_path / "run" / "gradient_norms.json").exists()
    assert [row["epoch"] for row in mine.table] == [0, 1]
    assert result.metrics["headline"].startswith("‖δ^l‖ grows 25.0x, 25.0x")
