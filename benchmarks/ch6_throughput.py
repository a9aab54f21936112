"""Training images per second of the ch6-dropout net (the ensemble's member), side by side.

Methods, each in its own process, on the expanded training set (uint8, scaled
on the fly), mini-batch 10, network3's fixed order:

- runner-graph: the runner's fused engine as a TensorFlow graph (what
  ch6-dropout uses on a CPU: oneDNN convolutions);
- runner-xla: the same loop compiled by XLA;
- fit: a plain `model.fit(x, y, batch_size=10)` of the same model on float32 images.

Usage: python benchmarks/ch6_throughput.py [--data-dir DIR] [--images N] [--json PATH]
"""

import functools
import os

from harness import median_seconds, methods_side_by_side, peak_rss_mib, write_record

METHODS = ("runner-graph", "runner-xla", "fit")


def measure(method, data_dir, images):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import numpy as np

    from nndl_keras import recipes
    from nndl_keras.data import expanded_training, load_mnist
    from nndl_keras.training import make_engine

    training = expanded_training(load_mnist(data_dir), size=images)
    keras.utils.set_random_seed(0)
    model = recipes.create_model("ch6-dropout")
    if method == "fit":
        x = training.x.astype(np.float32) / 255

        def epoch():
            model.fit(x, training.y, batch_size=10, epochs=1, shuffle=False, verbose=0)

    else:
        engine = make_engine(model, training.x, training.y, 10, 0, engine="fused", reshuffle=False, jit_compile=method == "runner-xla")
        epoch = functools.partial(engine.train_epochs, 1)
    epoch()  # warm-up: tracing, compilation, oneDNN primitives
    seconds = median_seconds(epoch, 2)
    return {"method": method, "images_per_second": images / seconds, "peak_rss_mib": peak_rss_mib()}


def main():
    results, settings = methods_side_by_side(__file__, __doc__, METHODS, measure, "images", 10_000, "images per timed epoch")
    base = results["fit"]["images_per_second"]
    print(f"{'method':<14} {'images/s':>9} {'vs fit':>7} {'peak RSS':>10}")
    for method, r in results.items():
        r["against_fit"] = r["images_per_second"] / base
        print(f"{method:<14} {r['images_per_second']:>9.0f} {r['against_fit']:>6.2f}x {r['peak_rss_mib']:>7.0f} MiB")
    # One member of the book's ensemble: 40 epochs of the 250,000 expanded images.
    member_minutes = 40 * 250_000 / results["runner-graph"]["images_per_second"] / 60
    print(f"one ensemble member (40 x 250,000 images) at the runner's rate: {member_minutes:.0f} min; five: {5 * member_minutes / 60:.1f} h")
    write_record(settings["json"], "ch6_throughput", results, recipe="ch6-dropout", images=settings["images"],
                 member_minutes=member_minutes)


if __name__ == "__main__":
    main()
