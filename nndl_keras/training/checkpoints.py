"""Resumable trainings: after every completed epoch, everything needed to go on.

A run killed at any point (SIGKILL, a preempted Colab) loses at most the epoch
it was in; one stopped by Ctrl-C or SIGTERM also saves where it was inside the
epoch (`position`: the engine's steps done, their costs and the shuffling
generator's state before the epoch), so it loses about half a second. Each
training of a run has its own folder under `<output_dir>/checkpoints/` holding:

- `variables-<epoch>.npz`: every variable of the model (weights, the dropout
  layers' seed-generator states) and of its optimizer (iteration count, η);
- `state.json`: the epoch reached, the history so far, the engine's shuffling
  RNG, the state of callbacks that keep one (theirs by `get_state`/`set_state`,
  Keras's `EarlyStopping` and `ReduceLROnPlateau` by their counters; not
  `restore_best_weights`'s copy of the weights), and the settings the training
  was started with.

`state.json` is written last (atomically), so it always names a complete
variables file; the variables of older epochs are deleted after it.
Keras's `BackupAndRestore` does the same for `fit`; the runner's fused engines
need their own because an epoch there is one compiled call, not a `fit`.
"""

import json
from pathlib import Path

import keras
import numpy as np

from nndl_keras.errors import NNDLError
from nndl_keras.training import outputs

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
    """The model's variables, then its optimizer's (once each, in a fixed order);
    for a list of models (an ensemble trained stacked), each model's in turn."""
    if isinstance(model, (list, tuple)):
        return [v for one in model for v in _variables(one)]
    seen, found = set(), []
    optimizer = getattr(model, "optimizer", None)
    for variable in [*model.variables, *(optimizer.variables if optimizer is not None else [])]:
        if id(variable) not in seen:
            seen.add(id(variable))
            found.append(variable)
    return found


class Checkpoint:
    """One training's resumable state in `folder`.

    Args:
        folder: where the files live (created on the first save).
        settings: what the training was started with (recipe, hyperparameters,
            seed, engine); a resumed training must match them.
    """

    def __init__(self, folder, settings):
        self.folder = Path(folder)
        self.settings = json.loads(json.dumps(settings))  # as it reads back from disk

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
        return state

    def restore(self, state, model, engine, callbacks):
        """Puts the saved variables, shuffling RNG and callback states back."""
        path = self.folder / state["variables"]
        try:
            with np.load(path) as saved:
                values = [saved[f"v{i}"] for i in range(len(saved.files))]
        except (OSError, ValueError, KeyError) as e:
            raise NNDLError(f"cannot read checkpoint {path}: {e}") from None
        variables = _variables(model)
        if len(values) != len(variables) or any(tuple(v.shape) != w.shape for v, w in zip(variables, values)):
            raise NNDLError(f"the checkpoint in {self.folder} does not fit this model; start again with --overwrite")
        for variable, value in zip(variables, values):
            variable.assign(value)
        engine.set_rng_state(state["rng"])
        for callback, saved in zip(callbacks, state["callbacks"]):
            if saved is not None:
                _set_callback_state(callback, saved)
        if state.get("position") is not None:
            engine.set_position(state["position"])

    def save(self, model, engine, callbacks, epoch, history, finished=False, position=None):
        """Saves the state after `epoch` completed epochs (atomically, state last);
        with `position` (a stopped engine's), the state inside the next epoch."""
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"variables-{epoch}.npz"
        values = {f"v{i}": v.numpy() for i, v in enumerate(_variables(model))}

        def write(tmp):
            with open(tmp, "wb") as f:
                np.savez(f, **values)

        outputs.atomic_write(self.folder / name, write)
        state = {
            "settings": self.settings,
            "epoch": epoch,
            "finished": finished,
            "variables": name,
            "rng": engine.rng_state(),
            "history": history,
            "callbacks": [_callback_state(c) for c in callbacks],
            "position": position,
        }
        outputs.write_json(self.folder / STATE_FILE, state, indent=None)  # once an epoch: compact is fast
        for old in self.folder.glob("variables-*.npz"):
            if old.name != name:
                old.unlink()
