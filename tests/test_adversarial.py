"""The attacks of `nndl_keras.adversarial` on small nets trained on the real MNIST (also run on JAX,
by tests/test_parts_backends.py)."""

import keras
import numpy as np
import pytest

from nndl_keras import adversarial
from nndl_keras.losses import LogLikelihoodCost

GREY = 1 / 255

# One worker trains the module's fixtures once (pytest-xdist's --dist loadgroup).
pytestmark = pytest.mark.xdist_group("adversarial")


@pytest.fixture(scope="module")
def softmax_net(mnist):
    """Softmax regression (one Dense softmax layer, log-likelihood cost) on 2,000 training images."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss=LogLikelihoodCost())
    model.fit(mnist.training.x[:2000], mnist.training.y[:2000], batch_size=10, epochs=3, verbose=0)
    return model


@pytest.fixture(scope="module")
def test_images(mnist):
    return mnist.test.x[:500], mnist.test.y[:500]


def accuracy(model, x, y):
    return float(np.mean(adversarial.predicted_labels(model, x) == y))


def test_fast_gradient_sign_steps_along_the_sign_of_the_cost_gradient(softmax_net, test_images):
    x, y = test_images
    kernel, bias = (np.asarray(w, dtype=np.float64) for w in softmax_net.get_weights())
    # Softmax with the log-likelihood cost: ∂C/∂x = W (a − e_y), by hand (chapter 3's δ^L = a − y).
    logits = x @ kernel + bias
    a = np.exp(logits - logits.max(1, keepdims=True))
    a /= a.sum(1, keepdims=True)
    expected = np.clip(x + 0.1 * np.sign((a - np.eye(10)[y]) @ kernel.T), 0, 1)
    moved = adversarial.fast_gradient_sign(softmax_net, x, y, 0.1, batch_size=128)
    assert moved.shape == x.shape and moved.dtype == np.float32
    agree = np.isclose(moved, expected, atol=1e-6)
    assert agree.mean() > 0.999, agree.mean()  # a gradient within rounding of 0 may take either sign
    assert np.abs(moved - x).max() <= 0.1 + 1e-6 and moved.min() >= 0 and moved.max() <= 1


def test_the_gradient_sign_hurts_far_more_than_noise_of_the_same_size(softmax_net, test_images):
    x, y = test_images
    clean = accuracy(softmax_net, x, y)
    attacked = accuracy(softmax_net, adversarial.fast_gradient_sign(softmax_net, x, y, 0.1), y)
    noise = np.sign(np.random.default_rng(0).standard_normal(x.shape)).astype("float32")
    noisy = accuracy(softmax_net, np.clip(x + 0.1 * noise, 0, 1), y)
    assert clean > 0.8 and noisy > clean - 0.1, (clean, noisy)
    assert attacked < 0.3, attacked


def test_the_iterative_method_stays_within_epsilon_and_is_at_least_as_strong_as_one_step(softmax_net, test_images):
    x, y = test_images
    epsilon = 0.05
    moved = adversarial.basic_iterative(softmax_net, x, y, epsilon, steps=10)
    assert np.abs(moved - x).max() <= epsilon + 1e-6 and moved.min() >= 0 and moved.max() <= 1
    one_step = accuracy(softmax_net, adversarial.fast_gradient_sign(softmax_net, x, y, epsilon), y)
    iterated = accuracy(softmax_net, moved, y)
    # A softmax regression's cost is nearly linear in x, where one step is already close to the best.
    assert iterated <= one_step and iterated < accuracy(softmax_net, x, y) - 0.3, (iterated, one_step)
    # ε per image: an image given ε = 0 is not moved.
    per_image = np.where(np.arange(len(y)) % 2 == 0, 0.0, epsilon)
    moved = adversarial.basic_iterative(softmax_net, x, y, per_image, steps=3)
    np.testing.assert_array_equal(moved[::2], x[::2])
    assert np.abs(moved[1::2] - x[1::2]).max() == pytest.approx(epsilon, abs=1e-6)


def test_accuracy_against_epsilon_is_the_attacks_accuracy_at_each_epsilon(softmax_net, test_images):
    x, y = test_images[0][:200], test_images[1][:200]
    epsilons = [0.0, 0.03, 0.1]
    swept = adversarial.accuracy_against_epsilon(softmax_net, x, y, epsilons)
    assert swept == [accuracy(softmax_net, adversarial.fast_gradient_sign(softmax_net, x, y, e), y) for e in epsilons]
    assert swept[0] == accuracy(softmax_net, x, y) and swept[0] > swept[1] > swept[2]
    iterated = adversarial.accuracy_against_epsilon(softmax_net, x, y, [0.03], attack=adversarial.basic_iterative, steps=5)
    assert iterated == [accuracy(softmax_net, adversarial.basic_iterative(softmax_net, x, y, 0.03, steps=5), y)]


@pytest.mark.parametrize("attack", [adversarial.fast_gradient_sign, adversarial.basic_iterative])
def test_smallest_flipping_epsilon_is_where_the_answer_changes(softmax_net, test_images, attack):
    x, y = test_images[0][:40], test_images[1][:40]
    found = adversarial.smallest_flipping_epsilon(softmax_net, x, y, attack=attack, max_epsilon=0.5)
    wrong = adversarial.predicted_labels(softmax_net, x) != y
    np.testing.assert_array_equal(found == 0, wrong)
    flipped = np.flatnonzero((found > 0) & np.isfinite(found))
    assert len(flipped) >= 30, found
    levels = np.round(found[flipped] / GREY)
    np.testing.assert_allclose(found[flipped], levels * GREY)  # whole grey levels
    at = attack(softmax_net, x[flipped], y[flipped], found[flipped])
    below = attack(softmax_net, x[flipped], y[flipped], found[flipped] - GREY)
    assert np.all(adversarial.predicted_labels(softmax_net, at) != y[flipped])
    assert np.all(adversarial.predicted_labels(softmax_net, below) == y[flipped])


def test_bad_epsilon_and_a_model_without_a_loss_are_refused(softmax_net, test_images):
    x, y = test_images[0][:5], test_images[1][:5]
    for bad in (-0.1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="epsilon must be zero or positive and finite"):
            adversarial.fast_gradient_sign(softmax_net, x, y, bad)
    with pytest.raises(ValueError, match="steps must be at least 1"):
        adversarial.basic_iterative(softmax_net, x, y, 0.1, steps=0)
    uncompiled = keras.Sequential([keras.Input((784,)), keras.layers.Dense(10, activation="softmax")])
    with pytest.raises(ValueError, match="compiled"):
        adversarial.fast_gradient_sign(uncompiled, x, y, 0.1)
