"""The JAX program (`JaxScan`): ensemble members trained together in one compiled step equal members trained alone.

The engine runs on the JAX backend; the suite's backend is TensorFlow, so each
check runs in a fresh `KERAS_BACKEND=jax` process.
"""

import numpy as np
import pytest

from helpers import run_python

pytestmark = pytest.mark.slow  # trains on the real MNIST or in new processes: the inner loop (-m 'not slow') leaves it to CI

JAX = {"KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3"}
EIGHT_DEVICES = {**JAX, "XLA_FLAGS": "--xla_force_host_platform_device_count=8"}

# A small net with a convolution and dropout, so that each member's own masks matter; n = 997
# examples in mini-batches of 10, so that every epoch ends with a smaller one.
PRELUDE = """
import json
import keras, numpy as np
from nndl_keras.errors import Interrupted
from nndl_keras.stopping import StopRequest
from nndl_keras.training import make_engine

N, M = 997, 10

def stacked(models, seeds, **options):
    return make_engine(models, x, y, M, seeds, engine="stacked", **options)

class StopAt(StopRequest):
    # A signal that comes at the `at`-th time the loop asks.
    def __init__(self, at):
        super().__init__()
        self.at, self.asked = at, 0
    def requested(self):
        self.asked += 1
        self.signum = 15 if self.asked == self.at else None
        return super().requested()

def build(seed, hidden=16):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((20,)),
        # A convolution: its gradient under vmap is what jax 0.7.2 cannot batch on a mesh (jax#32157).
        keras.layers.Reshape((20, 1)),
        keras.layers.Conv1D(2, 3, activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(hidden, activation="relu"),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(3, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    return model

rng = np.random.default_rng(123)
x = rng.normal(size=(N, 20)).astype("float32")
y = x[:, :3].argmax(axis=1).astype("int32")

def assert_alone_equal(models, costs, seeds, epochs):
    \"\"\"Each stacked member equals the same member trained alone.\"\"\"
    for k, seed in enumerate(seeds):
        alone = build(seed)
        alone_costs = make_engine(alone, x, y, M, seed).train_epochs(epochs)
        np.testing.assert_allclose(np.asarray(costs)[:, k], alone_costs, rtol=1e-5)
        for stacked_w, alone_w in zip(models[k].get_weights(), alone.get_weights()):
            np.testing.assert_allclose(stacked_w, alone_w, rtol=1e-5, atol=1e-6)
"""


def run_jax(code, env=JAX):
    result = run_python(PRELUDE + code, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    assert result.stdout.strip().endswith("ok"), result.stdout[-2000:]
    return result


def test_members_trained_together_equal_members_trained_alone():
    run_jax(
        """
seeds = [3, 4, 5]
models = [build(s) for s in seeds]
first = models[0].get_weights()
engine = stacked(models, seeds)
assert engine.name == "stacked" and make_engine(build(0), x, y, M, 0).name == "fused"
costs = engine.train_epochs(3)  # 300 steps
assert np.asarray(costs).shape == (3, 3), costs
assert_alone_equal(models, costs, seeds, 3)
# The members are different nets, and they have learned.
assert not np.allclose(models[0].get_weights()[0], models[1].get_weights()[0])
assert not np.allclose(models[0].get_weights()[0], first[0])
assert all(c[-1] < c[0] for c in np.asarray(costs).T), costs
# predict: every member's outputs, as its own model gives them (over several batches of 2000).
many = np.concatenate([x, x, x])
outputs = engine.program.predict(many)
assert outputs.shape == (3, 3 * N, 3), outputs.shape
for k, model in enumerate(models):
    np.testing.assert_allclose(outputs[k], model.predict(many, verbose=0), rtol=1e-5, atol=1e-6)
json.dumps(engine.rng_state())
print("ok")
"""
    )


def test_members_spread_over_devices_one_member_each():
    result = run_jax(
        """
import jax, re
assert len(jax.devices()) == 8
seeds = [10, 11, 12, 13, 14]
models = [build(s) for s in seeds]
shapes = set()
step = models[0].train_step
def recording_step(state, data):
    shapes.add(tuple(data[0].shape))  # at trace time: one member's mini-batch
    return step(state, data)
models[0].train_step = recording_step
engine = stacked(models, seeds)
program = engine.program
assert program.devices_used == jax.devices()[:5], program.devices_used
kernel = program._stack()[0][0]
shards = kernel.addressable_shards
assert [s.data.shape for s in shards] == [(1, 1, 3, 1, 2)] * 5, [s.data.shape for s in shards]
assert len({s.device for s in shards}) == 5
costs = engine.train_epochs(2)
assert shapes == {(M, 20), (N % M, 20)}, shapes
# Compiled for the 5 devices: no member's step talks to another device.
compiled = program._run.lower(program._stack(), np.zeros((5, 1, 4, M), np.int32), program._x, program._y).compile().as_text()
assert not re.search(r"all-reduce|all-gather|all-to-all|collective-permute|reduce-scatter", compiled)
assert re.search(r"f32\\[10,20(,1)?\\]", compiled)  # each device gathers a whole mini-batch of 10
models[0].train_step = step
assert_alone_equal(models, costs, seeds, 2)
print(len(program.devices_used), "devices")
print("ok")
""",
        env=EIGHT_DEVICES,
    )
    assert "5 devices" in result.stdout


def test_an_interrupted_and_resumed_stack_ends_as_an_uninterrupted_one():
    run_jax(
        """
seeds = [7, 8]
whole = stacked([build(s) for s in seeds], seeds)
expected = whole.train_epochs(3)

models = [build(s) for s in seeds]
engine = stacked(models, seeds, chunk_steps=1)  # chunks of one step: many places to stop
try:
    engine.train_epochs(3, stop=StopAt(150))  # in the second epoch
    raise AssertionError("not interrupted")
except Interrupted:
    pass
position = json.loads(json.dumps(engine.position))  # as a checkpoint keeps it
per_epoch = -(-N // M)
assert per_epoch < position["step"] < 2 * per_epoch, position["step"]
assert np.asarray(position["losses"]).shape == (position["step"], 2)

# A fresh engine, from the models as the interrupted one left them, goes on
# for a chunk and is stopped again; a third finishes the call.
again = stacked(models, seeds)
again.set_position(position)
try:
    again.train_epochs(3, stop=StopAt(1))
    raise AssertionError("not interrupted")
except Interrupted:
    pass
assert again.position["step"] > position["step"], again.position["step"]
last = stacked(models, seeds)
last.set_position(again.position)
costs = last.train_epochs(3)

np.testing.assert_allclose(costs, expected, rtol=1e-6)
for a, b in zip(models, whole.models):
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-6, atol=1e-7)
    assert a.optimizer.iterations.numpy() == b.optimizer.iterations.numpy() == 300
print("ok")
"""
    )


def test_refuses_other_backends_and_unlike_models():
    import keras

    from nndl_keras.training.engines import JaxScan

    assert keras.backend.backend() == "tensorflow"
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="JAX backend"):
        JaxScan([model], np.zeros((4, 2)), np.zeros(4), 2)
    run_jax(
        """
try:
    stacked([build(0), build(1, hidden=8)], [0, 1])
    raise AssertionError("accepted")
except ValueError as error:
    assert "identical architecture" in str(error), error
# A user's callbacks watch one net: a stack is refused them, in one line, before anything is written.
import nndl_keras
try:
    nndl_keras.run("ch6-ensemble", engine="stacked", members=2, epochs=1, train_size=20, verbose=0,
                   callbacks=[keras.callbacks.History()], output_dir="/nonexistent/never-written")
    raise AssertionError("accepted")
except nndl_keras.NNDLError as error:
    assert "callbacks watch one net at a time" in str(error) and "--engine fused" in str(error), error
print("ok")
"""
    )
