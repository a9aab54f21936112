import keras
import numpy as np
import pytest

from nndl_keras.models import VotingEnsemble


def constant_member(probabilities):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(len(probabilities), activation="softmax")])
    model.set_weights([np.zeros((2, len(probabilities))), np.log(np.array(probabilities, "float32"))])
    return model


def test_plurality_vote_with_the_books_tie_breaking():
    x = np.zeros((1, 2), "float32")
    members = [constant_member(p) for p in ([0.1, 0.6, 0.3], [0.1, 0.3, 0.6], [0.1, 0.3, 0.6], [0.5, 0.4, 0.1])]
    assert int(np.argmax(VotingEnsemble(members).predict(x, verbose=0))) == 2  # two votes beat one
    tie = [constant_member(p) for p in ([0.1, 0.2, 0.7], [0.1, 0.8, 0.1])]
    assert int(np.argmax(VotingEnsemble(tie).predict(x, verbose=0))) == 2  # earliest member wins a tie
    assert int(np.argmax(VotingEnsemble(tie[::-1]).predict(x, verbose=0))) == 1


def test_mean_probability_option():
    x = np.zeros((1, 2), "float32")
    members = [constant_member([0.45, 0.55, 0.0001]), constant_member([0.45, 0.55, 0.0001]), constant_member([0.9, 0.05, 0.05])]
    assert int(np.argmax(VotingEnsemble(members, voting="plurality").predict(x, verbose=0))) == 1
    assert int(np.argmax(VotingEnsemble(members, voting="mean").predict(x, verbose=0))) == 0
    with pytest.raises(ValueError):
        VotingEnsemble(members, voting="median")


def test_serialization_round_trip(tmp_path):
    members = [constant_member([0.2, 0.8]), constant_member([0.7, 0.3])]
    ensemble = VotingEnsemble(members, voting="mean")
    x = np.random.default_rng(0).random((4, 2)).astype("float32")
    ensemble.save(tmp_path / "e.keras")
    loaded = keras.saving.load_model(tmp_path / "e.keras")
    assert loaded.voting == "mean" and len(loaded.members) == 2
    np.testing.assert_allclose(loaded.predict(x, verbose=0), ensemble.predict(x, verbose=0), rtol=1e-6)
