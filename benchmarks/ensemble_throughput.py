"""Training images per second of chapter 6's ensemble members, stacked and one after another (JAX).

Methods, each in its own process (so that each peak memory is its own), on the
same uint8 images (the expanded set, scaled on the fly), mini-batch 10, the
ch6-dropout net (the ensemble's member), each member with its own seed:

- stacked: `JaxScan` of all M members, in one compiled step (`jax.vmap`),
  spread over the devices when there are several;
- sequential: `JaxScan` of one member (M = 1), one member after another, as
  the ch6-ensemble recipe trains them on a CPU (each its own compiled scan).

Each member takes --steps timed steps (one epoch of steps x 10 images), after
--warmup epochs of the same steps for compilation. "member images/s" is how
fast one member advances while it is trained; "ensemble images/s" counts the
images of all members per second of wall time; the ratio compares the time
the whole ensemble takes.

Usage: KERAS_BACKEND=jax python benchmarks/ensemble_throughput.py [--data-dir DIR]
           [--members 5] [--steps 100] [--warmup 1] [--full] [--json PATH]
Without MNIST (no --data-dir, no NNDL_KERAS_DATA_DIR), random uint8 images of
the same shape are used: the time of a step does not depend on the pixels.
"""

import argparse
import json
import os
import time

from harness import JSON_HELP, each_in_own_process, peak_rss_mib, write_record

METHODS = ("stacked", "sequential")
BATCH = 10
FULL_STEPS = 25_000  # one epoch of the expanded set: 250,000 images


def training_images(data_dir, n):
    """`n` uint8 training images (flattened) and their labels."""
    import numpy as np

    if not data_dir:
        rng = np.random.default_rng(0)
        return rng.integers(0, 256, (n, 784), dtype=np.uint8), rng.integers(0, 10, n).astype(np.int32)
    from nndl_keras.data import load_mnist
    from nndl_keras.data.expand import COPIES, expand

    data = load_mnist(data_dir)
    expanded = expand(data.training.take(min(len(data.training), -(-n // COPIES))))
    if len(expanded) < n:
        raise SystemExit(f"ensemble_throughput: {n} images asked, the expanded set has {len(expanded)}")
    return expanded.x[:n], expanded.y[:n]


def members(count):
    """The ch6-dropout nets, member k built after `set_random_seed(k)` (as the recipe does)."""
    import keras

    from nndl_keras import recipes

    built = []
    for k in range(count):
        keras.utils.set_random_seed(k)
        built.append(recipes.create_model("ch6-dropout"))
    return built


def timed_epochs(train, warmup):
    """Seconds of one epoch of `train`, after `warmup` untimed ones."""
    for _ in range(warmup):
        train()
    tick = time.perf_counter()
    train()
    return time.perf_counter() - tick


def measure(method, args):
    """One method's figures (in a process of its own)."""
    import jax
    import keras

    from nndl_keras import recipes
    from nndl_keras.training import make_engine

    x, y = training_images(args.data_dir, args.steps * BATCH)
    reshuffle = recipes.get("ch6-dropout").reshuffle
    models, seeds = members(args.members), list(range(args.members))
    if method == "stacked":
        engine = make_engine(models, x, y, BATCH, seeds, engine="stacked", reshuffle=reshuffle)
        member_seconds = timed_epochs(lambda: engine.train_epochs(1), args.warmup)
        ensemble_seconds, devices = member_seconds, len(engine.program.devices_used)
    else:
        times = []
        for model, seed in zip(models, seeds):
            engine = make_engine(model, x, y, BATCH, seed, reshuffle=reshuffle)
            times.append(timed_epochs(lambda: engine.train_epochs(1), args.warmup))
            del engine  # its copy of the data on the device goes, as in the recipe
        member_seconds, ensemble_seconds, devices = sum(times) / len(times), sum(times), 1
    images = args.steps * BATCH
    return {
        "method": method,
        "members": args.members,
        "devices": devices,
        "steps_per_member": args.steps,
        "seconds": ensemble_seconds,
        "member_images_per_second": images / member_seconds,
        "ensemble_images_per_second": args.members * images / ensemble_seconds,
        "peak_rss_mib": peak_rss_mib(),
        "device_peak_mib": device_peak_mib(jax),
        "device": jax.devices()[0].device_kind,
        "device_count": len(jax.devices()),
        "versions": {"jax": jax.__version__, "keras": keras.__version__},
    }


def device_peak_mib(jax):
    """The largest peak memory of one device, where the platform reports it (GPUs, TPUs)."""
    peaks = [(d.memory_stats() or {}).get("peak_bytes_in_use") for d in jax.devices()]
    peaks = [p for p in peaks if p is not None]
    return round(max(peaks) / 2**20, 1) if peaks else None


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("NNDL_KERAS_DATA_DIR"))
    parser.add_argument("--members", type=int, default=5)
    parser.add_argument("--steps", type=int, default=100, help="timed steps (mini-batches of 10) per member; 40 or more")
    parser.add_argument("--warmup", type=int, default=1, help="untimed epochs of the same steps first (compilation)")
    parser.add_argument("--full", action="store_true", help=f"{FULL_STEPS} steps: an epoch of the expanded set per member")
    parser.add_argument("--json", metavar="PATH", help=JSON_HELP)
    parser.add_argument("--one", choices=METHODS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.full:
        args.steps = FULL_STEPS
    return args


def keras_backend():
    """The backend Keras will use, found as Keras finds it but without importing
    it (which would start TensorFlow, and its log lines, to refuse it)."""
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    try:
        with open(os.path.join(home, "keras.json")) as f:
            return json.load(f).get("backend", "tensorflow")
    except (OSError, ValueError):
        return "tensorflow"


def main():
    args = parse_args()
    if keras_backend() != "jax":
        raise SystemExit(f"ensemble_throughput: needs the JAX backend (KERAS_BACKEND=jax), not {keras_backend()}")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if args.one:
        print(json.dumps(measure(args.one, args)))
        return
    passed = ["--members", str(args.members), "--steps", str(args.steps), "--warmup", str(args.warmup)]
    passed += ["--data-dir", args.data_dir] if args.data_dir else []
    results = each_in_own_process(__file__, METHODS, passed)
    report(args, results)


def report(args, results):
    from nndl_keras.provenance import describe, provenance

    ratio = results["sequential"]["seconds"] / results["stacked"]["seconds"]
    first = results["stacked"]
    data = "expanded MNIST" if args.data_dir else "random uint8 images"
    print(f"ch6-dropout, {args.members} members, {args.steps} steps of 10 each, {data}")
    origin = provenance()
    print(f"device: {first['device']} x {first['device_count']}; CPU: {describe(origin['machine'])}")
    print()
    print("| method | devices | member images/s | ensemble images/s | seconds | peak RSS | device peak |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for method, r in results.items():
        device_peak = "n/a" if r["device_peak_mib"] is None else f"{r['device_peak_mib']:.0f} MiB"
        print(
            f"| {method} | {r['devices']} | {r['member_images_per_second']:.0f} | {r['ensemble_images_per_second']:.0f} "
            f"| {r['seconds']:.1f} | {r['peak_rss_mib']:.0f} MiB | {device_peak} |"
        )
    print()
    print(f"stacked / sequential: {ratio:.2f}x the ensemble's images per second")
    write_record(
        args.json, "ensemble_throughput", results,
        device={"device": first["device"], "device_count": first["device_count"], **first["versions"]},
        settings={"recipe": "ch6-dropout", "members": args.members, "steps_per_member": args.steps,
                  "warmup_epochs": args.warmup, "batch_size": BATCH, "data": data},
        stacked_over_sequential=ratio,
    )


if __name__ == "__main__":
    main()
