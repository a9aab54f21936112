import numpy as np
import pytest

from nndl_keras import backprop


@pytest.mark.parametrize("cost", ["quadratic", "cross_entropy"])
def test_bp1_to_bp4_match_central_differences(cost):
    rng = np.random.default_rng(0)
    params = [(rng.normal(size=(6, 5)), rng.normal(size=5)), (rng.normal(size=(5, 3)), rng.normal(size=3))]
    x, y = rng.random((4, 6)), rng.integers(0, 3, size=4)
    targets = backprop.one_hot(y, 3)

    def cost_of(params):
        a = x
        for w, b in params:
            a = backprop.sigmoid(a @ w + b)
        if cost == "quadratic":
            per_example = 0.5 * ((a - targets) ** 2).sum(axis=1)
        else:
            per_example = -(targets * np.log(a) + (1 - targets) * np.log(1 - a)).sum(axis=1)
        return per_example.mean()

    grads = backprop.backprop(params, x, y, cost)
    eps = 1e-6
    for (w, b), (gw, gb) in zip(params, grads):
        for array, grad in ((w, gw), (b, gb)):
            numeric = np.zeros_like(array)
            for index in np.ndindex(array.shape):
                saved = array[index]
                array[index] = saved + eps
                up = cost_of(params)
                array[index] = saved - eps
                down = cost_of(params)
                array[index] = saved
                numeric[index] = (up - down) / (2 * eps)
            np.testing.assert_allclose(grad, numeric, rtol=1e-4, atol=1e-9)
