"""Ctrl-C and SIGTERM during training: answered at the next safe point, nothing lost.

A compiled training loop cannot be interrupted halfway through a call, and a
`KeyboardInterrupt` raised wherever Python happens to be when the call returns
could fall between an update of the weights and the record of it. So while a
training runs, `DeferredStop` turns the first SIGINT or SIGTERM into a request
that the engines look at between their chunks of steps (about half a second each,
see `training.engines`): they stop there, say where they are, and the runner
saves a checkpoint of that point before it exits. A second signal stops at once.
"""

import signal
import threading

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequested(KeyboardInterrupt):
    """Training stopped at a safe point because of `signum` (still a `KeyboardInterrupt`)."""

    def __init__(self, signum):
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum = signum


class DeferredStop:
    """Within `with DeferredStop() as stop:`, SIGINT and SIGTERM set `stop.signum`
    instead of raising; `stop.requested()` says whether one came, and
    `stop.check()` raises `StopRequested` if so. A second signal raises
    `KeyboardInterrupt` at once. Leaving the block puts the previous handlers
    back and raises `StopRequested` for a request nobody checked. Outside the
    main thread, where Python delivers no signals, it does nothing.
    """

    def __init__(self):
        self.signum = None
        self._previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._handle) for s in SIGNALS}
        return self

    def _handle(self, signum, frame):
        if self.signum is not None:
            raise KeyboardInterrupt  # asked twice: stop now
        self.signum = signum

    def requested(self):
        return self.signum is not None

    def check(self):
        if self.signum is not None:
            raise StopRequested(self.signum)

    def __exit__(self, kind, value, traceback):
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous = {}
        if kind is None:
            self.check()
        return False
