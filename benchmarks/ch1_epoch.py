"""Seconds per epoch of ch1-sgd ([784, 30, 10], quadratic cost, m = 10, η = 3.0), side by side.

Methods, each in its own process (so that each peak RSS is its own), all on the
same 50,000 images with the same SGD semantics:

- runner: the nndl-keras runner's fused engine (one compiled loop per epoch);
- fit: a plain `model.fit(..., batch_size=10)` of the same model (training only,
  like the runner's timed epoch: no validation pass in either);
- numpy-book: the book's network.py algorithm, written here: per-mini-batch
  updates, backpropagation one example at a time (float64, as the book);
- numpy-matrix: the same updates with backpropagation in matrix form over the
  mini-batch (`nndl_keras.backprop`, float64).

Usage: python benchmarks/ch1_epoch.py [--data-dir DIR] [--epochs N] [--json PATH]
Times vary between runs on shared machines; compare the ratios within one run.
"""

import functools
import os
import time

import numpy as np

from harness import methods_side_by_side, peak_rss_mib, write_record

METHODS = ("runner", "fit", "numpy-book", "numpy-matrix")


def measure(method, data_dir, epochs):
    """Runs `epochs` timed epochs (after one warm-up for compiled methods)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from nndl_keras.data import load_mnist

    data = load_mnist(data_dir)
    x, y = data.training.x, data.training.y
    times = []
    if method in ("runner", "fit"):
        import keras

        from nndl_keras import recipes
        from nndl_keras.training import make_engine

        keras.utils.set_random_seed(0)
        model = recipes.create_model("ch1-sgd")
        if method == "runner":
            engine = make_engine(model, x, y, batch_size=10, seeds=0, engine="fused")
            epoch = functools.partial(engine.train_epochs, 1)
        else:

            def epoch():
                model.fit(x, y, batch_size=10, epochs=1, verbose=0)

        epoch()  # warm-up: tracing and compilation
        for _ in range(epochs):
            tick = time.perf_counter()
            epoch()
            times.append(time.perf_counter() - tick)
    else:
        from nndl_keras import backprop

        rng = np.random.default_rng(0)
        params = [(rng.standard_normal((784, 30)), rng.standard_normal(30)), (rng.standard_normal((30, 10)), rng.standard_normal(10))]
        x64 = x.astype(np.float64)
        for _ in range(epochs):
            order = rng.permutation(len(y))
            tick = time.perf_counter()
            if method == "numpy-matrix":
                backprop.sgd_epoch(params, x64, y, order, eta=3.0, batch_size=10)
            else:
                book_sgd_epoch(params, x64, y, order, eta=3.0, batch_size=10)
            times.append(time.perf_counter() - tick)
    return {"method": method, "seconds_per_epoch": float(np.median(times)), "peak_rss_mib": peak_rss_mib()}


def book_sgd_epoch(params, x, y, order, eta, batch_size):
    """network.py's SGD: per mini-batch, sum per-example gradients from backprop, then step."""
    from nndl_keras import backprop

    targets = backprop.one_hot(y)
    for start in range(0, len(x), batch_size):
        batch = order[start : start + batch_size]
        sums = [(np.zeros_like(w), np.zeros_like(b)) for w, b in params]
        for i in batch:  # network.update_mini_batch: one backprop per example
            grads = backprop.backprop(params, x[i : i + 1], targets[i : i + 1])
            for (sw, sb), (gw, gb) in zip(sums, grads):
                sw += gw
                sb += gb
        for (w, b), (sw, sb) in zip(params, sums):
            w -= eta / len(batch) * sw
            b -= eta / len(batch) * sb


def main():
    results, settings = methods_side_by_side(__file__, __doc__, METHODS, measure, "epochs", 2, "timed epochs per method")
    runner = results["runner"]["seconds_per_epoch"]
    print(f"{'method':<14} {'s/epoch':>8} {'runner is':>11} {'peak RSS':>10}")
    for method, r in results.items():
        r["runner_is_faster"] = r["seconds_per_epoch"] / runner
        print(f"{method:<14} {r['seconds_per_epoch']:>8.3f} {r['runner_is_faster']:>10.1f}x {r['peak_rss_mib']:>7.0f} MiB")
    write_record(settings["json"], "ch1_epoch", results, recipe="ch1-sgd", timed_epochs=settings["epochs"])


if __name__ == "__main__":
    main()
