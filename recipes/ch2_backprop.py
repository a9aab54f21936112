"""Chapter 2: the four equations of backpropagation, checked against autodiff and finite differences."""

import time

import keras
import numpy as np

from nndl_keras import backprop
from nndl_keras.models import feedforward
from nndl_keras.recipes import BookResult, Hyperparameters, Recipe, register
from nndl_keras.callbacks._loss_gradients import loss_gradient_fn

# Two hidden layers, so that BP2 carries the error back through more than one layer.
SETUP = Hyperparameters(layers=(784, 30, 30, 10), cost="quadratic", init="large", eta=3.0, batch_size=10, epochs=1)
# A step of 1e-4 balances the central difference's truncation error (~step²)
# against its rounding error (~1e-16 / step); it gave the smallest errors here.
FD_STEP = 1e-4


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


register(
    Recipe(
        name="ch2-backprop",
        chapter=2,
        description="BP1-BP4 in matrix form on real MNIST against Keras autodiff and central finite differences",
        hparams=SETUP,
        book=BookResult(None, split="test", at="final", source="ch2 (no experiment)"),
        build=feedforward,
        experiment=check_backprop,
    )
)
