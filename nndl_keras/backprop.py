"""The four equations of backpropagation (chapter 2), in matrix form over a mini-batch, in NumPy.

For a stack of fully connected sigmoid layers with weighted inputs
z^l = a^{l-1} W^l + b^l and activations a^l = σ(z^l) (rows are examples, as in
Keras, so W^l is the Keras kernel of shape (n_in, n_out)):

- BP1  δ^L = ∇_a C ⊙ σ′(z^L); for the cross-entropy cost σ′ cancels: δ^L = a^L − y
- BP2  δ^l = (δ^{l+1} (W^{l+1})ᵀ) ⊙ σ′(z^l)
- BP3  ∂C/∂b^l = δ^l
- BP4  ∂C/∂W^l = (a^{l-1})ᵀ δ^l

Gradients are averaged over the mini-batch, as Keras averages the cost. This is
the reference the runner's SGD is checked against and timed beside.
"""

import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def one_hot(labels, classes=10):
    """The book's `vectorized_result` for a vector of labels."""
    return np.eye(classes)[np.asarray(labels)]


def dense_parameters(model):
    """The (kernel, bias) pairs of a Keras model's Dense layers, as float64 arrays."""
    pairs = []
    for layer in model.layers:
        if len(layer.weights) == 2 and len(layer.weights[0].shape) == 2:
            kernel, bias = (np.asarray(w, dtype=np.float64) for w in layer.get_weights())
            pairs.append((kernel, bias))
    return pairs


def backprop(params, x, y, cost="quadratic"):
    """Mean gradients of the cost over the mini-batch `(x, y)`.

    Args:
        params: list of `(W, b)` per layer, `W` of shape (n_in, n_out).
        x: inputs, shape (m, n_0).
        y: targets, one-hot of shape (m, n_L) or integer labels.
        cost: `"quadratic"` (C = ½‖y − a‖²) or `"cross_entropy"`.

    Returns:
        A list of `(∂C/∂W, ∂C/∂b)` matching `params`.
    """
    y = one_hot(y, params[-1][0].shape[1]) if np.ndim(y) == 1 else y
    activations = [x]
    for w, b in params:  # the forward pass keeps every a^l
        activations.append(sigmoid(activations[-1] @ w + b))
    a = activations[-1]
    if cost == "quadratic":
        delta = (a - y) * a * (1 - a)  # BP1, σ′(z) = a(1 − a)
    elif cost == "cross_entropy":
        delta = a - y  # BP1 with the cross-entropy cost
    else:
        raise ValueError(f"unknown cost {cost!r}")
    m = len(x)
    grads = [None] * len(params)
    for l in range(len(params) - 1, -1, -1):
        grads[l] = (activations[l].T @ delta / m, delta.mean(axis=0))  # BP4, BP3
        if l:
            a_prev = activations[l]
            delta = (delta @ params[l][0].T) * a_prev * (1 - a_prev)  # BP2
    return grads


def sgd_epoch(params, x, y, order, eta, batch_size, cost="quadratic", lmbda=0.0):
    """One epoch of the book's mini-batch SGD, in place, over `x[order]`.

    network2's update with L2: w ← (1 − ηλ/n) w − (η/m) Σ∇C_x; biases are not decayed.
    """
    n = len(x)
    for start in range(0, n, batch_size):
        batch = order[start : start + batch_size]
        grads = backprop(params, x[batch], y[batch], cost)
        for (w, b), (gw, gb) in zip(params, grads):
            w *= 1.0 - eta * lmbda / n
            w -= eta * gw
            b -= eta * gb
    return params
