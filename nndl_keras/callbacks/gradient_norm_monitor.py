import csv
import json
import logging

import keras
import numpy as np

from nndl_keras.callbacks._loss_gradients import check_backend, loss_gradient_fn
from nndl_keras.files import atomic_write, write_json


RATIO_KEY = "grad_norm/speed_ratio"


@keras.saving.register_keras_serializable(package="nndl_keras")
class GradientNormMonitor(keras.callbacks.Callback):
    """Per-weight gradient norms during `fit`, and the chapter-5 diagnosis.

    At the start of training and then every epoch (or every `every_n_batches`
    batches), computes the Euclidean norm of the gradient of the model's own
    compiled loss, regularisation included, averaged over a fixed probe set,
    with respect to each trainable weight. For a layer's bias this is the
    book's ‖δ^l‖, its "speed of learning" (chapter 5, "The vanishing gradient
    problem"); the book probes with the first 1,000 training images.

    Keys. The norms are added to the epoch logs as `grad_norm/<path>`, where
    `<path>` is the weight's `variable.path` less the model's own name:
    `grad_norm/hidden_1/bias` for the bias of a top-level layer `hidden_1`,
    `grad_norm/block/dense/kernel` for a `Dense` named `dense` inside a nested
    model `block`, so that no two weights share a key. `History` records them,
    and so do `CSVLogger` and `TensorBoard` when they come after the monitor in
    the callback list. Every measurement is also kept in `table`, which
    `save_json`, `save_csv` and `plot` write out.

    Speed ratio. With two or more watched weights named `bias`, the monitor
    also logs `grad_norm/speed_ratio`: the norm of the first one over the norm
    of the last one, in the order of `model.trainable_variables` (from input to
    output in a Sequential or functional model; the last is then usually the
    output layer's). It is the book's chapter-5 measure: far below 1 when the
    early layers learn far more slowly than the late ones (the vanishing
    gradient), far above 1 when they learn faster (the exploding gradient).

    Alerts. With `vanishing_ratio` set, the monitor prints one line, once,
    when the speed ratio falls below it; with `exploding_ratio` set, when the
    speed ratio rises above it (the gradient grows on its way back to the first
    layer, chapter 5's exploding gradient); with `exploding_factor` set, when
    the norm of the whole watched gradient grows by more than that factor from
    one measurement to the next (training diverging). The vanishing ratio and
    the growth are judged only on measurements made after training has begun
    (a net whose output layer starts at zero weights, as network3's softmax
    does, has every earlier gradient exactly zero before its first step, a
    ratio of 0); the exploding ratio from the first measurement on, since the
    book's exploding gradient is one of the initial weights and a single step
    can end it (in `ch5-exploding` one step saturates every hidden neuron).
    Each kind is reported once per model (as `TerminateOnNaN` does, whatever
    `fit`'s `verbose`), and `on_alert(kind, measurement)` is called then,
    `kind` being `"vanishing"` or `"exploding"` and `measurement` a dict with
    `epoch`, `batch`, `measure` (`"speed_ratio"` or `"growth"`), `value`,
    `threshold` and `norms` (the row of `table`); it may set
    `self.model.stop_training = True`.

    The probe pass runs in inference mode (`training=False`: no dropout mask,
    and BatchNormalization normalises with its moving statistics, not the
    probe's) and touches no variable and no random state, so training is
    exactly as without the monitor. The watched weights are found at the first
    measurement, once the model is built (a model that is not yet built, such
    as a `Sequential` without `keras.Input` or a subclassed model, is built by
    calling it on one probe example). It works with any model `fit` trains
    (Sequential, functional, subclassed, nested), several inputs or outputs,
    any `steps_per_execution`, inside a `tf.distribute` strategy (the norms are
    those measured without one), and on the TensorFlow and JAX backends; on
    another backend `on_train_begin` raises a one-line `RuntimeError`.

    Serialisation: `get_config` holds every argument but the probe, which is
    data, not configuration (the book's probe alone is 1,000 MNIST images), and
    `on_alert`, which is code, so `keras.saving.deserialize_keras_object` of a
    serialised monitor raises a `ValueError` asking for the probe. Give them
    back in the config:
    `GradientNormMonitor.from_config({**config, "probe": (x, y)})`, or set
    `serialized["config"]["probe"] = (x, y)` before deserialising.

    Args:
        probe: `(x, y)` the gradient is averaged over, as `fit` takes them:
            arrays, or lists, tuples or dicts of arrays for several inputs or
            outputs.
        every_n_batches: measure every this many batches instead of every
            epoch (batch measurements are kept in `table`, not in the logs).
        layers: names of the layers to watch, or paths of nested layers
            (`"block/dense"`); default every trainable weight.
        batch_size: probe examples per gradient evaluation (the average is
            over all of them either way); default all at once.
        vanishing_ratio: alert when the speed ratio falls below this
            (`0.01`: the first layer learns 100 times slower than the last);
            default `None`, no alert.
        exploding_ratio: alert when the speed ratio rises above this (`100`:
            the first layer learns 100 times faster than the last); default
            `None`, no alert.
        exploding_factor: alert when the gradient's norm grows by more than
            this factor between two measurements; default `None`, no alert.
        on_alert: called as `on_alert(kind, measurement)` with each alert.

    Example:

    >>> import numpy as np, keras
    >>> x, y = np.random.rand(100, 4), np.random.randint(0, 3, 100)
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, name="h"),
    ...                           keras.layers.Dense(3, activation="softmax", name="out")])
    >>> model.compile("sgd", "sparse_categorical_crossentropy")
    >>> monitor = GradientNormMonitor((x[:50], y[:50]), vanishing_ratio=1e-6)
    >>> history = model.fit(x, y, epochs=2, callbacks=[monitor], verbose=0)
    >>> len(history.history["grad_norm/h/bias"]), len(history.history["grad_norm/speed_ratio"])
    (2, 2)
    """

    def __init__(
        self,
        probe,
        every_n_batches=None,
        layers=None,
        batch_size=None,
        vanishing_ratio=None,
        exploding_ratio=None,
        exploding_factor=None,
        on_alert=None,
    ):
        super().__init__()
        x, y = probe
        self.probe_x, self.probe_y = _as_arrays(x), _as_arrays(y)
        self._probe_size = _probe_size(self.probe_x, self.probe_y)
        if every_n_batches is not None and every_n_batches < 1:
            raise ValueError(f"every_n_batches must be at least 1, got {every_n_batches}")
        if vanishing_ratio is not None and not vanishing_ratio > 0:
            raise ValueError(f"vanishing_ratio must be positive, got {vanishing_ratio}")
        if exploding_ratio is not None and not exploding_ratio > 1:
            raise ValueError(f"exploding_ratio must be greater than 1, got {exploding_ratio}")
        if exploding_factor is not None and not exploding_factor > 1:
            raise ValueError(f"exploding_factor must be greater than 1, got {exploding_factor}")
        self.every_n_batches = every_n_batches
        self.layers = None if layers is None else list(layers)
        self.batch_size = batch_size
        self.vanishing_ratio = vanishing_ratio
        self.exploding_factor = exploding_factor
        self.exploding_ratio = exploding_ratio
        self.on_alert = on_alert
        self.table = []
        self._alerted = set()
        self._gradient_fn = None
        self._measured = None  # the model the table and the gradient function belong to
        self._fingerprint = None
        self._epoch = 0
        self._batches_seen = 0

    # -- what is watched --------------------------------------------------

    def _watched(self):
        """(key, variable index) for every watched trainable weight, keyed by its path."""
        names = _weight_names(self.model)
        watched = [(f"grad_norm/{name}", i) for i, name in enumerate(names) if self._is_watched(name)]
        if self.layers is not None:
            missing = [n for n in self.layers if not any(self._is_watched(name, [n]) for name in names)]
            if missing:
                raise ValueError(f"no trainable weight of {self.model.name} is in layers {missing}; its weights are {names}")
        return watched

    def _is_watched(self, name, layers=None):
        layers = self.layers if layers is None else layers
        return layers is None or any(name.startswith(f"{layer}/") for layer in layers)

    # -- computing the gradient --------------------------------------------

    def _prepare(self):
        """The gradient function and the keys, for the model as it is now (built, compiled, frozen)."""
        model = self.model
        if not model.built:
            # Sequential without Input, subclassed: TensorFlow's fit builds them
            # only when it traces its first step, after on_train_begin.
            model(keras.tree.map_structure(lambda a: a[:1], self.probe_x), training=False)
        # A recompile (a new loss or optimizer) or a frozen layer asks for a new gradient function.
        fingerprint = (id(model), id(model.loss), id(model.optimizer), tuple(id(v) for v in model.trainable_variables))
        if self._gradient_fn is None or fingerprint != self._fingerprint:
            self._gradient_fn = loss_gradient_fn(model)
            self._keys = self._watched()
            self._fingerprint = fingerprint
        self._measured = model

    def mean_gradients(self):
        """The gradient now, averaged over the probe, as `{"grad_norm/<path>": array}` for each
        watched weight: for a bias, the book's δ^l_j = ∂C/∂b^l_j neuron by neuron (equation BP3)."""
        self._prepare()
        n, step = self._probe_size, self.batch_size or self._probe_size
        total = None
        for start in range(0, n, step):
            x, y = (keras.tree.map_structure(lambda a: a[start : start + step], d) for d in (self.probe_x, self.probe_y))
            size = min(step, n - start)
            grads = [np.asarray(g, dtype=np.float64) * size for g in self._gradient_fn(x, y)]
            total = grads if total is None else [t + g for t, g in zip(total, grads)]
        return {key: total[i] / n for key, i in self._keys}

    def gradient_norms(self):
        """The norms now, as `{"grad_norm/<path>": float}`, with `grad_norm/speed_ratio` where defined."""
        norms = {key: float(np.linalg.norm(gradient)) for key, gradient in self.mean_gradients().items()}
        return {**norms, **_speed_ratio(norms)}

    # -- callback hooks ----------------------------------------------------

    def _record(self, batch=None):
        if keras.backend.backend() == "jax":
            self.model.jax_state_sync()  # between batches JAX holds the weights outside the model
        norms = self.gradient_norms()
        row = {"epoch": self._epoch, "batch": batch, **norms}
        previous = self.table[-1] if self.table else None
        self.table.append(row)
        self._diagnose(row, previous)
        return norms

    def on_train_begin(self, logs=None):
        check_backend("GradientNormMonitor")  # one clear line, before fit has done anything
        if self._measured is not None and self._measured is not self.model:
            # Reused for another model (best-of-N runs, ensemble members): its own table.
            self.table, self._epoch, self._alerted = [], 0, set()
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

    # -- diagnosis (chapter 5) ------------------------------------------------

    def _diagnose(self, row, previous):
        ratio = row.get(RATIO_KEY)
        first, last = _first_and_last_bias(row)
        if self.exploding_ratio is not None and ratio is not None and ratio > self.exploding_ratio:
            # Judged from the first measurement: chapter 5's exploding gradient (weights
            # w with w·σ′(z) > 1) is one of the initial weights, and in ch5-exploding
            # the first step saturates every hidden neuron, so it is gone after it.
            self._alert(
                "exploding", row, "speed_ratio", ratio, self.exploding_ratio,
                f"the first layer learns {ratio:.0f}x faster than the last "
                f"(‖∂C/∂b‖ of {first} over {last}: speed ratio {ratio:.3g} > exploding_ratio {self.exploding_ratio})",
            )
        if previous is None:
            # The rest only during training: a net whose output layer starts at zero
            # weights (network3's softmax, chapter 6) has every earlier gradient
            # exactly zero before its first step, and a ratio of 0.
            return
        if self.vanishing_ratio is not None and ratio is not None and ratio < self.vanishing_ratio:
            slower = f"{1 / ratio:.0f}x slower than the last" if ratio > 0 else "not at all (its gradient is 0)"
            self._alert(
                "vanishing", row, "speed_ratio", ratio, self.vanishing_ratio,
                f"the first layer learns {slower} "
                f"(‖∂C/∂b‖ of {first} over {last}: speed ratio {ratio:.3g} < vanishing_ratio {self.vanishing_ratio})",
            )
        if self.exploding_factor is not None:
            before, now = _total_norm(previous), _total_norm(row)
            if before > 0 and now > self.exploding_factor * before:
                self._alert(
                    "exploding", row, "growth", now / before, self.exploding_factor,
                    f"the gradient's norm grew {now / before:.3g}x since the last measurement "
                    f"({before:.3g} to {now:.3g}; exploding_factor {self.exploding_factor})",
                )

    def _alert(self, kind, row, measure, value, threshold, why):
        if kind in self._alerted:  # once per model: a warning, not a log
            return
        self._alerted.add(kind)
        if row is self.table[0]:
            when = "before training"
        elif row["batch"] is None:
            when = f"after epoch {row['epoch']}"
        else:
            when = f"in epoch {row['epoch'] + 1}, after batch {row['batch'] + 1}"
        _print(f"GradientNormMonitor: {kind} gradient {when}: {why}")
        if self.on_alert is not None:
            norms = {k: v for k, v in row.items() if k.startswith("grad_norm/")}
            measurement = {
                "epoch": row["epoch"], "batch": row["batch"], "measure": measure,
                "value": value, "threshold": threshold, "norms": norms,
            }
            self.on_alert(kind, measurement)

    # -- resuming (nndl_keras.training.checkpoints) -----------------------

    def get_state(self):
        """The measurements so far, as JSON-able data."""
        return {"table": self.table, "epoch": self._epoch, "alerted": sorted(self._alerted)}

    def set_state(self, state):
        self.table = [dict(row) for row in state["table"]]
        self._epoch = state["epoch"]
        self._alerted = set(state.get("alerted", ()))

    # -- outputs -----------------------------------------------------------

    def keys(self):
        """The `grad_norm/<path>` names of the weights measured, in the model's order (not the ratio)."""
        return [k for k in self._columns() if k != RATIO_KEY]

    def _columns(self):
        columns = {}  # every row's, in order: a weight frozen between fit calls leaves later rows
        for row in self.table:
            columns.update(dict.fromkeys(k for k in row if k.startswith("grad_norm/")))
        return list(columns)

    def series(self, key):
        """One norm over the measurements, oldest first."""
        return [row[key] for row in self.table]

    def save_json(self, path):
        return write_json(path, {"probe_size": self._probe_size, "rows": self.table})

    def save_csv(self, path):
        def write(tmp):
            with open(tmp, "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=["epoch", "batch", *self._columns()])
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

        suffix = f"/{weight}"
        ours = {k[len("grad_norm/") : -len(suffix)]: self.series(k) for k in self.keys() if k.endswith(suffix)}
        return plots.speed_of_learning(ours, path, reference=reference, title=title or f"‖∂C/∂{weight}‖ per layer")

    def get_config(self):
        """Every argument but `probe` and `on_alert` (see "Serialisation" above)."""
        return {
            "every_n_batches": self.every_n_batches,
            "layers": self.layers,
            "batch_size": self.batch_size,
            "vanishing_ratio": self.vanishing_ratio,
            "exploding_ratio": self.exploding_ratio,
            "exploding_factor": self.exploding_factor,
        }

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


def _as_arrays(data):
    """NumPy arrays in `fit`'s structure: a list, tuple or dict holds several inputs (keras.tree)."""
    if isinstance(data, list) and all(isinstance(d, (int, float, np.number)) for d in data):
        return np.asarray(data)  # one input given as a list of numbers (labels)
    return keras.tree.map_structure(np.asarray, data)


def _probe_size(x, y):
    sizes = {len(a) if a.ndim else 0 for a in keras.tree.flatten((x, y))}
    if len(sizes) != 1 or 0 in sizes:
        raise ValueError(f"the probe's arrays must all hold the same number of examples, got sizes {sorted(sizes)}")
    return sizes.pop()


def _weight_names(model):
    """Each trainable weight's `variable.path`, less the model's own name where every path starts with it."""
    paths = [v.path for v in model.trainable_variables]
    prefix = f"{model.name}/"
    if paths and all(p.startswith(prefix) for p in paths):  # Sequential and subclassed models
        paths = [p[len(prefix) :] for p in paths]
    seen = {}
    for i, path in enumerate(paths):  # two weights of one path (same-named layers in a subclassed model)
        seen[path] = seen.get(path, 0) + 1
        if seen[path] > 1:
            paths[i] = f"{path}_{seen[path] - 1}"
    return paths


def _first_and_last_bias(norms):
    biases = [k[len("grad_norm/") : -len("/bias")] for k in norms if k.endswith("/bias")]
    return (biases[0], biases[-1]) if len(biases) >= 2 else (None, None)


def _speed_ratio(norms):
    """Chapter 5: the first watched layer's ‖∂C/∂b‖ over the last one's."""
    first, last = _first_and_last_bias(norms)
    if first is None or norms[f"grad_norm/{last}/bias"] == 0:
        return {}
    return {RATIO_KEY: norms[f"grad_norm/{first}/bias"] / norms[f"grad_norm/{last}/bias"]}


def _total_norm(row):
    """The norm of the whole watched gradient, from its parts."""
    return float(np.sqrt(sum(v**2 for k, v in row.items() if k.startswith("grad_norm/") and k != RATIO_KEY)))


def _print(message):
    """One line, as Keras's own callbacks print (to stdout, or to the log when interactive logging is off)."""
    if keras.config.is_interactive_logging_enabled():
        print(message, flush=True)
    else:
        logging.getLogger("nndl_keras").warning(message)


def load_table(path):
    """Reads a table written by `GradientNormMonitor.save_json`: a dict per measurement.

    Example:

    >>> import json, os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "gradient_norms.json")
    >>> with open(path, "w") as f:
    ...     json.dump({"rows": [{"epoch": 0, "hidden_1/bias": 0.02}]}, f)
    >>> load_table(path)[0]["hidden_1/bias"]
    0.02
    """
    with open(path) as f:
        return json.load(f)["rows"]
