"""Long sampler runs in short pieces: a signal stops them within a fraction of a second, and progress shows.

A kernel call cannot be interrupted: Python runs a signal handler only when
the call returns.  So every sampler splits its steps into *runs* of about
``RUN_SECONDS`` (``StepRuns``), one kernel call each, timed as they go.
Splitting changes no number: the random draws are a function of the step,
not of the call.

While steps run (``abandonable``), a stop asked by ``request_stop`` (the
signal handlers of ``fit`` and ``sample``) raises ``StepsInterrupted`` at
once, in the handler, so the work in progress is dropped; the caller puts
back what it had (``fit`` abandons the update and checkpoints the last
completed one).  Asked outside, the stop waits for the next run of steps.

``progress(total, report)`` follows every step run inside it (``sample``'s
progress line).
"""

import signal
import threading
import time
from contextlib import contextmanager

#: Target duration of one kernel call, seconds.
RUN_SECONDS = 0.2
#: An asynchronous call of a single run is synchronised and timed once in this many calls.
RETIME_CALLS = 16


class StepsInterrupted(KeyboardInterrupt):
    """A signal stopped sampler steps in progress; ``signal_name`` says which."""

    def __init__(self, signal_name):
        super().__init__(signal_name)
        self.signal_name = signal_name


_stop = None  # name of the signal that asked to stop, or None
_depth = 0  # > 0 while abandonable steps run
_progress = None  # the active _Progress, or None


def request_stop(signal_name):
    """Ask the steps to stop (from a signal handler): at once while they run, else before the next run."""
    global _stop
    _stop = signal_name
    if _depth:
        raise StepsInterrupted(signal_name)


def clear_stop():
    global _stop
    _stop = None


def check_stop():
    """Raise ``StepsInterrupted`` if a stop was asked."""
    if _stop is not None:
        raise StepsInterrupted(_stop)


@contextmanager
def abandonable():
    """Inside the block, sampler steps run and a stop interrupts them at once."""
    global _depth
    check_stop()
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1


def steps_done(count):
    """Bookkeeping after ``count`` steps: progress, then the stop check."""
    if _progress is not None:
        _progress.advance(count)
    check_stop()


class StepRuns:
    """Splits a number of steps into runs of about ``RUN_SECONDS``, remembering the time per step.

    Keep one per workspace: training calls it with the same k every update,
    and after the first update every call is a single run when k steps take
    less than ``RUN_SECONDS``.
    """

    def __init__(self):
        self.seconds_per_step = None
        self._untimed = 0  # calls since the last timed one that were a single run left unsynchronised

    def __call__(self, steps, *, each=False, sync=None):
        """Yield run lengths summing to ``steps`` (all 1 with ``each``); time each run as it ends.

        The first run of a fresh ``StepRuns`` is one step (it may include
        compiling); then each run is as long as ``RUN_SECONDS`` allows.
        ``sync()`` waits for the run to finish before it is timed (a GPU's
        asynchronous launches).  A call that is one run (a training update's
        k steps) waits and is timed only every ``RETIME_CALLS`` calls, so the
        host can queue updates while the device works; a call of several runs
        waits after each, so that a signal stops it within a run.
        """
        done = 0
        while done < steps:
            if each or self.seconds_per_step is None:
                count = 1
            else:
                count = max(1, min(steps - done, int(RUN_SECONDS / max(self.seconds_per_step, 1e-9))))
            timed = (sync is None or self.seconds_per_step is None or count < steps
                     or self._untimed + 1 >= RETIME_CALLS)
            start = time.perf_counter()
            yield count
            if timed:
                if sync is not None:
                    sync()
                self.seconds_per_step = (time.perf_counter() - start) / count
                self._untimed = 0
            else:
                self._untimed += 1
            done += count
            steps_done(count)


class _Progress:
    def __init__(self, total, report, interval):
        self.total, self.report, self.interval = total, report, interval
        self.done = 0
        self.reported = False
        self.start = self.last = time.perf_counter()

    def advance(self, count):
        self.done += count
        now = time.perf_counter()
        if now - self.last >= self.interval:
            self.last, self.reported = now, True
            self.report(self.done, self.total, now - self.start)


@contextmanager
def progress(total, report, interval=0.5):
    """Call ``report(done, total, seconds)`` at most every ``interval`` seconds while steps run inside."""
    global _progress
    previous, _progress = _progress, _Progress(total, report, interval)
    try:
        yield _progress
    finally:
        _progress = previous


def format_step_progress(done, total, seconds):
    """``"step 1200/100000 (1%)  4500 steps/s, 22 s left"``."""
    rate = done / seconds if seconds > 0 else 0.0
    left = f", {format_duration((total - done) / rate)} left" if rate > 0 else ""
    shown = f"{rate:.0f}" if rate >= 100 else f"{rate:.3g}"
    return f"step {done}/{total} ({100 * done / total:.0f}%)  {shown} steps/s{left}"


def format_duration(seconds):
    """A short duration: "42 s", "7 min", "3.5 h"."""
    if seconds < 100:
        return f"{seconds:.0f} s"
    if seconds < 6000:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class PreemptionGuard:
    """Context manager: SIGTERM and SIGINT set ``requested`` (the signal's name) and stop the steps.

    Sampler steps running when the signal comes are interrupted at once
    (``StepsInterrupted``, see ``request_stop``); other work goes on, and the
    caller checks ``requested``.  The first signal puts the previous handlers
    back, so a second one acts as usual (KeyboardInterrupt, or termination);
    atomic writes keep every file whole either way.  Inactive (``requested``
    stays None) outside the main thread, where Python cannot install
    handlers, or with ``active=False``.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self, active=True):
        self.active = active and threading.current_thread() is threading.main_thread()
        self.requested = None
        self._previous = {}

    def _handle(self, signum, frame):
        self.requested = signal.Signals(signum).name
        self._restore()
        request_stop(self.requested)

    def _restore(self):
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}

    def __enter__(self):
        if self.active:
            self._previous = {signum: signal.getsignal(signum) for signum in self.SIGNALS}
            for signum in self.SIGNALS:
                signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc):
        self._restore()
        clear_stop()
        return False
