"""Timing on shared machines: the median of repeated calls, robust to bursts of other work."""

import statistics
import time


def median_seconds(fn, repeats):
    """The median wall time of `repeats` calls of `fn`."""
    times = []
    for _ in range(repeats):
        tick = time.perf_counter()
        fn()
        times.append(time.perf_counter() - tick)
    return statistics.median(times)
