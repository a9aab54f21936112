"""The installed package uses Keras's, TensorFlow's and JAX's public API only (issue 26).

A private attribute (`model._symbolic_build`) or module (`keras.src`) can change
in any release, so a package that reads one must pin the release it read: the
pin that made `pip install nndl-keras` replace a user's Keras. This test reads
every module of the installed package and fails on any private name that the
package does not define itself.
"""

import ast
import importlib.metadata
import importlib.util
from pathlib import Path

import pytest
from packaging.requirements import Requirement

PRIVATE_MODULES = ("keras.src", "keras._tf_keras", "tensorflow.python", "tensorflow._api", "jax._src", "jaxlib")
# Python's own documented underscored names.
PYTHON_PUBLIC = {"_exit", "_asdict", "_replace", "_fields", "_make"}


def installed_modules():
    (root,) = importlib.util.find_spec("nndl_keras").submodule_search_locations
    return sorted(Path(root).rglob("*.py"))


def is_private(name):
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def own_names(trees):
    """Every underscored name the package defines: modules, functions, classes, attributes, variables."""
    names = set()
    for path, tree in trees.items():
        names.add(path.stem)
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
    return {name for name in names if is_private(name)}


def foreign_private_uses(trees):
    """(file:line, what) for each private name of another package that the code reads."""
    own = own_names(trees) | PYTHON_PUBLIC
    found = []
    for path, tree in trees.items():
        for node in ast.walk(tree):
            where = f"{path.parent.name}/{path.name}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Attribute) and is_private(node.attr) and node.attr not in own:
                found.append((where, f".{node.attr}"))
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                modules = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                for module in modules:
                    if module.startswith(PRIVATE_MODULES) or (module.startswith(("keras", "tensorflow", "jax")) and any(is_private(p) for p in module.split("."))):
                        found.append((where, f"import {module}"))
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "hasattr", "setattr"):
                named = [a.value for a in node.args[1:2] if isinstance(a, ast.Constant) and isinstance(a.value, str)]
                found += [(where, f'{node.func.id}(…, "{name}")') for name in named if is_private(name) and name not in own]
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith(PRIVATE_MODULES):
                found.append((where, repr(node.value)))  # importlib.import_module("keras.src...")
    return found


@pytest.mark.slow
def test_the_installed_package_reads_no_private_keras_tensorflow_or_jax_name():
    trees = {path: ast.parse(path.read_text(), str(path)) for path in installed_modules()}
    assert len(trees) > 40  # the whole package, recipes included
    assert foreign_private_uses(trees) == []


def test_the_scan_finds_what_it_looks_for():
    code = """
import keras
from keras.src import testing
import jax._src.core
class Engine:
    def __init__(self, model):
        self._n = 1
        model._symbolic_build(data_batch=None)
        getattr(model, "_compile_loss", None)
        strategy.extended._in_multi_worker_mode()
        self._n += 1
"""
    found = sorted(what for _, what in foreign_private_uses({Path("engine.py"): ast.parse(code)}))
    assert found == sorted([
        "import keras.src",
        "import jax._src.core",
        "._symbolic_build",
        'getattr(…, "_compile_loss")',
        "._in_multi_worker_mode",
    ]), found


def test_keras_is_required_without_an_upper_bound_below_4():
    requirements = [Requirement(r) for r in importlib.metadata.requires("nndl-keras")]
    (keras_req,) = [r for r in requirements if r.name == "keras" and r.marker is None]
    for spec in keras_req.specifier:
        if spec.operator in ("<", "<=", "==", "~=", "==="):
            assert spec.operator == "<" and spec.version.split(".")[0] >= "4", f"keras{spec} caps Keras below 4"


def test_a_keras_below_the_declared_floor_is_refused_in_one_line_before_anything_is_written(tmp_path, monkeypatch):
    import nndl_keras
    from nndl_keras import requirements

    floor = requirements.declared("keras").specifier
    assert floor.contains("3.13.2") and not floor.contains("3.9.0")  # Colab's Keras is in; one too old is out
    real = importlib.metadata.version
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "3.9.0" if name == "keras" else real(name))
    out = tmp_path / "out"
    try:
        nndl_keras.run("ch1-sgd", epochs=1, output_dir=out, verbose=0)
        raise AssertionError("trained with keras 3.9.0")
    except nndl_keras.NNDLError as error:
        message = str(error)
    assert message == f"nndl-keras needs keras{floor} and this environment has keras 3.9.0: pip install 'keras{floor}'"
    assert not out.exists()
