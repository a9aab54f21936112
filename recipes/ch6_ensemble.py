"""Chapter 6's headline: five dropout convnets voting, 99.67% (33 errors in 10,000)."""

import numpy as np

from nndl_keras import plots
from nndl_keras.models import VotingEnsemble, network3
from nndl_keras.recipes import BookResult, Recipe, register
from nndl_keras.recipes.ch6_conv import DROPOUT
from nndl_keras.training import outputs
from nndl_keras.training.session import accuracy

MEMBERS = 5
SHOWN_ERRORS = 66  # the book shows its 33; a short run has many more


def train_members(session):
    """Trains the members one after another, saving each as it finishes.

    Each member is one of the session's trainings, so an interrupted run
    resumed with `--resume` takes its finished members from their checkpoints
    and goes on with the unfinished one from its last epoch.
    """
    hp = session.hp
    count = hp.options["members"]
    folder = session.output_dir / "members"
    folder.mkdir(exist_ok=True)
    members, member_metrics = [], []
    for k in range(count):
        trained = session.train(seed=session.seed + k, label=f"Member {k + 1}/{count}")
        model = trained.model
        outputs.save_model(model, folder / f"member-{k + 1}.keras")
        members.append(model)
        test = accuracy(model.predict(session.data.test.x, batch_size=1000, verbose=0), session.data.test.y)
        member_metrics.append({"member": k + 1, "seed": session.seed + k, "test_accuracy": test, "history": trained.history})

    ensemble = VotingEnsemble(members, voting="plurality", name="ensemble")
    test = session.data.test
    votes = np.asarray(ensemble.predict(test.x, batch_size=1000, verbose=0))
    mean = np.asarray(VotingEnsemble(members, voting="mean").predict(test.x, batch_size=1000, verbose=0))
    predicted = votes.argmax(axis=1)
    wrong = np.flatnonzero(predicted != test.y)
    outputs.save_model(ensemble, session.output_dir / "ensemble.keras")

    out = session.output_dir
    shown = wrong[:SHOWN_ERRORS]
    some = "" if len(shown) == len(wrong) else f"first {len(shown)} of the "
    plots.digits(
        out / "ensemble_errors.png",
        f"The {some}{len(wrong)} test digits the ensemble gets wrong (true → voted)",
        test.x[shown],
        [f"{t} → {p}" for t, p in zip(test.y[shown], predicted[shown])],
    )
    conv = [layer for layer in members[0].layers if layer.name.startswith("conv_")]
    for i, layer in enumerate(conv, start=1):
        plots.filters(out / f"filters_layer{i}.png", f"Member 1: filters of conv layer {i}", np.asarray(layer.kernel))

    ensemble_accuracy = accuracy(votes, test.y)
    shown = ", ".join(f"{100 * m['test_accuracy']:.2f}%" for m in member_metrics)
    session.say(f"  members: {shown}; vote: {100 * ensemble_accuracy:.2f}% ({len(wrong)} errors)")
    return {
        "members": member_metrics,
        "mean_member_test_accuracy": float(np.mean([m["test_accuracy"] for m in member_metrics])),
        "ensemble_test_accuracy": ensemble_accuracy,
        "mean_probability_test_accuracy": accuracy(mean, test.y),
        "errors": int(len(wrong)),
        "misclassified": [{"index": int(i), "true": int(test.y[i]), "voted": int(predicted[i])} for i in wrong],
        "measured_accuracy": ensemble_accuracy,
    }


register(
    Recipe(
        name="ch6-ensemble",
        chapter=6,
        description="five ch6-dropout nets trained one after another, plurality vote",
        hparams=DROPOUT.replace(options={**DROPOUT.options, "members": MEMBERS}),
        book=BookResult(0.9967, split="test", at="final", source="ch6-ensemble (33 errors)"),
        build=network3,
        experiment=train_members,
        xla=False,
        expanded=True,
    )
)
