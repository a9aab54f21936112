"""The environments table (docs/devices.md) is the sessions' records (issue 26, item 5)."""

import importlib.util

from helpers import REPO


def versions_module():
    spec = importlib.util.spec_from_file_location("versions", REPO / "tests" / "environments" / "versions.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readmes_environments_table_is_made_from_the_records():
    versions = versions_module()
    readme = (REPO / "docs" / "devices.md").read_text()
    assert readme == versions.readme_with_table(readme), "run: python tests/environments/versions.py"
    table = readme.split(versions.START, 1)[1].split(versions.END, 1)[0]
    for session in ("colab_tpu", "colab_gpu", "floor", "newest"):  # every session has run and is quoted
        assert f"(results/environments/{session}.json)" in table


def test_a_colab_session_that_replaced_keras_is_shown_failed():
    versions = versions_module()
    record = {
        "date_utc": "2026-12-06T00:00:00Z", "python": "3.13.0", "ok": False,
        "versions": {"keras": "3.15.1", "jax": "0.7.2"},
        "install_changed": [{"package": "keras", "before": "3.13.2", "after": "3.15.1"},
                            {"package": "tensorflow", "before": None, "after": "2.21.0"}],
        "pytest": {"passed": 5, "failed": 1, "errors": 0},
    }
    line = versions.row("colab_tpu", "Colab", record)
    assert "| keras 3.13.2 → 3.15.1 |" in line and "tensorflow" not in line.split("|")[-3]
    assert line.endswith("| 5 passed, 1 failed; **failed** |")
