"""The registry of the book's models, in the spirit of timm's `register_model` / `create_model`.

Each module in this package registers one of the book's models (with its
variants) at import. Other installed packages add their own through the entry-point
group `nndl_keras.recipes`: an entry point may name a `Recipe`, an iterable of
them, or a module that calls `register` when imported::

    # in the other package's setup.cfg
    [options.entry_points]
    nndl_keras.recipes =
        my-net = my_package.recipes:MY_NET

Example:

>>> from nndl_keras import recipes
>>> recipes.get("ch1-sgd").hparams.eta
3.0
>>> model = recipes.create_model("ch1-sgd", layers=(784, 100, 10))  # doctest: +SKIP
"""

import difflib
import importlib
import inspect
import json
import pkgutil
import warnings
from importlib import metadata
from pathlib import Path

from nndl_keras import _startup
from nndl_keras.errors import RecipeError
from nndl_keras.recipe import BookResult, Hyperparameters, Recipe

ENTRY_POINT_GROUP = "nndl_keras.recipes"

_REGISTRY = {}
_BOOK = set()  # the names this package's own modules register
_discovered = False


def register(recipe):
    """Adds `recipe` to the registry and returns it.

    Raises:
        TypeError: `recipe` is not a `Recipe`.
        ValueError: another recipe already has its name.
    """
    if not isinstance(recipe, Recipe):
        raise TypeError(f"register() takes a Recipe, got {type(recipe).__name__}")
    existing = _REGISTRY.get(recipe.name)
    if existing is not None and existing != recipe:
        raise ValueError(f"a different recipe named {recipe.name!r} is already registered")
    _REGISTRY[recipe.name] = recipe
    if inspect.currentframe().f_back.f_globals.get("__name__", "").startswith(__name__ + "."):
        _BOOK.add(recipe.name)  # one of this package's own modules: the book's (whenever it was imported)
    return recipe


def get(name):
    """The recipe called `name`.

    Raises:
        RecipeError: no such recipe; the message names the closest ones.
    """
    _discover()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise _unknown(name, list(_REGISTRY)) from None


def list_recipes(chapter=None):
    """Every registered recipe (of one `chapter`), in the book's order."""
    _discover()
    found = [r for r in _REGISTRY.values() if chapter is None or r.chapter == chapter]
    return sorted(found, key=lambda r: (r.chapter, r.name))


def names(chapter=None):
    """The registered recipe names (of one `chapter`), in the book's order."""
    return [r.name for r in list_recipes(chapter)]


def create_model(name, **overrides):
    """The compiled Keras model of recipe `name`, with hyperparameter overrides."""
    return get(name).create_model(**overrides)


CATALOG = "catalog.json"


def catalog(chapter=None):
    """What `nndl-keras list` and `show` print about each recipe, without importing one.

    The book's recipes are read from `catalog.json` beside this module (written
    by `write_catalog`; a test keeps it equal to the registry), so that the
    command answers before Keras is imported. Recipes that other packages add
    through the entry-point group are loaded and described as they are.

    Returns:
        A list of dicts (`name`, `chapter`, `description`, `book`, `source`,
        `hyperparameters`: the values as `show` prints them), in the
        book's order.
    """
    entries = {e["name"]: e for e in _book_catalog()}
    if _plugins():
        entries.update((r.name, describe(r)) for r in list_recipes())
    found = [e for e in entries.values() if chapter is None or e["chapter"] == chapter]
    return sorted(found, key=lambda e: (e["chapter"], e["name"]))


def check_name(name):
    """Raises `RecipeError` (naming the closest recipes) unless `name` is a recipe; imports none
    when there are no plug-in recipes."""
    if _plugins():
        get(name)
        return
    known = [e["name"] for e in _book_catalog()]
    if name not in known:
        raise _unknown(name, known)


def describe(recipe):
    """A recipe's catalog entry."""
    return {
        "name": recipe.name,
        "chapter": recipe.chapter,
        "description": recipe.description,
        "book": recipe.book.describe(),
        "source": recipe.book.source,
        "hyperparameters": {k: str(v) for k, v in recipe.hparams.to_dict().items() if v not in ((), {}, [])},
    }


def write_catalog(path=None):
    """Writes the book's recipes' catalog (run after changing a recipe; `tests/test_registry.py` checks it)."""
    _discover()
    book = [describe(r) for r in list_recipes() if r.name in _BOOK]
    path = Path(path) if path else Path(__file__).with_name(CATALOG)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(book, f, indent=1, ensure_ascii=False)
        f.write("\n")
    return path


def _book_catalog():
    with open(Path(__file__).with_name(CATALOG), encoding="utf-8") as f:
        return json.load(f)


def _plugins():
    return list(metadata.entry_points(group=ENTRY_POINT_GROUP))


def _unknown(name, known):
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else "; see 'nndl-keras list'"
    return RecipeError(f"unknown recipe {name!r}{hint}")


def _discover():
    global _discovered
    if _discovered:
        return
    _discovered = True
    _startup.import_keras()  # the recipes build Keras models (the command's import is quiet)
    for module in pkgutil.iter_modules(__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}")
    for entry_point in _plugins():
        try:
            _register_entry_point(entry_point.load())
        except Exception as e:  # one broken plugin must not hide the book's recipes
            warnings.warn(f"skipping recipe entry point {entry_point.name!r}: {e}", stacklevel=2)


def _register_entry_point(obj):
    if isinstance(obj, Recipe):
        register(obj)
    elif isinstance(obj, (list, tuple, set)):
        for recipe in obj:
            register(recipe)
    elif not hasattr(obj, "__spec__"):  # a module registers itself on import
        raise TypeError(f"expected a Recipe, a list of them or a module, got {type(obj).__name__}")


__all__ = [
    "BookResult",
    "Hyperparameters",
    "Recipe",
    "create_model",
    "get",
    "list_recipes",
    "names",
    "register",
]
