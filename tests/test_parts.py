"""The book's parts against NumPy implementations of the book's formulas.

Written with keras.ops only: `test_parts_backends.py` runs this file again
under KERAS_BACKEND=jax in a process of its own.
"""

import os

import keras
import numpy as np
import pytest
from keras.src import testing

from nndl_keras import initializers, layers, losses, regularizers
from nndl_keras.models import nand_adder

RNG = np.random.default_rng(0)


@pytest.fixture(autouse=True)
def float64_on_jax():
    """The book's formulas are checked in float64, which JAX computes only with x64 enabled
    (else `dtype="float64"` quietly runs in float32): on for each test here, then back."""
    if keras.backend.backend() != "jax":
        yield
        return
    import jax

    before = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", before)


def test_backend_is_the_one_asked_for():
    assert keras.backend.backend() == os.environ.get("KERAS_BACKEND", "tensorflow")


def gradient(fn, arrays):
    """d fn / d arrays on whatever backend runs; `fn` returns a scalar."""
    if keras.backend.backend() == "jax":
        import jax

        return jax.grad(fn, argnums=tuple(range(len(arrays))))(*arrays)
    import tensorflow as tf

    tensors = [tf.convert_to_tensor(a) for a in arrays]
    with tf.GradientTape() as tape:
        tape.watch(tensors)
        value = fn(*tensors)
    return tape.gradient(value, tensors)


def check_against_finite_differences(fn, arrays, coordinates=12, eps=1e-6):
    """Autodiff gradients of scalar `fn` equal central differences in float64 (rel. error ≤ 1e-4)."""
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    grads = [np.asarray(g) for g in gradient(fn, arrays)]
    rng = np.random.default_rng(1)
    for array, grad in zip(arrays, grads):
        flat = array.reshape(-1)
        for i in rng.choice(flat.size, size=min(coordinates, flat.size), replace=False):
            saved = flat[i]
            flat[i] = saved + eps
            up = float(fn(*arrays))
            flat[i] = saved - eps
            down = float(fn(*arrays))
            flat[i] = saved
            numeric = (up - down) / (2 * eps)
            analytic = grad.reshape(-1)[i]
            scale = max(abs(numeric), abs(analytic), 1e-6)
            assert abs(numeric - analytic) / scale <= 1e-4, (i, numeric, analytic)


def np_sigmoid(z):
    return np.exp(-np.logaddexp(0.0, -z))  # σ(z) without overflow for steep steps


# ---- costs -------------------------------------------------------------


def _targets_and_outputs(softmax=False):
    labels = RNG.integers(0, 10, size=8)
    y = np.eye(10)[labels]
    z = RNG.normal(size=(8, 10))
    a = np.exp(z) / np.exp(z).sum(1, keepdims=True) if softmax else np_sigmoid(z)
    return labels, y, a


def test_quadratic_cost_is_half_the_squared_distance_summed_over_outputs():
    labels, y, a = _targets_and_outputs()
    expected = (0.5 * ((y - a) ** 2).sum(axis=1)).mean()
    cost = losses.QuadraticCost(dtype="float64")
    assert float(cost(y, a)) == pytest.approx(expected, rel=1e-12)
    assert float(cost(labels, a)) == pytest.approx(expected, rel=1e-12)  # integer labels


def test_cross_entropy_cost_is_the_books_formula():
    labels, y, a = _targets_and_outputs()
    expected = (-(y * np.log(a) + (1 - y) * np.log(1 - a))).sum(axis=1).mean()
    cost = losses.CrossEntropyCost(dtype="float64")
    assert float(cost(y, a)) == pytest.approx(expected, rel=1e-7)
    assert float(cost(labels, a)) == pytest.approx(expected, rel=1e-7)
    z = np.log(a / (1 - a))
    logits = losses.CrossEntropyCost(from_logits=True, dtype="float64")
    assert float(logits(y, z)) == pytest.approx(expected, rel=1e-7)


def test_cross_entropy_is_finite_where_outputs_are_exactly_0_or_1():
    y = np.array([[1.0, 0.0], [0.0, 1.0]])
    a = np.array([[1.0, 0.0], [1.0, 0.0]])  # first example right, second saturated wrong
    value = float(losses.CrossEntropyCost()(y, a))
    assert np.isfinite(value) and value > 10  # large but finite, as the book's nan_to_num


def test_log_likelihood_cost_is_minus_log_of_the_correct_output():
    labels, y, a = _targets_and_outputs(softmax=True)
    expected = -np.log(a[np.arange(8), labels]).mean()
    cost = losses.LogLikelihoodCost(dtype="float64")
    assert float(cost(labels, a)) == pytest.approx(expected, rel=1e-7)
    assert float(cost(y, a)) == pytest.approx(expected, rel=1e-7)


@pytest.mark.parametrize(
    "cost, softmax",
    [(losses.QuadraticCost, False), (losses.CrossEntropyCost, False), (losses.LogLikelihoodCost, True)],
)
def test_cost_gradients_match_finite_differences(cost, softmax):
    labels, y, a = _targets_and_outputs(softmax)
    instance = cost(dtype="float64")
    check_against_finite_differences(lambda a: instance(y, a), [a], coordinates=20)


def test_cross_entropy_output_delta_is_a_minus_y():
    """Chapter 3, equation 66: with sigmoid outputs, ∂C/∂z = (a − y)/m, no σ′ factor."""
    _, y, a = _targets_and_outputs()
    z = np.log(a / (1 - a))
    cost = losses.CrossEntropyCost(dtype="float64")
    (dz,) = gradient(lambda z: cost(y, keras.ops.sigmoid(z)), [z])
    np.testing.assert_allclose(np.asarray(dz), (a - y) / len(y), rtol=1e-6, atol=1e-12)


# ---- L2 and initialisers ----------------------------------------------


def test_network2_l2_is_lambda_over_2n_sum_of_squares():
    w = RNG.normal(size=(30, 10))
    reg = regularizers.Network2L2(lmbda=5.0, n=50_000)
    assert float(reg(keras.ops.convert_to_tensor(w))) == pytest.approx(5.0 / (2 * 50_000) * (w**2).sum(), rel=1e-6)


def test_network3_l2_is_network2_l2_with_lambda_times_m():
    w = keras.ops.convert_to_tensor(RNG.normal(size=(30, 10)))
    network3 = regularizers.Network3L2(lmbda=0.1, n=50_000, batch_size=10)
    network2 = regularizers.Network2L2(lmbda=1.0, n=50_000)
    assert float(network3(w)) == pytest.approx(float(network2(w)), rel=1e-12)


def test_the_l2_sum_finds_the_kernels_of_nested_layers_and_models_not_biases():
    from nndl_keras.layers import ConvPool2D

    inner = keras.Sequential([keras.Input((144,)), keras.layers.Dense(5, name="inner_dense")], name="inner")
    model = keras.Sequential([
        keras.Input((6, 6, 1)), ConvPool2D(4, kernel_size=3, pool_size=2, name="conv"), keras.layers.Flatten(),
        keras.layers.Reshape((16,)), keras.layers.Dense(144, name="fc"), inner, keras.layers.Dense(3, name="out"),
    ])
    kernels = [model.get_layer("conv").kernel, model.get_layer("fc").kernel, inner.get_layer("inner_dense").kernel,
               model.get_layer("out").kernel]
    expected = sum(float(np.sum(np.square(k.numpy()))) for k in kernels)
    assert regularizers.squared_weights(model) == pytest.approx(expected, rel=1e-6)
    everything = sum(float(np.sum(np.square(v.numpy()))) for v in model.trainable_variables)
    assert regularizers.squared_weights(model) < everything  # the biases (N(0, 1) in conv) are not in it


def test_sgd_with_network2_l2_decays_weights_by_1_minus_eta_lambda_over_n():
    """Equation 93: with a zero data gradient one step is w ← (1 − ηλ/n) w, biases untouched."""
    eta, lmbda, n = 0.5, 5.0, 1000
    dense = keras.layers.Dense(3, kernel_regularizer=regularizers.Network2L2(lmbda, n))
    model = keras.Sequential([keras.Input((4,)), dense])
    model.compile(optimizer=keras.optimizers.SGD(eta), loss=lambda y, p: 0.0 * keras.ops.sum(p))
    kernel, bias = (np.array(w) for w in dense.get_weights())
    model.train_on_batch(np.ones((2, 4)), np.zeros((2, 3)))
    np.testing.assert_allclose(dense.get_weights()[0], (1 - eta * lmbda / n) * kernel, rtol=1e-6)
    np.testing.assert_allclose(dense.get_weights()[1], bias)


@pytest.mark.parametrize(
    "initializer, shape, std",
    [
        (initializers.StandardNormal(seed=1), (784, 30), 1.0),
        (initializers.DefaultWeightInitializer(seed=1), (784, 30), 1 / np.sqrt(784)),
        (initializers.Network3WeightInitializer(seed=1), (640, 100), 0.1),
        (initializers.Network3WeightInitializer(seed=1), (640, 1000), 0.032),
        (initializers.Network3WeightInitializer(pool_size=(2, 2), seed=1), (5, 5, 1, 20), 0.089),
        (initializers.Network3WeightInitializer(pool_size=(2, 2), seed=1), (5, 5, 20, 40), 0.063),
    ],
)
def test_initialisers_have_the_books_standard_deviations(initializer, shape, std):
    values = np.asarray(initializer(shape=shape, dtype="float32"))
    assert abs(values.mean()) < 4 * std / np.sqrt(values.size)
    assert values.std() == pytest.approx(std, rel=0.06)


# ---- layers --------------------------------------------------------------


def np_conv_pool(x, kernel, bias, pool=2, activation=np_sigmoid):
    """network3's ConvPoolLayer in loops: valid convolution, max-pool, + bias, activation."""
    batch, h, w, _ = x.shape
    kh, kw, _, filters = kernel.shape
    conv = np.zeros((batch, h - kh + 1, w - kw + 1, filters))
    for i in range(h - kh + 1):
        for j in range(w - kw + 1):
            patch = x[:, i : i + kh, j : j + kw, :]
            conv[:, i, j, :] = np.tensordot(patch, kernel, axes=([1, 2, 3], [0, 1, 2]))
    ph, pw = conv.shape[1] // pool, conv.shape[2] // pool
    pooled = conv[:, : ph * pool, : pw * pool].reshape(batch, ph, pool, pw, pool, filters).max(axis=(2, 4))
    return activation(pooled + bias)


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_conv_pool_2d_is_network3s_layer(activation):
    x = RNG.random((2, 12, 12, 3))
    layer = layers.ConvPool2D(4, kernel_size=(5, 5), pool_size=(2, 2), activation=activation, dtype="float64")
    out = np.asarray(layer(x))
    kernel, bias = layer.get_weights()
    np_activation = np_sigmoid if activation == "sigmoid" else (lambda z: np.maximum(z, 0))
    np.testing.assert_allclose(out, np_conv_pool(x, kernel, bias, 2, np_activation), rtol=1e-10, atol=1e-12)
    assert out.shape == (2, 4, 4, 4) == tuple(layer.compute_output_shape((2, 12, 12, 3)))


def test_conv_pool_2d_gradients_match_finite_differences():
    x = RNG.random((2, 10, 10, 2))
    layer = layers.ConvPool2D(3, kernel_size=(3, 3), pool_size=(2, 2), dtype="float64")
    layer.build(x.shape)
    projection = RNG.normal(size=(2, 4, 4, 3))

    def fn(kernel, bias, inputs):
        out, _ = layer.stateless_call([kernel, bias], [], inputs)
        return keras.ops.sum(out * projection)

    check_against_finite_differences(fn, [w for w in layer.get_weights()] + [x])


def book_shift(image, direction):
    """expand_mnist.py, verbatim in spirit: np.roll, then zero the wrapped row or column."""
    d, axis, index = {"down": (1, 0, 0), "up": (-1, 0, 27), "right": (1, 1, 0), "left": (-1, 1, 27)}[direction]
    shifted = np.roll(image, d, axis)
    if axis == 0:
        shifted[index, :] = 0
    else:
        shifted[:, index] = 0
    return shifted


def test_pixel_shift_gives_exactly_the_books_four_copies(mnist):
    images = mnist.training.x[:16].reshape(-1, 28, 28)
    for direction in layers.DIRECTIONS:
        ours = np.asarray(layers.shift_images(keras.ops.convert_to_tensor(images), direction))
        book = np.stack([book_shift(image, direction) for image in images])
        np.testing.assert_array_equal(ours, book)


def test_pixel_shift_is_identity_at_inference_and_one_of_five_in_training(mnist):
    images = mnist.training.x[:500].reshape(-1, 28, 28, 1)
    layer = layers.PixelShift(seed=3)
    np.testing.assert_array_equal(np.asarray(layer(images)), images)
    shifted = np.asarray(layer(images, training=True))
    candidates = [images] + [np.stack([book_shift(i[..., 0], d)[..., None] for i in images]) for d in layers.DIRECTIONS]
    choices = []
    for k in range(len(images)):
        matches = [c for c, candidate in enumerate(candidates) if np.array_equal(shifted[k], candidate[k])]
        assert matches, f"image {k} is none of the five versions"
        choices.append(matches[0])
    counts = np.bincount(choices, minlength=5)
    assert counts.min() > 60, counts  # about 100 each


def test_pixel_shift_without_the_original_always_shifts(mnist):
    images = mnist.training.x[:50].reshape(-1, 28, 28)
    shifted = np.asarray(layers.PixelShift(include_original=False, seed=0)(images, training=True))
    assert not any(np.array_equal(s, i) for s, i in zip(shifted, images))


def test_perceptrons_add_two_bits_as_the_books_nand_circuit():
    adder = nand_adder()
    bits = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype="float32")
    out = np.asarray(adder.predict(bits, verbose=0))
    np.testing.assert_array_equal(out, [[0, 0], [1, 0], [1, 0], [0, 1]])  # (sum, carry)
    assert adder.trainable_weights == []


def test_perceptron_is_a_step_of_w_dot_x_plus_b():
    x = RNG.normal(size=(20, 3))
    layer = layers.Perceptron(4, kernel_initializer="random_normal", bias_initializer="random_normal", dtype="float64")
    out = np.asarray(layer(x))
    kernel, bias = layer.get_weights()
    np.testing.assert_array_equal(out, (x @ kernel + bias > 0).astype(float))


def test_step_pair_is_a_bump_of_two_steep_sigmoids():
    x = np.linspace(0, 1, 101)[:, None]
    layer = layers.StepPair(3, steepness=1000.0, dtype="float64")
    layer.build(x.shape)
    s1, s2, h = np.array([0.1, 0.4, 0.7]), np.array([0.3, 0.6, 0.95]), np.array([0.5, -0.2, 1.0])
    layer.set_weights([s1, s2, h])
    expected = h * (np_sigmoid(1000 * (x - s1)) - np_sigmoid(1000 * (x - s2)))
    np.testing.assert_allclose(np.asarray(layer(x)), expected, rtol=1e-10, atol=1e-12)
    inside = np.asarray(layer(np.array([[0.2], [0.5], [0.8]])))
    np.testing.assert_allclose(np.diag(inside), h, rtol=1e-6)


def test_step_pair_gradients_match_finite_differences():
    layer = layers.StepPair(2, steepness=10.0, dtype="float64")
    layer.build((None, 1))
    x = RNG.random((5, 1))

    def fn(s1, s2, h, inputs):
        out, _ = layer.stateless_call([s1, s2, h], [], inputs)
        return keras.ops.sum(out)

    check_against_finite_differences(fn, [np.array([0.2, 0.5]), np.array([0.4, 0.9]), np.array([1.0, -0.5]), x])


# ---- serialisation -------------------------------------------------------

PARTS = [
    losses.QuadraticCost(),
    losses.CrossEntropyCost(from_logits=True),
    losses.LogLikelihoodCost(),
    regularizers.Network2L2(5.0, 50_000),
    regularizers.Network3L2(0.1, 50_000, 10),
    initializers.StandardNormal(seed=3),
    initializers.DefaultWeightInitializer(seed=3),
    initializers.Network3WeightInitializer(pool_size=(2, 2), seed=3),
    layers.ConvPool2D(20, activation="relu"),
    layers.PixelShift(include_original=False, seed=4),
    layers.Perceptron(3),
    layers.StepPair(5, steepness=500.0),
]


@pytest.mark.parametrize("part", PARTS, ids=lambda p: type(p).__name__)
def test_every_part_round_trips_through_keras_serialization(part):
    config = keras.saving.serialize_keras_object(part)
    assert config["registered_name"] == f"nndl_keras>{type(part).__name__}"
    clone = keras.saving.deserialize_keras_object(config)
    assert type(clone) is type(part)
    assert clone.get_config() == part.get_config()


class KerasSerializationTest(testing.TestCase):
    """Keras's own round trip (`run_class_serialization_test`, as its loss and regularizer tests use it)."""

    def test_losses_and_regularizers(self):
        y, a = np.array([0, 2, 1]), np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.3, 0.6, 0.1]])
        w = np.linspace(-1, 1, 12).reshape(4, 3)
        custom = losses.LogLikelihoodCost(reduction="sum", name="nll", dtype="float64")
        for part in [p for p in PARTS if isinstance(p, (keras.losses.Loss, keras.regularizers.Regularizer))] + [custom]:
            self.run_class_serialization_test(part)
            # The harness compares configs; the copy must also compute what the original does.
            revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(part))
            if isinstance(part, keras.losses.Loss):
                self.assertEqual((revived.reduction, revived.name, revived.dtype), (part.reduction, part.name, part.dtype))
                self.assertAllClose(revived(y, a), part(y, a))
            else:
                self.assertAllClose(revived(w), part(w))
