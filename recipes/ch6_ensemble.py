"""Chapter 6's headline: five dropout convnets voting, 99.67% (33 errors in 10,000).

Member k is a `ch6-dropout` net trained with seed `seed + k - 1`. The members
train one after another in one run, or each as a run of its own
(`--member K`), which writes its 10,000 test-set predictions to
`metrics.json`; `vote` then combines members trained at different times, on
different machines, into the ensemble's result.
"""

import dataclasses
import itertools
import json
from pathlib import Path

import numpy as np

from nndl_keras import plots
from nndl_keras.errors import NNDLError
from nndl_keras.models import VotingEnsemble, network3, plurality_votes
from nndl_keras.recipes import BookResult, Recipe, get, register
from nndl_keras.recipes.ch6_conv import DROPOUT
from nndl_keras import files
from nndl_keras.provenance import provenance
from nndl_keras.training.loop import accuracy

MEMBERS = 5
CLASSES = 10
SHOWN_ERRORS = 66  # the book shows its 33; a short run has many more
VOTE_FILE = "vote.json"
SUBSETS_FILE = "subsets.json"
SINGLE_NETS_FILE = "single_nets.json"


def train_member(session, k, count):
    """Trains member `k` of `count` (seed `session.seed + k - 1`); returns it with its record."""
    trained = session.train(seed=session.seed + k - 1, label=f"Member {k}/{count}")
    return trained.model, member_record(session, k, trained)


def member_record(session, k, trained):
    """Saves member `k` and returns its record: test accuracy and the test set's predicted labels."""
    folder = session.output_dir / "members"
    folder.mkdir(exist_ok=True)
    files.save_model(trained.model, folder / f"member-{k}.keras")
    predicted = np.asarray(trained.model.predict(session.data.test.x, batch_size=1000, verbose=0)).argmax(axis=1)
    return {
        "member": k,
        "seed": trained.seed,
        "test_accuracy": accuracy(predicted, session.data.test.y),
        # 10,000 digits, one per test image: all that a vote needs.
        "test_predictions": "".join(map(str, predicted)),
        "history": trained.history,
    }


def train_all(session, count):
    """Every member: side by side in one compiled step on JAX (`Session.train_together`),
    else one after another (on a CPU, TensorFlow's one net at a time is the fastest path)."""
    if session.can_train_together() and count > 1:
        seeds = [session.seed + k for k in range(count)]
        session.plan(1)  # one training of all members
        together = session.train_together(seeds, label=f"Members 1-{count} together")
        return [t.model for t in together], [member_record(session, k, t) for k, t in enumerate(together, start=1)]
    members, records = [], []
    for k in range(1, count + 1):
        model, record = train_member(session, k, count)
        members.append(model)
        records.append(record)
    return members, records


def train_members(session):
    """The recipe's experiment: every member then the vote, or only `--member K`."""
    hp = session.hp
    count, only = hp.options["members"], hp.options.get("member")
    if count % 2 == 0:
        session.say(f"  {count} members: two halves can tie; a tie goes to the class the earliest member voted for")
    session.plan(1 if only is not None else count)
    if only is not None:
        _, record = train_member(session, only, count)
        session.say(
            f"  member {only}/{count} (seed {record['seed']}): {100 * record['test_accuracy']:.2f}% test; "
            f"combine members trained apart with: nndl-keras vote DIR..."
        )
        # The recipe's book number is the vote's: a member is not compared with it.
        return {**record, "measured_accuracy": None}
    members, records = train_all(session, count)
    ensemble = VotingEnsemble(members, voting="plurality", name="ensemble")
    ensemble(session.data.test.x[:1])  # built, so that it saves with its members' weights
    files.save_model(ensemble, session.output_dir / "ensemble.keras")
    mean = VotingEnsemble(members, voting="mean").predict(session.data.test.x, batch_size=1000, verbose=0)
    result = tally(records, session.data.test, session.output_dir)
    result["mean_probability_test_accuracy"] = accuracy(mean, session.data.test.y)
    result["histories"] = {f"member {r['member']}": r["history"] for r in records}  # the learning curve, a line each
    conv = [layer for layer in members[0].layers if layer.name.startswith("conv_")]
    for i, layer in enumerate(conv, start=1):
        plots.filters(session.output_dir / f"filters_layer{i}.png", f"Member 1: filters of conv layer {i}", np.asarray(layer.kernel))
    session.say(_summary(result))
    return result


def tally(records, test, out):
    """The plurality vote of the members' recorded test predictions; writes the errors' PNG."""
    records = sorted(records, key=lambda r: r["member"])
    predicted = _voted([_ballot(r) for r in records])
    wrong = np.flatnonzero(predicted != test.y)
    shown = wrong[:SHOWN_ERRORS]
    some = "" if len(shown) == len(wrong) else f"first {len(shown)} of the "
    plots.digits(
        Path(out) / "ensemble_errors.png",
        f"The {some}{len(wrong)} test digits the ensemble gets wrong (true → voted)",
        test.x[shown],
        [f"{t} → {p}" for t, p in zip(test.y[shown], predicted[shown])],
    )
    ensemble_accuracy = accuracy(predicted, test.y)
    return {
        "members": records,
        "mean_member_test_accuracy": float(np.mean([r["test_accuracy"] for r in records])),
        "ensemble_test_accuracy": ensemble_accuracy,
        "errors": int(len(wrong)),
        "misclassified": [{"index": int(i), "true": int(test.y[i]), "voted": int(predicted[i])} for i in wrong],
        "measured_accuracy": ensemble_accuracy,
    }


def _ballot(record):
    """A member's recorded test predictions as an array of classes."""
    return np.array(list(record["test_predictions"]), dtype=np.int32)


def _voted(ballots):
    """The class each example gets by the book's plurality vote (ties to the earliest member)."""
    return np.asarray(plurality_votes(ballots, CLASSES)).argmax(axis=1)


def _summary(result):
    shown = ", ".join(f"{100 * m['test_accuracy']:.2f}%" for m in result["members"])
    return f"  members: {shown}; vote: {100 * result['ensemble_test_accuracy']:.2f}% ({result['errors']} errors)"


def vote(member_runs, output_dir, data_dir=None, verbose=1):
    """The ensemble's vote from members trained as runs of their own (`--member K`).

    Args:
        member_runs: the members' run directories (or their `metrics.json`).
        output_dir: where to write `vote.json` and `ensemble_errors.png`.
        data_dir: MNIST directory, for the test labels and images.
        verbose: 0 silent, 1 the result on the terminal.

    Returns:
        The vote's metrics: each member's accuracy and provenance, the vote's
        accuracy and errors, the book's 99.67%, and the vote's own provenance.
    """
    from nndl_keras.data import load_mnist

    records = [_member_record(path) for path in member_runs]
    _check_members(records)
    test = load_mnist(data_dir).test
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    result = tally([r["member_record"] for r in records], test, out)
    book = get("ch6-ensemble").book
    result.update(
        recipe="ch6-ensemble",
        book_accuracy=book.accuracy,
        difference=result["ensemble_test_accuracy"] - book.accuracy,
        hyperparameters=records[0]["hyperparameters"],
        member_runs=[{"path": str(r["path"]), **r["provenance"]} for r in records],
        provenance=provenance(),  # the vote's own command, commit, date and machine
    )
    files.write_json(out / VOTE_FILE, result)
    if verbose:
        print(_summary(result), f"against the book's {100 * book.accuracy:.2f}% (33 errors)", sep="; ", flush=True)
    return result


def subset_votes(member_runs, output_dir, size=MEMBERS, data_dir=None, verbose=1):
    """How far one vote of `size` members is from chance: every `size`-member subset of the
    member runs voted, and each member alone, against the book's 33 and 40 errors.

    Writes `subsets.json` (each subset's members and errors; least, quartiles and most),
    `subset_votes.png` (the histograms, the book's numbers marked) and `single_nets.json`
    (the members as `ch6-dropout` nets, measured as the book measured that row: the test
    accuracy at the best-validation epoch of the run best on validation, every run listed).
    """
    from nndl_keras.data import load_mnist

    records = [_member_record(path) for path in member_runs]
    _check_members(records)
    if not 1 <= size <= len(records):
        raise NNDLError(f"subsets of {size} need at least {size} member runs; got {len(records)}")
    test, out = load_mnist(data_dir).test, Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    members = sorted((r["member_record"] for r in records), key=lambda m: m["member"])
    ballots = {m["member"]: _ballot(m) for m in members}
    subsets = []
    for chosen in itertools.combinations(sorted(ballots), size):  # earliest member first: it breaks ties
        voted = _voted([ballots[k] for k in chosen])
        subsets.append({"members": list(chosen), "errors": int((voted != test.y).sum())})
    alone = {k: int((ballot != test.y).sum()) for k, ballot in ballots.items()}
    book = {name: round((1 - get(name).book.accuracy) * len(test.y)) for name in ("ch6-ensemble", "ch6-dropout")}
    errors = [s["errors"] for s in subsets]
    result = {
        "recipe": "ch6-ensemble", "size": size, "member_runs": [str(r["path"]) for r in records],
        "members": [{"member": m["member"], "seed": m["seed"], "errors": alone[m["member"]]} for m in members],
        "errors": _spread(errors), "book_errors": book["ch6-ensemble"],
        "subsets_at_or_below_book": sum(e <= book["ch6-ensemble"] for e in errors),
        "single_net_errors": _spread(list(alone.values())), "book_single_net_errors": book["ch6-dropout"],
        "single_nets_at_or_below_book": sum(e <= book["ch6-dropout"] for e in alone.values()),
        "subsets": subsets, "provenance": provenance(),
    }
    files.write_json(out / SUBSETS_FILE, result)
    files.write_json(out / SINGLE_NETS_FILE, _single_nets(records, members))
    plots.histograms(out / "subset_votes.png", f"Errors on the 10,000 test images: {len(subsets)} votes of {size}, "
                     f"{len(members)} nets alone", {f"votes of {size} members (book: {book['ch6-ensemble']})": (errors, book["ch6-ensemble"]),
                                                    f"single nets (book: {book['ch6-dropout']})": (list(alone.values()), book["ch6-dropout"])})
    if verbose:
        spread = result["errors"]
        print(f"  {len(subsets)} votes of {size}: {spread['least']} to {spread['most']} errors (median {spread['median']:g}); "
              f"{result['subsets_at_or_below_book']} at or below the book's {book['ch6-ensemble']}", flush=True)
    return result


def _spread(values):
    """Least, quartiles and most of `values` (the ends are values: counts stay ints)."""
    q1, median, q3 = (float(q) for q in np.percentile(values, [25, 50, 75]))
    return {"count": len(values), "least": min(values), "q1": q1, "median": median, "q3": q3, "most": max(values)}


def _single_nets(records, members):
    """The members as ch6-dropout nets, as the book measured that row: of its first
    `book.runs` (3) runs, the test accuracy at the best-validation epoch of the one best on
    validation. Every member is listed, and the same choice made from every three of them
    (`best_of_every_choice`) says how far the first three's pick is from chance."""
    book = get("ch6-dropout").book
    every = [{"member": m["member"], "seed": m["seed"], "best_validation_accuracy": m.get("best_validation_accuracy"),
              "measured_accuracy": m.get("test_accuracy_at_best_validation")} for m in members]

    def pick(runs):
        return max(runs, key=lambda run: run["best_validation_accuracy"] or -1)["measured_accuracy"]

    runs = every[: book.runs]  # the lowest-numbered three (members 1-3, seeds 0-2): the book ran three
    measured = pick(runs)
    picks = [pick(chosen) for chosen in itertools.combinations(every, min(book.runs, len(every)))]
    return {
        "recipe": "ch6-dropout", "chapter": 6, "description": get("ch6-dropout").description,
        "hyperparameters": {**records[0]["hyperparameters"], "options": {"conv": records[0]["hyperparameters"]["options"].get("conv")}},
        "book": dataclasses.asdict(book),
        "book_accuracy": book.accuracy, "measured_accuracy": measured,
        "difference": None if measured is None else round(measured - book.accuracy, 6),
        "runs": runs, "members": every,
        "best_of_every_choice": {**_spread(picks), "at_or_above_book": sum(p >= book.accuracy for p in picks)},
        # The runs measured: the results table gives their machines and time.
        "member_runs": [{"path": str(r["path"]), **r["provenance"]} for r in records
                        if r["member_record"]["member"] in {run["member"] for run in runs}],
        "provenance": provenance(),
    }


def _member_record(path):
    path = Path(path)
    metrics_file = path / files.METRICS_FILE if path.is_dir() else path
    try:
        metrics = json.loads(metrics_file.read_text())
    except (OSError, ValueError) as e:
        raise NNDLError(f"cannot read member run {metrics_file}: {e}") from None
    if metrics.get("recipe") != "ch6-ensemble" or "test_predictions" not in metrics:
        raise NNDLError(f"{metrics_file} is not a run of one ensemble member (nndl-keras run ch6-ensemble --member K)")
    hp = dict(metrics["hyperparameters"])
    # Member K's net is its seed's and the hyperparameters': not the ensemble's size.
    hp["options"] = {k: v for k, v in hp["options"].items() if k not in ("member", "members")}
    record = {k: metrics[k] for k in ("member", "seed", "test_accuracy", "test_predictions")}
    record.update({k: metrics[k] for k in ("best_validation_accuracy", "test_accuracy_at_best_validation") if k in metrics})
    # Its times as the run recorded them (a resumed member's, all processes' too): the results
    # table reads them as it reads any run's.
    times = {k: metrics[k] for k in ("wall_time_seconds", "training_seconds_all_processes") if k in metrics}
    provenance = {**metrics.get("provenance", {}), **times}
    return {"path": metrics_file, "hyperparameters": hp, "member_record": record, "provenance": provenance}


def _check_members(records):
    if not records:
        raise NNDLError("a vote needs at least one member run")
    numbers = [r["member_record"]["member"] for r in records]
    if len(set(numbers)) != len(numbers):
        raise NNDLError(f"member runs repeat a member: {sorted(numbers)}")
    for r in records[1:]:
        if r["hyperparameters"] != records[0]["hyperparameters"]:
            raise NNDLError(f"{r['path']} was trained with other hyperparameters than {records[0]['path']}")


register(
    Recipe(
        name="ch6-ensemble",
        chapter=6,
        description="five ch6-dropout nets (the book's dropout), plurality vote",
        hparams=DROPOUT.replace(options={**DROPOUT.options, "members": MEMBERS, "member": None}),
        book=BookResult(0.9967, split="test", at="final", source="ch6-ensemble (33 errors)"),
        build=network3,
        experiment=train_members,
        xla=False,
        expanded=True,
    )
)
