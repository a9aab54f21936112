"""Accelerator check: ch6-relu and ch6-dropout for a few epochs on Keras's JAX backend.

Runs where there is a GPU and JAX but no TensorFlow (the runner's fused JAX
engine: each epoch one jitted `lax.scan` over the book's mini-batches of 10). Prints, per recipe, images/s, seconds
per epoch and test accuracy, and writes each run's outputs under --output-dir.

Usage: KERAS_BACKEND=jax python benchmarks/device_check.py --data-dir DIR
           [--relu-epochs 3] [--dropout-epochs 1] [--train-size N] [--steps-per-execution 500]
"""

import argparse
import os
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "jax")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("NNDL_KERAS_DATA_DIR"))
    parser.add_argument("--output-dir", default=None)
    parser.add_argument("--relu-epochs", type=int, default=3)
    parser.add_argument("--dropout-epochs", type=int, default=1)
    parser.add_argument("--train-size", type=int, default=None, help="fewer training images, for a quick try")
    parser.add_argument("--engine", default="auto", help="auto (fused: one jitted scan per epoch), fused or fit")
    parser.add_argument("--steps-per-execution", type=int, default=500, help="fit engine only")
    args = parser.parse_args()

    import jax
    import keras

    import nndl_keras

    print(f"backend {keras.backend.backend()}, devices {jax.devices()}", flush=True)
    root = args.output_dir or tempfile.mkdtemp(prefix="device-check-")
    rows = []
    for name, epochs in (("ch6-relu", args.relu_epochs), ("ch6-dropout", args.dropout_epochs)):
        tick = time.perf_counter()
        result = nndl_keras.run(
            name,
            epochs=epochs,
            train_size=args.train_size,
            data_dir=args.data_dir,
            output_dir=os.path.join(root, name),
            engine=args.engine,
            steps_per_execution=args.steps_per_execution,
            overwrite=True,
        )
        m = result.metrics
        images = m["hyperparameters"]["train_size"]
        rows.append((name, epochs, images / m["seconds_per_epoch"], m["seconds_per_epoch"], m["test_accuracy"],
                     m["test_accuracy_at_best_validation"], time.perf_counter() - tick))
    print(f"{'recipe':<12} {'epochs':>6} {'images/s':>9} {'s/epoch':>8} {'test (final)':>12} {'test (best val)':>15} {'wall s':>7}")
    for name, epochs, rate, seconds, final, at_best, wall in rows:
        print(f"{name:<12} {epochs:>6} {rate:>9.0f} {seconds:>8.1f} {100 * final:>11.2f}% {100 * at_best:>14.2f}% {wall:>7.0f}")


if __name__ == "__main__":
    main()
