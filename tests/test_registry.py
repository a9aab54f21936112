import json
import textwrap

import pytest

from helpers import run_cli
from nndl_keras import recipes
from nndl_keras.errors import RecipeError
from nndl_keras.recipe import BookResult, Hyperparameters, Recipe


def test_chapter_one_recipes_registered_with_the_books_numbers():
    assert {"ch1-sgd", "ch1-sgd-100", "ch1-darkness", "ch1-svm", "ch1-svm-tuned"} <= set(recipes.names())
    sgd = recipes.get("ch1-sgd")
    assert sgd.chapter == 1
    assert sgd.hparams.layers == (784, 30, 10)
    assert (sgd.hparams.eta, sgd.hparams.batch_size, sgd.hparams.epochs) == (3.0, 10, 30)
    assert (sgd.hparams.cost, sgd.hparams.init, sgd.hparams.train_size) == ("quadratic", "large", 50_000)
    assert sgd.book == BookResult(0.9542, split="test", at="best", runs=3, source="ch1-30h")
    assert recipes.get("ch1-darkness").book.accuracy == 0.2225
    assert recipes.names(chapter=1) == sorted(recipes.names(chapter=1))


def test_recipes_install_as_a_subpackage_not_a_top_level_name():
    import importlib.util

    assert recipes.__name__ == "nndl_keras.recipes"
    assert importlib.util.find_spec("recipes") is None


def test_unknown_name_suggests_the_closest():
    with pytest.raises(RecipeError, match="did you mean ch1-sgd"):
        recipes.get("ch1-sdg")


def test_create_model_applies_overrides():
    model = recipes.create_model("ch1-sgd", layers=(784, 100, 10), eta=0.5)
    assert model.count_params() == 784 * 100 + 100 + 100 * 10 + 10
    assert float(model.optimizer.learning_rate) == pytest.approx(0.5)


def test_register_refuses_a_different_recipe_under_a_taken_name():
    clash = Recipe(
        "ch1-sgd", 1, "impostor", Hyperparameters(layers=(784, 10)), BookResult(None), build=lambda hp: None
    )
    with pytest.raises(ValueError, match="already registered"):
        recipes.register(clash)
    with pytest.raises(TypeError):
        recipes.register("ch1-sgd")


@pytest.mark.parametrize(
    "override, message",
    [
        ({"eta": -1.0}, "eta must be positive"),
        ({"batch_size": 0}, "batch size must be at least 1"),
        ({"epochs": 0}, "epochs must be at least 1"),
        ({"train_size": 0}, "train size must be at least 1"),
        ({"lmbda": -0.1}, "lmbda must be zero or positive"),
        ({"nesterov": True}, "unknown hyperparameter(s): nesterov"),
    ],
)
def test_invalid_overrides(override, message):
    with pytest.raises(RecipeError) as info:
        recipes.get("ch1-sgd").hparams.replace(**override)
    assert message in str(info.value)


def _plugin(tmp_path, entry_points):
    """A fake installed distribution with `nndl_keras.recipes` entry points."""
    (tmp_path / "nndl_plugin.py").write_text(
        textwrap.dedent(
            """
            from nndl_keras.models import feedforward
            from nndl_keras.recipes import BookResult, Hyperparameters, Recipe

            WIDE = Recipe(
                name="plugin-wide",
                chapter=1,
                description="a recipe from another package",
                hparams=Hyperparameters(layers=(784, 300, 10), eta=3.0),
                book=BookResult(None),
                build=feedforward,
            )
            """
        )
    )
    dist = tmp_path / "nndl_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: nndl-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[nndl_keras.recipes]\n" + entry_points)
    return {"PYTHONPATH": str(tmp_path)}


@pytest.mark.slow
def test_entry_point_recipes_appear_in_list(tmp_path):
    env = _plugin(tmp_path, "plugin-wide = nndl_plugin:WIDE\n")
    result = run_cli("list", env=env)
    assert result.returncode == 0, result.stderr
    assert "plugin-wide" in result.stdout and "ch1-sgd" in result.stdout
    shown = run_cli("show", "plugin-wide", env=env)
    assert "784, 300, 10" in shown.stdout


@pytest.mark.slow
def test_a_broken_entry_point_is_skipped_with_a_warning(tmp_path):
    env = _plugin(tmp_path, "broken = nndl_plugin:DOES_NOT_EXIST\n")
    result = run_cli("list", env=env)
    assert result.returncode == 0
    assert "ch1-sgd" in result.stdout
    assert "skipping recipe entry point 'broken'" in result.stderr


def test_every_source_module_is_installed():
    """setup.cfg lists packages by hand (recipes/ is mapped); a forgotten one would vanish."""
    from pathlib import Path

    import nndl_keras

    from helpers import REPO

    installed = Path(nndl_keras.__file__).parent
    for source in (REPO / "nndl_keras").rglob("*.py"):
        assert (installed / source.relative_to(REPO / "nndl_keras")).exists(), source
    for source in (REPO / "recipes").glob("*.py"):
        assert (installed / "recipes" / source.name).exists(), source


def test_the_shipped_catalog_is_the_registry(tmp_path):
    """`list` and `show` read catalog.json so that they answer before Keras is imported."""
    from importlib import resources

    from nndl_keras import recipes

    shipped = json.loads((resources.files("nndl_keras.recipes") / recipes.CATALOG).read_text())
    written = json.loads(recipes.write_catalog(tmp_path / "catalog.json").read_text())
    assert shipped == written, (
        "recipes/catalog.json is stale: python -c \"from nndl_keras import recipes; "
        "recipes.write_catalog('recipes/catalog.json')\" in the checkout, then reinstall"
    )
    assert {e["name"] for e in shipped} == set(recipes.names())


def test_every_book_number_is_the_shipped_experiment_tables():
    """A recipe's book result is the number of the row of book_data/EXPERIMENTS.md it cites."""
    import re

    from nndl_keras import book

    cited = 0
    for recipe in recipes.list_recipes():
        row = book.experiment(recipe.book.source or "")
        if row is None or recipe.book.accuracy is None:
            continue
        percents = [float(p) for p in re.findall(r"(\d+(?:\.\d+)?)%", row["result"])]
        assert any(abs(p - 100 * recipe.book.accuracy) < 1e-6 for p in percents), (recipe.name, row["result"])
        cited += 1
    assert cited >= 20


def test_the_books_recipes_are_the_books_whichever_module_is_imported_first(tmp_path):
    # A user (or a test) may import a recipe module before the registry looks for them.
    from helpers import run_python

    code = f"""
import json
from nndl_keras.recipes.ch6_ensemble import subset_votes  # registers chapter 6's recipes first
from nndl_keras import recipes
written = json.loads(recipes.write_catalog({str(tmp_path / "catalog.json")!r}).read_text())
print(sorted(e["name"] for e in written) == sorted(recipes.names()))
"""
    result = run_python(code)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "True"


def test_a_run_trains_the_books_best_of_n_unless_the_recipe_says_fewer():
    from nndl_keras.training.plan import plan

    def default_runs(name):
        return plan(recipes.get(name), {}, {"device": "cpu"}).call["runs"]

    # Chapter 1: the book's best of three, trained so by default; chapter 6 states the book's
    # best of three (the results table says so) but trains one net unless --runs asks for more.
    assert recipes.get("ch1-sgd").book.runs == 3 and default_runs("ch1-sgd") == 3
    relu = recipes.get("ch6-relu")
    assert relu.book.runs == 3 and "best of 3 runs" in relu.book.describe() and default_runs("ch6-relu") == 1
