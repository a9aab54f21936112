"""The documentation's table (docs/devices.md) of the environments the project is tested in, made from the sessions' records.

    python tests/environments/versions.py   # rewrites the table in docs/devices.md

`tests/test_environments.py` makes it again and fails when the page's differs.
"""

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RECORDS = REPO / "docs" / "results" / "environments"
START = "<!-- environments table: made by tests/environments/versions.py from docs/results/environments -->"
END = "<!-- end of the environments table -->"
SESSIONS = {
    "colab_tpu": "Colab's TPU runtime, JAX backend",
    "colab_gpu": "Colab's CPU/GPU runtime, TensorFlow",
    "floor": "the declared floors",
    "newest": "the newest pip resolves",
}
PACKAGES = ("keras", "jax", "tensorflow", "numpy", "ml-dtypes", "protobuf")


def row(session, title, record):
    # What the install replaced of what the image had (a package it added is not listed).
    moved = [f"{c['package']} {c['before']} → {c['after'] or 'removed'}" for c in record["install_changed"] if c["before"]]
    tests = record["pytest"]
    outcome = f"{tests['passed']} passed, {tests['failed'] + tests['errors']} failed" + ("" if record["ok"] else "; **failed**")
    cells = [
        f"[{title}](results/environments/{session}.json)",
        record["date_utc"][:10],
        record["python"],
        *(record["versions"].get(name) or "–" for name in PACKAGES),
        ", ".join(moved) or "nothing",
        outcome,
    ]
    return "| " + " | ".join(cells) + " |"


def table():
    header = ["environment", "date", "Python", *PACKAGES, "the install replaced", "tests"]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for session, title in SESSIONS.items():
        path = RECORDS / f"{session}.json"
        if path.exists():
            lines.append(row(session, title, json.loads(path.read_text())))
    return "\n".join(lines)


def readme_with_table(text):
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    return f"{before}{START}\n{table()}\n{END}{after}"


if __name__ == "__main__":
    readme = REPO / "docs" / "devices.md"
    readme.write_text(readme_with_table(readme.read_text()))
    sys.exit(0)
