"""GradientNormMonitor inside plain model.fit: values, logs, no effect on training, engines."""

import csv
import json
import os
import re
import subprocess
import sys

import keras
import numpy as np
import pytest

from helpers import REPO, run_python
from nndl_keras import backprop, recipes
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


@pytest.mark.slow
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
    # Seeded: with some draws of the initial weights a ReLU unit is dead on the probe, and its norm 0.
    keras.utils.set_random_seed(0)
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


@pytest.mark.slow
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


@pytest.mark.slow
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


def test_a_layer_frozen_between_fit_calls_is_no_longer_measured(mnist, tmp_path):
    # Transfer learning: train, freeze a layer, recompile, train on with the same monitor.
    x, y = _data(mnist, 100)
    keras.utils.set_random_seed(0)
    model = feedforward(HP)
    monitor = GradientNormMonitor((x, y))
    model.fit(x, y, batch_size=10, epochs=1, verbose=0, callbacks=[monitor])
    model.get_layer("hidden_1").trainable = False
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=model.loss)
    history = model.fit(x, y, batch_size=10, epochs=1, verbose=0, callbacks=[monitor]).history
    assert "grad_norm/hidden_1/bias" not in history and "grad_norm/hidden_2/bias" in history
    fresh = GradientNormMonitor((x, y))
    fresh.set_model(model)
    assert monitor.table[-1]["grad_norm/hidden_2/bias"] == pytest.approx(fresh.gradient_norms()["grad_norm/hidden_2/bias"])
    monitor.save_csv(tmp_path / "norms.csv")  # rows of both trainings, in one file
    assert len(list(csv.DictReader(open(tmp_path / "norms.csv")))) == 3


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


# ---- Any model a Keras user builds, on TensorFlow and (below) JAX -------------


def _mlp_data(mnist, n=256):
    return mnist.training.x[:n], mnist.training.y[:n]


def keras_io_mnist_convnet(mnist):
    # keras-io's "Simple MNIST convnet", as written there (one-hot targets, Adam).
    x, y = mnist.training.x[:256].reshape(-1, 28, 28, 1), mnist.training.y[:256]
    model = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        keras.layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        keras.layers.MaxPooling2D(pool_size=(2, 2)),
        keras.layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        keras.layers.MaxPooling2D(pool_size=(2, 2)),
        keras.layers.Flatten(),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model, x, keras.utils.to_categorical(y, 10)


def batch_normalization(mnist):
    model = keras.Sequential([
        keras.Input((784,)),
        keras.layers.Dense(16, use_bias=False),
        keras.layers.BatchNormalization(),
        keras.layers.Activation("relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    return model, *_mlp_data(mnist)


class TwoLayers(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = keras.layers.Dense(16, activation="sigmoid")
        self.out = keras.layers.Dense(10, activation="softmax")

    def call(self, x):
        return self.out(self.hidden(x))


def subclassed(mnist):
    return TwoLayers(), *_mlp_data(mnist)


def nested(mnist):
    # Two inner models, each with a Dense named "dense" (and another layer):
    # named by their top-level layer, two kernels would share a key.
    def block(name):
        return keras.Sequential([keras.layers.Dense(16, activation="relu", name="dense"),
                                 keras.layers.Dense(16, activation="relu", name="mix")], name=name)

    model = keras.Sequential([keras.Input((784,)), block("a"), block("b"), keras.layers.Dense(10, activation="softmax", name="out")])
    return model, *_mlp_data(mnist)


def sequential_without_input(mnist):
    model = keras.Sequential([keras.layers.Dense(16, activation="sigmoid"), keras.layers.Dense(10, activation="softmax")])
    return model, *_mlp_data(mnist)


def _two_inputs(mnist, as_dict):
    x, y = _mlp_data(mnist)
    image, extra = keras.Input((784,), name="image"), keras.Input((3,), name="extra")
    h = keras.layers.Concatenate()([keras.layers.Dense(16, activation="relu", name="from_image")(image),
                                    keras.layers.Dense(4, activation="relu", name="from_extra")(extra)])
    outputs = keras.layers.Dense(10, activation="softmax", name="out")(h)
    extra_x = np.random.default_rng(0).random((len(x), 3), dtype=np.float32)
    if as_dict:
        return keras.Model({"image": image, "extra": extra}, outputs), {"image": x, "extra": extra_x}, y
    return keras.Model([image, extra], outputs), [x, extra_x], y


MODELS = {
    "keras_io_mnist_convnet": keras_io_mnist_convnet,
    "batch_normalization": batch_normalization,
    "subclassed": subclassed,
    "nested": nested,
    "sequential_without_input": sequential_without_input,
    "two_inputs_list": lambda mnist: _two_inputs(mnist, as_dict=False),
    "two_inputs_dict": lambda mnist: _two_inputs(mnist, as_dict=True),
}
EXPECTED_KEYS = {  # where the key scheme matters: nested weights by their path
    "nested": {f"grad_norm/{block}/{layer}/{w}" for block in "ab" for layer in ("dense", "mix") for w in ("kernel", "bias")}
    | {"grad_norm/out/kernel", "grad_norm/out/bias"},
    "two_inputs_dict": {f"grad_norm/{layer}/{w}" for layer in ("from_image", "from_extra", "out") for w in ("kernel", "bias")},
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_any_model_a_user_builds_gets_one_finite_norm_per_weight(mnist, name):
    assert keras.backend.backend() == os.environ.get("KERAS_BACKEND", "tensorflow")  # the JAX run below is JAX
    keras.utils.set_random_seed(0)
    model, x, y = MODELS[name](mnist)
    if not model.compiled:
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    probe = (keras.tree.map_structure(lambda a: a[:64], x), y[:64])  # as fit takes x: an array, a list, a dict
    monitor = GradientNormMonitor(probe)
    history = model.fit(x, y, batch_size=32, epochs=2, verbose=0, callbacks=[monitor]).history
    keys = [k for k in history if k.startswith("grad_norm/") and k != "grad_norm/speed_ratio"]
    assert len(keys) == len(model.trainable_variables) > 0, (keys, [v.path for v in model.trainable_variables])
    assert set(keys) == EXPECTED_KEYS.get(name, set(keys))
    for key in keys:
        assert len(history[key]) == 2 and np.all(np.isfinite(history[key])), (key, history[key])
    assert len(monitor.table) == 3 and all(set(keys) <= set(row) for row in monitor.table)


class SameNames(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.first = keras.layers.Dense(8, activation="relu", name="dense")
        self.second = keras.layers.Dense(10, activation="softmax", name="dense")

    def call(self, x):
        return self.second(self.first(x))


def test_two_weights_of_one_path_are_both_measured(mnist):
    # Only a subclassed model can hold two layers of one name: one path, two weights.
    x, y = _data(mnist, 64)
    model = SameNames()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    history = model.fit(x, y, epochs=1, verbose=0, callbacks=[GradientNormMonitor((x, y))]).history
    keys = {k for k in history if k.startswith("grad_norm/dense/")}
    assert keys == {"grad_norm/dense/kernel", "grad_norm/dense/bias", "grad_norm/dense/kernel_1", "grad_norm/dense/bias_1"}


def test_batch_normalization_probe_uses_the_moving_statistics_and_leaves_them(mnist):
    x, y = _mlp_data(mnist)
    trained = []
    for callbacks in ([], [GradientNormMonitor((x[:64], y[:64]), every_n_batches=2)]):
        keras.utils.set_random_seed(0)
        model, _, _ = batch_normalization(mnist)
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        model.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0, callbacks=callbacks)
        trained.append([np.asarray(v) for v in model.variables])  # moving mean and variance included
    for a, b in zip(*trained):
        np.testing.assert_array_equal(a, b)
    # training=False: the probe's gradient does not depend on which examples share its batches.
    monitor = GradientNormMonitor((x[:64], y[:64]))
    monitor.set_model(model)
    whole = monitor.gradient_norms()
    monitor_in_batches = GradientNormMonitor((x[:64], y[:64]), batch_size=16)
    monitor_in_batches.set_model(model)
    assert monitor_in_batches.gradient_norms() == pytest.approx(whole, rel=1e-4)


@pytest.mark.slow
def test_every_model_on_the_jax_backend(mnist_dir):
    # The same tests in a fresh process on JAX (the backend is chosen at import).
    result = subprocess.run(
        [sys.executable, "-m", "pytest", __file__, "-q", "-p", "no:cacheprovider", "-k", "any_model_a_user_builds"],
        capture_output=True, text=True, cwd=REPO, timeout=900,
        env={**os.environ, "KERAS_BACKEND": "jax", "NNDL_KERAS_DATA_DIR": str(mnist_dir)},
    )
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"{len(MODELS)} passed" in summary and "failed" not in summary, summary


def test_on_another_backend_on_train_begin_says_so_in_one_line(mnist, monkeypatch):
    x, y = _data(mnist, 50)
    model = feedforward(HP)
    monitor = GradientNormMonitor((x, y))
    monitor.set_model(model)
    monkeypatch.setattr(keras.backend, "backend", lambda: "torch")
    with pytest.raises(RuntimeError) as raised:
        monitor.on_train_begin()
    assert type(raised.value) is RuntimeError and "\n" not in str(raised.value)
    assert "TensorFlow and JAX" in str(raised.value) and "torch" in str(raised.value)
    assert monitor.table == []


# ---- Chapter 5's diagnosis: the speed ratio and the alerts ---------------------


def test_speed_ratio_is_the_first_layers_bias_norm_over_the_last(mnist):
    keras.utils.set_random_seed(0)
    model = feedforward(HP)  # hidden_1, hidden_2, output
    x, y = _data(mnist)
    history = model.fit(x, y, batch_size=10, epochs=2, verbose=0, callbacks=[monitor := GradientNormMonitor((x[:100], y[:100]))])
    for row in monitor.table:
        assert row["grad_norm/speed_ratio"] == pytest.approx(row["grad_norm/hidden_1/bias"] / row["grad_norm/output/bias"])
    assert history.history["grad_norm/speed_ratio"] == [row["grad_norm/speed_ratio"] for row in monitor.table[1:]]
    assert "grad_norm/speed_ratio" not in monitor.keys()  # keys() are the weights'
    # Watching some layers: the ratio is between the first and last of those.
    only = GradientNormMonitor((x[:100], y[:100]), layers=["hidden_1", "hidden_2"])
    only.set_model(model)
    norms = only.gradient_norms()
    assert set(norms) == {f"grad_norm/hidden_{i}/{w}" for i in (1, 2) for w in ("kernel", "bias")} | {"grad_norm/speed_ratio"}
    assert norms["grad_norm/speed_ratio"] == pytest.approx(norms["grad_norm/hidden_1/bias"] / norms["grad_norm/hidden_2/bias"])
    with pytest.raises(ValueError, match="hidden_9"):
        typo = GradientNormMonitor((x[:100], y[:100]), layers=["hidden_9"])
        typo.set_model(model)
        typo.gradient_norms()


def _alerts(capsys):
    return [line for line in capsys.readouterr().out.splitlines() if line.startswith("GradientNormMonitor:")]


def test_vanishing_alert_once_on_four_sigmoid_layers_with_the_hook(mnist, capsys):
    # ch5-speed-4's net: the first hidden layer learns ~500x slower than the output layer.
    keras.utils.set_random_seed(0)
    model = recipes.create_model("ch5-speed-4")
    x, y = _data(mnist)
    calls = []
    monitor = GradientNormMonitor((x[:200], y[:200]), vanishing_ratio=0.01, on_alert=lambda *args: calls.append(args))
    model.fit(x, y, batch_size=50, epochs=3, verbose=0, callbacks=[monitor])
    (line,) = _alerts(capsys)
    assert line.startswith("GradientNormMonitor: vanishing gradient after epoch 1:") and "hidden_1 over output" in line
    ((kind, measurement),) = calls
    assert kind == "vanishing" and measurement["epoch"] == 1 and measurement["threshold"] == 0.01
    assert measurement["value"] == monitor.table[1]["grad_norm/speed_ratio"] < 0.01
    assert measurement["norms"]["grad_norm/hidden_1/bias"] == monitor.table[1]["grad_norm/hidden_1/bias"]


def test_a_relu_convnet_stays_quiet(mnist, capsys):
    # ch6-relu's net (its softmax starts at zero weights: every earlier gradient is 0 before the first step).
    keras.utils.set_random_seed(0)
    model = recipes.create_model("ch6-relu")
    x, y = _data(mnist, 500)
    calls = []
    monitor = GradientNormMonitor((x[:200], y[:200]), every_n_batches=10, vanishing_ratio=0.01, exploding_ratio=100,
                                  exploding_factor=10, on_alert=lambda *args: calls.append(args))
    model.fit(x, y, batch_size=10, epochs=1, verbose=0, callbacks=[monitor])
    assert monitor.table[0]["grad_norm/speed_ratio"] == 0  # before training: not judged
    assert all(0.01 < row["grad_norm/speed_ratio"] < 100 for row in monitor.table[1:])
    assert _alerts(capsys) == [] and calls == []


def test_exploding_alert_before_training_on_chapter_5s_exploding_net(mnist, capsys):
    # ch5-exploding's net: weights 100, every z = 0, so each layer multiplies δ by 25 on its way back.
    keras.utils.set_random_seed(0)
    model = recipes.create_model("ch5-exploding")
    x, y = _data(mnist, 200)
    calls = []
    monitor = GradientNormMonitor((x, y), vanishing_ratio=0.01, exploding_ratio=100, on_alert=lambda *args: calls.append(args))
    model.fit(x, y, batch_size=200, epochs=2, verbose=0, callbacks=[monitor])
    exploding, vanishing = _alerts(capsys)
    assert exploding.startswith("GradientNormMonitor: exploding gradient before training: the first layer learns "), exploding
    assert "hidden_1 over output" in exploding and "> exploding_ratio 100" in exploding
    # One step of η = 0.1 on that gradient saturates every hidden neuron: then nothing reaches hidden_1.
    assert vanishing.startswith("GradientNormMonitor: vanishing gradient after epoch 1: the first layer learns not at all"), vanishing
    (kind, first), (kind_2, second) = calls
    assert (kind, first["measure"], first["epoch"], first["batch"]) == ("exploding", "speed_ratio", 0, None)
    assert first["value"] == monitor.table[0]["grad_norm/speed_ratio"] > 100
    assert (kind_2, second["measure"], second["value"]) == ("vanishing", "speed_ratio", 0)


@pytest.mark.parametrize("threshold", [{"vanishing_ratio": 0}, {"exploding_ratio": 1}, {"exploding_factor": 0.5}], ids=str)
def test_a_threshold_that_can_never_alert_is_refused(threshold):
    with pytest.raises(ValueError, match=next(iter(threshold))):
        GradientNormMonitor((np.zeros((2, 1)), np.zeros(2)), **threshold)


def test_exploding_alert_once_and_the_hook_stops_training(capsys):
    # Linear regression with too large a step: each step multiplies the error, and the gradient, by 1 - 2η(x² + 1) = -7.
    x = np.full((64, 1), 2.0, dtype="float32")
    y = np.zeros((64, 1), dtype="float32")
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, kernel_initializer="ones", name="line")])
    model.compile(optimizer=keras.optimizers.SGD(0.8), loss="mse")

    def stop(kind, measurement):
        assert (kind, measurement["measure"]) == ("exploding", "growth")
        model.stop_training = True

    monitor = GradientNormMonitor((x, y), every_n_batches=1, exploding_factor=5, on_alert=stop)
    model.fit(x, y, batch_size=64, epochs=50, verbose=0, callbacks=[monitor])
    (line,) = _alerts(capsys)
    assert line.startswith("GradientNormMonitor: exploding gradient in epoch 1, after batch 1:"), line
    assert "grew 7x" in line, line
    assert len(monitor.table) == 2  # before training, after the first step: then stopped


# ---- The documented examples, run ----------------------------------------------


def test_readme_watching_gradients_example_runs(tmp_path, mnist_dir):
    text = (REPO / "docs" / "gradients.md").read_text()
    code = f"import os\nos.chdir({str(tmp_path)!r})\n" + re.search(r"```python\n(.*?)```", text, re.S).group(1)
    result = run_python(code, env={"NNDL_KERAS_DATA_DIR": str(mnist_dir)})
    assert result.returncode == 0, result.stderr[-3000:]
    alerts = [line for line in result.stdout.splitlines() if line.startswith("GradientNormMonitor:")]
    assert len(alerts) == 1 and alerts[0].startswith("GradientNormMonitor: vanishing gradient after epoch 1:"), result.stdout
    assert "grad_norm/speed_ratio" in (tmp_path / "log.csv").read_text().splitlines()[0]
    assert (tmp_path / "norms.png").read_bytes()[:4] == b"\x89PNG"


def test_a_resumed_run_does_not_alert_twice(mnist, capsys):
    # The runner's checkpoints keep get_state() as JSON and give it back to a new monitor on --resume.
    keras.utils.set_random_seed(0)
    model = recipes.create_model("ch5-speed-4")
    x, y = _data(mnist, 200)
    first = GradientNormMonitor((x, y), vanishing_ratio=0.01)
    model.fit(x, y, batch_size=200, epochs=1, verbose=0, callbacks=[first])
    assert len(_alerts(capsys)) == 1
    resumed = GradientNormMonitor((x, y), vanishing_ratio=0.01)
    resumed.set_state(json.loads(json.dumps(first.get_state())))
    model.fit(x, y, batch_size=200, epochs=1, verbose=0, callbacks=[resumed])
    assert _alerts(capsys) == [] and len(resumed.table) == 3
