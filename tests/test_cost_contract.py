"""The costs as Keras losses: label shapes, `reduction` and `sample_weight`.

Keras's sparse losses take integer labels shaped (N,) or (N, 1); the book's
costs take both too, with the same value, the book's formula. `reduction` and
`sample_weight` behave as for Keras's built-in losses. Written with keras.ops
only: `test_parts_backends.py` runs this file again under JAX.
"""

import keras
import numpy as np
import pytest

from nndl_keras import losses

N, CLASSES = 6, 10
RNG = np.random.default_rng(0)
LABELS = RNG.integers(0, CLASSES, size=N)
ONE_HOT = np.eye(CLASSES)[LABELS]
Z = RNG.normal(size=(N, CLASSES))
SIGMOID = 1 / (1 + np.exp(-Z))
SOFTMAX = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
WEIGHTS = RNG.uniform(0.1, 2.0, size=N)
# float64 where the backend computes in it (JAX only with JAX_ENABLE_X64, as test_parts_backends.py runs it).
IN_FLOAT64 = keras.backend.standardize_dtype(keras.ops.convert_to_tensor(0.0, dtype="float64").dtype) == "float64"
RTOL = 1e-7 if IN_FLOAT64 else 1e-5

# Each cost with its outputs and the book's per-example formula C_x.
BOOK = {
    "quadratic": (losses.QuadraticCost, SIGMOID, lambda y, a: 0.5 * ((y - a) ** 2).sum(axis=1)),  # eq. (6)
    "cross_entropy": (
        losses.CrossEntropyCost,
        SIGMOID,
        lambda y, a: -(y * np.log(a) + (1 - y) * np.log(1 - a)).sum(axis=1),  # eq. (63)
    ),
    "log_likelihood": (losses.LogLikelihoodCost, SOFTMAX, lambda y, a: -np.log((y * a).sum(axis=1))),  # eq. (80)
}
TARGETS = {
    "labels (N,)": LABELS,
    "labels (N, 1)": LABELS[:, None],
    "int32 labels (N, 1)": LABELS[:, None].astype("int32"),
    "one-hot": ONE_HOT,
}


@pytest.mark.parametrize("targets", TARGETS, ids=str)
@pytest.mark.parametrize("name", BOOK)
def test_every_target_shape_gives_the_books_cost(name, targets):
    cls, a, formula = BOOK[name]
    expected = formula(ONE_HOT, a).mean()
    assert float(cls(dtype="float64")(TARGETS[targets], a)) == pytest.approx(expected, rel=RTOL)


def test_a_single_output_takes_its_target_as_a_value_not_a_label():
    # (N, 1) targets for a (N, 1) output are values (a regression), never labels.
    y, a = RNG.random((N, 1)), RNG.random((N, 1))
    assert float(losses.QuadraticCost(dtype="float64")(y, a)) == pytest.approx((0.5 * (y - a) ** 2).mean(), rel=RTOL)


@pytest.mark.parametrize("name", BOOK)
def test_evaluate_with_labels_shaped_n_by_1(name):
    cls, _, _ = BOOK[name]
    x = RNG.normal(size=(32, 4)).astype("float32")
    labels = RNG.integers(0, 3, size=32)

    def evaluate(y):  # a model of its own for each shape: TensorFlow would retrace with unknown rank
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
        model.compile("sgd", cls())
        return model.evaluate(x, y, batch_size=8, verbose=0)

    assert evaluate(labels[:, None]) == pytest.approx(evaluate(labels), rel=1e-6)


def keras_reduction(per_example, sample_weight, reduction):
    """What keras.losses.Loss does with per-example losses."""
    weighted = per_example
    if sample_weight is not None:
        if np.ndim(sample_weight) == 2:  # Keras expands (N,) losses to meet (N, 1) weights
            weighted = weighted[:, None]
        weighted = weighted * sample_weight
    if reduction is None:
        return weighted
    if reduction == "sum":
        return weighted.sum()
    return weighted.sum() / per_example.size  # "sum_over_batch_size"


@pytest.mark.parametrize("sample_weight", [None, WEIGHTS, WEIGHTS[:, None]], ids=["unweighted", "weights (N,)", "weights (N, 1)"])
@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", None])
@pytest.mark.parametrize("targets", ["labels (N,)", "labels (N, 1)", "one-hot"])
@pytest.mark.parametrize("name", BOOK)
def test_reduction_and_sample_weight_as_for_keras_losses(name, targets, reduction, sample_weight):
    cls, a, formula = BOOK[name]
    cost = cls(reduction=reduction, dtype="float64")
    value = np.asarray(cost(TARGETS[targets], a, sample_weight=sample_weight))
    expected = keras_reduction(formula(ONE_HOT, a), sample_weight, reduction)
    assert value.shape == np.shape(expected)
    np.testing.assert_allclose(value, expected, rtol=RTOL)


@pytest.mark.parametrize("sample_weight", [None, WEIGHTS, WEIGHTS[:, None]], ids=["unweighted", "weights (N,)", "weights (N, 1)"])
@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", None])
@pytest.mark.parametrize("targets", ["labels (N,)", "labels (N, 1)"])
def test_log_likelihood_is_keras_sparse_categorical_crossentropy(targets, reduction, sample_weight):
    ours = losses.LogLikelihoodCost(reduction=reduction, dtype="float64")
    keras_own = keras.losses.SparseCategoricalCrossentropy(reduction=reduction, dtype="float64")
    y = TARGETS[targets]
    np.testing.assert_allclose(
        np.asarray(ours(y, SOFTMAX, sample_weight=sample_weight)),
        np.asarray(keras_own(y, SOFTMAX, sample_weight=sample_weight)),
        rtol=RTOL,
    )
