"""What a recipe is: one of the book's models, its hyperparameters and its result, as data."""

import dataclasses
import math
from typing import Any, Callable, Mapping, Optional

from nndl_keras.errors import RecipeError

TRAINING_SET_SIZE = 50_000
DROPOUT_STYLES = ("book", "inverted")


@dataclasses.dataclass(frozen=True)
class BookResult:
    """The accuracy the book reports and how it measured it.

    Args:
        accuracy: a fraction (0.9542 for 95.42%), or `None` where the book
            reports no number.
        split: `"test"` or `"validation"`.
        at: which epoch the book quotes: `"best"` (the peak on `split`),
            `"final"`, `"first"`, or `"best_validation"` (the test accuracy at
            the epoch of best validation accuracy, as network3 reports).
        runs: how many runs the book took the best of (chapters 1 and 6: three).
        source: the row of `book_data/EXPERIMENTS.md` the number comes from (`book.experiment`).
    """

    accuracy: Optional[float]
    split: str = "test"
    at: str = "best"
    runs: int = 1
    source: str = ""

    def __post_init__(self):
        if self.split not in ("test", "validation"):
            raise ValueError(f"split must be 'test' or 'validation', got {self.split!r}")
        if self.at not in ("best", "final", "best_validation", "first"):
            raise ValueError(f"at must be 'best', 'final', 'first' or 'best_validation', got {self.at!r}")

    def describe(self, book_runs=1):
        """"99.23% test (best-validation epoch, best of 3 runs)"; with `book_runs` (the book's,
        when this is ours), fewer runs than the book took the best of are said so."""
        if self.accuracy is None:
            return "not reported"
        where = {"best": "best epoch", "final": "final epoch", "first": "first epoch", "best_validation": "best-validation epoch"}
        runs = "one run" if self.runs == 1 else f"best of {self.runs} runs"
        runs = f", {runs} of the book's {book_runs}" if self.runs < book_runs else f", {runs}" if self.runs > 1 else ""
        return f"{100 * self.accuracy:.2f}% {self.split} ({where[self.at]}{runs})"


@dataclasses.dataclass(frozen=True)
class Hyperparameters:
    """The book's settings for one model; every field is an override on the command line.

    Args:
        layers: neurons per layer, input first (`(784, 30, 10)`).
        activation: hidden neurons (`"sigmoid"`, `"tanh"`, `"relu"`).
        output_activation: output neurons (`"sigmoid"`, or `"softmax"` with the
            log-likelihood cost).
        cost: `"quadratic"`, `"cross_entropy"` or `"log_likelihood"`.
        init: `"large"` (N(0, 1), chapter 1), `"default"` (N(0, 1/n_in),
            chapter 3) or `"network3"` (N(0, 1/n_out), chapter 6).
        eta: learning rate η, applied to the mini-batch mean gradient.
        momentum: the momentum co-efficient μ of chapter 3's momentum-based
            gradient descent (0: plain SGD).
        lmbda: L2 strength λ (0 for none).
        l2: whose definition of λ: `"network2"` (λ/2n Σw²) or `"network3"`.
        batch_size: mini-batch size m.
        dropout: probability of dropping each hidden neuron's output during training.
        dropout_style: `"book"` (network3's: no rescaling in training, inputs
            scaled by 1 − p at inference; `layers.Network3Dropout`) or
            `"inverted"` (Keras's `Dropout`: kept inputs scaled by 1/(1 − p) in
            training). They differ for SGD by a factor (1 − p)² in the step.
        epochs: passes over the training data.
        train_size: how many training images to use (the first ones): at most
            50,000, or 250,000 for the expanded set.
        options: settings only one recipe has (an SVM's γ, say).
    """

    layers: tuple = ()
    activation: str = "sigmoid"
    output_activation: str = "sigmoid"
    cost: str = "quadratic"
    init: str = "large"
    eta: float = 0.1
    momentum: float = 0.0
    lmbda: float = 0.0
    l2: str = "network2"
    batch_size: int = 10
    dropout: float = 0.0
    dropout_style: str = "book"
    epochs: int = 30
    train_size: int = TRAINING_SET_SIZE
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "layers", tuple(self.layers))
        object.__setattr__(self, "options", dict(self.options))
        checks = [
            (0 < self.eta < math.inf, f"eta must be positive and finite, got {self.eta}"),
            (0 <= self.lmbda < math.inf, f"lmbda must be zero or positive and finite, got {self.lmbda}"),
            (0 <= self.momentum < 1, f"momentum must be in [0, 1), got {self.momentum}"),
            (0 <= self.dropout < 1, f"dropout must be in [0, 1), got {self.dropout}"),
            (
                self.dropout_style in DROPOUT_STYLES,
                f"dropout style must be {' or '.join(DROPOUT_STYLES)}, got {self.dropout_style!r}",
            ),
            (self.batch_size >= 1, f"batch size must be at least 1, got {self.batch_size}"),
            (self.epochs >= 1, f"epochs must be at least 1, got {self.epochs}"),
            (self.train_size >= 1, f"train size must be at least 1, got {self.train_size}"),
            (self.options.get("members", 1) >= 1, f"members must be at least 1, got {self.options.get('members')}"),
            (
                self.options.get("member") is None or 1 <= self.options["member"] <= self.options.get("members", 1),
                f"member must be between 1 and {self.options.get('members', 1)}, got {self.options.get('member')}",
            ),
            (
                self.batch_size <= self.train_size,
                f"batch size {self.batch_size} exceeds the training-set size {self.train_size}",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise RecipeError(message)

    def replace(self, **overrides):
        """A copy with `overrides` applied (`None` values are ignored), checked again.

        A name that is not a field but one of the recipe's `options` (an
        ensemble's `members`, say) overrides that option.
        """
        overrides = {k: v for k, v in overrides.items() if v is not None}
        fields = {f.name for f in dataclasses.fields(self)}
        options = {k: overrides.pop(k) for k in list(overrides) if k not in fields and k in self.options}
        unknown = set(overrides) - fields
        if unknown:
            own = f"; its own options: {', '.join(sorted(self.options))}" if self.options else ""
            ensemble = " (only ensembles, such as ch6-ensemble, have members)" if unknown & {"members", "member"} else ""
            raise RecipeError(f"unknown hyperparameter(s): {', '.join(sorted(unknown))}{ensemble}{own}")
        if options:
            overrides["options"] = {**self.options, **overrides.get("options", {}), **options}
        return dataclasses.replace(self, **overrides)

    def to_dict(self):
        return {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}


def _jsonable(value):
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    return value


@dataclasses.dataclass(frozen=True)
class Recipe:
    """One of the book's models: what it is, its settings, its result and how to build it.

    Args:
        name: the name on the command line (`"ch1-sgd"`).
        chapter: the book's chapter.
        description: one line.
        hparams: the book's `Hyperparameters`.
        book: the book's reported `BookResult`.
        build: `build(hparams) -> keras.Model`, compiled for mini-batch SGD.
            `None` for a `baseline` recipe.
        baseline: for models the book does not train by SGD (average darkness,
            the SVM): `baseline(x, y, hparams) -> predict`, where
            `predict(x)` returns digit labels.
        callbacks: `callbacks(hparams, data) -> [keras.callbacks.Callback]`,
            the recipe's own measurements (a `GradientNormMonitor`, say).
        report: `report(output_dir, callbacks, metrics) -> dict`, called after
            training to write the recipe's own files (its book-style figure);
            the dict it returns is added to `metrics.json`.
        monitor: what to measure after each epoch (see
            `nndl_keras.training.loop.MEASURES`).
        xla: whether the fused engine compiles each epoch with XLA (faster for
            the book's dense nets) or runs it as a TensorFlow graph (for layers
            XLA cannot compile, such as `RandomRotation`, and for conv nets,
            which oneDNN runs faster on a CPU).
        experiment: for recipes that are more than one training (several
            configurations, a check of backpropagation, a network built by
            hand): `experiment(session) -> dict`, where `session.train(hp)`
            trains one configuration; the dict goes into `metrics.json`
            (`history` and `measured_accuracy` as for a plain recipe), but
            for `histories`, `{label: history}` of several nets trained alike
            (an ensemble's members), which the learning curve draws a line each.
        expanded: train on the book's expanded set (250,000 images, chapter 6).
        reshuffle: reshuffle the training data every epoch, as network.py and
            network2.py do; network3 (chapter 6) keeps one order.
        requires: optional packages the recipe needs, as (module, "what: how
            to install") pairs: without them `run` refuses it in one line and
            `reproduce` skips it with a row that says so.
        headline: `headline(metrics) -> str`, for a recipe that measures
            something other than an accuracy: its result in one line, from its
            record, for the run's last line and the results table.
        runs: how many runs `run` trains by default (seeds `seed`, `seed + 1`, ...,
            keeping the best by validation accuracy); `None`: as many as the book
            took the best of (`book.runs`).
    """

    name: str
    chapter: int
    description: str
    hparams: Hyperparameters
    book: BookResult
    build: Optional[Callable] = None
    baseline: Optional[Callable] = None
    callbacks: Optional[Callable] = None
    report: Optional[Callable] = None
    monitor: tuple = ("validation_accuracy", "test_accuracy")
    xla: bool = True
    experiment: Optional[Callable] = None
    expanded: bool = False
    reshuffle: bool = True
    requires: tuple = ()
    headline: Optional[Callable] = None
    runs: Optional[int] = None

    def __post_init__(self):
        if self.build is None and self.baseline is None and self.experiment is None:
            raise ValueError(f"recipe {self.name!r} needs build=, baseline= or experiment=")
        if self.build is not None and self.baseline is not None:
            raise ValueError(f"recipe {self.name!r} cannot have both build= and baseline=")

    def create_model(self, **overrides):
        """The recipe's compiled Keras model, with hyperparameter overrides."""
        if self.build is None:
            raise RecipeError(f"{self.name} is a baseline, not a Keras model")
        return self.build(self.hparams.replace(**overrides))

    def missing(self):
        """What `requires` names that is not installed: one "what: how to install" each."""
        import importlib.util

        return [how for module, how in self.requires if importlib.util.find_spec(module) is None]
