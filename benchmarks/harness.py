"""What the benchmarks share: timing, peak memory, one process per measured method."""

import json
import resource
import subprocess
import sys
import time

import numpy as np


def median_seconds(fn, repeats):
    """Median wall time of `repeats` calls of `fn`."""
    times = []
    for _ in range(repeats):
        tick = time.perf_counter()
        fn()
        times.append(time.perf_counter() - tick)
    return float(np.median(times))


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
