"""GradientNormMonitor inside plain model.fit: values, logs, no effect on training, engines."""

import csv
import json

import keras
import numpy as np
import pytest

from helpers import run_python
from nndl_keras import backprop
from nndl_keras.callbacks import GradientNormMonitor
from nndl_keras.layers import ConvPool2D
from nndl_keras.models import feedforward
from nndl_keras.recipe import Hyperparameters

HP = Hyperparameters(layers=(784, 30, 30, 10), cost="cross_entropy", init="default", eta=0.1, lmbda=5.0, train_size=500)


def _data(mnist, n=500):
    return mnist.training.x[:n], mnist.training.y[:n]


def test_norms_are_the_books_average_gradient_with_l2_included(mnist):
    keras.utils.set_random_seed(0)
    model = feedforward(HP)
    x, y = _data(mnist)
    monitor = GradientNormMonitor((x[:200], y[:200]))
    monitor.set_model(model)
    norms = monitor.gradient_norms()
    params = backprop.dense_parameters(model)
    grads = backprop.backprop(params, x[:200].astype(np.float64), y[:200], cost="cross_entropy")
    for (w, _), (gw, gb), name in zip(params, grads, ["hidden_1", "hidden_2", "output"]):
        assert norms[f"grad_norm/{name}/bias"] == pytest.approx(np.linalg.norm(gb), rel=1e-3)
        with_l2 = gw + HP.lmbda / HP.train_size * w  # d/dw of lambda/(2n) sum w^2
        assert norms[f"grad_norm/{name}/kernel"] == pytest.approx(np.linalg.norm(with_l2), rel=1e-3)


def test_epoch_logs_reach_history_and_csv_logger(mnist, tmp_path):
    keras.utils.set_random_seed(0)
    model = feedforward(HP)
    x, y = _data(mnist)
    monitor = GradientNormMonitor((x[:100], y[:100]))
    history = model.fit(
        x, y, batch_size=10, epochs=3, verbose=0,
        callbacks=[monitor, keras.callbacks.CSVLogger(str(tmp_path / "log.csv"))],
    )
    for layer in ("hidden_1", "hidden_2", "output"):
        for weight in ("bias", "kernel"):
            assert len(history.history[f"grad_norm/{layer}/{weight}"]) == 3
    assert len(monitor.table) == 4  # before training, then after each epoch
    assert monitor.table[-1]["grad_norm/output/bias"] == history.history["grad_norm/output/bias"][-1]
    rows = list(csv.DictReader(open(tmp_path / "log.csv")))
    assert len(rows) == 3 and "grad_norm/hidden_1/bias" in rows[0]

    monitor.save_json(tmp_path / "norms.json")
    monitor.save_csv(tmp_path / "norms.csv")
    monitor.plot(tmp_path / "norms.png")
    assert len(json.loads((tmp_path / "norms.json").read_text())["rows"]) == 4
    assert len(list(csv.DictReader(open(tmp_path / "norms.csv")))) == 4
    assert (tmp_path / "norms.png").read_bytes()[:4] == b"\x89PNG"


def _dropout_model():
    return keras.Sequential([
        keras.Input((784,)),
        keras.layers.Dense(30, activation="sigmoid", name="hidden"),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(10, activation="softmax", name="output"),
    ])


def test_training_is_unchanged_by_the_monitor(mnist):
    x, y = _data(mnist)
    weights = []
    for callbacks in ([], [GradientNormMonitor((x[:100], y[:100]), every_n_batches=7)]):
        keras.utils.set_random_seed(42)
        model = _dropout_model()  # dropout: the monitor must not draw from the training RNG
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
        model.fit(x, y, batch_size=10, epochs=2, shuffle=True, verbose=0, callbacks=callbacks)
        weights.append(model.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("steps_per_execution", [1, 5])
def test_every_n_batches_counts_steps_not_calls(mnist, steps_per_execution):
    x, y = _data(mnist, 100)  # 10 steps per epoch
    model = feedforward(HP)
    model.compile(optimizer=model.optimizer, loss=model.loss, steps_per_execution=steps_per_execution)
    monitor = GradientNormMonitor((x, y), every_n_batches=5)
    model.fit(x, y, batch_size=10, epochs=2, verbose=0, callbacks=[monitor])
    assert [(r["epoch"], r["batch"]) for r in monitor.table] == [(0, None), (0, 4), (0, 9), (1, 4), (1, 9)]


def test_conv_pool_2d_and_conv2d_layers_are_watched(mnist):
    x, y = mnist.training.x[:64].reshape(-1, 28, 28, 1), mnist.training.y[:64]
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        ConvPool2D(4, name="convpool"),
        keras.layers.Conv2D(3, 3, activation="relu", name="conv"),
        keras.layers.Flatten(),
        keras.layers.Dense(10, activation="softmax", name="output"),
    ])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    history = model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[GradientNormMonitor((x, y))])
    for key in ("grad_norm/convpool/kernel", "grad_norm/convpool/bias", "grad_norm/conv/kernel", "grad_norm/conv/bias"):
        assert np.isfinite(history.history[key][0]) and history.history[key][0] > 0


ELSEWHERE = """
import json, sys, numpy as np
{setup}
import keras, nndl_keras
from nndl_keras.callbacks import GradientNormMonitor
from nndl_keras.data import load_mnist
from nndl_keras.models import feedforward
from nndl_keras.recipe import Hyperparameters
data = load_mnist({data!r})
x, y = data.training.x[:500], data.training.y[:500]
hp = Hyperparameters(layers=(784, 30, 30, 10), cost="cross_entropy", init="default", eta=0.1, lmbda=5.0, train_size=500)
keras.utils.set_random_seed(0)
{scope}
    model = feedforward(hp)
    monitor = GradientNormMonitor((x[:200], y[:200]))
    model.fit(x, y, batch_size=10, epochs=2, verbose=0, callbacks=[monitor])  # inside the scope, as a strategy's user does
print(json.dumps({{"first": monitor.table[0], "keys": list(model.history.history)}}))
"""

MIRRORED = """
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
assert strategy.num_replicas_in_sync == 2
"""


@pytest.mark.parametrize("where", ["mirrored", "jax"])
def test_under_mirrored_strategy_and_on_jax(mnist_dir, mnist, where):
    setup = MIRRORED if where == "mirrored" else ""
    scope = "with strategy.scope():" if where == "mirrored" else "if True:"
    env = {"KERAS_BACKEND": "jax"} if where == "jax" else {"KERAS_BACKEND": "tensorflow"}
    result = run_python(ELSEWHERE.format(setup=setup, scope=scope, data=str(mnist_dir)), env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert "grad_norm/hidden_1/bias" in report["keys"]
    # The same initial weights (same seed) give the norms NumPy backprop gives.
    keras.utils.set_random_seed(0)
    params = backprop.dense_parameters(feedforward(HP))
    grads = backprop.backprop(params, mnist.training.x[:200].astype(np.float64), mnist.training.y[:200], "cross_entropy")
    if where == "mirrored":  # same backend and seed: the very same initial weights, the no-strategy norms
        # (Keras divides the loss by the replica count under a strategy: not the norms.)
        for (w, _), (gw, gb), name in zip(params, grads, ["hidden_1", "hidden_2", "output"]):
            assert report["first"][f"grad_norm/{name}/bias"] == pytest.approx(np.linalg.norm(gb), rel=1e-3)
            with_l2 = gw + HP.lmbda / HP.train_size * w
            assert report["first"][f"grad_norm/{name}/kernel"] == pytest.approx(np.linalg.norm(with_l2), rel=1e-3)
    else:  # JAX draws other initial weights from the same seed: check the pattern
        first = report["first"]
        assert first["grad_norm/hidden_1/bias"] < first["grad_norm/hidden_2/bias"] < first["grad_norm/output/bias"]


def test_one_monitor_reused_measures_each_model_it_is_given(mnist):
    # As in best-of-N runs and ensemble members: one instance, several trainings.
    x, y = _data(mnist)
    monitor = GradientNormMonitor((x[:200], y[:200]))
    keras.utils.set_random_seed(0)
    first = feedforward(HP)
    first.fit(x, y, batch_size=10, epochs=1, verbose=0, callbacks=[monitor])
    keras.utils.set_random_seed(1)
    second = feedforward(HP)
    second.fit(x, y, batch_size=10, epochs=1, verbose=0, callbacks=[monitor])

    fresh = GradientNormMonitor((x[:200], y[:200]))
    fresh.set_model(second)
    assert monitor.gradient_norms() == pytest.approx(fresh.gradient_norms(), rel=1e-6)
    assert len(monitor.table) == 2  # the second model's own: before training, after its epoch
    # The same model trained on keeps its table.
    second.fit(x, y, batch_size=10, epochs=1, verbose=0, callbacks=[monitor])
    assert len(monitor.table) == 3


def test_a_model_without_a_compiled_loss_is_refused_in_one_clear_error(mnist):
    x, y = _data(mnist, 50)
    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="sgd")  # no loss: a custom train_step would compute its own
    monitor = GradientNormMonitor((x, y))
    monitor.set_model(model)
    with pytest.raises(ValueError, match="compiled without one"):
        monitor.gradient_norms()


def test_the_monitor_imports_no_training_machinery():
    # A part a user drops into their own fit must not load the runner and its engines (issue 15).
    code = "import sys, nndl_keras.callbacks; print(sorted(m for m in sys.modules if m.startswith('nndl_keras.training')))"
    result = run_python(code)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"
