import csv
import json

import keras
import numpy as np

from nndl_keras.callbacks._loss_gradients import loss_gradient_fn


@keras.saving.register_keras_serializable(package="nndl_keras")
class GradientNormMonitor(keras.callbacks.Callback):
    """Per-layer gradient norms during `fit`: the measurement behind chapter 5.

    At the start of training and then every epoch (or every `every_n_batches`
    batches), computes for each layer with trainable weights the Euclidean norm
    of the gradient of the model's own compiled loss, regularisation included,
    averaged over a fixed probe set, with respect to each of its weights. For a
    layer's bias this is the book's ‖δ^l‖, its "speed of learning" (chapter 5,
    "The vanishing gradient problem"); the book probes with the first 1,000
    training images.

    The norms are added to the epoch logs as `grad_norm/<layer>/<weight>`
    (`grad_norm/hidden_1/bias`, `grad_norm/hidden_1/kernel`, ...), so `History`
    records them, and so do `CSVLogger` and `TensorBoard` when they come after
    the monitor in the callback list. Every measurement is also kept in
    `table`, which `save_json`, `save_csv` and `plot` write out.

    The probe pass runs in inference mode (`training=False`) and touches no
    variable and no random state, so training is exactly as without the
    monitor. It works with any `steps_per_execution`, inside a `tf.distribute`
    strategy and on the JAX backend (TensorFlow and JAX only).

    Serialisation: `get_config` holds every argument but the probe, which is
    data, not configuration (the book's probe alone is 1,000 MNIST images), so
    `keras.saving.deserialize_keras_object` of a serialised monitor raises a
    `ValueError` asking for it. Give the probe back in the config:
    `GradientNormMonitor.from_config({**config, "probe": (x, y)})`, or set
    `serialized["config"]["probe"] = (x, y)` before deserialising.

    Args:
        probe: `(x, y)` arrays the gradient is averaged over.
        every_n_batches: measure every this many batches instead of every
            epoch (batch measurements are kept in `table`, not in the logs).
        layers: names of the layers to watch; default every layer with
            trainable weights.
        batch_size: probe examples per gradient evaluation (the average is
            over all of them either way); default all at once.

    Example:

    >>> import numpy as np, keras
    >>> x, y = np.random.rand(100, 4), np.random.randint(0, 3, 100)
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, name="h"),
    ...                           keras.layers.Dense(3, activation="softmax", name="out")])
    >>> model.compile("sgd", "sparse_categorical_crossentropy")
    >>> monitor = GradientNormMonitor((x[:50], y[:50]))
    >>> history = model.fit(x, y, epochs=2, callbacks=[monitor], verbose=0)
    >>> len(history.history["grad_norm/h/bias"])
    2
    """

    def __init__(self, probe, every_n_batches=None, layers=None, batch_size=None):
        super().__init__()
        x, y = probe
        self.probe_x, self.probe_y = np.asarray(x), np.asarray(y)
        if every_n_batches is not None and every_n_batches < 1:
            raise ValueError(f"every_n_batches must be at least 1, got {every_n_batches}")
        self.every_n_batches = every_n_batches
        self.layers = None if layers is None else list(layers)
        self.batch_size = batch_size
        self.table = []
        self._gradient_fn = None
        self._measured = None  # the model the table and the gradient function belong to
        self._epoch = 0
        self._batches_seen = 0

    # -- what is watched --------------------------------------------------

    def _watched(self):
        """(key, variable index) for every trainable weight of the watched layers."""
        index = {id(v): i for i, v in enumerate(self.model.trainable_variables)}
        watched = []
        for layer in self.model.layers:
            if self.layers is not None and layer.name not in self.layers:
                continue
            for variable in layer.trainable_weights:
                name = variable.path.rsplit("/", 1)[-1] if hasattr(variable, "path") else variable.name
                watched.append((f"grad_norm/{layer.name}/{name}", index[id(variable)]))
        return watched

    # -- computing the gradient --------------------------------------------

    def gradient_norms(self):
        """The norms now, as `{"grad_norm/<layer>/<weight>": float}`."""
        if self._gradient_fn is None or self._measured is not self.model:
            self._gradient_fn = loss_gradient_fn(self.model)
            self._keys = self._watched()
            self._measured = self.model
        n = len(self.probe_y)
        step = self.batch_size or n
        total = None
        for start in range(0, n, step):
            x, y = self.probe_x[start : start + step], self.probe_y[start : start + step]
            grads = [np.asarray(g, dtype=np.float64) * len(y) for g in self._gradient_fn(x, y)]
            total = grads if total is None else [t + g for t, g in zip(total, grads)]
        return {key: float(np.linalg.norm(total[i] / n)) for key, i in self._keys}

    # -- callback hooks ----------------------------------------------------

    def _record(self, batch=None):
        if keras.backend.backend() == "jax":
            self.model.jax_state_sync()  # between batches JAX holds the weights outside the model
        norms = self.gradient_norms()
        self.table.append({"epoch": self._epoch, "batch": batch, **norms})
        return norms

    def on_train_begin(self, logs=None):
        if self._measured is not None and self._measured is not self.model:
            # Reused for another model (best-of-N runs, ensemble members): its own table.
            self.table, self._epoch = [], 0
        if not self.table:  # before any training: the book's initial ‖δ^l‖
            self._record()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._batches_seen = 0  # Keras numbers batches from 0 in every epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.every_n_batches is None:
            return
        # With steps_per_execution > 1 Keras calls this once per execution,
        # `batch` being the last step run; count steps, not calls.
        done = batch + 1
        if done // self.every_n_batches > self._batches_seen // self.every_n_batches:
            self._record(batch=batch)
        self._batches_seen = done

    def on_epoch_end(self, epoch, logs=None):
        self._epoch = epoch + 1
        if self.every_n_batches is None:
            norms = self._record()
            if logs is not None:
                logs.update(norms)

    # -- resuming (nndl_keras.training.checkpoints) -----------------------

    def get_state(self):
        """The measurements so far, as JSON-able data."""
        return {"table": self.table, "epoch": self._epoch}

    def set_state(self, state):
        self.table = [dict(row) for row in state["table"]]
        self._epoch = state["epoch"]

    # -- outputs -----------------------------------------------------------

    def keys(self):
        """The `grad_norm/...` names measured, in layer order."""
        return [k for k in self.table[0] if k.startswith("grad_norm/")] if self.table else []

    def series(self, key):
        """One norm over the measurements, oldest first."""
        return [row[key] for row in self.table]

    def save_json(self, path):
        from nndl_keras.training.outputs import write_json

        return write_json(path, {"probe_size": len(self.probe_y), "rows": self.table})

    def save_csv(self, path):
        from nndl_keras.training.outputs import atomic_write

        def write(tmp):
            with open(tmp, "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=["epoch", "batch", *self.keys()])
                writer.writeheader()
                writer.writerows(self.table)

        return atomic_write(path, write)

    def plot(self, path, weight="bias", reference=None, title=None):
        """A log-scale PNG of each watched layer's norm, as the book's "speed of learning" figures.

        Args:
            path: the PNG to write.
            weight: which weight's norms to draw (`"bias"` is the book's ‖δ^l‖).
            reference: optional `{label: series}` drawn dashed beside ours
                (the book's curves).
            title: the figure's title.
        """
        from nndl_keras import plots

        ours = {k.split("/")[1]: self.series(k) for k in self.keys() if k.endswith(f"/{weight}")}
        return plots.speed_of_learning(ours, path, reference=reference, title=title or f"‖∂C/∂{weight}‖ per layer")

    def get_config(self):
        """Every argument but `probe` (see "Serialisation" above)."""
        return {"every_n_batches": self.every_n_batches, "layers": self.layers, "batch_size": self.batch_size}

    @classmethod
    def from_config(cls, config):
        """A monitor from `get_config()`'s config with the probe added as `config["probe"] = (x, y)`."""
        if "probe" not in config:
            raise ValueError(
                "A GradientNormMonitor's config does not hold its probe data (x, y): add it, as in "
                'GradientNormMonitor.from_config({**config, "probe": (x, y)}), or set '
                'serialized["config"]["probe"] = (x, y) before keras.saving.deserialize_keras_object'
            )
        return cls(**config)


def load_table(path):
    """Reads a table written by `GradientNormMonitor.save_json`."""
    with open(path) as f:
        return json.load(f)["rows"]
