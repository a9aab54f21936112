"""How soon `nndl-keras` answers: help, list, show and a mistyped recipe, against a bare Python start.

Each command is started `--repeats` times, interleaved with `python -c pass`
so that both see the same load on the machine; the medians, the difference
(the goal: within 0.3 s of a bare start) and each command's peak memory are
printed and written to `--json` with the command, commit, date and machine.
`python -c "import nndl_keras"` (the package, which imports no Keras) and
`python -c "import nndl_keras, keras"` (Keras, the parts registering as it
loads: what a library user pays) are measured beside them for scale.

    python benchmarks/cli_startup.py --json docs/results/cli_startup_cpu.json
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

from harness import JSON_HELP, write_record

COMMAND = shutil.which("nndl-keras") or "nndl-keras"
CASES = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "nndl-keras --help": [COMMAND, "--help"],
    "nndl-keras list": [COMMAND, "list"],
    "nndl-keras show ch6-relu": [COMMAND, "show", "ch6-relu"],
    "nndl-keras run no-such-recipe": [COMMAND, "run", "no-such-recipe"],
    'python -c "import nndl_keras"': [sys.executable, "-c", "import nndl_keras"],
    'python -c "import nndl_keras, keras"': [sys.executable, "-c", "import nndl_keras, keras"],
}
GOAL_SECONDS = 0.3


def timed(args):
    """Seconds until `args` exits, and its peak resident memory (MiB; Linux counts a forked
    child from its parent's size, so this process imports nothing large before measuring)."""
    tick = time.perf_counter()
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=os.path.expanduser("~"))
    _, _, usage = os.wait4(process.pid, 0)
    return time.perf_counter() - tick, usage.ru_maxrss / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--json", metavar="PATH", help=JSON_HELP)
    args = parser.parse_args()
    seconds = {name: [] for name in CASES}
    memory = dict.fromkeys(CASES, 0.0)
    for _ in range(args.repeats):
        for name, command in CASES.items():  # interleaved: every case sees the same load
            s, mib = timed(command)
            seconds[name].append(s)
            memory[name] = max(memory[name], mib)
    bare = float(statistics.median(seconds["python -c pass"]))
    results = {}
    print(f"{'command':<32} {'median s':>9} {'over bare':>10} {'peak MiB':>9}")
    for name in CASES:
        median = float(statistics.median(seconds[name]))
        results[name] = {"median_seconds": round(median, 3), "over_bare_seconds": round(median - bare, 3),
                         "peak_rss_mib": round(memory[name], 1)}
        print(f"{name:<32} {median:>9.3f} {median - bare:>10.3f} {memory[name]:>9.1f}")
    answered = [n for n in CASES if n.startswith("nndl-keras")]
    worst = max(results[n]["over_bare_seconds"] for n in answered)
    print(f"slowest command over a bare start: {worst:.3f} s (goal: at most {GOAL_SECONDS} s)")
    # write_record imports the package last: a child forked from a process that holds Keras
    # would report its memory.
    write_record(args.json, "cli_startup", results, repeats=args.repeats,
                 slowest_over_bare_seconds=round(worst, 3), goal_seconds=GOAL_SECONDS)


if __name__ == "__main__":
    main()
