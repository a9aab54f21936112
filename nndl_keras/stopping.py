"""Ctrl-C and SIGTERM: one request, one exception, answered where nothing is lost.

While a `StopRequest` is installed (the `nndl-keras` command installs one for its
whole life; a training installs one when none is), SIGINT and SIGTERM raise
`Interrupted` at once, except inside `request.deferred()`: there, the first
signal is only recorded, and the training loop stops at its next safe point
(the end of a chunk of steps, about half a second) by `request.check()`. A
compiled loop cannot stop halfway through a call, and an exception raised
wherever Python happens to be could fall between an update of the weights and
the record of it. A second signal raises at once.
"""

import contextlib
import signal
import threading

from nndl_keras.errors import Interrupted

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """Turns SIGINT and SIGTERM into `Interrupted` (see the module).

    Example:

    >>> with StopRequest() as request, request.deferred():
    ...     request.requested()  # the loop asks between two chunks of steps
    False
    """

    installed = None  # the innermost request entered in this process

    def __init__(self):
        self.signum = None
        self._deferring, self._previous, self._outer = False, {}, None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():  # Python signals only the main thread
            self._previous = {s: signal.signal(s, self._handle) for s in SIGNALS}
        self._outer, StopRequest.installed = StopRequest.installed, self
        return self

    def __exit__(self, *exc_info):
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous, StopRequest.installed = {}, self._outer
        return False

    def _handle(self, signum, frame):
        if self._deferring and self.signum is None:
            self.signum = signum
            return
        raise Interrupted(signum)

    @contextlib.contextmanager
    def deferred(self):
        """A block where the first signal waits for `check()`; one left unchecked is raised on leaving."""
        self._deferring, self.signum = True, None
        try:
            yield self
        finally:
            self._deferring = False
        self.check()

    def requested(self):
        return self.signum is not None

    def check(self):
        """Raises `Interrupted` if a signal came."""
        if self.signum is not None:
            signum, self.signum = self.signum, None
            raise Interrupted(signum)


@contextlib.contextmanager
def deferred_stop():
    """The installed request's deferred block, or, in a process that installed none (a
    library user's), a request's of its own for the block's length."""
    if StopRequest.installed is not None:
        with StopRequest.installed.deferred() as request:
            yield request
    else:
        with StopRequest() as request, request.deferred():
            yield request
