import keras


@keras.saving.register_keras_serializable(package="nndl_keras")
class LearningRateHalving(keras.callbacks.Callback):
    """Chapter 3's learning-rate schedule: halve η on each plateau, stop at a fraction of its start.

    The book ("How to choose a neural network's hyper-parameters") suggests
    holding η constant until the validation accuracy has not improved for ten
    epochs, then halving it, and ending training once η has fallen to 1/128 of
    its initial value. Keras's `ReduceLROnPlateau` halves but never stops; this
    callback does both, and records η in the epoch logs as `learning_rate`.

    The callback sets the optimizer's learning rate, so that must be a number
    (a variable): an optimizer built with a `LearningRateSchedule` (or another
    callable) has no learning rate to set, and `fit` raises a `ValueError`
    saying so when training begins, where `ReduceLROnPlateau` would fail on
    its first reduction.

    Args:
        monitor: the epoch-log entry to watch; Keras's `fit` logs the
            validation accuracy as `"val_accuracy"` (given `validation_data`
            or `validation_split` and `metrics=["accuracy"]`).
        mode: `"max"` (higher is better), `"min"` or `"auto"`, as for
            `ReduceLROnPlateau`: `"auto"` is `"max"` for an accuracy (a name
            containing `"acc"`) and `"min"` for anything else (a loss).
        patience: epochs without improvement before η is halved.
        factor: what η is multiplied by on a plateau.
        min_fraction: stop once η ≤ this fraction of its initial value.

    Example:

    >>> import numpy as np, keras
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> model.compile(keras.optimizers.SGD(0.1), "mse")
    >>> halving = LearningRateHalving(monitor="loss", patience=1, min_fraction=1 / 4)
    >>> _ = model.fit(np.zeros((4, 2)), np.zeros(4), epochs=10, verbose=0, callbacks=[halving])
    >>> round(float(model.optimizer.learning_rate), 3)  # halved twice, then stopped
    0.025
    """

    def __init__(self, monitor="val_accuracy", mode="auto", patience=10, factor=0.5, min_fraction=1 / 128):
        super().__init__()
        if not 0 < factor < 1:
            raise ValueError(f"factor must be in (0, 1), got {factor}")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f'mode must be "auto", "min" or "max", got {mode!r}')
        self.monitor = monitor
        self.mode = mode
        self.patience = int(patience)
        self.factor = float(factor)
        self.min_fraction = float(min_fraction)
        self._higher_is_better = mode == "max" or (mode == "auto" and "acc" in monitor)

    def on_train_begin(self, logs=None):
        learning_rate = self.model.optimizer.learning_rate
        if not isinstance(learning_rate, keras.Variable):
            raise ValueError(
                "LearningRateHalving sets the optimizer's learning rate, but this optimizer's is a "
                "LearningRateSchedule (or another callable), which cannot be set: build the optimizer "
                "with a float learning_rate to use this callback."
            )
        self.initial = float(learning_rate)
        self.best = None
        self.wait = 0
        self.halvings = []

    def _improved(self, value):
        if self.best is None:
            return True
        return value > self.best if self._higher_is_better else value < self.best

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        value = logs.get(self.monitor)
        if value is None:
            raise ValueError(f"LearningRateHalving watches {self.monitor!r}, which the logs lack: {sorted(logs)}")
        eta = float(self.model.optimizer.learning_rate)
        if self._improved(value):
            self.best, self.wait = value, 0
        else:
            self.wait += 1
        if self.wait >= self.patience:
            eta *= self.factor
            self.model.optimizer.learning_rate = eta
            self.halvings.append(epoch + 1)
            self.wait = 0
            if eta <= self.initial * self.min_fraction * (1 + 1e-9):
                self.model.stop_training = True
        logs["learning_rate"] = eta

    def get_state(self):
        """What the schedule has seen, for resuming a run (JSON-able)."""
        return {"initial": self.initial, "best": self.best, "wait": self.wait, "halvings": self.halvings}

    def set_state(self, state):
        self.initial, self.best, self.wait = state["initial"], state["best"], state["wait"]
        self.halvings = list(state["halvings"])

    def get_config(self):
        return {
            "monitor": self.monitor,
            "mode": self.mode,
            "patience": self.patience,
            "factor": self.factor,
            "min_fraction": self.min_fraction,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
