"""Runs that survive (issue 8): resume after SIGKILL, divergence, determinism, refusals."""

import json
import signal

import pytest

from helpers import assert_one_line_error, invoke_cli, kill_when, run_cli

pytestmark = pytest.mark.slow  # trains on the real MNIST or in new processes: the inner loop (-m 'not slow') leaves it to CI

# What differs between two identical runs: how long they took, and when and how they were started.
TIMINGS = ("wall_time_seconds", "seconds_per_epoch", "provenance", "processes", "training_seconds_all_processes")


def comparable(metrics):
    metrics = {k: v for k, v in metrics.items() if k not in TIMINGS}
    metrics["history"] = {k: v for k, v in metrics["history"].items() if k != "seconds"}
    if "runs" in metrics:  # each run of a best-of-N keeps its own time
        metrics["runs"] = [{k: v for k, v in run.items() if k != "seconds"} for run in metrics["runs"]]
    return metrics


def test_a_run_killed_mid_epoch_resumes_to_the_same_metrics(tmp_path, mnist_dir):
    # Three runs of four epochs (the book's best of three): killed 0.1 s into
    # the second run's third epoch (an epoch takes about 0.2 s here), the first
    # run comes back from its checkpoint.
    args = ("run", "ch1-sgd", "--epochs", "4", "--data-dir", mnist_dir)
    whole = run_cli(*args, "--output-dir", tmp_path / "whole", "--quiet")
    assert whole.returncode == 0, whole.stderr

    out = tmp_path / "killed"
    printed, status, _ = kill_when(
        (*args, "--output-dir", out),
        lambda lines: lines[-1].startswith("Epoch 2/4") and any(line.startswith("Run 2/3") for line in lines),
        delay=0.1,
    )
    assert status == -signal.SIGKILL, printed
    assert not (out / "metrics.json").exists()
    saved = json.loads((out / "checkpoints" / "training-2" / "state.json").read_text())
    assert saved["epoch"] in (1, 2) and not saved["finished"], printed

    refused = invoke_cli("run", "ch1-sgd", "--data-dir", mnist_dir, "--output-dir", out)
    assert_one_line_error(refused, "interrupted run", "--resume")
    conflict = invoke_cli("run", "ch1-sgd", "--epochs", "5", "--resume", "--data-dir", mnist_dir, "--output-dir", out)
    assert_one_line_error(conflict, "epochs=5 (the run has 4)")

    # As if the killed process had run on another processor: the resume names it.
    state_file = out / "checkpoints" / "training-2" / "state.json"
    state = json.loads(state_file.read_text())
    state["processes"][-1]["machine"] = {"cpu": "Other CPU", "cpu_flags": ["avx2"], "cores": 64}
    state_file.write_text(json.dumps(state))
    resumed = run_cli("run", "ch1-sgd", "--resume", "--data-dir", mnist_dir, "--output-dir", out)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.count("Resumed after epoch") == 2  # run 1 finished, run 2 in the middle
    assert resumed.stdout.count("saved on Other CPU (64 cores, avx2): this processor rounds differently") == 1
    assert f"Resumed after epoch {saved['epoch']}/4" in resumed.stdout
    expected = json.loads((tmp_path / "whole" / "metrics.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    assert comparable(metrics) == comparable(expected)
    # Two processes trained it: the killed one (runs 1 and 2 to its last save), then this one.
    assert "processes" not in expected
    spans = {k: [(p["from_epoch"], p["to_epoch"], "--resume" in p["command"]) for p in metrics["processes"] if p["training"] == k]
             for k in (1, 2, 3)}
    assert spans == {1: [(0, 4, False)], 2: [(0, saved["epoch"], False), (saved["epoch"], 4, True)], 3: [(0, 4, True)]}
    assert all(p["seconds"] > 0 and p["machine"]["cores"] >= 1 for p in metrics["processes"])
    assert metrics["training_seconds_all_processes"] == round(sum(p["seconds"] for p in metrics["processes"]), 3)
    assert metrics["training_seconds_all_processes"] > metrics["processes"][-1]["seconds"]
    assert not (out / "checkpoints").exists()  # finished: nothing left to resume
    again = invoke_cli("run", "ch1-sgd", "--resume", "--data-dir", mnist_dir, "--output-dir", out)
    assert_one_line_error(again, "finished run")


def test_sigterm_and_ctrl_c_stop_with_one_line_that_says_how_to_resume(tmp_path, mnist_dir):
    args = ("run", "ch1-sgd", "--epochs", "3", "--runs", "1", "--data-dir", mnist_dir)
    for sig, status in ((signal.SIGTERM, 143), (signal.SIGINT, 130)):
        out = tmp_path / sig.name
        printed, code, stderr = kill_when((*args, "--output-dir", out), lambda lines: lines[-1].startswith("Epoch 1/3"), sig=sig)
        assert code == status, (printed, stderr)
        (line,) = stderr.strip().splitlines()
        assert line == f"nndl-keras: error: ch1-sgd interrupted; continue with: nndl-keras run ch1-sgd --output-dir {out} --resume"
        resumed = run_cli("run", "ch1-sgd", "--resume", "--data-dir", mnist_dir, "--output-dir", out, "--quiet")
        assert resumed.returncode == 0, resumed.stderr
        assert json.loads((out / "metrics.json").read_text())["epochs_run"] == 3


def test_same_seed_same_metrics_and_the_seed_is_recorded(tmp_path, mnist_dir):
    args = ("run", "ch6-relu", "--epochs", "1", "--train-size", "2000", "--seed", "7", "--data-dir", mnist_dir, "--quiet")
    for name in ("a", "b"):
        assert run_cli(*args, "--output-dir", tmp_path / name).returncode == 0
    a, b = (json.loads((tmp_path / name / "metrics.json").read_text()) for name in ("a", "b"))
    assert a["seed"] == 7 and json.loads((tmp_path / "a" / "run.json").read_text())["seed"] == 7
    assert comparable(a) == comparable(b)


def test_divergence_stops_with_one_line_and_keeps_the_last_good_model(tmp_path, mnist_dir):
    # ReLUs and η 100: the weights overflow in the first epoch and the cost is NaN.
    out = tmp_path / "out"
    result = run_cli("run", "ch6-relu", "--eta", "100", "--epochs", "3", "--train-size", "2000",
                     "--data-dir", mnist_dir, "--output-dir", out, "--quiet")
    assert result.returncode == 1, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line == f"nndl-keras: error: ch6-relu diverged at epoch 1 (cost nan); the model before it is in {out}"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["diverged"] == {"epoch": 1, "cost": "nan"} and metrics["epochs_run"] == 0

    import keras
    import numpy as np

    import nndl_keras  # noqa: F401  (registers the parts the saved model refers to)

    model = keras.saving.load_model(out / "model.keras")
    assert all(np.all(np.isfinite(w)) for w in model.get_weights())


def test_tensorboard_logs_the_epochs_and_gradient_norms(tmp_path, mnist_dir):
    # ch5-depth-2 watches its gradients with a GradientNormMonitor: they are logged too.
    out = tmp_path / "out"
    result = run_cli("run", "ch5-depth-2", "--epochs", "2", "--tensorboard",
                     "--data-dir", mnist_dir, "--output-dir", out, "--quiet")
    assert result.returncode == 0, result.stderr
    import tensorflow as tf

    (events,) = (out / "tensorboard").rglob("events.out.tfevents.*")
    logged = {}
    for event in tf.compat.v1.train.summary_iterator(str(events)):
        for value in event.summary.value:
            logged.setdefault(value.tag, []).append(event.step)
    assert logged["epoch_loss"] == logged["epoch_validation_accuracy"] == [0, 1]
    norms = [tag for tag in logged if tag.startswith("epoch_grad_norm/")]
    assert "epoch_grad_norm/hidden_1/bias" in norms and "epoch_grad_norm/hidden_2/kernel" in norms, sorted(logged)


def test_a_checkpoint_restores_variables_rngs_and_callback_counts(tmp_path):
    import keras
    import numpy as np

    from nndl_keras.callbacks import LearningRateHalving
    from nndl_keras.errors import NNDLError
    from nndl_keras.training.checkpoints import Checkpoint
    from nndl_keras.training import make_engine

    data = np.random.default_rng(0)
    x, y = data.random((20, 4)).astype("float32"), data.integers(0, 2, 20)

    def setup():
        keras.utils.set_random_seed(1)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dropout(0.5),
                                  keras.layers.Dense(2, activation="softmax")])
        model.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
        stopping, halving = keras.callbacks.EarlyStopping(patience=5), LearningRateHalving()
        for callback in (stopping, halving):
            callback.set_model(model)
            callback.on_train_begin()
        return model, make_engine(model, x, y, 5, seeds=2), [stopping, halving]

    model, engine, (stopping, halving) = setup()
    engine.train_epochs(2)
    stopping.wait, stopping.best, halving.wait, halving.best = 3, 0.25, 2, 0.5
    checkpoint = Checkpoint(tmp_path, {"recipe": "tiny"})
    checkpoint.save(model, engine.rng_state(), [stopping, halving], 2, {"epoch": [1, 2]})
    saved = [v.numpy() for v in [*model.variables, *model.optimizer.variables]]
    assert float(model.optimizer.iterations) == 8

    fresh, fresh_engine, (fresh_stopping, fresh_halving) = setup()
    state = checkpoint.load()
    assert state["epoch"] == 2 and state["history"] == {"epoch": [1, 2]}
    checkpoint.restore(state, fresh, [fresh_stopping, fresh_halving])
    fresh_engine.set_rng_state(state["rng"])
    restored = [v.numpy() for v in [*fresh.variables, *fresh.optimizer.variables]]
    assert len(restored) == len(saved) and all(np.array_equal(a, b) for a, b in zip(saved, restored))
    assert any("seed_generator" in v.path for v in fresh.variables)  # dropout's RNG is among them
    assert fresh_engine.rng_state() == engine.rng_state()  # the same orders to come
    assert (fresh_stopping.wait, fresh_stopping.best) == (3, 0.25)
    assert (fresh_halving.wait, fresh_halving.best) == (2, 0.5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json", "variables-2.npz"]
    with pytest.raises(NNDLError, match="other settings"):
        Checkpoint(tmp_path, {"recipe": "another"}).load()


def test_a_checkpoint_names_the_processes_that_trained_it_and_a_change_of_processor(tmp_path):
    import numpy as np

    from nndl_keras.training.checkpoints import Checkpoint
    from nndl_keras.training import make_engine
    from nndl_keras.provenance import this_process

    model = _two_branches("ab")
    engine = make_engine(model, np.zeros((10, 4), "float32"), np.zeros((10, 2), "float32"), 5, seeds=2, engine="fit")
    first = Checkpoint(tmp_path, {"recipe": "tiny"})
    first.save(model, engine.rng_state(), [], 2, {})
    (here,) = first.processes
    assert (here["from_epoch"], here["to_epoch"]) == (0, 2) and here["seconds"] >= 0
    assert (here["machine"], here["commit"]) == (this_process()["machine"], this_process()["commit"])

    again = Checkpoint(tmp_path, {"recipe": "tiny"})
    again.load()
    assert again.trained_elsewhere() is None  # saved on this processor
    again.save(model, engine.rng_state(), [], 3, {})
    assert [(p["from_epoch"], p["to_epoch"]) for p in again.processes] == [(0, 2), (2, 3)]

    state_file = tmp_path / "state.json"
    state = json.loads(state_file.read_text())
    state["processes"][-1]["machine"] = {"cpu": "Other CPU", "cpu_flags": ["avx2"], "cores": 64}
    state_file.write_text(json.dumps(state))
    moved = Checkpoint(tmp_path, {"recipe": "tiny"})
    moved.load()
    assert moved.trained_elsewhere() == "Other CPU (64 cores, avx2)"
    moved.save(model, engine.rng_state(), [], 4, {})
    assert [p["machine"]["cpu"] for p in moved.processes][1:] == ["Other CPU", this_process()["machine"]["cpu"]]


def test_a_process_is_dated_when_it_starts_training_not_at_its_first_save(tmp_path):
    import datetime
    import time

    import numpy as np

    from nndl_keras.training.checkpoints import Checkpoint
    from nndl_keras.training import make_engine
    from nndl_keras.provenance import this_process

    model = _two_branches("ab")
    engine = make_engine(model, np.zeros((10, 4), "float32"), np.zeros((10, 2), "float32"), 5, seeds=2, engine="fit")
    this_process.cache_clear()  # as in a new process
    checkpoint = Checkpoint(tmp_path, {"recipe": "tiny"})
    started = datetime.datetime.now(datetime.timezone.utc)
    time.sleep(1.5)  # the first epoch
    checkpoint.save(model, engine.rng_state(), [], 1, {})
    (process,) = checkpoint.processes
    assert datetime.datetime.fromisoformat(process["date"]) <= started


def _two_branches(first, extra=False):
    """A net with branches `a` and `b` of the same shapes, made and called in the order `first` gives."""
    import keras

    inputs = keras.Input((4,))
    branches = {name: keras.layers.Dense(3, name=name) for name in first}
    hidden = {name: branches[name](inputs) for name in first}
    joined = keras.layers.Concatenate()([hidden[name] for name in first])
    if extra:
        joined = keras.layers.Dense(6, name="extra")(joined)
    model = keras.Model(inputs, keras.layers.Dense(2, name="out")(joined))
    model.compile(keras.optimizers.SGD(0.1, momentum=0.5), "mse")
    model.optimizer.build(model.trainable_variables)
    return model


def test_a_checkpoint_restores_each_variable_by_its_path_in_any_order(tmp_path):
    import keras
    import numpy as np

    from nndl_keras.errors import NNDLError
    from nndl_keras.training.checkpoints import Checkpoint
    from nndl_keras.training import make_engine

    x, y = np.random.default_rng(0).random((10, 4)).astype("float32"), np.zeros((10, 2), "float32")
    keras.utils.set_random_seed(1)
    saved_model = _two_branches("ab")
    engine = make_engine(saved_model, x, y, 5, seeds=2, engine="fit")
    engine.train_epochs(1)
    checkpoint = Checkpoint(tmp_path, {"recipe": "tiny"})
    checkpoint.save(saved_model, engine.rng_state(), [], 1, {})
    state = checkpoint.load()

    keras.utils.set_random_seed(2)
    other_order = _two_branches("ba")  # built later in this process: other names Keras numbers, too
    assert [v.path for v in other_order.variables][:2] == ["b/kernel", "b/bias"]  # listed b first
    checkpoint.restore(state, other_order, [])
    for name in ("a", "b", "out"):
        for saved, restored in zip(saved_model.get_layer(name).weights, other_order.get_layer(name).weights):
            np.testing.assert_array_equal(restored.numpy(), saved.numpy())
    momentum = {v.path.split("/")[-1]: v.numpy() for v in other_order.optimizer.variables}
    for v in saved_model.optimizer.variables:  # each slot follows its own weight
        name = v.path.split("/")[-1].replace(saved_model.name, other_order.name)
        np.testing.assert_array_equal(momentum[name], v.numpy())

    with pytest.raises(NNDLError, match=r"has no extra#0/kernel \(extra/kernel\) for this model; start again with --overwrite"):
        checkpoint.restore(state, _two_branches("ab", extra=True), [])
    extra = Checkpoint(tmp_path / "extra", {"recipe": "tiny"})
    extra.save(_two_branches("ab", extra=True), engine.rng_state(), [], 1, {})
    with pytest.raises(NNDLError, match="holds extra#0/bias, which this model does not have"):
        extra.restore(extra.load(), _two_branches("ab"), [])


def test_a_checkpoint_of_an_earlier_format_is_refused_in_one_line(tmp_path):
    import numpy as np

    from nndl_keras.errors import NNDLError
    from nndl_keras.training.checkpoints import Checkpoint

    model = _two_branches("ab")
    values = [np.zeros(v.shape, v.dtype) for v in [*model.variables, *model.optimizer.variables]]
    np.savez(tmp_path / "variables-1.npz", **{f"v{i}": value for i, value in enumerate(values)})  # by position, as once
    state = {"settings": {}, "epoch": 1, "variables": "variables-1.npz", "rng": [], "callbacks": []}
    (tmp_path / "state.json").write_text(json.dumps(state))  # no processes: before they were recorded
    with pytest.raises(NNDLError, match=r"written by an earlier nndl-keras; start again with --overwrite$"):
        Checkpoint(tmp_path, {}).load()
    with pytest.raises(NNDLError, match=r"has no \S+ \(\S+\) for this model; start again with --overwrite$"):
        Checkpoint(tmp_path, {}).restore({**state, "processes": []}, _two_branches("ab"), [])
