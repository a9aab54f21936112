"""Chapter 2: the four equations of backpropagation, checked against autodiff and finite
differences, and timed against finite differences ("Why backpropagation is fast")."""

import time

import keras
import numpy as np

from nndl_keras import backprop, plots
from nndl_keras.timing import median_seconds
from nndl_keras.models import feedforward
from nndl_keras.recipes import BookResult, Hyperparameters, Recipe, register
from nndl_keras.callbacks._loss_gradients import loss_gradient_fn

# Two hidden layers, so that BP2 carries the error back through more than one layer.
SETUP = Hyperparameters(layers=(784, 30, 30, 10), cost="quadratic", init="large", eta=3.0, batch_size=10, epochs=1)
# A step of 1e-4 balances the central difference's truncation error (~step²)
# against its rounding error (~1e-16 / step); it gave the smallest errors here.
FD_STEP = 1e-4

# "Why backpropagation is fast" (chapter 2): a gradient by finite differences,
# eq. (46), costs a forward pass per weight, "a million forward passes" for a
# million weights, where backpropagation costs "roughly the same as making
# just two forward passes". Timed on the chapter-1 net, [784, 30, 10]: 10,114x
# by eq. (46), 20,007x by central differences (docs/results/ch2-backprop).
TIMED_LAYERS = (784, 30, 10)
BOOK_WEIGHTS = 1_000_000
BOOK_BACKPROP_PASSES = 2
FD_SAMPLE = 1_000  # single-weight finite differences timed; the other weights extrapolated
REPEATS = 200  # backpropagations and forward passes timed (their medians)


def relative_error(a, b):
    """Largest element-wise |a − b| / max(|a|, |b|), over the elements that matter.

    Elements below 1/10,000 of the tensor's largest are measured against that
    instead: a central difference cannot resolve them (its absolute error is
    about 1e-12 here), and they hardly move the weights.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    floor = max(1e-4 * float(np.max(np.abs(a))), np.finfo(np.float64).tiny)
    return float(np.max(np.abs(a - b) / np.maximum(np.maximum(np.abs(a), np.abs(b)), floor)))


def float64_copy(model):
    """The same Keras model computing in float64, with the same weights."""

    def clone(layer):
        return layer.__class__.from_config({**layer.get_config(), "dtype": "float64"})

    copy = keras.models.clone_model(model, clone_function=clone)
    copy.set_weights([np.asarray(w, np.float64) for w in model.get_weights()])
    copy.compile(loss=type(model.loss).from_config({**model.loss.get_config(), "dtype": "float64"}))
    return copy


def cost(params, x, y):
    a = x
    for w, b in params:
        a = backprop.sigmoid(a @ w + b)
    return 0.5 * np.sum((a - y) ** 2) / len(x)


def finite_differences(params, x, y):
    targets = backprop.one_hot(y)
    grads = []
    for w, b in params:
        pair = []
        for array in (w, b):
            g = np.zeros_like(array)
            flat, out = array.reshape(-1), g.reshape(-1)
            for i in range(flat.size):  # every weight and bias: two forward passes each
                saved = flat[i]
                flat[i] = saved + FD_STEP
                up = cost(params, x, targets)
                flat[i] = saved - FD_STEP
                down = cost(params, x, targets)
                flat[i] = saved
                out[i] = (up - down) / (2 * FD_STEP)
            pair.append(g)
        grads.append(tuple(pair))
    return grads


def timed(fn):
    tick = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - tick


def single_weight(params, location, x, targets, base=None):
    """∂C/∂w for one weight or bias: eq. (46) with C(w) = `base` given (one
    forward pass), else a central difference (two)."""
    layer, which, index = location
    flat = params[layer][which].reshape(-1)
    saved = flat[index]
    flat[index] = saved + FD_STEP
    up = cost(params, x, targets)
    if base is None:
        flat[index] = saved - FD_STEP
        down = cost(params, x, targets)
        flat[index] = saved
        return (up - down) / (2 * FD_STEP)
    flat[index] = saved
    return (up - base) / FD_STEP


def locations(params):
    """(layer, 0 for W or 1 for b, flat index) of every weight and bias, in order."""
    return [(l, k, i) for l, pair in enumerate(params) for k, array in enumerate(pair) for i in range(array.size)]


def time_finite_differences(params, sample, x, targets, gradient, base=None):
    """The median seconds of one single-weight difference over `sample`, and the
    largest error of those differences relative to the gradient's largest element."""
    times, errors = [], []
    scale = max(float(np.max(np.abs(g))) for pair in gradient for g in pair)
    for layer, which, index in sample:
        tick = time.perf_counter()
        value = single_weight(params, (layer, which, index), x, targets, base)
        times.append(time.perf_counter() - tick)
        exact = gradient[layer][which].reshape(-1)[index]
        errors.append(abs(value - exact) / scale)
    return float(np.median(times)), float(max(errors))


def time_gradients(session):
    """The full gradient of [784, 30, 10] on one mini-batch, by BP1-BP4 and by
    finite differences over every weight, extrapolated from `FD_SAMPLE` of them."""
    keras.utils.set_random_seed(session.seed)
    params = backprop.dense_parameters(session.recipe.build(session.hp.replace(layers=TIMED_LAYERS)))
    batch = session.data.training.take(session.hp.batch_size)
    x, targets = batch.x.astype(np.float64), backprop.one_hot(batch.y)
    everything = locations(params)
    picked = np.random.default_rng(session.seed).choice(len(everything), FD_SAMPLE, replace=False)
    sample = [everything[i] for i in picked]

    gradient = backprop.backprop(params, x, targets)
    bp_seconds = median_seconds(lambda: backprop.backprop(params, x, targets), REPEATS)
    pass_seconds = median_seconds(lambda: cost(params, x, targets), REPEATS)
    base = cost(params, x, targets)
    weights = len(everything)
    methods = {}
    for name, passes, given in (("forward", weights + 1, base), ("central", 2 * weights, None)):
        per_weight, error = time_finite_differences(params, sample, x, targets, gradient, given)
        # Eq. (46) needs C(w) once more, one forward pass; a central difference does not.
        extrapolated = weights * per_weight + (pass_seconds if given is not None else 0.0)
        methods[name] = {
            "forward_passes": passes,
            "seconds_per_weight": per_weight,
            "extrapolated_seconds": extrapolated,
            "ratio_to_backprop": extrapolated / bp_seconds,
            "sample_error": error,
        }
    return {
        "layers": list(TIMED_LAYERS),
        "weights": weights,
        "minibatch": len(x),
        "dtype": "float64",
        "timing": "median wall time of each call, NumPy on one CPU process",
        "sample": FD_SAMPLE,
        "extrapolated": f"from {FD_SAMPLE:,} single-weight differences to all {weights:,} weights and biases",
        "backprop_seconds": bp_seconds,
        "forward_pass_seconds": pass_seconds,
        "backprop_in_forward_passes": bp_seconds / pass_seconds,
        "finite_differences": methods,
        "book": {
            "weights": BOOK_WEIGHTS,
            "forward_passes": BOOK_WEIGHTS + 1,
            "backprop_in_forward_passes": BOOK_BACKPROP_PASSES,
            "ratio": (BOOK_WEIGHTS + 1) / BOOK_BACKPROP_PASSES,
            "ratio_at_these_weights": (weights + 1) / BOOK_BACKPROP_PASSES,
        },
    }


def report_speed(session, speed):
    forward, central = speed["finite_differences"]["forward"], speed["finite_differences"]["central"]
    session.say(
        f"  gradient of {speed['layers']} ({speed['weights']:,} weights and biases, {speed['minibatch']} images): "
        f"backprop {1e6 * speed['backprop_seconds']:.0f} us = {speed['backprop_in_forward_passes']:.1f} forward passes (book: about 2)"
    )
    session.say(
        f"  finite differences, {speed['extrapolated']}: eq. (46) {forward['extrapolated_seconds']:.2f} s "
        f"({forward['ratio_to_backprop']:,.0f}x backprop), central {central['extrapolated_seconds']:.2f} s "
        f"({central['ratio_to_backprop']:,.0f}x); book: {speed['book']['ratio']:,.0f}x for a million weights"
    )
    plots.bars(
        session.output_dir / "backprop_speed.png",
        f"The gradient of {speed['layers']} on {speed['minibatch']} images ({speed['weights']:,} weights and biases)",
        {
            "backprop\n(BP1-BP4)": speed["backprop_seconds"],
            f"finite differences,\neq. (46), extrapolated\n{forward['ratio_to_backprop']:,.0f}x": forward["extrapolated_seconds"],
            f"central differences,\nextrapolated\n{central['ratio_to_backprop']:,.0f}x": central["extrapolated_seconds"],
        },
        ylabel="seconds (log scale)",
        note=f"finite differences extrapolated from {speed['sample']:,} weights; book: {speed['book']['ratio']:,.0f}x for a million weights",
    )


def backprop_experiment(session):
    checked = check_backprop(session)
    speed = time_gradients(session)
    report_speed(session, speed)
    return {**checked, "backprop_speed": speed}


def check_backprop(session):
    keras.utils.set_random_seed(session.seed)
    model = float64_copy(session.recipe.build(session.hp))
    params = backprop.dense_parameters(model)
    batch = session.data.training.take(session.hp.batch_size)
    x, y = batch.x.astype(np.float64), batch.y

    ours, bp_seconds = timed(lambda: backprop.backprop(params, x, y, cost="quadratic"))
    gradients = loss_gradient_fn(model)
    gradients(x, y)  # trace once; time the compiled call
    autodiff, ad_seconds = timed(lambda: [np.asarray(g) for g in gradients(x, y)])
    numeric, fd_seconds = timed(lambda: finite_differences(params, x, y))

    flat_ours = [g for pair in ours for g in pair]  # W1, b1, W2, b2, ... as Keras orders them
    flat_fd = [g for pair in numeric for g in pair]
    errors = {
        "max_relative_error_autodiff": max(relative_error(a, b) for a, b in zip(flat_ours, autodiff)),
        "max_relative_error_finite_differences": max(relative_error(a, b) for a, b in zip(flat_ours, flat_fd)),
    }
    session.say(
        f"  largest relative error: {errors['max_relative_error_autodiff']:.2e} against Keras autodiff, "
        f"{errors['max_relative_error_finite_differences']:.2e} against finite differences"
    )
    session.say(f"  per mini-batch: BP1-BP4 {1e3 * bp_seconds:.2f} ms, autodiff {1e3 * ad_seconds:.2f} ms, "
                f"finite differences {fd_seconds:.1f} s")
    return {
        **errors,
        "within_bounds": errors["max_relative_error_autodiff"] <= 1e-6
        and errors["max_relative_error_finite_differences"] <= 1e-4,
        "parameters": int(sum(g.size for g in flat_ours)),
        "seconds_per_minibatch": {"backprop": bp_seconds, "autodiff": ad_seconds, "finite_differences": fd_seconds},
        "dtype": "float64",
    }


def speed_headline(metrics):
    """Backpropagation checked against autodiff, and timed against finite differences."""
    speed = metrics["backprop_speed"]
    forward = speed["finite_differences"]["forward"]
    return (f"largest relative error {metrics['max_relative_error_autodiff']:.1e} against Keras autodiff; "
            f"the gradient of {speed['weights']:,} weights {forward['ratio_to_backprop']:,.0f}x faster than by "
            f"finite differences (eq. 46; the book's count for these weights: {speed['book']['ratio_at_these_weights']:,.0f}x)")


register(
    Recipe(
        name="ch2-backprop",
        chapter=2,
        description="BP1-BP4 in matrix form on real MNIST against Keras autodiff and finite differences, checked and timed",
        hparams=SETUP,
        book=BookResult(None, split="test", at="final", source="ch2 (no experiment)"),
        build=feedforward,
        experiment=backprop_experiment,
        headline=speed_headline,
    )
)
