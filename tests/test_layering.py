"""The package's layers point one way (issue 15): data → parts → training → recipes → CLI."""

import ast
import json

from helpers import REPO, run_python

PARTS = ("callbacks", "data", "initializers", "layers", "losses", "models", "regularizers")


def imported_modules(path):
    """Every module a source file imports, at its top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_no_part_imports_the_training_machinery_the_recipes_or_the_cli():
    higher = ("nndl_keras.training", "nndl_keras.recipes", "nndl_keras.cli", "nndl_keras.reproduce")
    offenders = {}
    for part in PARTS:
        for source in (REPO / "nndl_keras" / part).rglob("*.py"):
            bad = sorted(m for m in imported_modules(source) if m.startswith(higher))
            if bad:
                offenders[str(source.relative_to(REPO))] = bad
    below = ("plots.py", "book.py", "files.py", "errors.py", "recipe.py", "adversarial.py", "progress.py", "provenance.py",
             "requirements.py", "stopping.py")
    for name in below:
        bad = sorted(m for m in imported_modules(REPO / "nndl_keras" / name) if m.startswith(higher))
        if bad:
            offenders[name] = bad
    assert not offenders, offenders


def test_import_nndl_keras_loads_no_training_machinery():
    code = (
        "import json, sys, nndl_keras, nndl_keras.plots\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('nndl_keras.training', 'nndl_keras.recipes')))))"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_the_package_registers_its_parts_when_keras_loads_and_never_reads_sys_argv():
    # The command answers --help, list and show without Keras, by the same import a library user makes.
    for name in ("__init__.py", "_startup.py"):
        assert "argv" not in (REPO / "nndl_keras" / name).read_text(), name
    code = (
        "import sys, nndl_keras\n"
        "assert 'keras' not in sys.modules\n"
        "import keras\n"
        "print(keras.saving.get_registered_object('nndl_keras>Perceptron').__module__)"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "nndl_keras.layers.perceptron"
