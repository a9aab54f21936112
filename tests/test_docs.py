"""The documentation (issue 28): a README read in five minutes, every link resolving, and the
results tables generated from the records, never typed."""

import json
import re

import pytest

from helpers import REPO, assert_one_line_error, run_cli
from nndl_keras import recipes
from nndl_keras.results import README_END, README_START, members_section, read_records, report, rows

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\[([^\]]*)\]\(([^)\s]+)\)")


def anchors(page):
    """The anchors GitHub makes for a page's headings."""
    found = set()
    for line in re.sub(r"```.*?```", "", page.read_text(), flags=re.S).splitlines():
        if re.match(r"#+ ", line):
            found.add(re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-"))
    return found


def test_the_readme_is_read_in_five_minutes():
    assert len((REPO / "README.md").read_text()) <= 15_000


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_link_resolves(page):
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    links = [target for _, target in LINK.findall(text) if not target.startswith(("http://", "https://"))]
    for target in links:
        path, _, fragment = target.partition("#")
        destination = (page.parent / path) if path else page
        assert destination.exists(), f"{page.name}: {target} does not exist"
        if fragment and destination.suffix == ".md":
            assert fragment in anchors(destination), f"{page.name}: {target} names no heading of {destination.name}"


def test_the_link_check_finds_a_broken_link_and_anchor(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n[ok](#title) [gone](missing.md)\n")
    with pytest.raises(AssertionError, match="missing.md does not exist"):
        test_every_link_resolves(page)
    page.write_text("# Title\n\n[ok](#title) [bad](#nowhere)\n")
    with pytest.raises(AssertionError, match="#nowhere names no heading"):
        test_every_link_resolves(page)


def generated():
    docs = REPO / "docs"
    _, files = report(recipes.list_recipes(), docs / "results", docs / "results.md", REPO / "README.md")
    return {path.relative_to(REPO).as_posix(): text for path, text in files.items()}


def test_the_results_page_csv_and_readme_table_are_the_records():
    # Regenerated from docs/results: any number edited by hand, or a record added without
    # `nndl-keras report`, differs.
    made = generated()
    for name, text in made.items():
        assert (REPO / name).read_text() == text, f"{name} is not what `nndl-keras report` makes of the records"
    # Chapter 3's figures, the book's curves beside ours, shown on the page.
    assert "![ch3-overfitting: overfitting](results/chapter-3/ch3-overfitting/overfitting.png)" in made["docs/results.md"]


def test_every_chapter_6_row_has_a_record_and_best_of_three_rows_list_their_runs():
    table = {row.recipe: row for row in rows(recipes.list_recipes(), read_records(REPO / "docs" / "results")[0], REPO / "docs")}
    chapter_6 = [row for row in table.values() if row.chapter == 6 and row.recipe != "ch6-dropout"]  # its nets: the members
    assert all(row.record for row in chapter_6), [row.recipe for row in chapter_6 if not row.record]
    for row in chapter_6:
        runs = json.loads((REPO / "docs" / row.record).read_text()).get("runs")
        if isinstance(runs, list) and len(runs) > 1:
            assert row.runs == " / ".join(f"{100 * run['measured_accuracy']:.2f}%" for run in runs), row.recipe


def record(path, recipe, epochs, date, accuracy, **extra):
    path.mkdir(parents=True)
    found = {"recipe": recipe, "hyperparameters": {"epochs": epochs, "train_size": 50_000}, "measured_accuracy": accuracy,
             "difference": None, "provenance": {"date": date, "commit": "0123456789", "machine": {"cpu": "CPU", "cores": 2}},
             "wall_time_seconds": 812.0, **extra}
    (path / "metrics.json").write_text(json.dumps(found))


def test_a_recipes_row_is_its_latest_full_length_record(tmp_path):
    results = tmp_path / "results"
    record(results / "quick", "ch6-conv", 1, "2026-12-03", 0.95)
    record(results / "old", "ch6-conv", 60, "2026-12-01", 0.98)
    runs = [{"measured_accuracy": a} for a in (0.9874, 0.9861, 0.9880)]
    record(results / "new", "ch6-conv", 60, "2026-12-02", 0.9874, runs=runs)
    record(results / "member", "ch6-ensemble", 40, "2026-12-02", None, member=1)  # the vote is the ensemble's record
    table = {row.recipe: row for row in rows(recipes.list_recipes(), read_records(results)[0], tmp_path)}
    conv = table["ch6-conv"]
    assert conv.ours == "98.74% test (best-validation epoch, best of 3 runs)"
    assert conv.runs == "98.74% / 98.61% / 98.80%" and conv.wall_time == "13 min 32 s" and conv.commit == "0123456"
    assert conv.record == "results/new/metrics.json" and len(conv.others) == 2
    assert table["ch6-ensemble"].record == "" and table["ch6-ensemble"].ours == "no record yet"


def test_members_are_listed_apart_each_with_all_its_processes_time(tmp_path):
    results = tmp_path / "results"
    record(results / "conv", "ch6-conv", 60, "2026-12-02", 0.9874)
    processes = [{"seconds": 3000.0}, {"seconds": 1000.0}]  # resumed once: 812 s is the last process's
    for k, extra in ((2, {}), (1, {"processes": processes, "training_seconds_all_processes": 4000.0})):
        record(results / f"member-{k}", "ch6-ensemble", 40, "2026-12-02", None, member=k, seed=k - 1, test_accuracy=0.9957,
               test_accuracy_at_best_validation=0.9951, best_validation_epoch=34, **extra)
    runs, members = read_records(results)
    assert [path.parent.name for path, _ in runs] == ["conv"]
    assert sorted(path.parent.name for path, _ in members) == ["member-1", "member-2"]
    lines = members_section(members, tmp_path)
    rows_ = [line for line in lines if line.startswith("| `ch6-ensemble` |")]
    assert rows_ == [
        "| `ch6-ensemble` | 1 | 0 | 99.57% | 99.51% (epoch 34) | CPU (2 cores) | 1 h 06 min (2 processes) | `0123456` | [record](results/member-1/metrics.json) |",
        "| `ch6-ensemble` | 2 | 1 | 99.57% | 99.51% (epoch 34) | CPU (2 cores) | 13 min 32 s | `0123456` | [record](results/member-2/metrics.json) |",
    ]
    assert members_section([], tmp_path) == []


def test_the_report_command_writes_the_page_csv_and_readme_and_refuses_a_readme_without_markers(tmp_path):
    results = tmp_path / "docs" / "results"
    record(results / "ch6-conv", "ch6-conv", 60, "2026-12-02", 0.9874)
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\n{README_START}\nold\n{README_END}\n")
    args = ("report", "--results-dir", results, "--page", tmp_path / "docs" / "results.md", "--readme", readme)
    done = run_cli(*args)
    assert done.returncode == 0, done.stderr
    # One run where the book took the best of three: the row says so.
    assert ("| `ch6-conv` | 98.78% test (best-validation epoch, best of 3 runs) | "
            "[98.74% test (best-validation epoch, one run of the book's 3)]") in readme.read_text()
    assert "(docs/results/ch6-conv/metrics.json)" in readme.read_text() and "old" not in readme.read_text()
    assert "[record](results/ch6-conv/metrics.json)" in (tmp_path / "docs" / "results.md").read_text()
    assert (tmp_path / "docs" / "results.csv").read_text().startswith("recipe,chapter,")
    readme.write_text("# Title\n")
    assert_one_line_error(run_cli(*args), "no results markers")
    assert_one_line_error(run_cli("report", "--results-dir", tmp_path / "nowhere"), "no records folder")
