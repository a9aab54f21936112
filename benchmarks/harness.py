"""What the benchmarks share: timing, peak memory, one process per measured method."""

import argparse
import json
import os
import resource
import subprocess
import sys


def median_seconds(fn, repeats):
    """`nndl_keras.timing.median_seconds`, imported when first used: a parent that only starts
    the measured processes must not hold Keras (Linux counts a child's peak memory from it)."""
    from nndl_keras.timing import median_seconds as median

    return median(fn, repeats)


def peak_rss_mib():
    """This process's peak resident memory."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def each_in_own_process(script, methods, args):
    """Runs `script --one METHOD ARGS...` per method (so each peak RSS is its own);
    each prints one JSON line last. Returns `{method: result}`."""
    results = {}
    for method in methods:
        done = subprocess.run([sys.executable, script, "--one", method, *args], capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"{method} failed:\n{done.stderr[-2000:]}")
        results[method] = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"measured {method}", file=sys.stderr, flush=True)
    return results


def methods_side_by_side(script, doc, methods, measure, option, default, help):
    """A benchmark's command line: measures each of `methods` in its own process.

    `script --one METHOD` is such a process: it prints `measure(METHOD,
    data_dir, value of --OPTION)` as JSON. Without --one, runs them all and
    returns `({method: result}, settings)` for the caller to tabulate and to
    `write_record` (settings: the option's value and `--json`'s path, or None).
    """
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("NNDL_KERAS_DATA_DIR"))
    parser.add_argument(f"--{option}", type=int, default=default, help=help)
    parser.add_argument("--json", metavar="PATH", help=JSON_HELP)
    parser.add_argument("--one", choices=methods, help=argparse.SUPPRESS)
    args = parser.parse_args()
    value = getattr(args, option.replace("-", "_"))
    if args.one:
        print(json.dumps(measure(args.one, args.data_dir, value)))
        raise SystemExit(0)
    extra = [f"--{option}", str(value)] + (["--data-dir", args.data_dir] if args.data_dir else [])
    return each_in_own_process(script, methods, extra), {option.replace("-", "_"): value, "json": args.json}


JSON_HELP = "also write the results with the command, commit, date and machine (docs/results/ quotes these)"


def write_record(path, benchmark, results=None, **summary):
    """Writes a benchmark's `summary` and `results` to `path` (if given) as JSON, with where
    they came from (command, commit, date, machine: CPU model, flags and load), atomically."""
    if not path:
        return None
    from nndl_keras.files import write_json
    from nndl_keras.provenance import provenance

    record = {"benchmark": benchmark, **provenance(), **summary}
    write_json(path, record if results is None else {**record, "results": results})
    print(f"wrote {path}")
    return path
