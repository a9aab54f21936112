"""What a person watching a run sees: the cost up front, an ETA on every epoch line.

The estimate is timed on this machine from the first half-second of steps
that did not compile (the engines say which), and covers every training the run
has planned (an ensemble's members, the book's best-of-three runs). On a
terminal, an epoch that takes more than a few seconds also shows how far it is.
"""

import statistics
import sys
import time

ESTIMATE_AFTER = 0.5  # seconds of steps timed without compiling, before the estimate
LONG_RUN = 60.0  # a run estimated longer than this also says how to take a quick look
REFRESH = 1.0  # seconds between updates of the in-epoch progress on a terminal


def duration(seconds, exact=False):
    """A time as a person says it: an estimate (`45 s`, `12 min`, `3 h 05 min`), or, `exact`,
    a measured one to the second below an hour (`13 min 32 s`, `1 h 58 min`)."""
    seconds = max(0, round(seconds))
    minutes = seconds // 60 if exact else round(seconds / 60)
    if seconds < (60 if exact else 90):
        return f"{seconds} s"
    if minutes < (60 if exact else 90):
        return f"{minutes} min {seconds % 60} s" if exact else f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


class Progress:
    """Prints a run's progress through `say` (see the module).

    Args:
        say: prints a line (or nothing, when the run is quiet).
        quick_look: a command line that gives a quick look at the same run.
        verbose: 0 prints nothing.
        stream: where the in-epoch progress goes (only if it is a terminal).
    """

    def __init__(self, say, quick_look=None, verbose=1, stream=None):
        self.say, self.quick_look, self.verbose = say, quick_look, verbose
        self.stream = stream or sys.stdout
        self.planned, self.started = 1, 0
        self.estimated = False

    def plan(self, trainings):
        """The run will train `trainings` times (counting those already started)."""
        self.planned = max(trainings, self.started)

    def start_training(self, done_epochs, epochs, steps_per_epoch, position=0):
        """A training begins (or resumes after `done_epochs` and `position` mini-batches
        of the next, which the engine's first report after resuming counts as done)."""
        self.started += 1
        self.epochs, self.steps_per_epoch = epochs, steps_per_epoch
        self.epoch = done_epochs
        # The epoch (a fraction of one when resumed mid-epoch) and the time of the last line:
        # the first line after a resume times only the rest of its epoch.
        self._last_line = (done_epochs + position / steps_per_epoch, time.perf_counter())
        self._epoch_seconds = []  # each epoch's seconds, measured between epoch lines
        self._timed = [0, 0.0]  # mini-batches, seconds: of chunks that did not compile
        self._done = position  # mini-batches of the engine's current call at its last report
        self._shown = 0.0

    def steps(self, done, total, rate=None):
        """The engine's report after each chunk: `done` of the `total` mini-batches of its
        call, and `rate`, the chunk's mini-batches per second (`None` if it compiled)."""
        now = time.perf_counter()
        steps = done - self._done if done > self._done else done  # a new call counts from 0
        if rate and not self.estimated:
            self._timed[0] += steps
            self._timed[1] += steps / rate
            if self._timed[1] >= ESTIMATE_AFTER:
                self._estimate(self._timed[0] / self._timed[1])
        self._done = done
        if self.verbose and self._terminal() and now - self._shown >= REFRESH:
            self._shown = now
            print(f"\r  epoch {self.epoch + 1}/{self.epochs}: {100 * done / total:.0f}%", end="", file=self.stream, flush=True)

    def _remaining_steps(self):
        later = self.planned - self.started
        return (self.epochs - self.epoch + later * self.epochs) * self.steps_per_epoch

    def _estimate(self, steps_per_second):
        self.estimated = True  # once per run: the first training's rate stands for the rest
        left = self._remaining_steps() / max(steps_per_second, 1e-9)
        trainings = f" ({self.planned} trainings)" if self.planned > 1 else ""
        quick = f"; for a quick look: {self.quick_look}" if self.quick_look and left >= LONG_RUN else ""
        self._clear()
        self.say(
            f"  estimate: about {duration(left)} of training{trainings} on this machine "
            f"({steps_per_second:,.0f} mini-batches/s){quick}"
        )

    def epoch_done(self, epoch, seconds, shown):
        """The line of a measured epoch, with the time left for the run."""
        self.epoch, now = epoch, time.perf_counter()
        last_epoch, last_time = self._last_line
        self._epoch_seconds.append((now - last_time) / max(epoch - last_epoch, 1 / self.steps_per_epoch))
        self._last_line = (epoch, now)
        # The median epoch: a pause (a laptop asleep, a stopped process, other work for a
        # while) lengthens its own epoch, not every later ETA.
        per_epoch = statistics.median(self._epoch_seconds)
        left = (self.epochs - epoch + (self.planned - self.started) * self.epochs) * per_epoch
        self._clear()
        self.say(f"Epoch {epoch}/{self.epochs} - {seconds:.2f}s - ETA {duration(left)} - {shown}")

    def _terminal(self):
        try:
            return self.stream.isatty()
        except (AttributeError, ValueError):
            return False

    def _clear(self):
        if self.verbose and self._terminal() and self._shown:
            print("\r\033[K", end="", file=self.stream, flush=True)
