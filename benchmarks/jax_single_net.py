"""Is a single net faster under a plain jitted scan than as a stack of one (JAX)? Side by side.

Issue 27 asks for one JAX program for any number of models (`JaxScan`: the
models' stateless `train_step`s under `jax.vmap`, inside a `jax.lax.scan`, under
`jax.pmap`), with a separate path for one model only if it is faster. This
measures, each in its own process, on the same mini-batches, the same net's
epoch as the runner trains it (`runner`: `JaxScan` of one model, a stack of one)
and under the plain `jax.jit(jax.lax.scan(train_step))` a separate program would
be (`jit`, written out here, the data passed in as `JaxScan` passes it): seconds
per epoch after a warm-up epoch (median of --epochs), and the first epoch's
(tracing and compiling).

    KERAS_BACKEND=jax python benchmarks/jax_single_net.py --json docs/results/jax_single_net_cpu.json
"""

import functools
import os
import time

os.environ.setdefault("KERAS_BACKEND", "jax")

from harness import methods_side_by_side, peak_rss_mib, write_record  # noqa: E402

METHODS = ("runner", "jit")
RECIPES = {"ch1-sgd": 50_000, "ch6-relu": 10_000}  # recipe: training images


def measure(method, data_dir, epochs):
    import jax
    import keras
    import numpy as np

    from nndl_keras import recipes
    from nndl_keras.data import load_mnist
    from nndl_keras.timing import median_seconds
    from nndl_keras.training import make_engine
    from nndl_keras.training.engines.base import build_for_training, scaled

    data = load_mnist(data_dir)
    found = {"method": method}
    for name, n in RECIPES.items():
        x, y = data.training.x[:n], data.training.y[:n]
        keras.utils.set_random_seed(0)
        model = recipes.create_model(name)
        if method == "runner":
            engine = make_engine(model, x, y, 10, 0, reshuffle=False, chunk_steps=n // 10)
            epoch = functools.partial(engine.train_epochs, 1)
        else:  # the plain jitted scan of one net's steps
            build_for_training(model, x[:10], y[:10])
            xs, ys = jax.numpy.asarray(x), jax.numpy.asarray(y)
            rows = np.arange(n, dtype=np.int32).reshape(-1, 10)

            def step(state, indices, x, y):
                metrics = [jax.numpy.zeros_like(v) for v in state[3]]
                logs, state = model.train_step((*state[:3], metrics), (scaled(x[indices]), y[indices]))
                return state, logs["loss"]

            scan = jax.jit(lambda state, rows, x, y: jax.lax.scan(lambda s, i: step(s, i, x, y), state, rows), donate_argnums=0)
            values = lambda variables: [jax.numpy.asarray(v.value) for v in variables]  # noqa: E731
            state = [(values(model.trainable_variables), values(model.non_trainable_variables),
                      values(model.optimizer.variables), values(model.metrics_variables))]

            def epoch():
                state[0], costs = scan(state[0], rows, xs, ys)
                return np.asarray(costs)

        tick = time.perf_counter()
        epoch()
        found[name] = {"first_epoch_seconds": time.perf_counter() - tick, "seconds_per_epoch": median_seconds(epoch, epochs)}
    found["peak_rss_mib"] = peak_rss_mib()
    return found


def main():
    results, settings = methods_side_by_side(
        __file__, __doc__, METHODS, measure, "epochs", 3, "timed epochs after the first, per recipe"
    )
    summary = {}
    print(f"{'recipe':10} {'method':12} {'first epoch s':>14} {'s/epoch':>9}")
    for name in RECIPES:
        for method in METHODS:
            r = results[method][name]
            print(f"{name:10} {method:12} {r['first_epoch_seconds']:14.2f} {r['seconds_per_epoch']:9.3f}")
        runner, plain = results["runner"][name]["seconds_per_epoch"], results["jit"][name]["seconds_per_epoch"]
        summary[name] = {"jit_over_runner": runner / plain}
        print(f"{name:10} the plain jit runs at {runner / plain:.2f}x the runner's stack of one")
    write_record(settings["json"], "jax_single_net", results, epochs=settings["epochs"], training_images=RECIPES, speedups=summary)


if __name__ == "__main__":
    main()
