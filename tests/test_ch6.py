"""Chapter 6: the expanded data, network3's nets, and the voting ensemble end to end."""

import json
import re
import signal

import keras
import numpy as np
import pytest

from helpers import run_cli, run_python
from nndl_keras import recipes
from nndl_keras.data import expand, expanded_training, shifted_copies
from nndl_keras.layers import DIRECTIONS, shift_images
from test_parts import book_shift

pytestmark = pytest.mark.slow  # trains on the real MNIST or in new processes: the inner loop (-m 'not slow') leaves it to CI


def test_expanded_set_is_the_books_construction(mnist):
    images = mnist.training.x[:200].reshape(-1, 28, 28)
    copies = shifted_copies(images)
    for k, direction in enumerate(DIRECTIONS, start=1):
        book = np.stack([book_shift(image, direction) for image in images])
        np.testing.assert_array_equal(copies[:, k], book)
        np.testing.assert_array_equal(copies[:, k], np.asarray(shift_images(images, direction)))
    np.testing.assert_array_equal(copies[:, 0], images)


def test_expanded_set_size_type_and_content(mnist):
    expanded = expand(mnist.training)
    assert expanded.x.shape == (250_000, 784) and expanded.x.dtype == np.uint8
    assert expanded.x.nbytes < 300 * 2**20
    assert np.array_equal(np.bincount(expanded.y), 5 * np.bincount(mnist.training.y))
    # A sample of expanded images: each is one of its source image's five versions.
    raw = np.rint(mnist.training.x.reshape(-1, 28, 28) * 255).astype(np.uint8)
    versions = shifted_copies(raw).reshape(-1, 784)
    rows = {row.tobytes(): i // 5 for i, row in enumerate(versions[:5000])}
    found = [rows.get(row.tobytes()) for row in expanded.x[:20_000]]
    matched = [(i, src) for i, src in enumerate(found) if src is not None]
    assert len(matched) > 200  # about 2% of the sample comes from the first 1,000 images
    assert all(expanded.y[i] == mnist.training.y[src] for i, src in matched)


def test_network3_net_has_the_books_shape_and_initialisation():
    keras.utils.set_random_seed(0)
    model = recipes.create_model("ch6-relu")
    shapes = {layer.name: [tuple(w.shape) for w in layer.weights] for layer in model.layers if layer.weights}
    assert shapes["conv_1"] == [(5, 5, 1, 20), (20,)] and shapes["conv_2"] == [(5, 5, 20, 40), (40,)]
    assert shapes["fc_1"] == [(640, 100), (100,)] and shapes["softmax"] == [(100, 10), (10,)]
    weights = {layer.name: layer.get_weights() for layer in model.layers if layer.weights}
    assert np.std(weights["conv_1"][0]) == pytest.approx(0.089, rel=0.15)
    assert np.std(weights["fc_1"][0]) == pytest.approx(0.1, rel=0.1)
    assert not np.any(weights["softmax"][0]) and not np.any(weights["softmax"][1])
    assert model.optimizer.learning_rate.numpy() == pytest.approx(0.03)
    assert len(model.losses) == 4  # L2 on both conv layers, the FC layer and the softmax


def plurality(votes):
    """The book's vote over (members, images) labels: most votes; a tie goes to the class the
    earliest member voted for (`Counter.most_common` keeps first-seen order)."""
    images = np.arange(votes.shape[1])
    counts = np.zeros((votes.shape[1], 10), dtype=int)
    for member in votes:
        np.add.at(counts, (images, member), 1)
    best = counts.max(axis=1)
    chosen = np.full(votes.shape[1], -1)
    for member in votes:
        chosen = np.where((chosen < 0) & (counts[images, member] == best), member, chosen)
    return chosen


def test_ensemble_end_to_end_resumes_and_reloads(tmp_path, mnist_dir, mnist):
    out = tmp_path / "ens"
    args = ("run", "ch6-ensemble", "--members", "3", "--epochs", "1", "--train-size", "10000",
            "--data-dir", mnist_dir, "--output-dir", out, "--quiet")
    result = run_cli(*args[:-1])  # not --quiet: what it prints is checked below
    assert result.returncode == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["members"]) == 3
    assert metrics["ensemble_test_accuracy"] >= metrics["mean_member_test_accuracy"]
    # The vote, counted here from the members' recorded predictions and the real test labels.
    votes = np.array([[int(c) for c in m["test_predictions"]] for m in metrics["members"]])
    assert metrics["errors"] == int((plurality(votes) != mnist.test.y).sum())
    assert metrics["hyperparameters"]["options"]["members"] == 3
    for name in ("ensemble_errors.png", "filters_layer1.png", "filters_layer2.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG", name
    assert sorted(p.name for p in (out / "members").iterdir()) == [f"member-{k}.keras" for k in (1, 2, 3)]

    # The saved ensemble gives the same votes in a fresh process.
    code = f"""
import keras, numpy as np, nndl_keras
from nndl_keras.data import load_mnist
test = load_mnist({str(mnist_dir)!r}).test
ensemble = keras.saving.load_model({str(out / "ensemble.keras")!r})
print(int((ensemble.predict(test.x, verbose=0).argmax(1) != test.y).sum()))
"""
    reloaded = run_python(code)
    assert reloaded.returncode == 0, reloaded.stderr[-2000:]
    assert int(reloaded.stdout.strip().splitlines()[-1]) == metrics["errors"]

    # The run says what it will cost before its first epoch line.
    printed = result.stdout.splitlines()
    estimate = next(i for i, line in enumerate(printed) if line.startswith("  estimate: about "))
    assert "(3 trainings) on this machine" in printed[estimate]
    assert estimate < next(i for i, line in enumerate(printed) if line.startswith("Epoch 1/1 - ")), printed
    assert all(" - ETA " in line for line in printed if line.startswith("Epoch "))

    # Ctrl-C in the middle of member 2's epoch: answered at once (not at the end of the
    # epoch), the position inside the epoch saved; resumed, the same members and votes.
    # The middle: half the epoch member 1 took above, on this machine (a fixed delay
    # fell after the epoch's end on idle cores).
    mid_epoch = float(re.search(r"^Epoch 1/1 - ([\d.]+)s", result.stdout, re.MULTILINE).group(1)) / 2
    stopped = tmp_path / "stopped"
    lines, status, stderr, seconds = interrupt_during(
        (*args[:-3], "--output-dir", stopped), lambda line: line.startswith("Member 2/3"), signal.SIGINT, delay=mid_epoch
    )
    assert status == 130, (lines, stderr)
    assert seconds < 4, seconds  # answered; and the position below shows it did not wait for the epoch's end
    assert stderr.strip().endswith(f"continue with: nndl-keras run ch6-ensemble --output-dir {stopped} --resume")
    saved = json.loads((stopped / "checkpoints" / "training-2" / "state.json").read_text())
    assert saved["epoch"] == 0 and saved["position"]["step"] > 0
    # Resumed, then SIGKILL in the middle of member 3's epoch: no position can be saved; on
    # the next resume the first two members come from their checkpoints and member 3 starts again.
    lines, status, _, _ = interrupt_during(
        (*args[:-3], "--output-dir", stopped, "--resume"), lambda line: line.startswith("Member 3/3"), signal.SIGKILL, delay=mid_epoch
    )
    assert status == -9 and not (stopped / "metrics.json").exists(), lines
    assert any(f"Resumed after epoch 0/1, {saved['position']['step']:,} mini-batches into the next," in line for line in lines), lines
    again = run_cli(*args[:-3], "--output-dir", stopped, "--resume")
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("Resumed after epoch 1/1") == 2 and "Member 3/3 (seed 2" in again.stdout
    assert_same_members(json.loads((stopped / "metrics.json").read_text()), metrics)


def assert_same_members(resumed, whole):
    for a, b in zip(resumed["members"], whole["members"]):
        assert a["test_predictions"] == b["test_predictions"]
        assert a["history"]["loss"] == b["history"]["loss"]
    assert resumed["misclassified"] == whole["misclassified"]


def interrupt_during(args, is_moment, sig, delay):
    """Sends `sig` to `nndl-keras *args` `delay` s after the stdout line `is_moment` picks;
    returns (lines, exit status, stderr, seconds from the signal to its answer: the first line
    on stderr, or the exit). The exit itself waits for TensorFlow's teardown, which takes
    seconds more on a loaded machine."""
    import subprocess
    import time

    from helpers import cli_env

    process = subprocess.Popen(["nndl-keras", *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=cli_env())
    lines = []
    for line in process.stdout:
        lines.append(line)
        if is_moment(line):
            break
    time.sleep(delay)
    process.send_signal(sig)
    sent = time.perf_counter()
    answer = process.stderr.readline()
    seconds = time.perf_counter() - sent
    _, stderr = process.communicate(timeout=120)
    return lines, process.returncode, answer + stderr, seconds


def test_members_trained_apart_vote_like_members_trained_together(tmp_path, mnist_dir):
    # Two members as two runs (as the full-length ensemble is trained on a CPU,
    # a member per job), then `vote`: the same members and votes as one run.
    common = ("--members", "2", "--epochs", "1", "--train-size", "1000", "--data-dir", mnist_dir, "--quiet")
    together = run_cli("run", "ch6-ensemble", *common, "--output-dir", tmp_path / "together")
    assert together.returncode == 0, together.stderr
    for k in (1, 2):
        alone = run_cli("run", "ch6-ensemble", *common, "--member", k, "--output-dir", tmp_path / f"member-{k}")
        assert alone.returncode == 0, alone.stderr
    member = json.loads((tmp_path / "member-2" / "metrics.json").read_text())
    assert member["member"] == 2 and member["seed"] == 1 and len(member["test_predictions"]) == 10_000
    assert member["provenance"]["command"].startswith("nndl-keras run ch6-ensemble")
    assert member["provenance"]["machine"]["cores"] >= 1 and member["provenance"]["date"]

    runs = [tmp_path / f"member-{k}" for k in (2, 1)]  # any order: the vote orders by member
    voted = run_cli("vote", *runs, "--output-dir", tmp_path / "vote", "--data-dir", mnist_dir)
    assert voted.returncode == 0, voted.stderr
    vote = json.loads((tmp_path / "vote" / "vote.json").read_text())
    whole = json.loads((tmp_path / "together" / "metrics.json").read_text())
    assert [m["test_predictions"] for m in vote["members"]] == [m["test_predictions"] for m in whole["members"]]
    assert vote["misclassified"] == whole["misclassified"] and vote["errors"] == whole["errors"]
    assert vote["provenance"]["command"].startswith("nndl-keras vote") and vote["provenance"]["machine"]["cores"] >= 1
    assert (tmp_path / "vote" / "ensemble_errors.png").read_bytes()[:4] == b"\x89PNG"

    from helpers import assert_one_line_error, invoke_cli

    assert_one_line_error(invoke_cli("vote", runs[0], runs[0], "--output-dir", tmp_path / "v2", "--data-dir", mnist_dir), "repeat")
    assert_one_line_error(invoke_cli("vote", tmp_path / "nowhere", "--output-dir", tmp_path / "v3"), "cannot read member run")
    assert_one_line_error(invoke_cli("run", "ch6-ensemble", "--members", "2", "--member", "3", "--data-dir", mnist_dir), "member must be")


def test_an_even_ensemble_says_how_ties_go(tmp_path, mnist_dir):
    result = run_cli("run", "ch6-ensemble", "--members", "2", "--epochs", "1", "--train-size", "1000",
                     "--data-dir", mnist_dir, "--output-dir", tmp_path / "even")
    assert result.returncode == 0, result.stderr
    assert "a tie goes to the class the earliest member voted for" in result.stdout
    # A quick run expands only the images it trains on, and draws each member's learning curve.
    assert "Expanded training set: 1,000 of 250,000 images" in result.stdout
    assert (tmp_path / "even" / "learning_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_first_images_of_the_expanded_set_are_built_alone(mnist):
    whole = expand(mnist.training, seed=3)
    for size in (1, 4_999):
        first = expand(mnist.training, seed=3, size=size)
        assert np.array_equal(first.x, whole.x[:size]) and np.array_equal(first.y, whole.y[:size])
    assert expanded_training(mnist, size=5_000).x.shape == (5_000, 784)


def test_on_jax_the_members_train_together_and_equal_members_trained_alone(tmp_path, mnist_dir):
    args = ("run", "ch6-ensemble", "--members", "3", "--epochs", "1", "--train-size", "200", "--data-dir", mnist_dir)
    jax = {"KERAS_BACKEND": "jax"}
    # Several devices (TPU chips, GPUs; here 8 forced host devices): `auto` spreads whole
    # members over them, and the mini-batch of 10, which 8 replicas cannot split, is kept.
    # (On one device, --engine stacked: test_stacked.py, the program itself.)
    eight = {**jax, "XLA_FLAGS": "--xla_force_host_platform_device_count=8"}
    spread = run_cli(*args, "--output-dir", tmp_path / "spread", env=eight)
    assert spread.returncode == 0, spread.stderr[-3000:]
    assert "Members 1-3 together (seeds 0-2, stacked on 3 device(s)" in spread.stdout
    # On a CPU `auto` trains one member after another; --engine fused asks for it here.
    alone = run_cli(*args, "--engine", "fused", "--output-dir", tmp_path / "alone", "--quiet", env=jax)
    assert alone.returncode == 0, alone.stderr[-3000:]
    together, apart = (json.loads((tmp_path / name / "metrics.json").read_text()) for name in ("spread", "alone"))
    for member, single in zip(together["members"], apart["members"], strict=True):
        assert member["seed"] == single["seed"]
        assert member["history"]["loss"] == pytest.approx(single["history"]["loss"], rel=1e-5)
        assert member["test_predictions"] == single["test_predictions"]
    refused = run_cli("run", "ch6-relu", "--engine", "stacked", "--data-dir", mnist_dir, env=jax)
    assert refused.returncode == 2 and "--engine stacked trains an ensemble's members" in refused.stderr
