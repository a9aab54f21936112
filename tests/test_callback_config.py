"""The callbacks in a user's `model.fit` and through Keras serialisation.

`LearningRateHalving` watches what Keras's `fit` logs (`val_accuracy`), takes
a `mode` as `ReduceLROnPlateau` does and refuses, clearly, an optimizer whose
learning rate is a schedule; both callbacks round-trip through
`keras.saving.serialize_keras_object` / `deserialize_keras_object`.
"""

import json

import keras
import numpy as np
import pytest

from nndl_keras.callbacks import GradientNormMonitor, LearningRateHalving


def _classifier(learning_rate=0.1):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(keras.optimizers.SGD(learning_rate), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _data(n=40):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 4)).astype("float32"), rng.integers(0, 3, size=n)


# ---- LearningRateHalving ------------------------------------------------


def test_default_monitor_is_what_keras_fit_logs():
    keras.utils.set_random_seed(0)
    x, y = _data()
    halving = LearningRateHalving(patience=1)
    assert (halving.monitor, halving.mode) == ("val_accuracy", "auto")
    history = _classifier().fit(x, y, validation_split=0.25, epochs=3, verbose=0, callbacks=[halving])
    assert len(history.history["learning_rate"]) == 3


def _epochs(halving, values, monitor, learning_rate=1.0):
    """Drives the callback through `values` of `monitor`; returns η after each epoch."""
    model = _classifier(learning_rate)
    halving.set_model(model)
    halving.on_train_begin()
    etas = []
    for epoch, value in enumerate(values):
        halving.on_epoch_end(epoch, {monitor: value})
        etas.append(float(model.optimizer.learning_rate))
    return etas


FALLING = [1.0, 0.9, 0.8, 0.7]  # a loss improving, or an accuracy getting worse


@pytest.mark.parametrize(
    "monitor, mode, halved",
    [
        ("val_loss", "auto", False),  # auto: min for anything not an accuracy
        ("loss", "auto", False),
        ("val_loss", "min", False),
        ("val_loss", "max", True),
        ("val_accuracy", "auto", True),  # auto: max for accuracies
        ("validation_accuracy", "auto", True),  # the project's runner's name
        ("val_accuracy", "max", True),
        ("val_accuracy", "min", False),
    ],
)
def test_mode_decides_what_an_improvement_is(monitor, mode, halved):
    etas = _epochs(LearningRateHalving(monitor=monitor, mode=mode, patience=1), FALLING, monitor)
    assert etas == ([1.0, 0.5, 0.25, 0.125] if halved else [1.0] * 4)


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="mode"):
        LearningRateHalving(mode="maximise")


def test_a_learning_rate_schedule_is_refused_clearly():
    x, y = _data()
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.9)
    model = _classifier()
    model.compile(keras.optimizers.SGD(schedule), "sparse_categorical_crossentropy", metrics=["accuracy"])
    halving = LearningRateHalving(monitor="loss", patience=1)
    with pytest.raises(ValueError, match="LearningRateSchedule"):
        model.fit(x, y, epochs=3, verbose=0, callbacks=[halving])


def test_learning_rate_halving_round_trips_through_keras_serialization():
    halving = LearningRateHalving(monitor="val_loss", mode="min", patience=3, factor=0.25, min_fraction=1 / 16)
    config = keras.saving.serialize_keras_object(halving)
    assert config["registered_name"] == "nndl_keras>LearningRateHalving"
    clone = keras.saving.deserialize_keras_object(json.loads(json.dumps(config)))
    assert type(clone) is LearningRateHalving
    assert clone.get_config() == halving.get_config()
    assert (clone.monitor, clone.mode, clone.patience, clone.factor, clone.min_fraction) == ("val_loss", "min", 3, 0.25, 1 / 16)


# ---- GradientNormMonitor ------------------------------------------------


def test_gradient_norm_monitor_round_trips_given_its_probe():
    x, y = _data()
    monitor = GradientNormMonitor(
        (x[:10], y[:10]), every_n_batches=2, layers=["dense"], batch_size=5,
        vanishing_ratio=0.01, exploding_ratio=100.0, exploding_factor=10.0, on_alert=lambda kind, measurement: None,
    )
    config = json.loads(json.dumps(keras.saving.serialize_keras_object(monitor)))
    assert "on_alert" not in config["config"]  # code, not configuration: given back like the probe
    assert config["registered_name"] == "nndl_keras>GradientNormMonitor"
    # The probe is data, not configuration: the config holds everything else
    # and deserialising it without the probe says how to give it back.
    with pytest.raises(ValueError, match="probe"):
        keras.saving.deserialize_keras_object(config)
    config["config"]["probe"] = (x[:10], y[:10])
    clone = keras.saving.deserialize_keras_object(config)
    assert type(clone) is GradientNormMonitor
    assert clone.get_config() == monitor.get_config()
    assert (clone.every_n_batches, clone.layers, clone.batch_size) == (2, ["dense"], 5)
    assert (clone.vanishing_ratio, clone.exploding_ratio, clone.exploding_factor, clone.on_alert) == (0.01, 100.0, 10.0, None)
    np.testing.assert_array_equal(clone.probe_x, monitor.probe_x)
    np.testing.assert_array_equal(clone.probe_y, monitor.probe_y)
