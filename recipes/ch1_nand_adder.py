"""Chapter 1: perceptrons as NAND gates, wired into the book's adder of two bits."""

import numpy as np

from nndl_keras.models import nand_adder
from nndl_keras.files import save_model
from nndl_keras.recipes import BookResult, Hyperparameters, Recipe, register

BITS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype="float32")


def add_bits(session):
    adder = nand_adder()
    sums = np.asarray(adder.predict(BITS, verbose=0)).astype(int)
    table = [{"x1": int(a), "x2": int(b), "sum": int(s), "carry": int(c)} for (a, b), (s, c) in zip(BITS, sums)]
    for row in table:
        session.say(f"  {row['x1']} + {row['x2']} = carry {row['carry']}, sum {row['sum']}")
    correct = all(2 * r["carry"] + r["sum"] == r["x1"] + r["x2"] for r in table)
    save_model(adder, session.output_dir / "nand_adder.keras")  # atomically, as every file of a run
    # No accuracy to report: the claim is checked (`passed`, which reproduce's table shows).
    return {"truth_table": table, "adds_correctly": correct, "passed": correct}


def sums_headline(metrics):
    """The circuit's claim, as the results table shows it."""
    right = sum(2 * r["carry"] + r["sum"] == r["x1"] + r["x2"] for r in metrics["truth_table"])
    return f"{right} of {len(metrics['truth_table'])} sums of two bits right"


register(
    Recipe(
        name="ch1-nand-adder",
        chapter=1,
        description="two bits added by five NAND perceptrons (weights -2, -2, bias 3), as the book's figure",
        hparams=Hyperparameters(layers=(2, 3, 2), epochs=1, batch_size=1, train_size=4),
        book=BookResult(None, split="test", at="final", source="ch1 (circuit, no experiment)"),
        experiment=add_bits,
        headline=sums_headline,
    )
)
