"""Chapter 2's backpropagation check, chapter 4's hand-built universality, chapter 1's adder."""

import json

from helpers import run_cli


def test_backprop_matches_autodiff_and_finite_differences(tmp_path, mnist_dir):
    out = tmp_path / "bp"
    result = run_cli("run", "ch2-backprop", "--data-dir", mnist_dir, "--output-dir", out)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["max_relative_error_autodiff"] <= 1e-6
    assert metrics["max_relative_error_finite_differences"] <= 1e-4
    assert metrics["within_bounds"] is True and metrics["dtype"] == "float64"
    assert set(metrics["seconds_per_minibatch"]) == {"backprop", "autodiff", "finite_differences"}
    assert metrics["parameters"] == 784 * 30 + 30 + 30 * 30 + 30 + 30 * 10 + 10
    assert "against Keras autodiff" in result.stdout


def test_universality_by_hand(tmp_path, mnist_dir):
    out = tmp_path / "u"
    result = run_cli("run", "ch4-universality", "--epochs", "50", "--data-dir", mnist_dir, "--output-dir", out, "--quiet")
    assert result.returncode == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    table = metrics["errors_by_bumps"]
    means = [table[b]["mean_abs_error"] for b in sorted(table, key=int)]
    assert all(a > b for a, b in zip(means, means[1:])), means  # more bumps, smaller error
    assert table["100"]["mean_abs_error"] <= 0.01
    assert metrics["trained"]["epochs"] == 50 and metrics["trained"]["mean_abs_error"] < 0.2
    for figure in ("universality.png", "towers.png"):
        assert (out / figure).read_bytes()[:4] == b"\x89PNG"


def test_nand_adder_recipe(tmp_path, mnist_dir):
    out = tmp_path / "nand"
    result = run_cli("run", "ch1-nand-adder", "--data-dir", mnist_dir, "--output-dir", out)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["adds_correctly"] is True and len(metrics["truth_table"]) == 4
    assert "1 + 1 = carry 1, sum 0" in result.stdout
