"""What GradientNormMonitor costs on ch5-depth-4 ([784, 30, 30, 30, 30, 10], m = 10), measured in one run.

- runner: seconds per epoch of the fused engine on 50,000 images, and seconds
  per measurement of the monitor (1,000 probe images, every weight), once per
  epoch: overhead = measurement / epoch;
- fit: seconds per epoch of a plain `model.fit` with and without the monitor.

Usage: python benchmarks/gradient_monitor_overhead.py [--data-dir DIR] [--epochs N] [--json PATH]
(--json writes the figures with the command, commit, date and machine; the README quotes
docs/results/gradient_monitor_overhead_cpu.json.)
"""

import argparse
import functools
import os

import numpy as np

from harness import median_seconds as timed
from harness import JSON_HELP, peak_rss_mib, write_record


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("NNDL_KERAS_DATA_DIR"))
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per configuration")
    parser.add_argument("--json", metavar="PATH", help=JSON_HELP)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    from nndl_keras import recipes
    from nndl_keras.callbacks import GradientNormMonitor
    from nndl_keras.data import load_mnist
    from nndl_keras.training import make_engine

    data = load_mnist(args.data_dir)
    x, y = data.training.x, data.training.y
    probe = (x[:1000], y[:1000])

    keras.utils.set_random_seed(0)
    model = recipes.create_model("ch5-depth-4")
    engine = make_engine(model, x, y, batch_size=10, seeds=0, engine="fused")
    monitor = GradientNormMonitor(probe)
    monitor.set_model(model)
    engine.train_epochs(1), monitor.gradient_norms()  # warm-up: compile both
    epoch = timed(lambda: engine.train_epochs(1), args.epochs)
    measurement = timed(monitor.gradient_norms, 20)

    fits = {}
    for label, callbacks in (("without", []), ("with", [GradientNormMonitor(probe)])):
        keras.utils.set_random_seed(0)
        fit_model = recipes.create_model("ch5-depth-4")
        fit_model.fit(x[:1000], y[:1000], batch_size=10, epochs=1, verbose=0, callbacks=callbacks)  # warm-up
        fits[label] = functools.partial(fit_model.fit, x, y, batch_size=10, epochs=1, verbose=0, callbacks=callbacks)
    # Epochs with and without the monitor alternate, so that a change in the machine's load
    # (these machines are shared) falls on both alike.
    times = {label: [] for label in fits}
    for round_ in range(args.epochs):
        order = list(fits) if round_ % 2 == 0 else list(fits)[::-1]  # ABBA: neither is always first
        for label in order:
            times[label].append(timed(fits[label], 1))
    fit_times = {label: float(np.median(t)) for label, t in times.items()}

    print("ch5-depth-4, monitor once per epoch on 1,000 probe images")
    print(f"runner: {epoch:.3f} s/epoch; one measurement {1000 * measurement:.1f} ms; overhead {100 * measurement / epoch:.2f}%")
    overhead = fit_times["with"] / fit_times["without"] - 1
    print(f"fit:    {fit_times['without']:.3f} s/epoch without, {fit_times['with']:.3f} with; overhead {100 * overhead:+.2f}%")
    print(f"peak RSS {peak_rss_mib():.0f} MiB")
    write_record(
        args.json, "gradient_monitor_overhead",
        runner={"seconds_per_epoch": round(epoch, 4), "measurement_seconds": round(measurement, 5),
                "overhead_percent": round(100 * measurement / epoch, 2)},
        fit={"seconds_per_epoch_without": round(fit_times["without"], 3), "seconds_per_epoch_with": round(fit_times["with"], 3),
             "overhead_percent": round(100 * overhead, 2)},
        peak_rss_mib=round(peak_rss_mib()),
    )


if __name__ == "__main__":
    main()
