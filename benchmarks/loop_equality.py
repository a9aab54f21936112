"""The training loop's redesign changes no number: five recipes' metrics at two commits, side by side.

Issue 27 rewrote `nndl_keras/training/` (one epoch loop, engines as step
programs). This script builds the package as each of two commits has it
(`pip install --no-deps --target`, from `git archive`: no checkout is
touched), runs the same five short recipes with each in a fresh process on
this CPU, and writes both commits' metrics and, per recipe, whether they are
bit-identical (every measured number: accuracies, costs, the best epochs; not
times, versions or provenance) and, where not, which keys differ and by how
much. Beside them, each commit's own `benchmarks/ch1_epoch.py` times
the runner's ch1-sgd epoch and `fit`'s, each in its own process, and the
ratio is kept: the speed check that belongs with the numbers.

    python benchmarks/loop_equality.py BEFORE AFTER --json docs/results/loop_equality_cpu.json
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # the harness, beside this script

from harness import write_record  # noqa: E402

CASES = {  # recipe: overrides (issue 27, item 6)
    "ch1-sgd": {"epochs": 2},
    "ch3-overfitting": {"epochs": 20},
    "ch5-speed-4": {"epochs": 50},
    "ch6-relu": {"epochs": 1, "train_size": 10000},
    "ch6-ensemble": {"members": 3, "epochs": 1, "train_size": 5000},
}
# What the record leaves out of the numbers it keeps (compared all the same): the list of the
# vote's 10,000 errors, which the members' predictions give again.
DERIVED = {"misclassified"}
# Numbers that differ from run to run whatever the code: times, and where and when it ran.
VOLATILE = {"seconds", "seconds_per_epoch", "wall_time_seconds", "versions", "provenance", "processes", "training_seconds_all_processes"}

CHILD = """
import json, sys, tempfile
import nndl_keras
cases, data_dir = json.loads(sys.argv[1]), sys.argv[2]
found = {}
for name, overrides in cases.items():
    with tempfile.TemporaryDirectory() as out:
        result = nndl_keras.run(name, data_dir=data_dir, output_dir=out, verbose=0, overwrite=True, **overrides)
        found[name] = {"metrics": result.metrics, "file": nndl_keras.__file__}
print(json.dumps(found, default=str))
"""


def stable(value):
    """`value` less what changes between runs of the same code (see `VOLATILE`)."""
    if isinstance(value, dict):
        return {k: stable(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [stable(v) for v in value]
    return value


def differences(before, after, path=""):
    """The keys where two metrics differ: {path: largest absolute difference, or 'differs'}."""
    if isinstance(before, dict) and isinstance(after, dict):
        found = {}
        for key in sorted(set(before) | set(after)):
            if key not in before or key not in after:
                found[f"{path}{key}"] = "only in one"
            else:
                found.update(differences(before[key], after[key], f"{path}{key}."))
        return found
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        found = {}
        for b, a in zip(before, after):
            for key, d in differences(b, a, path).items():
                worst = found.get(key, 0.0)
                found[key] = d if isinstance(d, str) or isinstance(worst, str) else max(worst, d)
        return found
    if before == after:
        return {}
    if isinstance(before, (int, float)) and isinstance(after, (int, float)):
        return {path.rstrip("."): abs(before - after)}
    return {path.rstrip("."): "differs"}


def measure(commit, data_dir, root):
    """Each case's stable metrics with the package as `commit` has it (built in a new folder of `root`)."""
    root = Path(tempfile.mkdtemp(dir=root))
    source, site = root / "src", root / "site"
    source.mkdir()
    archive = subprocess.run(["git", "archive", commit], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(source)], input=archive, check=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target", str(site), str(source)],
        check=True,
    )
    env = {**os.environ, "PYTHONPATH": str(site), "KERAS_BACKEND": "tensorflow"}
    done = subprocess.run(
        [sys.executable, "-P", "-c", CHILD, json.dumps(CASES), data_dir], capture_output=True, text=True, env=env, cwd=root
    )
    if done.returncode:
        raise SystemExit(f"{commit} failed:\n{done.stderr[-3000:]}")
    found = json.loads(done.stdout.strip().splitlines()[-1])
    for name, one in found.items():
        if not one["file"].startswith(str(site)):
            raise SystemExit(f"{commit}: {name} ran {one['file']}, not the package built from {commit}")
    speed = {}
    for method in ("runner", "fit"):  # ch1_epoch.py's methods, as this commit's benchmark measures them
        timed = subprocess.run(
            [sys.executable, str(source / "benchmarks" / "ch1_epoch.py"), "--one", method, "--epochs", "3", "--data-dir", data_dir],
            capture_output=True, text=True, env=env, cwd=root,
        )
        if timed.returncode:
            raise SystemExit(f"{commit}: ch1_epoch.py {method} failed:\n{timed.stderr[-3000:]}")
        speed[method] = json.loads(timed.stdout.strip().splitlines()[-1])["seconds_per_epoch"]
    speed["fit_over_runner"] = speed["fit"] / speed["runner"]
    print(f"measured {commit}", file=sys.stderr, flush=True)
    return {name: stable(one["metrics"]) for name, one in found.items()}, speed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", help="the commit before the change")
    parser.add_argument("after", help="the commit after it")
    parser.add_argument("--data-dir", default=os.environ.get("NNDL_KERAS_DATA_DIR"))
    parser.add_argument("--json", metavar="PATH", help="also write the record (docs/results/ quotes it)")
    args = parser.parse_args()
    if not args.data_dir:
        raise SystemExit("loop_equality.py: error: pass --data-dir or set NNDL_KERAS_DATA_DIR")
    commits = [subprocess.run(["git", "rev-parse", c], capture_output=True, text=True, check=True).stdout.strip() for c in (args.before, args.after)]
    with tempfile.TemporaryDirectory() as root:
        (before, before_speed), (after, after_speed) = (measure(c, args.data_dir, Path(root)) for c in commits)
    cases = {}
    for name, overrides in CASES.items():
        diff = differences(before[name], after[name])
        kept = {side: {k: v for k, v in numbers[name].items() if k not in DERIVED} for side, numbers in (("before", before), ("after", after))}
        digests = {side: hashlib.sha256(json.dumps(numbers[name], sort_keys=True).encode()).hexdigest()
                   for side, numbers in (("before", before), ("after", after))}
        # Identical: one copy of the numbers serves both commits.
        numbers = {"numbers": kept["after"]} if not diff else kept
        cases[name] = {"overrides": overrides, "identical": not diff, "differences": diff, "sha256": digests, **numbers}
        print(f"{name:16} {'bit-identical' if not diff else 'differs: ' + ', '.join(f'{k} ({v})' for k, v in diff.items())}")
    speed = {"before": before_speed, "after": after_speed}
    print(f"ch1-sgd s/epoch, runner / fit: before {before_speed['runner']:.3f} / {before_speed['fit']:.3f}, "
          f"after {after_speed['runner']:.3f} / {after_speed['fit']:.3f}")
    write_record(
        args.json, "loop_equality", cases, before_commit=commits[0], after_commit=commits[1],
        identical=sorted(n for n, c in cases.items() if c["identical"]), ch1_epoch_seconds=speed,
    )


if __name__ == "__main__":
    main()
