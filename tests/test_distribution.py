"""One `--device` switch over tf.distribute and keras.distribution (issue 7), on this CPU."""

import json
import socket
import subprocess

import keras
import numpy as np
import pytest

import nndl_keras  # noqa: F401  (registers the parts saved models refer to)

from helpers import assert_one_line_error, cli_env, run_cli, run_python

pytestmark = pytest.mark.slow  # trains on the real MNIST or in new processes: the inner loop (-m 'not slow') leaves it to CI


def test_mirrored_strategy_over_two_cpus_matches_one_device(tmp_path, mnist_dir):
    # Logical devices must be set before TensorFlow starts: a fresh process.
    code = f"""
import json, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import nndl_keras
from nndl_keras.errors import NNDLError
mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
common = dict(epochs=1, runs=1, data_dir={str(mnist_dir)!r}, verbose=0)
one = nndl_keras.run("ch1-sgd", device="cpu", output_dir={str(tmp_path / "one")!r}, **common).metrics
two = nndl_keras.run("ch1-sgd", device=mirrored, output_dir={str(tmp_path / "two")!r}, **common).metrics
try:
    nndl_keras.run("ch1-sgd", device=mirrored, batch_size=3, output_dir={str(tmp_path / "odd")!r}, **common)
    odd = None
except NNDLError as e:
    odd = str(e)
print(json.dumps({{"one": one, "two": two, "odd": odd}}))
"""
    result = run_python(code)
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    one, two = found["one"], found["two"]
    assert one["device"]["replicas"] == 1 and two["device"]["replicas"] == 2
    assert two["engine"] == "distributed" and "MirroredStrategy" in two["device"]["description"]
    assert abs(one["test_accuracy"] - two["test_accuracy"]) <= 0.005, (one["test_accuracy"], two["test_accuracy"])
    assert "mini-batch of 3 does not split across 2 replicas" in found["odd"]
    assert not (tmp_path / "odd").exists()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_multi_worker_mirrored_strategy_two_processes_end_identical(tmp_path, mnist_dir):
    workers = [f"127.0.0.1:{free_port()}" for _ in range(2)]
    processes = []
    for index in range(2):
        config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        args = ["nndl-keras", "run", "ch1-sgd", "--epochs", "1", "--runs", "1", "--data-dir", str(mnist_dir),
                "--output-dir", str(tmp_path / f"worker{index}"), "--quiet"]
        env = cli_env({"TF_CONFIG": json.dumps(config)})
        processes.append(subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for process in processes:
        _, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr[-3000:]
    metrics = [json.loads((tmp_path / f"worker{i}" / "metrics.json").read_text()) for i in range(2)]
    assert all("MultiWorkerMirroredStrategy, 2 workers" in m["device"]["description"] for m in metrics)
    assert metrics[0]["history"]["test_accuracy"] == metrics[1]["history"]["test_accuracy"]
    assert metrics[0]["test_accuracy"] > 0.7
    weights = [keras.saving.load_model(tmp_path / f"worker{i}" / "model.keras").get_weights() for i in range(2)]
    assert all(np.array_equal(a, b) for a, b in zip(*weights))


def test_jax_backend_runs_ch1_sgd(tmp_path, mnist_dir):
    out, quick = tmp_path / "out", ("run", "ch1-sgd", "--epochs", "1", "--runs", "1", "--train-size", "10000", "--data-dir", mnist_dir)

    def devices(n):
        return {"KERAS_BACKEND": "jax", "XLA_FLAGS": f"--xla_force_host_platform_device_count={n}"}

    result = run_cli(*quick, "--output-dir", out, "--quiet", env={"KERAS_BACKEND": "jax"})
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["versions"]["backend"] == "jax" and metrics["device"]["kind"] == "cpu"
    assert metrics["test_accuracy"] > 0.7
    # Two JAX CPU devices: keras.distribution.DataParallel, through fit.
    parallel = tmp_path / "parallel"
    result = run_cli(*quick, "--output-dir", parallel, "--quiet", env=devices(2))
    assert result.returncode == 0, result.stderr[-3000:]
    spread = json.loads((parallel / "metrics.json").read_text())
    assert spread["device"]["replicas"] == 2 and "DataParallel" in spread["device"]["description"]
    (first,) = [r for r in metrics["runs"] if r["seed"] == 0]  # the same seed on one device
    assert spread["engine"] == "fit"
    assert abs(spread["best_validation_accuracy"] - first["best_validation_accuracy"]) <= 0.005
    # Eight devices cannot split the book's mini-batch of 10: one of them trains it, and says so.
    one = tmp_path / "one-of-eight"
    result = run_cli(*quick, "--output-dir", one, env=devices(8))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "device: one CPU device of 8 (cpu), JAX: the mini-batch of 10 does not split across 8" in result.stdout
    narrowed = json.loads((one / "metrics.json").read_text())
    assert narrowed["device"]["replicas"] == 1 and narrowed["engine"] == "fused"
    assert narrowed["hyperparameters"]["batch_size"] == 10
    missing = run_cli("run", "ch1-sgd", "--device", "gpu", "--data-dir", mnist_dir, "--output-dir", tmp_path / "gpu",
                      env={"KERAS_BACKEND": "jax"})
    assert_one_line_error(missing, "--device gpu", "no GPU")
    wrong = run_cli("run", "ch1-sgd", "--engine", "distributed", "--data-dir", mnist_dir, "--output-dir", tmp_path / "wrong",
                    env={"KERAS_BACKEND": "jax"})
    assert_one_line_error(wrong, "distributed engine", "TensorFlow backend")


def test_cpu_and_auto_devices_and_missing_accelerators(tmp_path, mnist_dir):
    for device in ("cpu", "auto"):
        out = tmp_path / device
        result = run_cli("run", "ch1-sgd", "--device", device, "--epochs", "1", "--runs", "1",
                         "--data-dir", mnist_dir, "--output-dir", out)
        assert result.returncode == 0, result.stderr[-3000:]
        assert "device: one CPU device" in result.stdout
        assert json.loads((out / "metrics.json").read_text())["device"] == {
            "kind": "cpu", "replicas": 1, "description": "one CPU device (TensorFlow's default strategy)"}
    for device, fragment in (("gpu", "TensorFlow sees no GPU"), ("tpu", "no TPU found")):
        result = run_cli("run", "ch1-sgd", "--device", device, "--data-dir", mnist_dir, "--output-dir", tmp_path / device)
        assert_one_line_error(result, f"--device {device}", fragment)
        assert not (tmp_path / device).exists()


def test_bfloat16_mixed_precision_trains(tmp_path, mnist_dir):
    out = tmp_path / "out"
    result = run_cli("run", "ch1-sgd", "--precision", "bfloat16", "--epochs", "2", "--runs", "1",
                     "--data-dir", mnist_dir, "--output-dir", out, "--quiet")
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["precision"] == "bfloat16" and metrics["test_accuracy"] > 0.85
    model = keras.saving.load_model(out / "model.keras")
    assert model.layers[0].compute_dtype == "bfloat16" and model.layers[0].kernel.dtype == "float32"
