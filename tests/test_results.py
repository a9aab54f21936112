"""The numbers the documentation quotes (README.md and docs/*.md) are the ones their records hold.

The results tables are generated from the records (`nndl-keras report`, tests/test_docs.py);
these tests check the numbers the prose and the benchmark tables quote, each against its record.
"""

import json

from helpers import REPO

RESULTS = REPO / "docs" / "results"
MEMBERS = sorted((RESULTS / "ch6-ensemble").glob("member-*/metrics.json"))


def readme():
    """The documentation a reader meets: the README, then every page under docs/."""
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    return "\n".join(page.read_text() for page in pages)


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


def test_full_length_members_are_listed_from_their_runs():
    assert MEMBERS, "docs/results/ch6-ensemble holds no member"
    page = (REPO / "docs" / "results.md").read_text()  # made by `nndl-keras report` (test_docs: regenerated)
    assert "(results.md#ensemble-members)" in readme()
    for path in MEMBERS:
        member = load(path)
        assert member["hyperparameters"]["epochs"] == 40 and member["hyperparameters"]["train_size"] == 250_000
        assert member["hyperparameters"]["dropout_style"] == "book"
        assert len(member["test_predictions"]) == 10_000
        assert f"| `ch6-ensemble` | {member['member']} | {member['seed']} | {100 * member['test_accuracy']:.2f}% |" in page
        assert f"[record]({path.relative_to(REPO / 'docs').as_posix()})" in page
        assert member["provenance"]["commit"] and not member["provenance"]["commit"].endswith("+dirty")


def test_the_full_length_vote_is_its_members_vote_and_quoted_beside_the_books(mnist, tmp_path):
    from nndl_keras.recipes.ch6_ensemble import tally

    vote = load(RESULTS / "ch6-ensemble" / "vote" / "vote.json")
    # The book's five, members 1-5 (the later ones are for the subset votes), and nothing else,
    # voted; recounted here from their files.
    members = sorted((m for m in map(load, MEMBERS) if m["member"] <= 5), key=lambda m: m["member"])
    assert [m["member"] for m in members] == [1, 2, 3, 4, 5] == [m["member"] for m in vote["members"]]
    assert [m["test_predictions"] for m in vote["members"]] == [m["test_predictions"] for m in members]
    recount = tally(members, mnist.test, tmp_path)
    errors = recount["errors"]
    assert errors == vote["errors"] and vote["ensemble_test_accuracy"] == recount["ensemble_test_accuracy"] == (10_000 - errors) / 10_000
    assert vote["recipe"] == "ch6-ensemble" and vote["provenance"]["command"].startswith("nndl-keras vote")
    assert from_a_clean_commit(vote)
    quoted = f"**{100 * vote['ensemble_test_accuracy']:.2f}%** ({errors} errors)"
    assert f"the vote of the five: {quoted}" in readme()
    best = max(members, key=lambda m: m["test_accuracy"])
    spread = f"the members' own final epochs ({100 * min(m['test_accuracy'] for m in members):.2f}% to {100 * best['test_accuracy']:.2f}%)"
    assert vote["ensemble_test_accuracy"] < best["test_accuracy"] and f"{spread}:\n  it is below member {best['member']}'s" in readme()
    four = tally(members[:4], mnist.test, tmp_path)["ensemble_test_accuracy"]
    assert f"members 1 to 4 alone, recounted from the same files, vote\n  {100 * four:.2f}%." in readme()


def cpu(metrics):
    machine = metrics["provenance"]["machine"]
    vectors = ", AVX-512" if "avx512f" in machine["cpu_flags"] else ""
    return f"CPU: {machine['cpu']}, {machine['cores']} cores{vectors}"


def from_a_clean_commit(metrics):
    commit = metrics["provenance"]["commit"]
    return bool(commit) and not commit.endswith("+dirty")


def test_cli_start_up_table_is_the_benchmark():
    record = load(RESULTS / "cli_startup_cpu.json")
    text = readme()
    for name, v in record["results"].items():
        row = f"| `{name}` | {v['median_seconds']:.3f} s | {v['over_bare_seconds']:.3f} s | {v['peak_rss_mib']:.0f} MiB |"
        assert row in text, row
    assert f"`benchmarks/cli_startup.py` on {record['machine']['cpu']}" in text
    assert record["slowest_over_bare_seconds"] <= record["goal_seconds"]


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



def test_the_single_nets_and_subset_votes_are_quoted_from_their_record():
    record = load(RESULTS / "ch6-ensemble" / "subsets" / "subsets.json")
    single = load(RESULTS / "ch6-ensemble" / "subsets" / "single_nets.json")
    spread, votes, text = record["single_net_errors"], record["errors"], " ".join(readme().split())
    assert (f"With all {spread['count']} members, the {votes['count']} votes of five make {votes['least']} to "
            f"{votes['most']} errors (median {votes['median']:g}); {record['subsets_at_or_below_book']} of them at or below "
            f"the book's {record['book_errors']}.") in text
    best, choice = max(single["runs"], key=lambda run: run["best_validation_accuracy"]), single["best_of_every_choice"]
    assert (f"The {spread['count']} nets alone make {spread['least']} to {spread['most']} errors at their final epochs "
            f"(the book's one net: {record['book_single_net_errors']});") in text
    assert (f"the best on validation of the first {len(single['runs'])} (member {best['member']}) is "
            f"**{100 * single['measured_accuracy']:.2f}%** against the book's {100 * single['book_accuracy']:.2f}%; "
            f"the same pick from each of the {choice['count']} choices of three of the {spread['count']} gives "
            f"{100 * choice['least']:.2f}% to {100 * choice['most']:.2f}% ({choice['at_or_above_book']} of them at or above the book's).") in text
    assert from_a_clean_commit(record) and record["provenance"]["command"].startswith("nndl-keras vote")
    below, readme_text = record["subsets_at_or_below_book"], " ".join((REPO / "README.md").read_text().split())
    assert (f"of the {votes['count']} votes of five among our {spread['count']} full-length members, "
            f"{below or 'none'} make{'s' * (below in (0, 1))} {record['book_errors']} errors or fewer ({votes['least']} to "
            f"{votes['most']}, median {votes['median']:g};") in readme_text
    # Where the book's vote falls: the least of ours, reached by a few (all sharing the members
    # named); none below it.
    book, lucky = record["book_errors"], [set(s["members"]) for s in record["subsets"] if s["errors"] <= record["book_errors"]]
    assert votes["least"] == book and len(lucky) == below
    shared = " and ".join(map(str, sorted(set.intersection(*lucky))))
    assert (f"So the book's {book} errors are within reach of five such nets, at the lucky end: {below} votes in "
            f"{votes['count']} (each with members {shared}) make exactly {book} and none fewer.") in text
    singles = record["single_nets_at_or_below_book"]
    assert choice["most"] < single["book_accuracy"] and (
        f"The book's one net, {100 * single['book_accuracy']:.2f}%, is just above ours: no choice of three reaches it, "
        f"though {singles} single nets make {record['book_single_net_errors']} errors or fewer") in text
    assert (f"and of the {spread['count']} nets alone, {singles or 'none'} make{'s' * (singles in (0, 1))} the book's "
            f"{record['book_single_net_errors']} for one net or fewer;") in readme_text


def test_the_svm_cause_is_quoted_from_its_benchmark():
    record = load(RESULTS / "chapter-1" / "ch1-svm-tuned-cause.json")
    tuned = load(RESULTS / "chapter-1" / "ch1-svm-tuned" / "metrics.json")
    cited, wide, wider, default = (record["results"][k]["test_accuracy"] for k in record["results"])
    text = " ".join(readme().split())
    assert f"the first {record['train_size']:,} training images, all {record['test_size']:,} test images" in text
    assert (f"**{100 * cited:.2f}%** on pixels in [0, 1] and **{100 * wide:.2f}%** on pixels in [−1, 1] "
            f"({record['range_gain_points']:+.2f} points), the same as γ × 4 on [0, 1] ({100 * wider:.2f}%); "
            f"the book-era default gives {100 * default:.2f}%.") in text
    assert f"by more than the {-100 * tuned['difference']:.2f} points missing" in text
    assert record["range_gain_points"] > -100 * tuned["difference"] and abs(wide - wider) < 0.002
    assert record["commit"] and not record["commit"].endswith("+dirty")
    full = load(RESULTS / "chapter-1" / "ch1-svm-tuned-scaled" / "metrics.json")
    assert full["hyperparameters"]["train_size"] == 50_000 and full["hyperparameters"]["options"]["pixel_range"] == [-1, 1]
    assert (f"**{100 * full['measured_accuracy']:.2f}%** test against {100 * tuned['measured_accuracy']:.2f}% on [0, 1] and the cited "
            f'"over {100 * full["book_accuracy"]:.1f}%": the pixel range was the cause. What is left '
            f"({100 * -full['difference']:.2f} points)") in text
    assert from_a_clean_commit(full) and full["measured_accuracy"] - tuned["measured_accuracy"] > 0.005


def test_the_book_length_attack_is_quoted_from_its_record():
    metrics = load(RESULTS / "ch6-adversarial" / "metrics.json")
    fc, conv = metrics["nets"]["fully_connected"], metrics["nets"]["convolutional"]
    at, e = metrics["epsilons"].index(metrics["claimed_epsilon"]), metrics["claimed_epsilon"]
    assert (fc["epochs"], conv["epochs"]) == (30, 60) and from_a_clean_commit(metrics)
    text = " ".join(readme().split())
    assert f"the [784, 30, 10] net {fc['epochs']} epochs, `ch6-relu` {conv['epochs']};" in text
    assert (f"FGSM at ε = {e:g} leaves **{100 * fc['fgsm_accuracy'][at]:.2f}% / {100 * conv['fgsm_accuracy'][at]:.2f}%** of the test set "
            f"(unattacked {100 * fc['clean_test_accuracy']:.2f}% / {100 * conv['clean_test_accuracy']:.2f}%)") in text
    assert ("does not hold" in text) == (metrics["claim_holds"] is False)
    assert f"both fall below 50% from ε = {fc['fgsm_below_half_from_epsilon']:g} / {conv['fgsm_below_half_from_epsilon']:g}" in text
    assert f"each below {max(100 * fc['bim_accuracy'][at], 100 * conv['bim_accuracy'][at]):.0f}% at ε = {e:g}" in text
