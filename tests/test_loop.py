"""The runner's one epoch loop drives a user's callbacks as `fit` does, and every engine runs the model's own step."""

import keras
import numpy as np
import pytest

import nndl_keras
from nndl_keras.callbacks import GradientNormMonitor
from nndl_keras.training import make_engine

TF_ONLY = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.distribute's engine runs on TensorFlow")


class Watching(keras.callbacks.Callback):
    """Records what the runner hands a callback."""

    def __init__(self):
        super().__init__()
        self.calls, self.batch_ends = [], []

    def on_train_begin(self, logs=None):
        self.calls.append("train_begin")

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(f"epoch_begin {epoch}")

    def on_train_batch_begin(self, batch, logs=None):
        self.calls.append("batch_begin")

    def on_train_batch_end(self, batch, logs=None):
        self.calls.append("batch_end")
        self.batch_ends.append((batch, dict(logs)))

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(f"epoch_end {epoch}")
        logs["watched"] = len(self.batch_ends)  # what a callback adds reaches the history

    def on_train_end(self, logs=None):
        self.calls.append("train_end")


@pytest.mark.slow
def test_a_users_callback_gets_fits_params_batch_hooks_and_logs(tmp_path, mnist_dir):
    watching = Watching()
    result = nndl_keras.run("ch1-sgd", epochs=2, runs=1, train_size=10_000, callbacks=[watching], data_dir=mnist_dir,
                            output_dir=tmp_path, verbose=0)
    assert watching.params == {"epochs": 2, "steps": 1_000, "verbose": 0}
    assert watching.model is result.model
    calls = [c for c in watching.calls if not c.startswith("batch")]
    assert calls == ["train_begin", "epoch_begin 0", "epoch_end 0", "epoch_begin 1", "epoch_end 1", "train_end"]
    # One begin and one end per chunk of steps, as fit calls them once per execution; batches
    # numbered from 0 in each epoch, the last one of each epoch reached.
    batches = [c for c in watching.calls if c.startswith("batch")]
    assert batches[::2] == ["batch_begin"] * (len(batches) // 2) and batches[1::2] == ["batch_end"] * (len(batches) // 2)
    ends = [batch for batch, _ in watching.batch_ends]
    assert ends.count(999) == 2 and all(0 <= b <= 999 for b in ends) and len(ends) > 2
    first_epoch = ends[: ends.index(999) + 1]
    assert first_epoch == sorted(first_epoch)
    # The logs: the epoch's mean cost so far, ending at the epoch's cost.
    assert watching.batch_ends[ends.index(999)][1]["loss"] == pytest.approx(result.metrics["history"]["loss"][0], rel=1e-6)
    assert result.metrics["history"]["watched"] == [ends.index(999) + 1, len(ends)]


@pytest.mark.slow
def test_the_gradient_monitor_measures_every_n_batches_under_the_runner(tmp_path, mnist_dir, mnist):
    probe = mnist.validation.x[:100], mnist.validation.y[:100]
    monitor = GradientNormMonitor(probe, every_n_batches=1000)
    nndl_keras.run("ch1-sgd", epochs=2, runs=1, callbacks=[monitor], data_dir=mnist_dir, output_dir=tmp_path, verbose=0)
    # Before training, then every 1,000 of each epoch's 5,000 mini-batches.
    rows = [(row["epoch"], row.get("batch")) for row in monitor.table]
    assert rows == [(0, None)] + [(epoch, batch) for epoch in (0, 1) for batch in (999, 1999, 2999, 3999, 4999)]
    assert monitor.table[1]["grad_norm/output/kernel"] != monitor.table[2]["grad_norm/output/kernel"]


class Stateful(keras.callbacks.Callback):
    """Keeps a count across epochs without get_state: a resume cannot bring it back."""

    def __init__(self, stop_after=None):
        super().__init__()
        self.epochs_seen, self.stop_after = 0, stop_after

    def on_epoch_end(self, epoch, logs=None):
        self.epochs_seen += 1
        if self.stop_after is not None and epoch + 1 == self.stop_after:
            raise KeyboardInterrupt  # as a Ctrl-C would stop it: this epoch is not checkpointed, the one before is


@pytest.mark.slow
def test_a_callback_without_state_is_named_in_one_line_on_resume(tmp_path, mnist_dir, capsys):
    kept = keras.callbacks.EarlyStopping(monitor="validation_accuracy", mode="max", patience=5)
    options = dict(epochs=3, runs=1, train_size=1000, data_dir=mnist_dir, output_dir=tmp_path)
    with pytest.raises(KeyboardInterrupt, match="--resume"):
        nndl_keras.run("ch1-sgd", callbacks=[kept, Stateful(stop_after=2)], verbose=0, **options)
    capsys.readouterr()
    nndl_keras.run("ch1-sgd", callbacks=[keras.callbacks.EarlyStopping(monitor="validation_accuracy", mode="max", patience=5),
                                         Stateful()], resume=True, **options)
    said = capsys.readouterr().out.splitlines()
    assert any(line.startswith("Resumed after epoch 1/3") for line in said), said
    (line,) = [line for line in said if "get_state" in line]
    assert line.strip().startswith("Stateful:") and "EarlyStopping" not in line  # its counters are kept


class CountingSteps(keras.Sequential):
    """A model whose own `train_step` counts the steps it takes."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.steps_taken = keras.Variable(0, trainable=False, dtype="int32", name="steps_taken")

    def train_step(self, data):
        self.steps_taken.assign_add(1)
        return super().train_step(data)


@pytest.mark.parametrize("engine", ["fused", "fit", pytest.param("distributed", marks=TF_ONLY)])
def test_every_engine_runs_the_models_own_train_step(engine):
    rng = np.random.default_rng(0)
    x, y = rng.random((25, 4)).astype("float32"), rng.integers(0, 3, 25)
    model = CountingSteps([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    make_engine(model, x, y, 10, seeds=0, engine=engine).train_epochs(2)
    assert int(model.steps_taken.numpy()) == 6  # 3 mini-batches (10, 10, 5) an epoch


@pytest.mark.slow
def test_eta_from_the_command_line_reaches_the_optimizer_in_five_calls(tmp_path, mnist_dir, monkeypatch):
    import inspect

    from nndl_keras import cli

    made = []

    class Recorded(keras.optimizers.SGD):
        def __init__(self, learning_rate=0.01, **kwargs):
            super().__init__(learning_rate=learning_rate, **kwargs)
            stack = [(frame.filename, frame.function) for frame in inspect.stack()[1:]]
            command = next(k for k, (path, name) in enumerate(stack) if path.endswith("cli.py") and name == "run")
            made.append((learning_rate, [f"{path.split('/')[-1]}:{name}" for path, name in stack[: command + 1]][::-1]))

    monkeypatch.setattr(keras.optimizers, "SGD", Recorded)
    args = ["run", "ch1-sgd", "--eta", "0.5", "--epochs", "1", "--runs", "1", "--train-size", "100", "--quiet",
            "--data-dir", str(mnist_dir), "--output-dir", str(tmp_path)]
    with pytest.raises(SystemExit) as done:
        cli.main(args)
    assert done.value.code == 0
    ((eta, calls),) = made
    assert eta == 0.5
    # Five calls, each in a module named for what it does: the command, the run, its trainings, the model.
    assert calls == ["cli.py:run", "runner.py:run", "session.py:best_of", "session.py:_build_and_train", "feedforward.py:feedforward",
                     "feedforward.py:compile_for_sgd"]
