"""The runner's SGD is the book's SGD: checked step for step against NumPy backprop."""

import signal

import keras
import numpy as np
import pytest

from nndl_keras import backprop
from nndl_keras.models import feedforward
from nndl_keras.recipe import Hyperparameters
from nndl_keras.training import make_engine


TF_ONLY = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.distribute's engine: the runner refuses it elsewhere")
# Every engine: tf.distribute's on TensorFlow (under its default strategy: one device).
ENGINES = ["fused", "fit", pytest.param("distributed", marks=TF_ONLY)]


def _problem(cost, lmbda):
    rng = np.random.default_rng(3)
    x = rng.random((25, 20)).astype(np.float32)
    y = rng.integers(0, 4, size=25).astype(np.int32)
    # 25 examples in mini-batches of 10: the last mini-batch has 5, as in the book.
    hp = Hyperparameters(layers=(20, 8, 4), cost=cost, init="default", eta=0.5, lmbda=lmbda, batch_size=10, train_size=25)
    return x, y, hp


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("cost, lmbda", [("quadratic", 0.0), ("cross_entropy", 2.0)])
def test_two_epochs_match_the_books_update_rule(engine, cost, lmbda):
    x, y, hp = _problem(cost, lmbda)
    keras.utils.set_random_seed(1)
    model = feedforward(hp)
    params = backprop.dense_parameters(model)
    trainer = make_engine(model, x, y, hp.batch_size, seeds=7, engine=engine)
    assert trainer.name == engine
    orders = np.random.default_rng(7)  # the engine reshuffles with the same generator
    for _ in range(2):
        trainer.train_epochs(1)
        backprop.sgd_epoch(params, x.astype(np.float64), y, orders.permutation(25), hp.eta, hp.batch_size, cost, lmbda)
    for (w, b), (kw, kb) in zip(params, backprop.dense_parameters(model)):
        np.testing.assert_allclose(kw, w, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(kb, b, rtol=1e-4, atol=1e-5)


def test_engines_agree_and_report_the_mean_cost():
    x, y, hp = _problem("cross_entropy", 2.0)
    results = []
    for engine in ("fused", "fit", "distributed")[: 3 if keras.backend.backend() == "tensorflow" else 2]:
        keras.utils.set_random_seed(1)
        model = feedforward(hp)
        cost = make_engine(model, x, y, hp.batch_size, seeds=7, engine=engine).train_epochs(1)[0]
        results.append((cost, model.predict(x, verbose=0)))
    for cost, outputs in results[1:]:
        assert cost == pytest.approx(results[0][0], rel=1e-4)
        np.testing.assert_allclose(outputs, results[0][1], rtol=1e-4, atol=1e-6)


def test_unknown_engine():
    x, y, hp = _problem("quadratic", 0.0)
    with pytest.raises(ValueError, match="unknown engine"):
        make_engine(feedforward(hp), x, y, 10, seeds=0, engine="warp")


def _fresh(hp, x, y, seed=7, engine="fused", chunk_steps=None):
    keras.utils.set_random_seed(1)
    model = feedforward(hp.replace(dropout=0.5))  # dropout: its RNG state must carry over too
    return model, make_engine(model, x, y, hp.batch_size, seeds=seed, engine=engine, chunk_steps=chunk_steps)


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("train_size", [25, 30])  # with and without a smaller last mini-batch
def test_chunks_of_any_length_give_the_same_steps(train_size, engine):
    x, y, hp = _problem("cross_entropy", 2.0)
    x, y, hp = x[:train_size], y[:train_size], hp.replace(train_size=train_size)
    results = []
    for chunk in (1, 2, 50):
        model, trainer = _fresh(hp, x, y, engine=engine, chunk_steps=chunk)
        results.append((trainer.train_epochs(3), [w.copy() for w in model.get_weights()]))
    for costs, weights in results[1:]:
        assert costs == pytest.approx(results[0][0], rel=1e-6)  # fit's means: summed in another order
        for a, b in zip(weights, results[0][1]):
            np.testing.assert_array_equal(a, b)


def test_a_tpus_static_shapes_drop_each_epochs_smaller_last_mini_batch():
    x, y, hp = _problem("cross_entropy", 2.0)  # 25 examples in mini-batches of 10
    trainer = make_engine(feedforward(hp), x, y, hp.batch_size, seeds=7, engine="fit", static_shapes=True)
    steps = []
    trainer.progress = lambda done, total, rate: steps.append((done, total))
    assert len(trainer.train_epochs(2)) == 2
    assert steps[-1] == (4, 4)  # two mini-batches of 10 an epoch, the 5 left over dropped


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
def test_a_stopped_call_resumes_to_the_same_numbers(engine):
    from nndl_keras.errors import Interrupted
    from nndl_keras.stopping import StopRequest

    class AskedFiveTimes(StopRequest):  # a signal that comes in the second epoch's first mini-batches
        asked = 0

        def requested(self):
            self.asked += 1
            self.signum = signal.SIGTERM if self.asked == 5 else None
            return super().requested()

    x, y, hp = _problem("cross_entropy", 2.0)
    model, trainer = _fresh(hp, x, y, engine=engine, chunk_steps=1)
    whole = trainer.train_epochs(3)
    expected = [w.copy() for w in model.get_weights()]

    model, trainer = _fresh(hp, x, y, engine=engine, chunk_steps=1)
    with pytest.raises(Interrupted) as stopped:
        trainer.train_epochs(3, stop=AskedFiveTimes())
    assert stopped.value.signum == signal.SIGTERM
    position, saved = trainer.position, [v.numpy() for v in model.variables]
    assert position["step"] == 5 and len(position["losses"]) == 5

    # A new process: the same starting model, the saved variables, the position.
    model, trainer = _fresh(hp, x, y, seed=99, engine=engine, chunk_steps=1)
    for variable, value in zip(model.variables, saved):
        variable.assign(value)
    trainer.set_position(position)
    assert trainer.train_epochs(3) == pytest.approx(whole, rel=1e-6)
    for a, b in zip(model.get_weights(), expected):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_one_engine_a_module_each_a_step_program():
    import nndl_keras.training as training
    from nndl_keras.training import engines, epochs

    classes = [engines.FitSteps, engines.TensorFlowLoop, engines.JaxScan, engines.DistributedSteps]
    modules = {cls.__module__ for cls in classes}
    assert len(modules) == len(classes) and all(m.startswith("nndl_keras.training.engines.") for m in modules)
    assert all(issubclass(cls, engines.StepProgram) for cls in classes)
    assert training.make_engine is epochs.make_engine


@pytest.mark.parametrize("engine", ENGINES)
def test_every_engine_trains_on_and_predicts_uint8_pixels_as_scaled_floats(engine):
    # The expanded set is kept as uint8 and scaled by whichever engine takes it.
    rng = np.random.default_rng(5)
    pixels = rng.integers(0, 256, size=(30, 20), dtype=np.uint8)
    y = rng.integers(0, 4, size=30).astype(np.int32)
    hp = Hyperparameters(layers=(20, 8, 4), cost="cross_entropy", init="default", eta=0.5, batch_size=10, train_size=30)
    results = []
    for x in (pixels, pixels.astype(np.float32) / 255):
        keras.utils.set_random_seed(1)
        model = feedforward(hp)
        trainer = make_engine(model, x, y, hp.batch_size, seeds=7, engine=engine)
        results.append((trainer.train_epochs(2), trainer.program.predict(pixels)[0], trainer.program.predict(x)[0]))
    (costs, from_pixels, _), (float_costs, _, from_floats) = results
    assert costs == pytest.approx(float_costs, rel=1e-5)
    np.testing.assert_allclose(from_pixels, from_floats, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("l2", ["network2", "network3"])
def test_the_reported_cost_adds_the_l2_term_of_the_recipes_book_program(l2):
    from nndl_keras.models import network3
    from nndl_keras.regularizers import squared_weights
    from nndl_keras.training.loop import book_cost

    hp = Hyperparameters(layers=(784, 20, 10), activation="relu", output_activation="softmax", cost="log_likelihood",
                         init="network3", l2=l2, lmbda=0.1, batch_size=10, train_size=1000, options={"conv": [4]})
    keras.utils.set_random_seed(0)
    model = network3(hp)
    rng = np.random.default_rng(0)
    x, y = rng.random((50, 784)).astype(np.float32), rng.integers(0, 10, 50)
    model.get_layer("softmax").kernel.assign(rng.normal(size=(20, 10)))  # network3 starts it at zero
    outputs = model.predict(x, verbose=0)
    term = book_cost(model, hp, outputs, y) - float(model.loss(y, outputs))
    squares = squared_weights(model)  # conv, fully connected and softmax weights
    if l2 == "network3":
        # network3.py: 0.5 * lmbda * l2_norm_squared / num_training_batches, as the
        # term it trains on, which Keras adds to each mini-batch's cost.
        assert term == pytest.approx(0.5 * hp.lmbda * squares / (hp.train_size / hp.batch_size), rel=1e-5)
        assert term == pytest.approx(float(sum(model.losses)), rel=1e-5)
    else:  # network2's total_cost: lambda/(2 * the size of the set evaluated)
        assert term == pytest.approx(0.5 * hp.lmbda / len(y) * squares, rel=1e-5)
    assert squares > float(np.sum(np.square(model.get_layer("softmax").kernel.numpy())))  # not the softmax alone


@TF_ONLY
def test_the_distributed_engine_copies_the_training_set_into_tensors_once(monkeypatch):
    # Each epoch is a call; the expanded set is 196 MB: a copy of it each epoch is waste.
    import tensorflow as tf

    x, y, hp = _problem("cross_entropy", 0.0)
    model, trainer = _fresh(hp, x, y, engine="distributed")
    copies = []
    for name in ("constant", "convert_to_tensor"):
        original = getattr(tf, name)

        def counting(value, *args, _original=original, **kwargs):
            copies.extend([value] if value is x else [])
            return _original(value, *args, **kwargs)

        monkeypatch.setattr(tf, name, counting)
    for _ in range(3):
        trainer.train_epochs(1)
    assert len(copies) == 1
