"""The README's example, run as a user would paste it, on both backends."""

import re

import pytest

from helpers import REPO, run_python

pytestmark = pytest.mark.slow  # trains on the real MNIST or in new processes: the inner loop (-m 'not slow') leaves it to CI


def readme_example():
    text = (REPO / "README.md").read_text()
    section = text.split("**The parts in your own Keras model.**", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_starts_with_the_two_commands():
    first = (REPO / "README.md").read_text().splitlines()[:2]
    tests = "pip install '.[test]' && pytest && python -m nox -f tests/environments/noxfile.py -s colab_tpu colab_gpu"
    assert first == ["pip install . && nndl-keras run ch1-sgd", tests]
    assert tests in (REPO / ".ci" / "run").read_text().splitlines()  # CI runs exactly the README's command


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_readme_example_trains_saves_and_reloads(tmp_path, mnist_dir, backend):
    code = f"import os\nos.chdir({str(tmp_path)!r})\n" + readme_example()
    result = run_python(code, env={"KERAS_BACKEND": backend, "NNDL_KERAS_DATA_DIR": str(mnist_dir)})
    assert result.returncode == 0, result.stderr[-3000:]
    loss, accuracy = eval(result.stdout.strip().splitlines()[-1])
    assert accuracy > 0.85  # one epoch of 10,000 images (chance is 0.1)
    assert (tmp_path / "convpool.keras").exists()
