"""The Colab notebook's cells match the current CLI and Python API (issue 7)."""

import ast
import inspect
import json
import shlex

from helpers import REPO
from nndl_keras import recipes
from nndl_keras.cli import main
from nndl_keras.training import run

NOTEBOOK = REPO / "notebooks" / "colab_tpu.ipynb"


def code_cells():
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


def test_every_nndl_keras_command_parses():
    commands = [
        line[1:] for cell in code_cells() for line in cell.splitlines() if line.startswith("!nndl-keras ")
    ]
    assert len(commands) >= 1
    for command in commands:
        name, sub, *args = shlex.split(command.replace("{BATCH}", "10"))
        # click checks every option and value as `nndl-keras` would, without running
        main.commands[sub].make_context(sub, list(args))
        recipes.get(args[0])


def test_every_python_cell_compiles_and_calls_run_with_real_arguments():
    accepted = set(inspect.signature(run).parameters)
    calls = 0
    for cell in code_cells():
        python = "\n".join(line for line in cell.splitlines() if not line.startswith("!"))
        tree = ast.parse(python)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "run":
                calls += 1
                recipe = recipes.get(node.args[0].value)
                hyperparameters = set(recipe.hparams.to_dict()) | set(recipe.hparams.options)
                unknown = {k.arg for k in node.keywords} - accepted - hyperparameters
                assert not unknown, unknown
    assert calls >= 1
