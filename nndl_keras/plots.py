"""PNG figures in the style of the book's."""

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display

import matplotlib.pyplot as plt  # noqa: E402

from nndl_keras.training.outputs import atomic_write  # noqa: E402


def save_figure(fig, path):
    """Writes `fig` as a PNG atomically and closes it."""
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight"))
    plt.close(fig)
    return path


def learning_curve(history, path, title, book=None):
    """Accuracy per epoch on validation and test data, with training cost below.

    Args:
        history: dict with `epoch`, `validation_accuracy`, `test_accuracy` and
            `training_cost` lists.
        path: where to write the PNG.
        title: the figure's title.
        book: the book's `BookResult`, drawn as a dashed line when it has a number.
    """
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6), sharex=True, height_ratios=(2, 1))
    epochs = history["epoch"]
    top.plot(epochs, [100 * a for a in history["validation_accuracy"]], label="validation")
    top.plot(epochs, [100 * a for a in history["test_accuracy"]], label="test")
    if book is not None and book.accuracy is not None:
        top.axhline(100 * book.accuracy, color="gray", linestyle="--", label=f"book: {book.describe()}")
    top.set_ylabel("accuracy (%)")
    top.set_title(title)
    top.grid(alpha=0.3)
    top.legend(loc="lower right")
    bottom.plot(epochs, history["training_cost"], color="tab:red")
    bottom.set_ylabel("training cost")
    bottom.set_xlabel("epoch")
    bottom.grid(alpha=0.3)
    return save_figure(fig, path)
