"""Chapter 5: deeper sigmoid nets barely beat one hidden layer, because they learn unevenly."""

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

# Hidden layers -> the book's validation accuracy.
BOOK = {1: 0.9648, 2: 0.9690, 3: 0.9657, 4: 0.9653}


def monitor(hp, data):
    probe = data.training.take(PROBE_SIZE)
    return [GradientNormMonitor((probe.x, probe.y))]


def write_norms(out, callbacks, metrics, reference=None, title=None):
    """Writes the monitor's table (JSON, CSV) and its log-scale plot; returns summary numbers."""
    # The recipe's own monitor: its callbacks come before any the user passes (who may pass one too).
    norms = next(c for c in callbacks if isinstance(c, GradientNormMonitor))
    norms.save_json(out / "gradient_norms.json")
    norms.save_csv(out / "gradient_norms.csv")
    norms.plot(out / "gradient_norms.png", reference=reference, title=title)
    hidden = [k for k in norms.keys() if k.endswith("/bias") and "/hidden_" in k]
    return {
        "initial_bias_norms": [norms.table[0][k] for k in hidden],
        "final_bias_norms": [norms.table[-1][k] for k in hidden],
    }


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
            report=write_norms,
        )
    )
