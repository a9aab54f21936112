"""The Colab TPU notebook, executed cell by cell as Colab would (issue 13).

A stand-in for the TPU: JAX's CPU backend with eight forced host devices (a
v5e-8's chip count), the sizes cut through the notebook's tagged parameters
cell, as papermill does. The tests read the notebook and run its cells; they
do not copy its commands.
"""

import json
import os
import shutil
import signal
import threading
import time

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from helpers import REPO

pytestmark = pytest.mark.colab  # run in the colab_tpu nox session, on Colab's versions (see conftest.py)

NOTEBOOK = REPO / "notebooks" / "colab_tpu.ipynb"
EIGHT_DEVICES = "--xla_force_host_platform_device_count=8"


def notebook(**parameters):
    """The notebook with `parameters` injected after its tagged parameters cell."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    (index,) = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    injected = "\n".join(f"{name} = {value!r}" for name, value in parameters.items())
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell(injected, metadata={"tags": ["injected-parameters"]}))
    return nb


def stdout(cell):
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.output_type == "stream")


def images(cell):
    return [o for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]


def source_copy(tmp_path):
    """What a user uploads: the package's sources (pip must not build inside the checkout)."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    for package in ("nndl_keras", "recipes"):
        shutil.copytree(REPO / package, src / package, ignore=shutil.ignore_patterns("__pycache__"))
    return src


@pytest.fixture
def kernel_env(monkeypatch):
    """The kernel's environment: the notebook must choose the backend itself; eight JAX devices."""
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    monkeypatch.setenv("XLA_FLAGS", EIGHT_DEVICES)
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)


def client(nb, cwd):
    return NotebookClient(nb, timeout=1200, kernel_name="python3", resources={"metadata": {"path": str(cwd)}})


def interrupt_when_checkpointed(kernel_pid, output, stop):
    """Ctrl-C (SIGINT to the kernel) once a run in `output` has checkpointed an epoch."""
    while not stop.is_set():
        if any(output.glob("*/checkpoints/*/state.json")):
            os.kill(kernel_pid, signal.SIGINT)
            return
        time.sleep(0.2)


def test_the_notebook_holds_the_accelerator_in_one_process():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    lines = [line.strip() for c in nb.cells if c.cell_type == "code" for line in c.source.splitlines()]
    first_import = next(i for i, line in enumerate(lines) if line.startswith("import jax"))
    backend = next(i for i, line in enumerate(lines) if "KERAS_BACKEND" in line)
    assert backend < first_import, "KERAS_BACKEND must be set before anything imports JAX or Keras"
    shell = [line for line in lines if line.startswith(("!", "%%bash", "%%sh", "%system")) or "subprocess" in line]
    assert not shell, f"cells that start another process: {shell}"
    assert [line for line in lines if line.startswith("%pip")], "the install cell"


def test_stops_in_one_clear_line_without_the_accelerator_or_a_source(tmp_path, kernel_env):
    no_tpu = notebook(ACCELERATOR="tpu", OUTPUT=str(tmp_path / "runs"))
    with pytest.raises(CellExecutionError) as stopped:
        client(no_tpu, tmp_path).execute()
    assert "This runtime has no TPU (JAX runs on CPU)" in str(stopped.value)
    devices_cell = next(c for c in no_tpu.cells if "JAX devices:" in stdout(c))
    assert stdout(devices_cell).count("CpuDevice") == 8
    no_source = notebook(ACCELERATOR="cpu", OUTPUT=str(tmp_path / "runs"))
    with pytest.raises(CellExecutionError) as stopped:
        client(no_source, tmp_path).execute()
    assert "Set SOURCE in the parameters cell" in str(stopped.value)
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_runs_top_to_bottom_on_eight_devices_and_a_rerun_cell_resumes(tmp_path, kernel_env, mnist_dir):
    runs = tmp_path / "runs"
    nb = notebook(
        SOURCE=str(source_copy(tmp_path)),
        PIP_OPTIONS="--no-deps --no-build-isolation",  # the test environment has the dependencies
        ACCELERATOR="cpu",
        OUTPUT=str(runs),
        DATA_DIR=str(mnist_dir),
        RELU={"epochs": 3, "train_size": 1000},
        QUICK_ENSEMBLE={"members": 3, "epochs": 1, "train_size": 200},
        ENSEMBLE={"epochs": 1, "train_size": 200},
    )
    runner = client(nb, tmp_path)
    trainings = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "= train(" in c.source]
    assert len(trainings) == 3
    interrupted = False
    with runner.setup_kernel():
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            if index == trainings[0]:  # the first training: Ctrl-C in its second epoch, then the same cell again
                stop = threading.Event()
                watcher = threading.Thread(
                    target=interrupt_when_checkpointed, args=(runner.km.provisioner.process.pid, runs, stop)
                )
                watcher.start()
                try:
                    runner.execute_cell(cell, index)
                except CellExecutionError as e:
                    interrupted = "interrupted" in str(e) and "--resume" in str(e)
                finally:
                    stop.set()
                    watcher.join()
                assert interrupted, stdout(cell)[-2000:]
                cell.outputs = []
                # After a cell's error, ipykernel aborts the execute requests that reach it until
                # its event loop has run a "stop aborting" callback (stop_on_error_timeout), and
                # nbclient takes an aborted reply for success: a rerun sent at once could be
                # skipped without a word (seen on Colab's ipykernel 6.17.1). Let the kernel settle.
                time.sleep(1)
            runner.execute_cell(cell, index)
            if index == trainings[0]:
                assert "Resumed after epoch" in stdout(cell), stdout(cell)[-2000:]  # the rerun did run

    device_line = stdout(next(c for c in nb.cells if "JAX devices:" in stdout(c)))
    assert device_line.count("CpuDevice") == 8
    # The install cell compares what it replaced with what the session had imported (issue 26).
    install = stdout(next(c for c in nb.cells if c.cell_type == "code" and "%pip install" in c.source))
    assert "No restart needed: nothing this session had imported was replaced." in install, install
    placement = stdout(next(c for c in nb.cells if "nndl-keras " in stdout(c) and " on " in stdout(c)))
    assert "DataParallel over 8 CPUs" in placement
    relu, quick, full = (stdout(nb.cells[i]) for i in trainings)
    # A single net keeps the book's mini-batch of 10, which 8 devices cannot split: one device, said in one line.
    assert "device: one CPU device of 8" in relu and "mini-batch of 10 does not split across 8" in relu
    assert "Resumed after epoch 1/3" in relu and "Epoch 3/3" in relu
    assert "stacked on 3 device(s)" in quick and "stacked on 5 device(s)" in full
    results = {}
    for folder, members in (("ch6-relu", None), ("ch6-ensemble-quick", 3), ("ch6-ensemble", 5)):
        metrics = json.loads((runs / folder / "metrics.json").read_text())
        assert metrics["versions"]["backend"] == "jax"
        assert not (runs / folder / "checkpoints").exists()
        if members:
            assert len(metrics["members"]) == members and metrics["engine"] == "stacked"
        results[folder] = metrics
    assert len(results["ch6-relu"]["history"]["test_accuracy"]) == 3
    # The result cells print the runs' numbers and show the PNGs the runs wrote.
    shown = [c for c in nb.cells if c.cell_type == "code" and images(c)]
    assert [len(images(c)) for c in shown] == [1, 1, 2]
    assert f"{results['ch6-relu']['measured_accuracy']:.2%}" in stdout(shown[0])
    for cell, folder in zip(shown[1:], ("ch6-ensemble-quick", "ch6-ensemble")):
        assert f"{results[folder]['ensemble_test_accuracy']:.2%} test, {results[folder]['errors']} errors" in stdout(cell)
    for png in ("ch6-relu/learning_curve.png", "ch6-ensemble-quick/ensemble_errors.png",
                "ch6-ensemble/ensemble_errors.png", "ch6-ensemble/filters_layer1.png"):
        assert (runs / png).stat().st_size > 1000
