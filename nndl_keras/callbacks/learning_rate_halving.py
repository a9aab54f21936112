import keras


@keras.saving.register_keras_serializable(package="nndl_keras")
class LearningRateHalving(keras.callbacks.Callback):
    """Chapter 3's learning-rate schedule: halve η on each plateau, stop at a fraction of its start.

    The book ("How to choose a neural network's hyper-parameters") suggests
    holding η constant until the validation accuracy has not improved for ten
    epochs, then halving it, and ending training once η has fallen to 1/128 of
    its initial value. Keras's `ReduceLROnPlateau` halves but never stops; this
    callback does both, and records η in the epoch logs as `learning_rate`.

    Args:
        monitor: the epoch-log entry to watch (higher is better).
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

    def __init__(self, monitor="validation_accuracy", patience=10, factor=0.5, min_fraction=1 / 128):
        super().__init__()
        if not 0 < factor < 1:
            raise ValueError(f"factor must be in (0, 1), got {factor}")
        self.monitor = monitor
        self.patience = int(patience)
        self.factor = float(factor)
        self.min_fraction = float(min_fraction)

    def on_train_begin(self, logs=None):
        self.initial = float(self.model.optimizer.learning_rate)
        self.best = None
        self.wait = 0
        self.halvings = []

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        value = logs.get(self.monitor)
        if value is None:
            raise ValueError(f"LearningRateHalving watches {self.monitor!r}, which the logs lack: {sorted(logs)}")
        eta = float(self.model.optimizer.learning_rate)
        if self.best is None or value > self.best:
            self.best, self.wait = value, 0
        else:
            self.wait += 1
        if self.wait >= self.patience:
            eta *= self.factor
            self.model.optimizer.learning_rate.assign(eta)
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
            "patience": self.patience,
            "factor": self.factor,
            "min_fraction": self.min_fraction,
        }
