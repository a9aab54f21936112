"""Adversarial examples (chapter 6, "Recent progress in image recognition", citing Szegedy et al. 2013).

A trained net misclassifies images changed by amounts a person cannot see. Two
attacks on any compiled Keras classifier, by the gradient of its own compiled
cost C with respect to the input image x (the image the book's backpropagation
never moves; here it is the variable):

- the fast gradient sign method (Goodfellow, Shlens and Szegedy 2014): one step
  of size ε in every pixel, in the direction that raises the cost,
  x' = clip(x + ε·sign(∇x C), 0, 1);
- the basic iterative method (Kurakin, Goodfellow and Bengio 2016): `steps`
  such steps of size α, each projected back onto the ε-ball around x (no pixel
  moves by more than ε) and onto [0, 1].

ε is in pixel units: the images are in [0, 1], so ε = 1/255 is one grey level
of the original 8-bit MNIST. TensorFlow and JAX (the gradient is
`callbacks._loss_gradients`'s, shared with `GradientNormMonitor`).

Example:

>>> import keras, numpy as np
>>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
>>> model.compile(loss="sparse_categorical_crossentropy")
>>> x, y = np.full((3, 4), 0.5, "float32"), np.array([0, 1, 0])
>>> moved = fast_gradient_sign(model, x, y, epsilon=0.1)
>>> bool(np.abs(moved - x).max() <= 0.1 + 1e-6 and moved.min() >= 0 and moved.max() <= 1)
True
"""

import numpy as np
from keras import ops

from nndl_keras.callbacks._loss_gradients import loss_gradient_fn

BATCH = 500
GREY_LEVEL = 1 / 255


def fast_gradient_sign(model, x, y, epsilon, batch_size=BATCH):
    """The fast gradient sign method: x' = clip(x + ε·sign(∇x C(x, y)), 0, 1).

    Args:
        model: a compiled Keras classifier (its compiled loss is C).
        x: images in [0, 1], shaped as the model's input.
        y: the true labels (as the model's loss takes them).
        epsilon: ε ≥ 0 in pixel units, one for all images or one per image.
        batch_size: images per gradient computation.

    Returns:
        The perturbed images, a float32 NumPy array shaped like `x`.
    """
    gradient = _input_gradient(model)

    def attack(xb, yb, eb):
        return ops.clip(xb + eb * ops.sign(gradient(xb, yb)), 0.0, 1.0)

    return _in_batches(attack, x, y, epsilon, batch_size)


def basic_iterative(model, x, y, epsilon, steps=10, step_size=None, batch_size=BATCH):
    """The basic iterative method: `steps` sign-gradient steps of size α, kept within ε of x and in [0, 1].

    Args:
        model: a compiled Keras classifier (its compiled loss is C).
        x: images in [0, 1], shaped as the model's input.
        y: the true labels.
        epsilon: ε ≥ 0 in pixel units, one for all images or one per image.
        steps: how many steps.
        step_size: α in pixel units; default 2.5·ε/steps (ε/4 for 10 steps), so
            that the steps can reach the ε-ball's surface and move along it.
        batch_size: images per gradient computation.

    Returns:
        The perturbed images, a float32 NumPy array shaped like `x`.

    Example:

    >>> import keras, numpy as np
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    >>> model.compile(loss="sparse_categorical_crossentropy")
    >>> x = np.full((2, 4), 0.5, "float32")
    >>> float(np.abs(basic_iterative(model, x, np.array([0, 1]), 0.05) - x).max()) <= 0.05 + 1e-6
    True
    """
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    gradient = _input_gradient(model)

    def attack(xb, yb, eb):
        alpha = 2.5 * eb / steps if step_size is None else step_size
        moved = xb
        for _ in range(steps):
            moved = moved + alpha * ops.sign(gradient(moved, yb))
            moved = ops.clip(ops.clip(moved, xb - eb, xb + eb), 0.0, 1.0)
        return moved

    return _in_batches(attack, x, y, epsilon, batch_size)


def smallest_flipping_epsilon(model, x, y, attack=fast_gradient_sign, max_epsilon=1.0, resolution=GREY_LEVEL, **kwargs):
    """For each image, the smallest ε (in steps of `resolution`) at which `attack` changes the net's answer.

    Bisection over the multiples of `resolution` up to `max_epsilon`, all images
    at once: the result ε is one at which the attacked image is classified
    other than `y` while at ε − `resolution` it is not. For an attack whose
    success grows with ε that is the smallest such ε; where it does not
    everywhere (the fast gradient sign method's single step can overshoot),
    bisection finds a boundary, not always the first.

    Args:
        model: a compiled Keras classifier.
        x: images in [0, 1], shaped as the model's input.
        y: the true labels (integers).
        attack: `attack(model, x, y, epsilon, **kwargs)`, such as
            `fast_gradient_sign` or `basic_iterative`.
        max_epsilon: the largest ε tried.
        resolution: the step of the search (default: one grey level, 1/255).
        **kwargs: passed to `attack`.

    Returns:
        A float NumPy array, one ε per image: 0 where the net is already wrong,
        `inf` where even `max_epsilon` does not change its answer.

    Example:

    >>> import keras, numpy as np
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    >>> model.compile(loss="sparse_categorical_crossentropy")
    >>> eps = smallest_flipping_epsilon(model, np.full((2, 4), 0.5, "float32"), np.array([0, 1]))
    >>> eps.shape
    (2,)
    """
    y = np.asarray(y)
    top = int(round(max_epsilon / resolution))

    def flips(rows, levels):
        if not len(rows):
            return np.zeros(0, dtype=bool)
        moved = attack(model, x[rows], y[rows], levels * resolution, **kwargs)
        return predicted_labels(model, moved) != y[rows]

    low = np.zeros(len(y), dtype=np.int64)  # the answer is right at `low` levels ...
    high = np.full(len(y), top, dtype=np.int64)  # ... and wrong at `high`
    wrong = predicted_labels(model, x) != y
    everywhere = np.flatnonzero(~wrong)
    holds = flips(everywhere, high[everywhere])
    searching = everywhere[holds]
    while len(searching := searching[high[searching] - low[searching] > 1]):
        middle = (low[searching] + high[searching]) // 2
        flipped = flips(searching, middle)
        high[searching[flipped]] = middle[flipped]
        low[searching[~flipped]] = middle[~flipped]
    epsilon = high * resolution
    epsilon[wrong] = 0.0
    epsilon[everywhere[~holds]] = np.inf
    return epsilon


def accuracy_against_epsilon(model, x, y, epsilons, attack=fast_gradient_sign, batch_size=BATCH, **kwargs):
    """The net's accuracy on the images `x` attacked at each ε of `epsilons` (the curve of accuracy against ε).

    Args:
        model: a compiled Keras classifier.
        x: images in [0, 1], shaped as the model's input.
        y: the true labels (integers).
        epsilons: the values of ε, in pixel units.
        attack: `fast_gradient_sign` (its gradient is computed once for every
            ε: the direction of its step does not depend on ε) or any
            `attack(model, x, y, epsilon, **kwargs)`.
        batch_size: images per gradient computation.
        **kwargs: passed to `attack`.

    Returns:
        A list of fractions, one per ε.

    Example:

    >>> import keras, numpy as np
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    >>> model.compile(loss="sparse_categorical_crossentropy")
    >>> len(accuracy_against_epsilon(model, np.full((3, 4), 0.5, "float32"), np.array([0, 1, 0]), [0.0, 0.1]))
    2
    """
    y = np.asarray(y)

    def accuracy(images):
        return float(np.mean(predicted_labels(model, images, batch_size) == y))

    if attack is fast_gradient_sign and not kwargs:
        _check_epsilon(epsilons)
        gradient = _input_gradient(model)
        signs = _in_batches(lambda xb, yb, eb: ops.sign(gradient(xb, yb)), x, y, 0.0, batch_size)
        x = np.asarray(x, dtype="float32")
        # The same float32 arithmetic as fast_gradient_sign's, one ε at a time.
        return [accuracy(np.clip(x + np.float32(e) * signs, 0.0, 1.0)) for e in epsilons]
    return [accuracy(attack(model, x, y, e, batch_size=batch_size, **kwargs)) for e in epsilons]


def predicted_labels(model, x, batch_size=BATCH):
    """The digit the net answers for each image (the argmax of its outputs)."""
    return np.asarray(model.predict(x, batch_size=batch_size, verbose=0)).argmax(axis=-1)


def _input_gradient(model):
    # One compiled function per model, reused by every call (a new one would be traced again).
    cached = model.__dict__.get("_nndl_input_gradient")
    if cached is None:
        cached = loss_gradient_fn(model, wrt="inputs")
        model.__dict__["_nndl_input_gradient"] = cached
    return cached


def _in_batches(attack, x, y, epsilon, batch_size):
    """`attack(x, y, ε)` over batches, ε broadcast to one per image (shaped to multiply an image)."""
    x, y = np.asarray(x, dtype="float32"), np.asarray(y)
    epsilon = np.broadcast_to(_check_epsilon(epsilon), (len(x),))
    epsilon = epsilon.reshape((len(x),) + (1,) * (x.ndim - 1))
    out = np.empty_like(x)
    for start in range(0, len(x), batch_size):
        part = slice(start, start + batch_size)
        out[part] = ops.convert_to_numpy(attack(ops.convert_to_tensor(x[part]), y[part], ops.convert_to_tensor(epsilon[part])))
    return out


def _check_epsilon(epsilon):
    epsilon = np.asarray(epsilon, dtype="float32")
    if not np.all(np.isfinite(epsilon)) or np.any(epsilon < 0):
        raise ValueError(f"epsilon must be zero or positive and finite, got {epsilon.tolist()}")
    return epsilon
