"""Resumable trainings: after every epoch, everything needed to go on (Keras's
`BackupAndRestore` does this for `fit`, whose epochs the runner's chunks are not).

Each training has a folder under `<output_dir>/checkpoints/`: `variables-<epoch>.npz`
(the model's and its optimizer's variables, by path: `_keys`), then, atomically,
`state.json` (epoch, history, shuffling generators, callbacks' state, settings and
the processes that trained it). What survives what: docs/runs.md.
"""

import json
import re
import time
from pathlib import Path

import keras
import numpy as np

from nndl_keras import files
from nndl_keras.errors import NNDLError
from nndl_keras.provenance import describe, this_process

STATE_FILE = "state.json"


# Keras callbacks that keep a count across epochs, and the attributes that hold it
# (their own `on_train_begin` resets them; a resumed training puts them back).
_KERAS_CALLBACK_STATE = {
    keras.callbacks.EarlyStopping: ("wait", "stopped_epoch", "best", "best_epoch"),
    keras.callbacks.ReduceLROnPlateau: ("wait", "cooldown_counter", "best"),
}


def _callback_state(callback):
    if hasattr(callback, "get_state"):
        return callback.get_state()
    for kind, names in _KERAS_CALLBACK_STATE.items():
        if isinstance(callback, kind) and not getattr(callback, "restore_best_weights", False):
            return {name: _plain(getattr(callback, name)) for name in names}
    return None


def _set_callback_state(callback, state):
    if hasattr(callback, "set_state"):
        callback.set_state(state)
    else:
        for name, value in state.items():
            setattr(callback, name, value)


def _plain(value):
    return value if value is None or isinstance(value, int) else float(value)


def _variables(model):
    """The model's variables, then its optimizer's (once each), keyed by path (see `_keys`);
    for a list of models (an ensemble trained stacked), member k's under `member<k>/`."""
    if isinstance(model, (list, tuple)):
        return {f"member{k}/{key}": v for k, one in enumerate(model) for key, v in _variables(one).items()}
    own = list({id(v): v for v in model.variables}.values())
    optimizer = getattr(model, "optimizer", None)
    slots = [v for v in (optimizer.variables if optimizer is not None else []) if id(v) not in {id(w) for w in own}]
    keys = _keys(model, [v.path for v in own])
    found = dict(zip(keys, own))
    for variable in slots:
        found[_optimizer_key(variable.path, own, keys)] = variable
    return found


def _keys(model, paths):
    """Each of the model's `variable.path`s, less what Keras numbers afresh in every process.

    A resumed run rebuilds its models in a new process (or after other recipes), where
    Keras's names for unnamed objects (`dense_4`, `seed_generator_7`) carry other
    numbers. So the model's name becomes `model`, and every other layer or object
    name `<stem>#<rank>`: its place by number among the model's names of that stem
    (`dense` is 0, `dense_4` 4), the order they were made in, the same in every process.
    """
    parts = [path.split("/") for path in paths]
    numbered = {}
    for name in {name for path in parts for name in path[:-1]} - {model.name}:
        stem, number = re.fullmatch(r"(.+?)(?:_(\d+))?", name).groups()
        numbered.setdefault(stem, []).append((int(number or 0), name))
    ranks = {name: f"{stem}#{rank}" for stem, names in numbered.items() for rank, (_, name) in enumerate(sorted(names))}
    ranks[model.name] = "model"
    return ["/".join([*(ranks[name] for name in path[:-1]), path[-1]]) for path in parts]


def _optimizer_key(path, own, keys):
    """`optimizer/<the model variable's key>/<slot>` for a slot Keras names after the
    variable it follows (`<its path with _ for />_momentum`), else `optimizer/<name>`."""
    name = path.split("/")[-1]
    follows = [(len(v.path), key) for v, key in zip(own, keys) if name.startswith(v.path.replace("/", "_") + "_")]
    if not follows:
        return f"optimizer/{name}"
    length, key = max(follows)
    return f"optimizer/{key}/{name[length + 1 :]}"


class Checkpoint:
    """One training's resumable state in `folder`.

    Args:
        folder: where the files live (created on the first save).
        settings: what the training was started with (recipe, hyperparameters, seed,
            engine); a resumed training must match them.

    Attributes:
        processes: the processes that trained it, as of its last save or load, this one
            last: each one's `provenance` with `from_epoch`, `to_epoch` and `seconds`.
    """

    def __init__(self, folder, settings):
        self.folder = Path(folder)
        self.settings = json.loads(json.dumps(settings))  # as it reads back from disk
        # Who trained it: a run resumed on another machine (or at another commit) is
        # not one process's work, and the CPU changes the rounding, so each process
        # that saved it is kept with the epochs it took the training from and to.
        self.processes = []
        self._earlier, self._from_epoch, self._begun = [], 0, time.perf_counter()
        self._here = this_process()  # this process, dated as it starts training, not at its first save

    def load(self):
        """The saved state, or `None` when there is none; refuses another training's."""
        path = self.folder / STATE_FILE
        if not path.exists():
            return None
        try:
            with open(path) as f:
                state = json.load(f)
        except (OSError, ValueError) as e:
            raise NNDLError(f"cannot read checkpoint {path}: {e}") from None
        if state.get("settings") != self.settings:
            raise NNDLError(f"the checkpoint in {self.folder} was made with other settings; start again with --overwrite")
        if "processes" not in state:  # written before checkpoints recorded who trained them
            raise NNDLError(f"the checkpoint in {self.folder} was written by an earlier nndl-keras; start again with --overwrite")
        self._earlier = self.processes = state["processes"]
        self._from_epoch = state["epoch"]
        return state

    def trained_elsewhere(self):
        """The machine, in one line, of the process that saved the loaded state, when its
        processor is not this one's (floating-point results differ with it); else None."""
        last = self._earlier[-1].get("machine") if self._earlier else None
        here = self._here["machine"]

        def arithmetic(machine):
            return machine.get("cpu"), machine.get("cpu_flags"), machine.get("accelerators")

        return describe(last) if last and arithmetic(last) != arithmetic(here) else None

    def restore(self, state, model, callbacks):
        """Puts the saved variables (matched by path) and callback states back."""
        variables = _variables(model)
        for key, value in self._values(state, variables).items():
            variables[key].assign(value)
        for callback, saved in zip(callbacks, state["callbacks"]):
            if saved is not None:
                _set_callback_state(callback, saved)

    def _values(self, state, variables):
        """The saved values by key, checked against `variables`: a variable that one side
        lacks, or of another shape, is refused in one line that names it."""
        path = self.folder / state["variables"]
        try:
            with np.load(path) as saved:
                values = {key: saved[key] for key in saved.files}
        except (OSError, ValueError, KeyError) as e:
            raise NNDLError(f"cannot read checkpoint {path}: {e}") from None
        again = "; start again with --overwrite"
        for key, variable in variables.items():
            if key not in values:
                raise NNDLError(f"the checkpoint in {self.folder} has no {key} ({variable.path}) for this model{again}")
            if tuple(variable.shape) != values[key].shape:
                raise NNDLError(
                    f"the checkpoint in {self.folder} holds {key} of shape {values[key].shape}, "
                    f"this model's is {tuple(variable.shape)}{again}"
                )
        extra = sorted(set(values) - set(variables))
        if extra:
            raise NNDLError(f"the checkpoint in {self.folder} holds {extra[0]}, which this model does not have{again}")
        return values

    def save(self, model, rng, callbacks, epoch, history, finished=False, position=None):
        """Saves the state after `epoch` completed epochs (atomically, state last);
        with `position` (a stopped engine's), the state inside the next epoch."""
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"variables-{epoch}.npz"
        values = {key: v.numpy() for key, v in _variables(model).items()}

        def write(tmp):
            with open(tmp, "wb") as f:
                np.savez(f, **values)

        files.atomic_write(self.folder / name, write)
        this = {"from_epoch": self._from_epoch, "to_epoch": epoch, "seconds": round(time.perf_counter() - self._begun, 3)}
        self.processes = [*self._earlier, {**self._here, **this}]
        state = {
            "settings": self.settings,
            "epoch": epoch,
            "finished": finished,
            "variables": name,
            "rng": rng,
            "history": history,
            "callbacks": [_callback_state(c) for c in callbacks],
            "position": position,
            "processes": self.processes,
        }
        files.write_json(self.folder / STATE_FILE, state, indent=None)  # once an epoch: compact is fast
        for old in self.folder.glob("variables-*.npz"):
            if old.name != name:
                old.unlink()
