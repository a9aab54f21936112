"""The runner's SGD is the book's SGD: checked step for step against NumPy backprop."""

import keras
import numpy as np
import pytest

from nndl_keras import backprop
from nndl_keras.models import feedforward
from nndl_keras.recipe import Hyperparameters
from nndl_keras.training import make_engine


def _problem(cost, lmbda):
    rng = np.random.default_rng(3)
    x = rng.random((25, 20)).astype(np.float32)
    y = rng.integers(0, 4, size=25).astype(np.int32)
    # 25 examples in mini-batches of 10: the last mini-batch has 5, as in the book.
    hp = Hyperparameters(layers=(20, 8, 4), cost=cost, init="default", eta=0.5, lmbda=lmbda, batch_size=10, train_size=25)
    return x, y, hp


@pytest.mark.parametrize("engine", ["fused", "fit"])
@pytest.mark.parametrize("cost, lmbda", [("quadratic", 0.0), ("cross_entropy", 2.0)])
def test_two_epochs_match_the_books_update_rule(engine, cost, lmbda):
    x, y, hp = _problem(cost, lmbda)
    keras.utils.set_random_seed(1)
    model = feedforward(hp)
    params = backprop.dense_parameters(model)
    trainer = make_engine(model, x, y, hp.batch_size, seed=7, engine=engine)
    assert trainer.name == engine
    orders = np.random.default_rng(7)  # the engine reshuffles with the same generator
    for _ in range(2):
        trainer.train_epoch()
        backprop.sgd_epoch(params, x.astype(np.float64), y, orders.permutation(25), hp.eta, hp.batch_size, cost, lmbda)
    for (w, b), (kw, kb) in zip(params, backprop.dense_parameters(model)):
        np.testing.assert_allclose(kw, w, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(kb, b, rtol=1e-4, atol=1e-5)


def test_engines_agree_and_report_the_mean_cost():
    x, y, hp = _problem("cross_entropy", 2.0)
    results = []
    for engine in ("fused", "fit"):
        keras.utils.set_random_seed(1)
        model = feedforward(hp)
        cost = make_engine(model, x, y, hp.batch_size, seed=7, engine=engine).train_epoch()
        results.append((cost, model.predict(x, verbose=0)))
    assert results[0][0] == pytest.approx(results[1][0], rel=1e-4)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-4, atol=1e-6)


def test_unknown_engine():
    x, y, hp = _problem("quadratic", 0.0)
    with pytest.raises(ValueError, match="unknown engine"):
        make_engine(feedforward(hp), x, y, 10, seed=0, engine="warp")
