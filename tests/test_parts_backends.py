"""The parts on every Keras backend: the parts' tests again under JAX, and saving across backends."""

import re
import sys

import pytest

from helpers import REPO, run_python

pytestmark = pytest.mark.slow  # trains on the real MNIST or in new processes: the inner loop (-m 'not slow') leaves it to CI


def test_parts_and_engines_pass_on_the_jax_backend(mnist_dir):
    import subprocess

    names = (
        "test_parts.py",
        "test_engines.py",
        "test_network3_dropout.py",
        "test_initializer_seeds.py",
        "test_cost_contract.py",
        "test_layer_contract.py",
        "test_callback_config.py",
        "test_adversarial.py",
        "test_examples.py",
    )
    files = [str(REPO / "tests" / name) for name in names]
    result = subprocess.run(
        # One process (the suite around it has the cores); the engines' slow tests (chunk
        # lengths, stops) are the stacked tests' on JAX (test_stacked.py).
        [sys.executable, "-m", "pytest", *files, "-q", "-p", "no:cacheprovider", "-n0", "-m", "not slow"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**__import__("os").environ, "KERAS_BACKEND": "jax", "JAX_ENABLE_X64": "1", "NNDL_KERAS_DATA_DIR": str(mnist_dir)},
        timeout=900,
    )
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    passed = re.search(r"(\d+) passed", summary)
    assert passed and int(passed.group(1)) >= 45 and "failed" not in summary, summary


BUILD_TRAIN_SAVE = """
import keras, numpy as np, nndl_keras
from nndl_keras import initializers, layers, losses, regularizers
from nndl_keras.data import load_mnist
from nndl_keras.models import nand_adder

keras.utils.set_random_seed(0)
data = load_mnist({data!r})
n = 500
x, y = data.training.x[:n].reshape(-1, 28, 28, 1), data.training.y[:n]
scalar = np.linspace(0, 1, n, dtype="float32")[:, None]

images = keras.Input((28, 28, 1), name="images")
point = keras.Input((1,), name="point")
h = layers.PixelShift(seed=1)(images)
h = layers.ConvPool2D(8, kernel_size=(5, 5), pool_size=(2, 2), activation="relu",
                      kernel_regularizer=regularizers.Network3L2(0.1, n, 10))(h)
h = keras.layers.Flatten()(h)
h = keras.layers.Dense(30, activation="sigmoid", kernel_initializer=initializers.DefaultWeightInitializer(),
                       bias_initializer=initializers.StandardNormal(),
                       kernel_regularizer=regularizers.Network2L2(5.0, n))(h)
digits = keras.layers.Dense(10, activation="softmax", kernel_initializer="zeros", name="digits")(h)
vector = keras.layers.Dense(10, activation="sigmoid", name="vector")(h)
bumps = layers.StepPair(4, steepness=50.0, name="bumps")(point)
curve = keras.layers.Dense(1, activation="sigmoid", name="curve")(bumps)
gates = layers.Perceptron(2, kernel_initializer="random_normal", name="gates")(keras.layers.Dense(2)(h))
model = keras.Model([images, point], [digits, vector, curve, gates])
model.compile(
    optimizer=keras.optimizers.SGD(0.1),
    loss={{"digits": losses.LogLikelihoodCost(), "vector": losses.CrossEntropyCost(),
          "curve": losses.QuadraticCost(), "gates": None}},
)
targets = {{"digits": y, "vector": y, "curve": scalar ** 2, "gates": np.zeros((n, 2))}}
history = model.fit({{"images": x, "point": scalar}}, targets, batch_size=10, epochs=2, verbose=0)
assert history.history["loss"][-1] < history.history["loss"][0], history.history
model.save({path!r})
np.save({preds!r}, np.concatenate([np.asarray(p).reshape(n, -1) for p in model.predict({{"images": x, "point": scalar}}, verbose=0)], 1))
nand_adder().save({adder!r})
"""

LOAD_PREDICT = """
import keras, numpy as np, nndl_keras
from nndl_keras import losses
from nndl_keras.data import load_mnist
data = load_mnist({data!r})
n = 500
x = data.training.x[:n].reshape(-1, 28, 28, 1)
scalar = np.linspace(0, 1, n, dtype="float32")[:, None]
model = keras.saving.load_model({path!r})
assert isinstance(model.loss["digits"], losses.LogLikelihoodCost), model.loss
preds = np.concatenate([np.asarray(p).reshape(n, -1) for p in model.predict({{"images": x, "point": scalar}}, verbose=0)], 1)
np.testing.assert_allclose(preds, np.load({preds!r}), rtol=1e-5, atol=1e-6)
adder = keras.saving.load_model({adder!r})
assert adder.predict(np.array([[1.0, 1.0], [1.0, 0.0]]), verbose=0).tolist() == [[0.0, 1.0], [1.0, 0.0]]
print("reloaded")
"""


@pytest.mark.parametrize(
    "saved_on, loaded_on",
    [("tensorflow", "tensorflow"), ("jax", "jax"), ("tensorflow", "jax")],
)
def test_a_model_with_every_part_trains_saves_and_reloads(tmp_path, mnist_dir, saved_on, loaded_on):
    paths = {
        "data": str(mnist_dir),
        "path": str(tmp_path / "model.keras"),
        "preds": str(tmp_path / "preds.npy"),
        "adder": str(tmp_path / "adder.keras"),
    }
    saved = run_python(BUILD_TRAIN_SAVE.format(**paths), env={"KERAS_BACKEND": saved_on})
    assert saved.returncode == 0, saved.stderr[-3000:]
    loaded = run_python(LOAD_PREDICT.format(**paths), env={"KERAS_BACKEND": loaded_on})
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    assert "reloaded" in loaded.stdout
