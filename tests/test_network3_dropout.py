"""The book's dropout (`Network3Dropout`) against network3's formula and Keras's layer contract.

Run on the TensorFlow backend here and on JAX by test_parts_backends.py.
"""

import keras
import numpy as np
import pytest
from keras.src import testing

from nndl_keras.layers import Network3Dropout
from nndl_keras.models.feedforward import dropout_layer
from nndl_keras.recipe import Hyperparameters


class Network3DropoutContract(testing.TestCase):
    """Keras's own harness, with the arguments Keras's dropout_test.py gives `Dropout`."""

    def test_layer_contract(self):
        for kwargs in ({"rate": 0.2}, {"rate": 0.5, "noise_shape": (2, 1), "seed": 1337}):
            self.run_layer_test(
                Network3Dropout,
                init_kwargs=kwargs,
                input_shape=(2, 3),
                call_kwargs={"training": True},
                expected_output_shape=(2, 3),
                expected_num_trainable_weights=0,
                expected_num_non_trainable_weights=0,
                expected_num_seed_generators=1,
                expected_num_losses=0,
                supports_masking=True,
                assert_built_after_instantiation=True,
            )

    def test_rate_is_checked_as_dropout_checks_it(self):
        for rate in (-0.5, 1.5):
            with self.assertRaisesRegex(ValueError, "Expected a float value between 0 and 1"):
                Network3Dropout(rate)


def network3_fully_connected(x, w, b, p, mask=None):
    """network3's FullyConnectedLayer with p_dropout = p, in NumPy (ReLU neurons).

    Training: `output_dropout = relu(dot(inpt * mask, w) + b)` with a 0/1
    binomial mask of keep probability 1 − p. Inference: `output =
    relu((1 - p) * dot(inpt, w) + b)`.
    """
    if mask is None:
        return np.maximum((1 - p) * x @ w + b, 0)
    return np.maximum((x * mask) @ w + b, 0)


@pytest.mark.parametrize("p", [0.5, 0.2])
def test_inference_scales_the_weighted_input_by_1_minus_p(p):
    rng = np.random.default_rng(0)
    x, w, b = rng.normal(size=(8, 6)), rng.normal(size=(6, 4)), rng.normal(size=4)
    model = keras.Sequential([keras.Input((6,)), Network3Dropout(p), keras.layers.Dense(4, activation="relu")])
    model.layers[-1].set_weights([w, b])
    got = np.asarray(model(x.astype("float32"), training=False))
    np.testing.assert_allclose(got, network3_fully_connected(x, w, b, p), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("p", [0.5, 0.2])
def test_training_keeps_inputs_unscaled_with_probability_1_minus_p(p):
    x = np.random.default_rng(1).uniform(1, 2, size=(200, 500)).astype("float32")
    layer = Network3Dropout(p, seed=3)
    out = np.asarray(layer(x, training=True))
    kept = out != 0
    np.testing.assert_array_equal(out[kept], x[kept])  # no 1/(1 - p): the book's dropout
    assert kept.mean() == pytest.approx(1 - p, abs=0.01)
    # A fresh mask for every mini-batch, as network3 draws one per step.
    assert not np.array_equal(kept, np.asarray(layer(x, training=True)) != 0)


def test_a_training_step_is_network3s_with_its_mask():
    # With the mask the layer drew, the forward pass and the gradient of a
    # Dense layer after it are network3's training-time formula.
    rng = np.random.default_rng(2)
    p = 0.5
    x, w, b = rng.normal(size=(10, 6)), rng.normal(size=(6, 3)), rng.normal(size=3)
    drop, dense = Network3Dropout(p, seed=5), keras.layers.Dense(3, activation="relu")
    dense.build((None, 6))
    dense.set_weights([w, b])
    dropped = np.asarray(drop(x.astype("float32"), training=True))
    mask = (dropped != 0).astype(float)
    np.testing.assert_allclose(np.asarray(dense(dropped)), network3_fully_connected(x, w, b, p, mask), rtol=1e-5, atol=1e-6)


def sgd_step_with_all_inputs_kept(dropout, w, x, eta):
    """One SGD step on ½·output² through `dropout(noise_shape=(1, 1))` then a Dense
    layer, with the first seed whose mask keeps the (whole) input; the new weights."""
    for seed in range(100):
        model = keras.Sequential([keras.Input((5,)), dropout(0.5, noise_shape=(1, 1), seed=seed),
                                  keras.layers.Dense(1, use_bias=False)])
        model.compile(keras.optimizers.SGD(eta), loss=lambda y, out: 0.5 * keras.ops.sum(out**2))
        model.layers[-1].set_weights([w])
        model.train_on_batch(x, np.zeros((1, 1), "float32"))
        new = model.layers[-1].get_weights()[0]
        if not np.array_equal(new, w):
            return new
    raise AssertionError("no seed kept the input")


def test_keras_dropout_is_a_different_sgd_experiment():
    # Both compute the book's function when W_keras = (1 - p)·W_book, but one
    # SGD step through Keras's moves W_book 1/(1 - p)² = 4 times as far.
    p, eta = 0.5, 0.01
    rng = np.random.default_rng(4)
    x, w_book = rng.normal(size=(1, 5)).astype("float32"), rng.normal(size=(5, 1)).astype("float32")
    book = sgd_step_with_all_inputs_kept(Network3Dropout, w_book, x, eta) - w_book
    keras_w = sgd_step_with_all_inputs_kept(keras.layers.Dropout, (1 - p) * w_book, x, eta)
    inverted = keras_w / (1 - p) - w_book  # the same step, as a change of W_book
    np.testing.assert_allclose(inverted, book / (1 - p) ** 2, rtol=1e-4)


def test_models_choose_the_style_the_hyperparameters_name():
    assert type(dropout_layer(Hyperparameters(dropout=0.5))) is Network3Dropout
    assert type(dropout_layer(Hyperparameters(dropout=0.5, dropout_style="inverted"))) is keras.layers.Dropout
    from nndl_keras import recipes

    model = recipes.create_model("ch6-dropout")
    assert [type(layer).__name__ for layer in model.layers].count("Network3Dropout") == 3
    assert not any(type(layer) is keras.layers.Dropout for layer in model.layers)
