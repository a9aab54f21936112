"""Every documented example, run: each public part's `Example:` and docs/parts.md's code.

The docstrings' examples run as doctests (their printed values checked), and so
do the `>>>` lines of every Python block in docs/parts.md, each block on its
own, as a reader would paste it. An example that no longer runs, or prints
something else, fails here. Written with keras.ops only:
`test_parts_backends.py` runs this file again under JAX.
"""

import doctest
import importlib
import inspect
import pkgutil
import re

import pytest

from helpers import REPO

PACKAGES = ("layers", "losses", "initializers", "regularizers", "callbacks", "models")
MODULES = [
    f"nndl_keras.{package}.{info.name}"
    for package in PACKAGES
    for info in pkgutil.iter_modules(importlib.import_module(f"nndl_keras.{package}").__path__)
]
PARTS_MD = REPO / "docs" / "parts.md"
FLAGS = doctest.ELLIPSIS  # the monitor's alert line ends in "..."


def _public(package):
    module = importlib.import_module(f"nndl_keras.{package}")
    return [(name, getattr(module, name)) for name in module.__all__ if inspect.isclass(getattr(module, name)) or inspect.isfunction(getattr(module, name))]


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_part_has_an_example_that_is_run(package):
    for name, obj in _public(package):
        tests = doctest.DocTestFinder(recurse=False).find(obj)
        assert tests and tests[0].examples, f"{package}.{name} has no Example: in its docstring"
        skipped = [e.source for e in tests[0].examples if e.options.get(doctest.SKIP)]
        assert not skipped, f"{package}.{name} skips its example: {skipped}"


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples_run(module_name):
    module = importlib.import_module(module_name)
    result = doctest.testmod(module, optionflags=FLAGS, report=True)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {module_name} failed (printed above)"


def parts_md_blocks():
    return re.findall(r"```python\n(.*?)```", PARTS_MD.read_text(), re.S)


def test_parts_md_has_an_example_of_every_part_in_its_table():
    table = PARTS_MD.read_text().split("\n## ", 1)[0]
    parts = re.findall(r"^\| `(?:\w+\.)?(\w+)", table, re.M)
    assert len(parts) >= 16, parts
    code = "\n".join(parts_md_blocks())
    missing = [part for part in parts if not re.search(rf"\b{part}\(", code)]
    assert not missing, f"docs/parts.md has no example of {missing}"


@pytest.mark.parametrize("index", range(len(parts_md_blocks())))
def test_parts_md_examples_run(index):
    block = parts_md_blocks()[index]
    test = doctest.DocTestParser().get_doctest(block, {}, f"docs/parts.md block {index + 1}", str(PARTS_MD), 0)
    assert test.examples, f"block {index + 1} of docs/parts.md has no >>> example"
    result = doctest.DocTestRunner(optionflags=FLAGS).run(test)
    assert result.failed == 0, f"{result.failed} of {result.attempted} lines of docs/parts.md block {index + 1} failed (printed above)"
