"""Chapter 1's baseline: guess the digit whose average darkness is closest (22.25%)."""

import numpy as np

from nndl_keras.recipes import BookResult, Hyperparameters, Recipe, register


def average_darkness(x, y, hp):
    """mnist_average_darkness.py: mean summed intensity per digit, nearest mean wins."""
    darkness = x.sum(axis=1)
    means = np.array([darkness[y == digit].mean() for digit in range(10)])

    def predict(images):
        return np.abs(images.sum(axis=1)[:, None] - means[None, :]).argmin(axis=1)

    return predict


register(
    Recipe(
        name="ch1-darkness",
        chapter=1,
        description="average-darkness baseline: nearest per-digit mean of summed intensity",
        hparams=Hyperparameters(layers=(), epochs=1, train_size=50_000),
        book=BookResult(0.2225, split="test", at="final", source="ch1-darkness"),
        baseline=average_darkness,
    )
)
