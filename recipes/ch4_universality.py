"""Chapter 4: a visual proof that neural nets can compute any function, built by hand."""

import keras
import numpy as np

from nndl_keras import plots
from nndl_keras.layers import StepPair
from nndl_keras.losses import QuadraticCost
from nndl_keras.recipes import BookResult, Hyperparameters, Recipe, register

STEEPNESS = 1000.0  # "a large constant, say w = 1000"
BUMPS = (5, 10, 20, 50, 100, 200)
GRID = np.linspace(0.0, 1.0, 10_001)


def f(x):
    """The book's example function, equation (113)."""
    return 0.2 + 0.4 * x**2 + 0.3 * x * np.sin(15 * x) + 0.05 * np.cos(50 * x)


def logit(y):
    return np.log(y / (1 - y))


def hand_built(bumps):
    """One hidden layer of 2·bumps sigmoid neurons, weights set by hand.

    Each pair of hidden neurons (weight w, biases −w·s1 and −w·s2) is a step up
    at s1 and down at s2; output weights ±h make it a bump of height h. With
    h = σ⁻¹(f(midpoint)) the hidden layer outputs σ⁻¹∘f, and the sigmoid output
    neuron (bias 0) gives f back.
    """
    edges = np.linspace(0.0, 1.0, bumps + 1)
    edges[0], edges[-1] = -0.01, 1.01  # cover the ends of [0, 1] fully
    x = keras.Input((1,))
    pairs = StepPair(bumps, steepness=STEEPNESS, name="bumps")
    output = keras.layers.Dense(1, activation="sigmoid", name="output")
    model = keras.Model(x, output(pairs(x)))
    midpoints = (np.linspace(0.0, 1.0, bumps + 1)[:-1] + np.linspace(0.0, 1.0, bumps + 1)[1:]) / 2
    pairs.set_weights([edges[:-1], edges[1:], logit(f(midpoints))])
    output.set_weights([np.ones((bumps, 1)), np.zeros(1)])
    return model


def errors(model):
    approximation = np.asarray(model(GRID[:, None]))[:, 0]
    gap = np.abs(approximation - f(GRID))
    return approximation, float(gap.mean()), float(gap.max())


RANDOM_STEEPNESS = 40.0
# Linear neurons are not universal (chapter 4, the problem in "Extension beyond
# sigmoid neurons"): the same net with identity activations is an affine
# function, no better than the best straight line (mean error 0.115 on f). Its
# mean error is more than LINEAR_FACTOR times the sigmoid net's: 4.6x measured
# after 50 epochs, 17.5x after the recipe's 300 (docs/results/ch4-universality).
LINEAR_FACTOR = 3


def trained(bumps, seed, epochs, activation="sigmoid"):
    """The same architecture (2·bumps hidden neurons) learned from random weights.

    The hidden weights start as random steep steps (N(0, 40²), steps spread over
    [0, 1] by the biases), the chapter's picture, and Adam fits them to 1,000
    samples of f; Keras's default initialisation leaves the sigmoids nearly
    linear on [0, 1] and learns the wiggles far more slowly.

    With `activation="linear"` every neuron, hidden and output, is the identity:
    the net is then an affine function of x, whatever its width (chapter 4's
    remark that linear neurons cannot compute any function), trained the same way.
    """
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((1,)),
        keras.layers.Dense(
            2 * bumps,
            activation=activation,
            kernel_initializer=keras.initializers.RandomNormal(stddev=RANDOM_STEEPNESS),
            bias_initializer=keras.initializers.RandomUniform(-0.8 * RANDOM_STEEPNESS, 0.0),
        ),
        keras.layers.Dense(1, activation=activation),
    ])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=QuadraticCost())
    x = training_inputs(seed)
    model.fit(x, f(x), batch_size=100, epochs=epochs, verbose=0)
    return model


def training_inputs(seed):
    """The 1,000 points of [0, 1] both trained nets fit."""
    return np.random.default_rng(seed).random((1000, 1))


def best_line(seed):
    """The least-squares straight line through the training points, on GRID: the
    best any linear net can do under the quadratic cost."""
    x = training_inputs(seed)[:, 0]
    return np.polyval(np.polyfit(x, f(x), 1), GRID)


def towers(cells=20, height=1000.0):
    """The two-input construction: step pairs in x and in y, a tower neuron per cell.

    The first hidden layer holds steps at the cell edges in x and in y; a second
    hidden neuron per cell adds its x-bump and y-bump with weight `height` and
    bias −1.5·height, so it fires only where both bumps are up: a tower. The
    output weights are the target's values at the cell centres.
    """
    edges = np.linspace(0.0, 1.0, cells + 1)
    centres = (edges[:-1] + edges[1:]) / 2
    xy = keras.Input((2,))
    steps = keras.layers.Dense(2 * (cells + 1), activation="sigmoid", name="steps")
    tower = keras.layers.Dense(cells * cells, activation="sigmoid", name="towers")
    output = keras.layers.Dense(1, name="output")
    model = keras.Model(xy, output(tower(steps(xy))))
    kernel = np.zeros((2, 2 * (cells + 1)))
    kernel[0, : cells + 1] = STEEPNESS  # x steps, then y steps
    kernel[1, cells + 1 :] = STEEPNESS
    steps.set_weights([kernel, -STEEPNESS * np.concatenate([edges, edges])])
    combine = np.zeros((2 * (cells + 1), cells * cells))
    for i in range(cells):
        for j in range(cells):
            k = i * cells + j
            combine[i, k], combine[i + 1, k] = height, -height  # x-bump of cell i
            combine[cells + 1 + j, k], combine[cells + 2 + j, k] = height, -height  # y-bump of cell j
    tower.set_weights([combine, np.full(cells * cells, -1.5 * height)])
    target = np.outer(f(centres), f(centres)).reshape(-1, 1)
    output.set_weights([target, np.zeros(1)])
    return model


def universality(session):
    hp = session.hp
    table = {}
    for bumps in BUMPS:
        _, mean, worst = errors(hand_built(bumps))
        table[bumps] = {"mean_abs_error": mean, "max_abs_error": worst}
        session.say(f"  {bumps:>4} bumps: mean |error| {mean:.4f}, max {worst:.4f}")
    reference = hp.options["bumps"]
    hand, _, _ = errors(hand_built(reference))
    learned, learned_mean, learned_max = errors(trained(reference, session.seed, hp.epochs))
    session.say(f"  trained from random weights ({hp.epochs} epochs): mean |error| {learned_mean:.4f}, max {learned_max:.4f}")
    straight, linear = linear_net(session, reference, learned_mean)

    out = session.output_dir
    plots.panels(out / "universality.png", f"f(x) by hand with {reference} bumps, and learned", [
        {"title": "the function", "xlabel": "x", "ylabel": "f(x)",
         "ours": {"target f": (GRID, f(GRID)), f"hand-built, {reference} bumps": (GRID, hand), "trained": (GRID, learned)}},
        {"title": "error against bumps", "xlabel": "bumps", "ylabel": "|error|", "logx": True,
         "ours": {"mean": (BUMPS, [table[b]["mean_abs_error"] for b in BUMPS]),
                  "max": (BUMPS, [table[b]["max_abs_error"] for b in BUMPS])}},
        {"title": f"{2 * reference} hidden neurons, trained: sigmoid against linear", "xlabel": "x", "ylabel": "f(x)",
         "ours": {"target f": (GRID, f(GRID)), f"sigmoid (mean |error| {learned_mean:.4f})": (GRID, learned),
                  f"linear (mean |error| {linear['mean_abs_error']:.3f})": (GRID, straight),
                  f"best straight line ({linear['best_line_mean_abs_error']:.3f})": (GRID, best_line(session.seed))}},
    ])
    grid = np.linspace(0, 1, 201)
    xx, yy = np.meshgrid(grid, grid, indexing="ij")
    surface = np.asarray(towers().predict(np.stack([xx.ravel(), yy.ravel()], 1), batch_size=50_000, verbose=0))
    plots.surfaces(out / "towers.png", "Two inputs: a tower per cell (20 x 20)", {
        "target f(x)·f(y)": np.outer(f(grid), f(grid)),
        "towers": surface.reshape(xx.shape),
    })
    return {
        "errors_by_bumps": {str(b): v for b, v in table.items()},
        "trained": {"bumps": reference, "epochs": hp.epochs, "mean_abs_error": learned_mean, "max_abs_error": learned_max},
        "linear": linear,
        "hand_built_mean_abs_error_at_100": table[100]["mean_abs_error"],
    }


def linear_net(session, bumps, sigmoid_mean):
    """The trained net again with linear neurons, against the sigmoid one and the
    best straight line: its curve on GRID, and its numbers for metrics.json."""
    curve, mean, worst = errors(trained(bumps, session.seed, session.hp.epochs, activation="linear"))
    line_mean = float(np.mean(np.abs(best_line(session.seed) - f(GRID))))
    slope, intercept = np.polyfit(GRID, curve, 1)
    session.say(
        f"  the same net with linear neurons: mean |error| {mean:.4f} ({mean / sigmoid_mean:.1f}x the sigmoid net's; "
        f"claimed: over {LINEAR_FACTOR}x), max {worst:.4f}; the best straight line: {line_mean:.4f}"
    )
    return curve, {
        "activation": "linear",
        "epochs": session.hp.epochs,
        "mean_abs_error": mean,
        "max_abs_error": worst,
        "over_sigmoid": mean / sigmoid_mean,
        "claimed_factor": LINEAR_FACTOR,
        "best_line_mean_abs_error": line_mean,
        # An affine function: its largest distance from a straight line is rounding.
        "deviation_from_a_line": float(np.max(np.abs(curve - (slope * GRID + intercept)))),
    }


def errors_headline(metrics):
    """The hand-built bumps' error, and the linear net's against the sigmoid net's."""
    bumps = metrics["errors_by_bumps"]
    built = ", ".join(f"{bumps[n]['mean_abs_error']:.2g} ({n} bumps)" for n in ("10", "100", "200") if n in bumps)
    linear = metrics["linear"]
    return (f"mean error of the hand-built net {built}; trained with linear neurons {linear['mean_abs_error']:.3f}, "
            f"{linear['over_sigmoid']:.1f}x the sigmoid net's")


register(
    Recipe(
        name="ch4-universality",
        chapter=4,
        description="f(x) = 0.2 + 0.4x^2 + 0.3x sin(15x) + 0.05 cos(50x) from hand-set bumps (w = 1000), towers, and a linear net",
        hparams=Hyperparameters(layers=(1, 200, 1), epochs=300, batch_size=100, train_size=1000, options={"bumps": 100}),
        book=BookResult(None, split="test", at="final", source="ch4 (built by hand, not trained)"),
        experiment=universality,
        headline=errors_headline,
    )
)
