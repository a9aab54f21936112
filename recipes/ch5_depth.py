"""Chapter 5: deeper sigmoid nets barely beat one hidden layer, because they learn unevenly."""

import keras

from nndl_keras import book, plots
from nndl_keras.callbacks import GradientNormMonitor
from nndl_keras.models import feedforward
from nndl_keras.recipes import BookResult, Hyperparameters, Recipe, register

# network2 defaults (cross-entropy, N(0, 1/n_in) weights), eta 0.1, lambda 5.0.
NETWORK2 = Hyperparameters(
    layers=(784, 30, 10),
    activation="sigmoid",
    cost="cross_entropy",
    init="default",
    eta=0.1,
    lmbda=5.0,
    batch_size=10,
    epochs=30,
    train_size=50_000,
)
PROBE_SIZE = 1_000  # the book averages dC/db over the first 1,000 training images
NEURONS_SHOWN = 6  # chapter 5's first figure: the first six neurons of each hidden layer

# Hidden layers -> the book's validation accuracy.
BOOK = {1: 0.9648, 2: 0.9690, 3: 0.9657, 4: 0.9653}


def monitor(hp, data):
    probe = data.training.take(PROBE_SIZE)
    norms = GradientNormMonitor((probe.x, probe.y))
    return [norms, _FirstDeltas(norms)]


class _FirstDeltas(keras.callbacks.Callback):
    """δ^l_j = ∂C/∂b^l_j (equation BP3) of each hidden layer's first six neurons before training,
    on the monitor's probe: the bars of chapter 5's first figure. Checkpointed (`get_state`),
    so that a resumed training reports its own initial net's."""

    def __init__(self, monitor):
        super().__init__()
        self.monitor, self.deltas = monitor, None

    def on_train_begin(self, logs=None):
        gradients = self.monitor.mean_gradients()
        self.deltas = [g[:NEURONS_SHOWN].tolist() for key, g in gradients.items() if _hidden_bias(key)]

    def get_state(self):
        return {"deltas": self.deltas}

    def set_state(self, state):
        self.deltas = state["deltas"]


def _hidden_bias(key):
    return key.endswith("/bias") and "/hidden_" in key


def write_norms(out, callbacks, metrics, reference=None, title=None):
    """Writes the monitor's table (JSON, CSV) and its log-scale plot; returns summary numbers."""
    # The recipe's own monitor: its callbacks come before any the user passes (who may pass one too).
    norms = next(c for c in callbacks if isinstance(c, GradientNormMonitor))
    norms.save_json(out / "gradient_norms.json")
    norms.save_csv(out / "gradient_norms.csv")
    norms.plot(out / "gradient_norms.png", reference=reference, title=title)
    hidden = [k for k in norms.keys() if _hidden_bias(k)]
    return {
        "initial_bias_norms": [norms.table[0][k] for k in hidden],
        "final_bias_norms": [norms.table[-1][k] for k in hidden],
    }


def depth_report(out, callbacks, metrics):
    """The monitor's norms, and chapter 5's first figure (the book gives its bars for two hidden layers)."""
    summary = write_norms(out, callbacks, metrics)
    (first,) = [c for c in callbacks if isinstance(c, _FirstDeltas)]
    theirs = book.figure("initial_gradient") if len(first.deltas) == 2 else None
    title = f"∂C/∂b of the first {NEURONS_SHOWN} neurons of each hidden layer, before training"
    plots.neuron_bars(out / "initial_deltas.png", title, first.deltas, theirs)
    return {**summary, "initial_deltas": first.deltas, **({"book_initial_deltas": theirs} if theirs else {})}


for hidden in (1, 2, 3, 4):
    register(
        Recipe(
            name=f"ch5-depth-{hidden}",
            chapter=5,
            description=f"[784, {', '.join(['30'] * hidden)}, 10] sigmoid net, cross-entropy, L2 (network2)",
            hparams=NETWORK2.replace(layers=(784, *[30] * hidden, 10)),
            book=BookResult(BOOK[hidden], split="validation", at="final", source=f"ch5-{hidden}h"),
            build=feedforward,
            callbacks=monitor,
            report=depth_report,
        )
    )
