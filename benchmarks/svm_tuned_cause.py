"""Why `ch1-svm-tuned` gives 97.80%, not the "over 98.5%" the book cites: measured side by side.

Chapter 1 cites Andreas Mueller's grid search for an RBF SVM above 98.5%, with
C = 2^1.5 and gamma = 2^-7.1. Those parameters on the book's 50,000 images with
pixels in [0, 1] give 97.80% (docs/results/chapter-1/ch1-svm-tuned). An RBF
kernel's gamma is only meaningful with the scale of the pixels it was searched
on: libsvm's `svm-scale`, the usual way to prepare data for libsvm in 2010, scales
every feature to [-1, 1] by default, which doubles each distance and so
quadruples ||x - x'||^2. This trains the same SVC on the same images, each
variant in turn:

- `cited, pixels in [0, 1]`: the recipe as it is (C 2.83, gamma 0.00729);
- `cited, pixels in [-1, 1]`: the same parameters on svm-scale's default range;
- `gamma x 4, pixels in [0, 1]`: the [-1, 1] kernel written for [0, 1] pixels
  (the same kernel values: the same accuracy up to solver tolerance);
- `book-era default`: ch1-svm's C 1, gamma 1/784 on [0, 1], for reference.

A subset of the training images keeps it to minutes (an SVC's fit grows with
the square of n or faster); all 10,000 test images are classified. Writes the
accuracies and times, with the machine, to --json and a bar chart beside it.

    python benchmarks/svm_tuned_cause.py --train-size 10000 --json docs/results/chapter-1/ch1-svm-tuned-cause.json
"""

import argparse
import time

from harness import write_record

C, GAMMA = 2.82842712475, 0.00728932024638  # Mueller's, as the recipe quotes them
VARIANTS = {  # name: (C, gamma, pixel range)
    "cited, pixels in [0, 1]": (C, GAMMA, (0, 1)),
    "cited, pixels in [-1, 1]": (C, GAMMA, (-1, 1)),
    "gamma x 4, pixels in [0, 1]": (C, 4 * GAMMA, (0, 1)),
    "book-era default (C 1, gamma 1/784), [0, 1]": (1.0, 1 / 784, (0, 1)),
}


def measure(x, y, test, c, gamma, low_high):
    """The recipes' own SVC (`ch1_svm.support_vector_machine`, its pixel scaling included) with
    these parameters: test accuracy, fit and predict times."""
    from nndl_keras import recipes
    from nndl_keras.recipes.ch1_svm import support_vector_machine

    hp = recipes.get("ch1-svm-tuned").hparams.replace(options={"C": c, "gamma": gamma, "pixel_range": list(low_high)})
    tick = time.perf_counter()
    predict = support_vector_machine(x, y, hp)
    fitted = time.perf_counter()
    accuracy = float((predict(test.x) == test.y).mean())
    return {"C": c, "gamma": gamma, "pixels": list(low_high), "test_accuracy": accuracy,
            "fit_seconds": round(fitted - tick, 2), "predict_seconds": round(time.perf_counter() - fitted, 2)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-size", type=int, default=10_000, help="first N of the book's 50,000 training images")
    parser.add_argument("--data-dir", help="MNIST directory (else $NNDL_KERAS_DATA_DIR)")
    parser.add_argument("--json", help="write the record here (and a PNG beside it)")
    args = parser.parse_args()

    from nndl_keras.data import load_mnist

    data = load_mnist(args.data_dir)
    training = data.training.take(args.train_size)
    print(f"SVC on the first {args.train_size:,} training images, tested on {len(data.test.y):,}: {len(VARIANTS)} variants")
    results = {}
    for name, (c, gamma, low_high) in VARIANTS.items():
        results[name] = measure(training.x, training.y, data.test, c, gamma, low_high)
        found = results[name]
        print(f"  {name}: {100 * found['test_accuracy']:.2f}% (fit {found['fit_seconds']:.0f} s, predict {found['predict_seconds']:.0f} s)")
    cited, wide = results["cited, pixels in [0, 1]"], results["cited, pixels in [-1, 1]"]
    summary = {"train_size": args.train_size, "test_size": int(len(data.test.y)),
               "range_gain_points": round(100 * (wide["test_accuracy"] - cited["test_accuracy"]), 2)}
    if write_record(args.json, "svm_tuned_cause", results, **summary):
        chart(results, args.train_size, args.json.replace(".json", ".png"))


def chart(results, train_size, path):
    """The variants' test accuracies as horizontal bars, each labelled."""
    import matplotlib.pyplot as plt

    from nndl_keras.plots import save_figure

    fig, ax = plt.subplots(figsize=(8, 3.2))
    names, accuracies = list(results)[::-1], [100 * results[n]["test_accuracy"] for n in list(results)[::-1]]
    shown = ax.barh(range(len(names)), accuracies, color="tab:blue")
    ax.bar_label(shown, labels=[f"{a:.2f}%" for a in accuracies], padding=3)
    ax.set_yticks(range(len(names)), names)
    ax.set_xlim(min(accuracies) - 2, 100)
    ax.set_xlabel("test accuracy (%)")
    ax.set_title(f"RBF SVM (Mueller's C and gamma) on {train_size:,} MNIST images: the pixel range matters", fontsize="medium")
    print(f"wrote {save_figure(fig, path)}")

if __name__ == "__main__":
    main()
