"""The README's chapter-6 and ensemble numbers are the ones their artifacts in docs/results record."""

import fnmatch
import json
import re

from helpers import REPO
from nndl_keras.provenance import describe

RESULTS = REPO / "docs" / "results"
MEMBERS = sorted((RESULTS / "ch6-ensemble").glob("member-*/metrics.json"))


def readme():
    return (REPO / "README.md").read_text()


def load(path):
    return json.loads(path.read_text())


def test_h200_speeds_and_earlier_results_are_the_artifacts():
    text = readme()
    for name in ("ch6-relu", "ch6-dropout"):
        metrics = load(RESULTS / f"{name}_h200.json")
        images = metrics["hyperparameters"]["train_size"] / metrics["seconds_per_epoch"]
        assert f"{images:,.0f}" in text, name
    assert f"({100 * load(RESULTS / 'ch6-dropout_h200.json')['measured_accuracy']:.2f}%)" in text
    ensemble = load(RESULTS / "ch6-ensemble-10-epochs_h200.json")
    assert f"({100 * ensemble['measured_accuracy']:.2f}%, {ensemble['errors']} errors, 10 epochs per member)" in text


def test_ensemble_throughput_figures_are_the_benchmarks():
    record = load(RESULTS / "ensemble_throughput_cpu.json")
    text = readme()
    assert f"stacked / sequential: **{record['stacked_over_sequential']:.2f}x**" in text
    for method, measured in record["results"].items():
        assert f"| {method} | {measured['member_images_per_second']:.0f} | {measured['ensemble_images_per_second']:.0f} |" in text
    assert record["machine"]["cpu"] in text
    assert f"at load {record['machine']['load_average']:.1f}, the benchmark's own\nwork" in text


def test_full_length_members_are_quoted_from_their_runs():
    assert MEMBERS, "docs/results/ch6-ensemble holds no member"
    text = readme()
    for path in MEMBERS:
        member = load(path)
        assert member["hyperparameters"]["epochs"] == 40 and member["hyperparameters"]["train_size"] == 250_000
        assert member["hyperparameters"]["dropout_style"] == "book"
        assert len(member["test_predictions"]) == 10_000
        best = f"{100 * member['test_accuracy_at_best_validation']:.2f}% (epoch {member['best_validation_epoch']})"
        minutes = round(member["wall_time_seconds"] / 60)
        wall = f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"
        row = f"| {member['member']} | {member['seed']} | {100 * member['test_accuracy']:.2f}% | {best} |"
        assert row in text, row
        assert f"{row} {describe(member['provenance']['machine'])} | {wall} |" in text, (row, wall)
        assert f"| `{member['provenance']['commit'][:7]}` |" in text
        assert member["provenance"]["commit"] and not member["provenance"]["commit"].endswith("+dirty")


def test_the_full_length_vote_is_its_members_vote_and_quoted_beside_the_books(mnist, tmp_path):
    from nndl_keras.recipes.ch6_ensemble import tally

    vote = load(RESULTS / "ch6-ensemble" / "vote" / "vote.json")
    members = sorted((load(path) for path in MEMBERS), key=lambda m: m["member"])
    # The five committed members, and nothing else, voted; recounted here from their files.
    assert [m["member"] for m in members] == [1, 2, 3, 4, 5] == [m["member"] for m in vote["members"]]
    assert [m["test_predictions"] for m in vote["members"]] == [m["test_predictions"] for m in members]
    recount = tally(members, mnist.test, tmp_path)
    errors = recount["errors"]
    assert errors == vote["errors"] and vote["ensemble_test_accuracy"] == recount["ensemble_test_accuracy"] == (10_000 - errors) / 10_000
    assert vote["recipe"] == "ch6-ensemble" and vote["provenance"]["command"].startswith("nndl-keras vote")
    assert from_a_clean_commit(vote)
    quoted = f"**{100 * vote['ensemble_test_accuracy']:.2f}%** ({errors} errors)"
    assert quoted in row("ch6-ensemble") and "99.67% (33 errors)" in row("ch6-ensemble")
    assert f"the vote of the five: {quoted}" in readme()
    best = max(members, key=lambda m: m["test_accuracy"])
    spread = f"the members' own final epochs ({100 * min(m['test_accuracy'] for m in members):.2f}% to {100 * best['test_accuracy']:.2f}%)"
    assert vote["ensemble_test_accuracy"] < best["test_accuracy"] and f"{spread}:\n  it is below member {best['member']}'s" in readme()
    four = tally(members[:4], mnist.test, tmp_path)["ensemble_test_accuracy"]
    assert f"members 1 to 4 alone, recounted from the same files, vote\n  {100 * four:.2f}%." in readme()


def row(name):
    """The README's table row of recipe `name`."""
    return next(line for line in readme().splitlines() if line.startswith(f"| `{name}` |"))


def cpu(metrics):
    machine = metrics["provenance"]["machine"]
    vectors = ", AVX-512" if "avx512f" in machine["cpu_flags"] else ""
    return f"CPU: {machine['cpu']}, {machine['cores']} cores{vectors}"


def from_a_clean_commit(metrics):
    commit = metrics["provenance"]["commit"]
    return bool(commit) and not commit.endswith("+dirty")


def test_backprop_speed_is_quoted_from_its_run():
    metrics = load(RESULTS / "ch2-backprop" / "metrics.json")
    speed = metrics["backprop_speed"]
    forward, central = speed["finite_differences"]["forward"], speed["finite_differences"]["central"]
    line = row("ch2-backprop")
    for quoted in (
        f"({speed['weights']:,} weights and biases, {speed['minibatch']} images)",
        f"backprop {1e6 * speed['backprop_seconds']:.0f} µs ({speed['backprop_in_forward_passes']:.1f} forward passes)",
        f"{forward['extrapolated_seconds']:.2f} s by eq. (46) (**{forward['ratio_to_backprop']:,.0f}x**;",
        f"the book's count for {speed['weights']:,} weights: {speed['book']['ratio_at_these_weights']:,.0f}x)",
        f"{central['extrapolated_seconds']:.2f} s central (**{central['ratio_to_backprop']:,.0f}x**)",
        f"extrapolated from {speed['sample']:,} timed weights",
        f"{speed['book']['ratio']:,.0f}x",
        cpu(metrics),
    ):
        assert quoted in line, quoted
    assert speed["layers"] == [784, 30, 10] and from_a_clean_commit(metrics)


def test_linear_net_error_is_quoted_from_its_run():
    metrics = load(RESULTS / "ch4-universality" / "metrics.json")
    linear, sigmoid = metrics["linear"], metrics["trained"]
    line = row("ch4-universality")
    for quoted in (
        f"the same {2 * sigmoid['bumps']} neurons trained from random steep steps: {sigmoid['mean_abs_error']:.4f};",
        f"trained the same way: {linear['mean_abs_error']:.3f}, **{linear['over_sigmoid']:.1f}x** the sigmoid net's",
        f"over {linear['claimed_factor']}x",
        f"the best straight line: {linear['best_line_mean_abs_error']:.3f}",
        f"{cpu(metrics)}, {linear['epochs']} epochs",
    ):
        assert quoted in line, quoted
    assert linear["epochs"] == metrics["hyperparameters"]["epochs"] == 300 and from_a_clean_commit(metrics)


def test_cli_start_up_table_is_the_benchmark():
    record = load(RESULTS / "cli_startup_cpu.json")
    text = readme()
    for name, v in record["results"].items():
        row = f"| `{name}` | {v['median_seconds']:.3f} s | {v['over_bare_seconds']:.3f} s | {v['peak_rss_mib']:.0f} MiB |"
        assert row in text, row
    assert f"`benchmarks/cli_startup.py` on {record['machine']['cpu']}" in text
    assert record["slowest_over_bare_seconds"] <= record["goal_seconds"]


def test_the_first_commands_run_is_its_record():
    metrics = load(RESULTS / "ch1-sgd" / "metrics.json")
    machine = metrics["provenance"]["machine"]
    text = readme()
    assert metrics["provenance"]["command"] == "nndl-keras run ch1-sgd --output-dir docs/results/ch1-sgd"
    assert not metrics["provenance"]["commit"].endswith("+dirty")
    seconds, busy = f"{metrics['wall_time_seconds']:.0f} s", f"{machine['load_average']:.1f}"
    assert f"**{100 * metrics['measured_accuracy']:.2f}%** (CPU, {seconds} for three runs at load {busy}," in text
    assert f"three runs: {seconds} on a 2-core {machine['cpu']}" in text and f"load\n{busy}" in text


def test_ch6_relu_three_epochs_is_its_record():
    metrics = load(RESULTS / "ch6-relu-3-epochs" / "metrics.json")
    machine = metrics["provenance"]["machine"]
    assert metrics["hyperparameters"]["epochs"] == 3 and metrics["seed"] == 0
    quoted = (f"`--epochs 3` on the CPU ({machine['cpu']}): **{100 * metrics['measured_accuracy']:.2f}%** "
              f"({metrics['wall_time_seconds']:.0f} s at load {machine['load_average']:.1f},")
    assert quoted in readme()


def test_gradient_monitor_overhead_is_the_benchmark():
    record = load(RESULTS / "gradient_monitor_overhead_cpu.json")
    runner, fit = record["runner"], record["fit"]
    text = " ".join(readme().split())
    assert f"costs {1000 * runner['measurement_seconds']:.1f} ms against a {runner['seconds_per_epoch']:.3f} s" in text
    assert f"ch5-depth-4 epoch of the runner ({runner['overhead_percent']:.2f}%)" in text
    assert f"took {fit['seconds_per_epoch_with']:.3f} s and without it {fit['seconds_per_epoch_without']:.3f} s ({fit['overhead_percent']:+.2f}%" in text
    assert runner["overhead_percent"] < 5  # issue 14: within 5% of an epoch


def test_ch6_adversarial_one_epoch_is_its_record():
    metrics = load(RESULTS / "ch6-adversarial-1-epoch" / "metrics.json")
    machine = metrics["provenance"]["machine"]
    fc, conv = metrics["nets"]["fully_connected"], metrics["nets"]["convolutional"]
    assert metrics["provenance"]["command"] == "nndl-keras run ch6-adversarial --epochs 1 --output-dir docs/results/ch6-adversarial-1-epoch"
    assert from_a_clean_commit(metrics) and metrics["hyperparameters"]["epochs"] == 1 and fc["epochs"] == conv["epochs"] == 1
    assert metrics["claim_holds"] is True and (fc["fgsm_images"], fc["bim_images"]) == (10_000, 1_000)
    at = metrics["epsilons"].index(metrics["claimed_epsilon"])
    line = row("ch6-adversarial")
    for quoted in (
        f"FGSM at ε = {metrics['claimed_epsilon']:g} ({255 * metrics['claimed_epsilon']:.0f} grey levels): "
        f"**{100 * fc['fgsm_accuracy'][at]:.2f}% / {100 * conv['fgsm_accuracy'][at]:.2f}%** test",
        f"(unattacked {100 * fc['clean_test_accuracy']:.2f}% / {100 * conv['clean_test_accuracy']:.2f}%)",
        f"(CPU, {metrics['wall_time_seconds']:.0f} s at load {machine['load_average']:.1f},",
    ):
        assert quoted in line, quoted
    text = readme()
    assert f"--epochs 1`, {machine['cpu']}, {machine['cores']} cores;" in text
    for i, e in enumerate(metrics["epsilons"]):
        cells = [100 * n[k][i] for n in (fc, conv) for k in ("fgsm_accuracy", "bim_accuracy")]
        table_row = f"| {e:g} | {255 * e:.2f} | " + " | ".join(f"{c:.2f}%" for c in cells) + " |"
        assert table_row in text, table_row
    for name, net in (("[784, 30, 10]", fc), ("ch6-relu", conv)):
        found = net["smallest_flipping_epsilon"]
        quartiles = {a: "{1:g} ({0:g}–{2:g})".format(*found[a]["quartiles_grey_levels"]) for a in ("fgsm", "bim")}
        flips = (f"| {name} | {found['fgsm']['classified_correctly']} | {quartiles['fgsm']} | {found['fgsm']['never_flipped']} | "
                 f"{quartiles['bim']} | {found['bim']['never_flipped']} |")
        assert flips in text, flips


# The recipe tables: every measured number has a record (a JSON under docs/results naming
# its recipe) and is one of that record's numbers, as the README rounds it.
RECIPE_TABLES = ("### Chapters 1 and 2", "### Chapter 3", "### Chapters 4 and 5", "### Chapter 6")
DECIMAL = re.compile(r"(?<![\w.])(\d[\d,]*\.\d+(?:e-?\d+)?)(%|x| points)?")
DURATION = re.compile(r"(?<![\d.,])(?:(\d+) h )?(?:(\d+) min)?(?: ?(?<![\d.,])(\d+) s)?\b")


def recipe_rows():
    """(recipe names, measured cell) of each row of the README's recipe tables."""
    section = None
    for line in readme().splitlines():
        if line.startswith("#"):
            section = line if line.startswith(RECIPE_TABLES) else None
        elif section and line.startswith("| `"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            names = re.findall(r"`([a-z0-9-]+)`", cells[0])
            # "`ch5-depth-1` … `-4`": the recipes from ch5-depth-1 to ch5-depth-4
            base = names[0].rsplit("-", 1)[0]
            names = [base + n if n.startswith("-") else n for n in names]
            yield names + [f"{base}-*"] if "…" in cells[0] else names, cells[-1]


def records_by_recipe():
    """Every JSON record under docs/results, by the recipe it names (reproduce tables by their rows')."""
    found = {}
    for path in RESULTS.rglob("*.json"):
        record = load(path)
        for entry in [record, *record.get("rows", [])]:
            if isinstance(entry, dict) and "recipe" in entry:
                found.setdefault(entry["recipe"], []).append(entry)
    return found


def numbers(obj, key=""):
    """(key, value) of every number in a record, in its dicts and its short lists (not histories)."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from numbers(v, k)
    elif isinstance(obj, list) and len(obj) <= 20:
        for v in obj:
            yield from numbers(v, key)
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        yield key, obj


def points(record):
    """Gaps in percentage points a record implies: its book difference, its largest gap from a book curve."""
    if record.get("difference") is not None:
        yield 100 * abs(record["difference"])
    for key, measured in record.items():
        book = record.get(f"book_{key}")
        if key.endswith("_by_size") and isinstance(book, dict):
            yield 100 * max(abs(measured[size] - book[size]) for size in measured)


def quoted_from(token, unit, values, gaps=()):
    """Whether a decimal of the README is one of a record's numbers as rounded: a percentage as
    100 x a fraction, "N points" as one of the record's gaps, anything else as it is."""
    plain = token.replace(",", "")
    if "e" in plain:  # 6.9e-12
        return any(float(f"{v:.{len(plain.split('e')[0]) - 2}e}") == float(plain) for v in values)
    digits = len(plain.split(".")[1])
    scale, candidates = {"%": (100, values), " points": (1, gaps)}.get(unit, (1, values))
    return any(f"{scale * v:.{digits}f}" == plain for v in candidates)


def durations_quoted(cell):
    """Seconds of each time the cell quotes (`33 s`, `3 min 39 s`, `31 min`, `1 h 33 min`), with its rounding."""
    for match in DURATION.finditer(re.sub(r"\[[^\]]*\]\([^)]*\)", "", cell)):
        hours, minutes, seconds = (int(g) if g else None for g in match.groups())
        if minutes is None and seconds is None:
            continue
        total = 3600 * (hours or 0) + 60 * (minutes or 0) + (seconds or 0)
        yield match.group(0).strip(), total, 1 if seconds is not None else 60


def test_every_measured_number_in_the_recipe_tables_is_its_records():
    records = records_by_recipe()
    checked = 0
    for names, cell in recipe_rows():
        text = re.sub(r"\]\([^)]*\)|`[^`]*`", "]", cell)  # link targets and code are not measurements
        quoted = DECIMAL.findall(text)
        times = list(durations_quoted(text))
        if not quoted and not times:
            continue
        found = [r for recipe, rs in records.items() for r in rs if any(fnmatch.fnmatch(recipe, n) for n in names)]
        assert found, f"{names}: the README quotes {cell!r} but docs/results holds no record of it"
        values = [v for r in found for _, v in numbers(r)]
        gaps = [g for r in found for g in points(r)]
        for token, unit in quoted:
            assert quoted_from(token, unit or None, values, gaps), f"{names}: {token}{unit} is in no record of it"
        seconds = [v for r in found for k, v in numbers(r) if "seconds" in k]
        for shown, total, rounding in times:
            assert any(abs(round(s / rounding) * rounding - total) < 1 for s in seconds), f"{names}: {shown} is in no record"
        checked += 1
    assert checked >= 10


def test_the_chapter_3_reproduction_is_its_record():
    record = load(RESULTS / "chapter-3" / "reproduce.json")
    minutes = round(sum(row["seconds"] for row in record["rows"]) / 60)
    assert record["command"].startswith("nndl-keras reproduce --chapter 3") and not record["commit"].endswith("+dirty")
    assert f"all {len(record['rows'])} recipes in {minutes} min on a CPU shared with other work" in readme()


def test_ch1_epoch_table_is_the_benchmark():
    record = load(RESULTS / "ch1_epoch_cpu.json")
    text = readme()
    assert f"at load {record['machine']['load_average']:.1f}, the benchmark's own work" in text and record["command"].startswith("python ch1_epoch.py")
    for method, measured in record["results"].items():
        ratio = "1.0x" if method == "runner" else f"{measured['runner_is_faster']:.1f}x faster"
        assert f"| {measured['seconds_per_epoch']:.3f} | {ratio} | {measured['peak_rss_mib']:.0f} MiB |" in text, method


def test_ch6_throughput_table_is_the_benchmark():
    record = load(RESULTS / "ch6_throughput_cpu.json")
    text = readme()
    assert f"puts one member at {record['member_minutes']:.0f} min" in text
    assert f"the ch6-dropout net, {record['images']:,} expanded images a timed epoch;" in text
    assert f"at load\n{record['machine']['load_average']:.1f}, the benchmark's own work" in text
    for measured in record["results"].values():
        row = f"| {measured['images_per_second']:,.0f} | {measured['against_fit']:.2f}x | {measured['peak_rss_mib']:.0f} MiB |"
        assert row in text, row


def test_a_rows_results_in_bold_are_its_recipes_in_order():
    # "**99.29%** / **99.41%** / **99.47%**" for 2fc-100 / -300 / -1000: the pooled check above
    # would let one recipe's number (or another's book number) stand for another recipe's.
    records = records_by_recipe()
    checked = 0
    for names, cell in recipe_rows():
        results = re.findall(r"\*\*(\d+\.\d+)%\*\*|(?<= )–(?= )", cell.split(" (", 1)[0] + " ")
        if len(names) < 2 or len(results) != len(names):
            continue
        for name, result in zip(names, results):
            measured = {f"{100 * r['measured_accuracy']:.2f}" for r in records.get(name, ()) if "measured_accuracy" in r}
            assert (result in measured) if result else not measured, f"{name}: {result or '–'}% is not its record's"
            checked += 1
    assert checked >= 3


def loop_equality_sentence(record):
    """The README's sentence on the loop's redesign, made from its record (see benchmarks/loop_equality.py)."""
    cases = record["results"]
    same = [f"`{name}`" for name in cases if cases[name]["identical"]]
    other = [
        f"`{name}`'s " + ", ".join(f"`{key}` by at most {value:.1e}" for key, value in cases[name]["differences"].items())
        for name in cases if not cases[name]["identical"]
    ]
    before, after = record["ch1_epoch_seconds"]["before"], record["ch1_epoch_seconds"]["after"]
    return (
        f"with the package as `{record['before_commit'][:7]}` and `{record['after_commit'][:7]}` have it, on "
        f"{record['machine']['cpu']}: {', '.join(same)} bit-identical" + (f"; {'; '.join(other)}" if other else "")
        + f". A ch1-sgd epoch took the runner {before['runner']:.3f} s before and {after['runner']:.3f} s after "
        f"(`fit`: {before['fit']:.2f} s and {after['fit']:.2f} s)"
    )


def test_the_loop_redesign_record_is_quoted():
    record = load(RESULTS / "loop_equality_cpu.json")
    text = " ".join(readme().split())  # the sentence may wrap
    assert loop_equality_sentence(record) in text, loop_equality_sentence(record)
    assert set(record["results"]) == {"ch1-sgd", "ch3-overfitting", "ch5-speed-4", "ch6-relu", "ch6-ensemble"}
    for case in record["results"].values():  # the accuracies never differ, only a cost's last bits may
        assert case["identical"] or all(key.startswith("history.loss") for key in case["differences"]), case["differences"]
        assert (case["sha256"]["before"] == case["sha256"]["after"]) == case["identical"]


def test_the_single_net_on_jax_record_is_quoted():
    record = load(RESULTS / "jax_single_net_cpu.json")
    runner, jit = record["results"]["runner"], record["results"]["jit"]
    text = readme()
    assert (f"(ch1-sgd: {runner['ch1-sgd']['seconds_per_epoch']:.3f} s an epoch as the runner trains it, "
            f"{jit['ch1-sgd']['seconds_per_epoch']:.3f} s under the plain jit; ch6-relu on 10,000 images: "
            f"{runner['ch6-relu']['seconds_per_epoch']:.2f} s and {jit['ch6-relu']['seconds_per_epoch']:.2f} s;") in text
    # "no faster", so no separate program: the claim holds only while the record says so.
    assert all(record["speedups"][name]["jit_over_runner"] <= 1.05 for name in ("ch1-sgd", "ch6-relu")), record["speedups"]


def test_each_best_of_three_row_lists_its_records_runs():
    rows = [line for line in readme().splitlines() if line.startswith("| `ch6-") and "the three: " in line]
    assert len(rows) >= 4, rows
    for row in rows:
        record = re.search(r"\[record\]\((docs/results/chapter-6/[^)]+/metrics\.json)\)", row).group(1)
        runs = load(REPO / record)["runs"]
        listed = re.search(r"the three: ([\d.% /]+);", row).group(1)
        assert listed == " / ".join(f"{100 * r['test_accuracy_at_best_validation']:.2f}%" for r in runs), row
