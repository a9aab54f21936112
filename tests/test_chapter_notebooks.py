"""The six chapter notebooks (issue 28), executed top to bottom as a reader would run them.

Each notebook runs in its own kernel, in a temporary working directory, with its sizes
cut through an injected cell after its tagged parameters cell (as papermill does). The
tests read the notebooks and check what they printed and showed against the files their
runs wrote; they do not copy the notebooks' code.
"""

import base64
import dataclasses
import json
import re
from decimal import Decimal

import nbformat
import pytest
from nbclient import NotebookClient

from helpers import REPO

NOTEBOOKS = REPO / "notebooks"
RECORDS = REPO / "docs" / "results"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
COLAB = "https://colab.research.google.com/github/nndl-keras/nndl-keras/blob/main/notebooks/{}"


@dataclasses.dataclass(frozen=True)
class Number:
    """A line the notebook prints: `what: full length (record, ...): X  | this notebook (...): Y  | book: Z`.

    X is `key` of the record docs/results/<record>/metrics.json, Y `key` of the metrics.json
    of the notebook's run in OUTPUT/<run>, Z `book`: a key of that metrics.json, a number,
    or None (printed "not reported").
    """

    what: str
    run: str
    record: str
    key: str = "measured_accuracy"
    book: object = "book_accuracy"


@dataclasses.dataclass(frozen=True)
class Quoted:
    """A line the notebook prints from a record alone, without a run of its own: `pattern`'s
    groups are, in order, `keys` of docs/results/<record> (a key, or a function of the record)."""

    pattern: str
    record: str
    keys: tuple


def book_figure(name, *path):
    def value(_metrics):
        from nndl_keras import book

        found = book.figure(name)
        for part in path:
            found = found[part]
        return found

    return value


@dataclasses.dataclass(frozen=True)
class Chapter:
    cut: dict  # the sizes injected after the parameters cell
    numbers: tuple  # every comparison line the notebook prints
    figures: tuple  # PNGs under OUTPUT that it must write and show
    quoted: tuple = ()  # lines it prints from records only
    record_figures: tuple = ()  # PNGs under docs/results that it shows as they are


def _hand_built(bumps):
    return Number(f"mean |error|, hand-built, {bumps} bumps", "ch4-universality", "ch4-universality",
                  f"errors_by_bumps.{bumps}.mean_abs_error", None)


CHAPTERS = {
    "ch1_sgd": Chapter(
        cut={"EPOCHS": 1, "TRAIN_SIZE": 1_000, "RUNS": 1},
        numbers=(
            Number("ch1-darkness, test accuracy", "ch1-darkness", "chapter-1/ch1-darkness"),
            Number("ch1-sgd, test accuracy (best epoch)", "ch1-sgd", "ch1-sgd"),
        ),
        figures=("ch1-sgd/learning_curve.png",),
    ),
    "ch2_backprop": Chapter(
        cut={},
        numbers=(
            Number("largest relative error, backprop against Keras autodiff", "ch2-backprop", "ch2-backprop",
                   "max_relative_error_autodiff", None),
            Number("largest relative error, backprop against finite differences", "ch2-backprop", "ch2-backprop",
                   "max_relative_error_finite_differences", None),
            Number("backpropagation, in forward passes", "ch2-backprop", "ch2-backprop",
                   "backprop_speed.backprop_in_forward_passes", "backprop_speed.book.backprop_in_forward_passes"),
            Number("finite differences (eq. 46) over backpropagation", "ch2-backprop", "ch2-backprop",
                   "backprop_speed.finite_differences.forward.ratio_to_backprop",
                   "backprop_speed.book.ratio_at_these_weights"),
        ),
        figures=("ch2-backprop/backprop_speed.png",),
    ),
    "ch3_improving": Chapter(
        cut={"EPOCHS_1000": 4, "INIT_EPOCHS": 1, "INIT_TRAIN_SIZE": 1_000},
        numbers=(
            Number("ch3-overfitting, peak test accuracy", "ch3-overfitting", "chapter-3/ch3-overfitting"),
            Number("ch3-l2-small, peak test accuracy", "ch3-l2-small", "chapter-3/ch3-l2-small"),
            Number("ch3-init, validation accuracy after epoch 1, N(0, 1/n_in)", "ch3-init", "chapter-3/ch3-init"),
            Number("ch3-init, validation accuracy after epoch 1, N(0, 1)", "ch3-init", "chapter-3/ch3-init",
                   "first_epoch_validation.30-large",
                   lambda m: book_figure("weight_initialization_30", "large_weight_initialization", 1, 0)(m) / 10_000),
        ),
        figures=(
            "ch3-overfitting/overfitting_book_and_ours.png",
            "ch3-l2-small/regularized_book_and_ours.png",
            "ch3-init/weight_initialization_book_and_ours.png",
        ),
    ),
    "ch4_universality": Chapter(
        cut={"EPOCHS": 3},
        numbers=(
            _hand_built(10),
            _hand_built(100),
            _hand_built(200),
            Number("mean |error|, the same 200 neurons trained", "ch4-universality", "ch4-universality",
                   "trained.mean_abs_error", None),
            Number("mean |error|, linear neurons over sigmoid neurons", "ch4-universality", "ch4-universality",
                   "linear.over_sigmoid", None),
        ),
        figures=("bump.png", "ch4-universality/universality.png", "ch4-universality/towers.png"),
    ),
    "ch5_vanishing_gradients": Chapter(
        cut={"DEPTH_EPOCHS": 1, "DEPTH_TRAIN_SIZE": 1_000, "SPEED_EPOCHS": 3},
        numbers=(
            *(Number(f"ch5-depth-{k}, validation accuracy", f"ch5-depth-{k}", f"chapter-5/ch5-depth-{k}") for k in (1, 2, 3, 4)),
            *(Number(f"‖δ‖ of hidden layer {k + 1} before training", "ch5-speed-4", "chapter-5/ch5-speed-4",
                     f"initial_bias_norms.{k}", f"book_initial_bias_norms.{k}") for k in range(4)),
            *(Number(f"‖δ‖ of hidden layer {k + 1} over hidden layer {k + 2}", "ch5-exploding", "chapter-5/ch5-exploding",
                     f"initial_growth_per_layer.{k}", 25) for k in (0, 1)),
        ),
        figures=("ch5-depth-2/initial_deltas.png", "ch5-speed-4/speed_of_learning_book_and_ours.png", "ch5-exploding/gradient_norms.png"),
    ),
    "ch6_convnets": Chapter(
        cut={"EPOCHS": 1, "TRAIN_SIZE": 500, "RUNS": 1},
        numbers=(
            Number("ch6-shallow, test accuracy (best-validation epoch)", "ch6-shallow", "chapter-6/ch6-shallow"),
            Number("ch6-relu, test accuracy (best-validation epoch)", "ch6-relu", "chapter-6/ch6-relu"),
        ),
        figures=("ch6-relu/learning_curve.png",),
        quoted=(
            Quoted(r"the five members' vote \(record\): (\S+) \((\d+) errors\)  \| book: (\S+) \(33 errors\)",
                   "ch6-ensemble/vote/vote.json", ("ensemble_test_accuracy", "errors", "book_accuracy")),
            Quoted(r"every vote of five of (\d+) members \(record\): (\d+) to (\d+) errors, median (\S+); "
                   r"(\d+) of (\d+) at or below the book's (\d+)", "ch6-ensemble/subsets/subsets.json",
                   (lambda r: len(r["members"]), "errors.least", "errors.most", "errors.median", "subsets_at_or_below_book",
                    "errors.count", "book_errors")),
        ),
        record_figures=("ch6-ensemble/subsets/subset_votes.png",),
    ),
}

COMPARISON = re.compile(
    r"^(?P<what>.+?): full length \((?P<where>.+)\): (?P<full>\S+)  \| this notebook \((?P<sizes>[^|]+)\): "
    r"(?P<ours>\S+)  \| book: (?P<book>.+)$"
)


def cut_notebook(name, output):
    """The notebook with its sizes cut, OUTPUT in the test's directory and RECORDS this checkout's."""
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    (index,) = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    parameters = {**CHAPTERS[name].cut, "OUTPUT": str(output), "RECORDS": str(RECORDS)}
    injected = "\n".join(f"{key} = {value!r}" for key, value in parameters.items())
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell(injected, metadata={"tags": ["injected-parameters"]}))
    return nb


def stdout(nb):
    return "".join(
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "stream"
    )


def shown_pngs(nb):
    return [
        base64.b64decode(o["data"]["image/png"])
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if "image/png" in o.get("data", {})
    ]


def lookup(metrics, key):
    for part in key.split("."):
        metrics = metrics[int(part)] if isinstance(metrics, list) else metrics[part]
    return metrics


def assert_printed(printed, expected, where):
    """`printed` ("95.00%", "10,114x", "6.9e-12", "0.0024") is `expected` to its last printed digit."""
    if expected is None:
        assert printed == "not reported", f"{where}: printed {printed!r}, the value is None"
        return
    text, scale = printed.rstrip("x"), 1
    if text.endswith("%"):
        text, scale = text[:-1], 100
    number = Decimal(text.replace(",", ""))
    half_digit = Decimal(5) * Decimal(10) ** (number.as_tuple().exponent - 1)
    assert abs(number - Decimal(repr(float(expected) * scale))) <= half_digit * Decimal("1.000001"), (
        f"{where}: printed {printed}, metrics.json holds {expected}"
    )


@pytest.fixture
def kernel_env(monkeypatch, mnist_dir):
    """A reader's kernel: no backend chosen for it; MNIST where NNDL_KERAS_DATA_DIR says (no network)."""
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    monkeypatch.setenv("NNDL_KERAS_DATA_DIR", str(mnist_dir))


@pytest.mark.slow  # not module-wide: the static checks below are fast
@pytest.mark.parametrize("name", sorted(CHAPTERS))
def test_runs_top_to_bottom_and_prints_its_runs_numbers(name, tmp_path, kernel_env):
    chapter, output = CHAPTERS[name], tmp_path / "runs"
    nb = cut_notebook(name, output)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()

    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, errors
    printed = stdout(nb)
    assert "on tensorflow" in printed, "no TPU here: the notebook must choose TensorFlow"

    # Every comparison line is one the test knows, and each of its numbers is the files'.
    lines = {m["what"]: m for m in map(COMPARISON.match, printed.splitlines()) if m}
    assert sorted(lines) == sorted(n.what for n in chapter.numbers), printed[-3000:]
    assert printed.count("  | this notebook (") == len(chapter.numbers), "a comparison line the test cannot read"
    for number in chapter.numbers:
        line = lines[number.what]
        run = json.loads((output / number.run / "metrics.json").read_text())
        record = json.loads((RECORDS / number.record / "metrics.json").read_text())
        assert run["versions"]["backend"] == "tensorflow"
        assert_printed(line["ours"], lookup(run, number.key), f"{number.what}, this notebook")
        assert_printed(line["full"], lookup(record, number.key), f"{number.what}, the record")
        book = number.book(run) if callable(number.book) else lookup(run, number.book) if isinstance(number.book, str) else number.book
        assert_printed(line["book"], book, f"{number.what}, the book")
        made = record["provenance"]
        assert line["where"] == f"record, {made['machine']['cpu']}, commit {(made['commit'] or 'not recorded')[:7]}"
        hp = run["hyperparameters"]
        if "epoch" in line["sizes"]:  # the sizes said are the run's
            assert line["sizes"].startswith(f"{hp['epochs']} epoch{'s' * (hp['epochs'] != 1)} on {hp['train_size']:,} "), line["sizes"]

    # Lines from the records alone hold the records' numbers.
    for quoted in chapter.quoted:
        (match,) = [m for m in map(re.compile(quoted.pattern).fullmatch, printed.splitlines()) if m] or [None]
        assert match, f"no line {quoted.pattern!r} in {printed[-3000:]}"
        record = json.loads((RECORDS / quoted.record).read_text())
        for printed_value, key in zip(match.groups(), quoted.keys, strict=True):
            assert_printed(printed_value, key(record) if callable(key) else lookup(record, key), f"{quoted.record}: {key}")

    # Every figure is written as a PNG and shown: its very bytes are an image/png output; a
    # record's figure is shown as committed.
    shown = shown_pngs(nb)
    for png, figure in [((output / f).read_bytes(), f) for f in chapter.figures] + [
        ((RECORDS / f).read_bytes(), f) for f in chapter.record_figures
    ]:
        assert png.startswith(PNG_MAGIC), figure
        assert any(png == image for image in shown), f"{figure} was written but not shown"
    assert len(shown) == len(chapter.figures) + len(chapter.record_figures), "an image the test does not know of"


def code_lines(nb):
    return [line.strip() for c in nb.cells if c.cell_type == "code" for line in c.source.splitlines()]


@pytest.mark.parametrize("name", sorted(CHAPTERS))
def test_badge_parameters_and_one_process(name):
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# ")
    badges = re.findall(r"\]\((https://colab\.research\.google\.com/github/[^)]+)\)", first.source)
    assert badges == [COLAB.format(f"{name}.ipynb")], badges
    tagged = [c for c in nb.cells if c.cell_type == "code" and "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "one tagged parameters cell"
    assert all(f"{size} =" in tagged[0].source for size in CHAPTERS[name].cut), "the sizes the test cuts"
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "committed with outputs"
    lines = code_lines(nb)
    started = [
        line for line in lines
        if line.startswith(("!", "%run", "%%bash", "%%sh", "%%script", "%system", "%sx", "%%system"))
        or "subprocess" in line or "os.system" in line or ".system(" in line
    ]
    assert not started, f"cells that start another process: {started}"
    backend = next(i for i, line in enumerate(lines) if "KERAS_BACKEND" in line)
    imports = [i for i, line in enumerate(lines) if re.match(r"(import|from) (keras|jax|tensorflow|nndl_keras)\b", line)]
    assert imports and backend < min(imports), "KERAS_BACKEND must be set before Keras (or nndl_keras) is imported"


def test_one_notebook_per_chapter():
    found = sorted(p.stem for p in NOTEBOOKS.glob("ch*.ipynb"))
    assert found == sorted(CHAPTERS)
    assert [name[:3] for name in found] == [f"ch{k}" for k in range(1, 7)]
