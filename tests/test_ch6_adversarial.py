"""ch6-adversarial, shortened: what it claims (FGSM's accuracy falls with ε, below 50% at the stated ε), what it writes,
and a saved model attacked again from its path."""

import json

import pytest
from helpers import assert_one_line_error, run_cli

from nndl_keras import recipes

SHORT = dict(epochs=1, train_size=5000, fgsm_images=1000, bim_images=100, sample=10, epsilons=(0.0, 0.05, 0.1, 0.2))

# One worker trains the module's fixtures once (pytest-xdist's --dist loadgroup).
pytestmark = [pytest.mark.xdist_group("ch6_adversarial"), pytest.mark.slow]


@pytest.fixture(scope="module")
def adversarial_run(tmp_path_factory, mnist_dir):
    import nndl_keras

    out = tmp_path_factory.mktemp("adv")
    result = nndl_keras.run("ch6-adversarial", output_dir=out, data_dir=mnist_dir, verbose=0, **SHORT)
    return out, result.metrics


def recipe_module():
    import importlib

    recipes.get("ch6-adversarial")
    return importlib.import_module("nndl_keras.recipes.ch6_adversarial")


def test_fgsm_accuracy_falls_with_epsilon_and_is_below_half_at_the_stated_epsilon(adversarial_run):
    _, metrics = adversarial_run
    claimed = recipe_module().CLAIMED_EPSILON
    assert metrics["claimed_epsilon"] == claimed and claimed in metrics["epsilons"]
    assert metrics["grey_levels"] == pytest.approx([255 * e for e in SHORT["epsilons"]])
    assert set(metrics["nets"]) == {"fully_connected", "convolutional"}
    for key, net in metrics["nets"].items():
        fgsm, bim = net["fgsm_accuracy"], net["bim_accuracy"]
        assert net["fgsm_images"] == 1000 and net["bim_images"] == 100 and net["epochs"] == 1
        assert fgsm[0] == net["clean_test_accuracy"] > 0.5, key  # a trained net, before the attack
        assert all(later <= earlier for earlier, later in zip(fgsm, fgsm[1:])) and fgsm[-1] < fgsm[0] - 0.3, (key, fgsm)
        assert net["fgsm_accuracy_at_claimed_epsilon"] == fgsm[metrics["epsilons"].index(claimed)] < 0.5, (key, fgsm)
        assert bim[-1] < 0.5 and bim[-1] <= bim[0], (key, bim)
    assert metrics["claim_holds"] is True


def test_smallest_flipping_epsilon_of_the_sample(adversarial_run):
    _, metrics = adversarial_run
    for key, net in metrics["nets"].items():
        for attack, found in net["smallest_flipping_epsilon"].items():
            levels = found["grey_levels"]
            assert found["sample"] == len(levels) == 10
            assert found["already_wrong"] == sum(g == 0 for g in levels)
            assert found["classified_correctly"] == 10 - found["already_wrong"]
            right = sorted(g for g in levels if g != 0 and g is not None)
            assert right and found["median_grey_levels"] in right and all(0 < g <= 255 for g in right), (key, attack, found)
        # The iterative method needs no more than one step's ε on most digits.
        fgsm, bim = (net["smallest_flipping_epsilon"][a]["median_grey_levels"] for a in ("fgsm", "bim"))
        assert bim <= fgsm, (key, fgsm, bim)


def test_it_writes_the_curve_the_table_the_digits_and_the_nets(adversarial_run):
    out, metrics = adversarial_run
    for png in ("adversarial_accuracy.png", "adversarial_digits.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG", png
    table = (out / "adversarial_accuracy.md").read_text()
    fgsm = metrics["nets"]["convolutional"]["fgsm_accuracy"]
    assert "| 0.2 | 51.00 |" in table and f"{100 * fgsm[-1]:.2f}%" in table
    assert "| convolutional | bim | " in table and "| fully_connected | fgsm | " in table
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["nets"] == metrics["nets"] and saved["hyperparameters"]["epochs"] == 1
    assert (out / "fully_connected.keras").exists() and (out / "convolutional.keras").exists()


def test_a_saved_model_is_attacked_from_its_path_as_it_was_after_training(adversarial_run, tmp_path, mnist_dir):
    import nndl_keras

    out, metrics = adversarial_run
    again = nndl_keras.run(
        "ch6-adversarial", output_dir=tmp_path, data_dir=mnist_dir, verbose=0,
        model_path=str(out / "fully_connected.keras"), **SHORT,
    ).metrics
    (loaded,) = again["nets"].values()
    trained = metrics["nets"]["fully_connected"]
    for key in ("fgsm_accuracy", "bim_accuracy", "smallest_flipping_epsilon"):
        assert loaded[key] == trained[key], key
    assert "fully_connected.keras" in loaded["description"] and not (tmp_path / "convolutional.keras").exists()


def test_the_fully_connected_net_trains_the_books_epochs_in_proportion():
    module = recipe_module()
    setup = recipes.get("ch6-adversarial").hparams
    assert setup.epochs == 60 and setup.options["conv"] == [20, 40]  # ch6-relu's
    for epochs, expected in ((60, 30), (10, 5), (1, 1)):
        hp = module.fully_connected_hparams(setup.replace(epochs=epochs, train_size=1234))
        assert (hp.epochs, hp.train_size, hp.layers, hp.cost, hp.eta) == (expected, 1234, (784, 30, 10), "quadratic", 3.0)


def test_a_model_path_that_is_not_a_model_is_one_line(tmp_path, mnist_dir):
    assert_one_line_error(run_cli("run", "ch6-adversarial", "--model-path", tmp_path / "none.keras"), "none.keras")
    junk = tmp_path / "junk.keras"
    junk.write_text("not a model")
    result = run_cli("run", "ch6-adversarial", "--model-path", junk, "--data-dir", mnist_dir, "--output-dir", tmp_path / "o")
    assert_one_line_error(result, "cannot load a Keras model from", "junk.keras")
    assert_one_line_error(run_cli("run", "ch1-sgd", "--model-path", junk), "unknown hyperparameter(s): model_path")
