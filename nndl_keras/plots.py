"""PNG figures in the style of the book's."""

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display

import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402

from nndl_keras.files import atomic_write  # noqa: E402


def save_figure(fig, path):
    """Writes `fig` as a PNG atomically and closes it."""
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight"))
    plt.close(fig)
    return path


def learning_curve(history, path, title, book=None):
    """Accuracy per epoch on validation and test data, with training cost below.

    Args:
        history: dict with `epoch`, `validation_accuracy`, `test_accuracy` and
            `loss` lists (and `training_cost`, the book's cost on the whole
            training set, where measured).
        path: where to write the PNG.
        title: the figure's title.
        book: the book's `BookResult`, drawn as a dashed line when it has a number.
    """
    fig, top, bottom = _accuracy_and_cost(title)
    epochs = history["epoch"]
    top.plot(epochs, [100 * a for a in history["validation_accuracy"]], label="validation")
    top.plot(epochs, [100 * a for a in history["test_accuracy"]], label="test")
    bottom.plot(epochs, history["loss"], color="tab:red", label="mean over the epoch")
    if "training_cost" in history:
        bottom.plot(epochs, history["training_cost"], color="tab:purple", label="after the epoch")
        bottom.legend(fontsize="small")
    return _finish_curves(fig, top, book, path)


def learning_curves(histories, path, title, book=None):
    """Several nets trained alike in one figure (an ensemble's members): each one's
    test accuracy per epoch, a line per net, with its mean cost over each epoch below.

    Args:
        histories: `{label: history}`, each history as `learning_curve` takes it.
        path: where to write the PNG.
        title: the figure's title.
        book: the book's `BookResult` (for an ensemble, the vote's), drawn dashed.
    """
    fig, top, bottom = _accuracy_and_cost(title)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (label, history) in enumerate(histories.items()):
        color = colors[i % len(colors)]
        top.plot(history["epoch"], [100 * a for a in history["test_accuracy"]], color=color, marker=".", label=f"{label}: test")
        bottom.plot(history["epoch"], history["loss"], color=color, marker=".", label=label)
    return _finish_curves(fig, top, book, path)


def _accuracy_and_cost(title):
    """A figure of accuracy (above) and training cost (below) against the epoch."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6), sharex=True, height_ratios=(2, 1))
    top.set_ylabel("accuracy (%)")
    top.set_title(title)
    bottom.set_ylabel("training cost")
    bottom.set_xlabel("epoch")
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    return fig, top, bottom


def _finish_curves(fig, top, book, path):
    if book is not None and book.accuracy is not None:
        top.axhline(100 * book.accuracy, color="gray", linestyle="--", label=f"book: {book.describe()}")
    top.legend(loc="lower right", fontsize="small")
    return save_figure(fig, path)


def speed_of_learning(series, path, reference=None, title=None):
    """Norms per layer against epoch on a log scale, as chapter 5's figures.

    Args:
        series: `{layer: [norm per measurement]}`; measurement 0 is before training.
        path: where to write the PNG.
        reference: optional `{label: [norms]}` drawn dashed (the book's curves).
        title: the figure's title.
    """
    fig, ax = plt.subplots(figsize=(7, 4.5))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (label, values) in enumerate(series.items()):
        ax.plot(range(len(values)), values, color=colors[i % len(colors)], label=label)
    for i, (label, values) in enumerate((reference or {}).items()):
        ax.plot(range(len(values)), values, color=colors[i % len(colors)], linestyle="--", alpha=0.7, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("gradient norm (speed of learning)")
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")
    return save_figure(fig, path)


def panels(path, title, specs):
    """A row of panels, each with our curves (solid) and the book's (dashed, same colour).

    Args:
        path: where to write the PNG.
        title: the figure's title.
        specs: one dict per panel: `title`, `ylabel`, `ours` and `book` as
            `{label: (x, y)}` (`book` optional), and optionally `xlabel` and
            `logx`.
    """
    fig, axes = plt.subplots(1, len(specs), figsize=(4.6 * len(specs), 4), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, spec in zip(axes[0], specs):
        for i, (label, (x, y)) in enumerate(spec["ours"].items()):
            ax.plot(x, y, color=colors[i % len(colors)], label=label or "nndl-keras")
        for i, (label, (x, y)) in enumerate(spec.get("book", {}).items()):
            ax.plot(x, y, color=colors[i % len(colors)], linestyle="--", alpha=0.7, label=f"book: {label}" if label else "book")
        if spec.get("logx"):
            ax.set_xscale("log")
        ax.set_title(spec["title"], fontsize="medium")
        ax.set_xlabel(spec.get("xlabel", "epoch"))
        ax.set_ylabel(spec["ylabel"])
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    fig.suptitle(title)
    return save_figure(fig, path)


def bars(path, title, values, ylabel, note=None):
    """One bar per quantity on a log scale, each labelled with its value (times that differ by orders of magnitude).

    Args:
        path: where to write the PNG.
        title: the figure's title.
        values: `{label: positive value}`, drawn left to right.
        ylabel: the axis label.
        note: an optional line under the axis.
    """
    fig, ax = plt.subplots(figsize=(7, 4.5))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    labels, heights = list(values), list(values.values())
    shown = ax.bar(range(len(heights)), heights, color=colors[: len(heights)])
    ax.bar_label(shown, labels=[f"{h:.3g}" for h in heights], padding=2)
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yscale("log")
    ax.set_ylim(top=5 * max(heights))  # room for the top bar's label
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize="medium")
    ax.grid(alpha=0.3, axis="y", which="both")
    if note:
        ax.annotate(note, (0.5, -0.28), xycoords="axes fraction", ha="center", fontsize="small")
    return save_figure(fig, path)


def neuron_bars(path, title, ours, book=None):
    """Chapter 5's first figure: a panel per hidden layer, a bar per neuron for its ∂C/∂b,
    ours beside the book's where it gives them.

    Args:
        path: where to write the PNG.
        title: the figure's title.
        ours: per hidden layer, its neurons' values.
        book: the book's values, alike, or `None`.
    """
    fig, axes = plt.subplots(1, len(ours), figsize=(4.4 * len(ours), 3.8), squeeze=False, sharey=True)
    width = 0.4 if book else 0.8
    for k, (ax, values) in enumerate(zip(axes[0], ours)):
        at = [i - (width / 2 if book else 0) for i in range(len(values))]
        ax.bar(at, values, width, label="nndl-keras")
        if book:
            ax.bar([i + width for i in at], book[k], width, alpha=0.6, hatch="//", label="book")
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_xticks(range(len(values)), [str(i + 1) for i in range(len(values))])
        ax.set_xlabel(f"neuron of hidden layer {k + 1}")
        ax.grid(alpha=0.3, axis="y")
    axes[0][0].set_ylabel("∂C/∂b before training")
    axes[0][-1].legend(fontsize="small")
    fig.suptitle(title)
    return save_figure(fig, path)


def histograms(path, title, series):
    """A histogram a panel, of whole counts, with the book's value marked.

    Args:
        path: where to write the PNG.
        title: the figure's title.
        series: `{label: (counts, the book's count)}`, a panel each, left to right.
    """
    fig, axes = plt.subplots(1, len(series), figsize=(5 * len(series), 3.8), squeeze=False)
    for ax, (label, (values, book)) in zip(axes[0], series.items()):
        low, high = min(min(values), book), max(max(values), book)
        ax.hist(values, bins=range(low, high + 2), align="left", color="tab:blue", alpha=0.8, label="ours")
        ax.axvline(book, color="tab:red", linestyle="--", label=f"book: {book}")
        ax.set_xlabel("errors on the test set")
        ax.set_ylabel("count")
        for axis in (ax.xaxis, ax.yaxis):  # errors and counts: whole numbers, no 37.5 or 1.75
            axis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.set_title(label, fontsize="medium")
        ax.legend(fontsize="small")
        ax.grid(alpha=0.3, axis="y")
    fig.suptitle(title, fontsize="medium")
    return save_figure(fig, path)


def surfaces(path, title, images):
    """Functions of two inputs on [0, 1]², side by side as images.

    Args:
        path: where to write the PNG.
        title: the figure's title.
        images: `{label: 2-D array}`, first index x, second y.
    """
    fig, axes = plt.subplots(1, len(images), figsize=(4.6 * len(images), 4), squeeze=False)
    for ax, (label, values) in zip(axes[0], images.items()):
        shown = ax.imshow(values.T, origin="lower", extent=(0, 1, 0, 1), cmap="viridis")
        ax.set_title(label, fontsize="medium")
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        fig.colorbar(shown, ax=ax, shrink=0.8)
    fig.suptitle(title)
    return save_figure(fig, path)


def digits(path, title, images, captions, columns=11):
    """A grid of 28×28 digits with a caption under each (e.g. the misclassified ones).

    Args:
        path: where to write the PNG.
        title: the figure's title.
        images: array of shape `(n, 784)` or `(n, 28, 28)`, values in [0, 1].
        captions: one string per image.
        columns: images per row.
    """
    n = max(len(images), 1)
    rows = (n + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.1, rows * 1.35), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, image, caption in zip(axes.ravel(), images, captions):
        ax.imshow(image.reshape(28, 28), cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(caption, fontsize="small")
    fig.suptitle(title)
    return save_figure(fig, path)


def adversarial_digits(path, title, groups):
    """Adversarial examples: for each group (a net), rows of originals, perturbations and perturbed digits.

    Args:
        path: where to write the PNG.
        title: the figure's title.
        groups: `{label: digits}`, each `digits` a dict of `original` and
            `adversarial` (arrays `(n, 784)` in [0, 1]), `label` (the true
            digits), `answer` and `adversarial_answer` (the net's), and
            `grey_levels` (each perturbation's ε × 255).
    """
    columns = max([len(d["original"]) for d in groups.values()] + [1])
    fig = plt.figure(figsize=(columns * 1.15, len(groups) * 3 * 1.45 + 0.4))
    for panel, (label, d) in zip(fig.subfigures(len(groups), 1, squeeze=False)[:, 0], groups.items()):
        panel.suptitle(label, fontsize="medium", fontweight="bold")
        axes = panel.subplots(3, columns, squeeze=False)
        for ax in axes.ravel():
            ax.axis("off")
        for i in range(len(d["original"])):
            change = d["adversarial"][i] - d["original"][i]
            limit = max(float(abs(change).max()), 1e-6)
            rows = (
                (d["original"][i], f"{d['label'][i]}, net: {d['answer'][i]}", dict(cmap="gray_r", vmin=0, vmax=1)),
                (change, f"ε = {d['grey_levels'][i]}/255", dict(cmap="RdBu_r", vmin=-limit, vmax=limit)),
                (d["adversarial"][i], f"net: {d['adversarial_answer'][i]}", dict(cmap="gray_r", vmin=0, vmax=1)),
            )
            for ax, (image, caption, style) in zip(axes[:, i], rows):
                ax.imshow(image.reshape(28, 28), **style)
                ax.set_title(caption, fontsize="small")
    fig.suptitle(title, y=1.02)
    return save_figure(fig, path)


def filters(path, title, kernel):
    """Each output map's 5×5 filters as small images (a conv kernel `(kh, kw, in, out)`)."""
    kh, kw, channels, maps = kernel.shape
    shown = min(channels, 8)
    fig, axes = plt.subplots(shown, maps, figsize=(maps * 0.6, shown * 0.6 + 0.6), squeeze=False)
    for c in range(shown):
        for m in range(maps):
            ax = axes[c, m]
            ax.imshow(kernel[:, :, c, m], cmap="gray_r")
            ax.axis("off")
    fig.suptitle(title)
    return save_figure(fig, path)
