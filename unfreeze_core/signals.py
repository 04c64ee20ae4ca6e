"""SIGINT and SIGTERM: any number of them, at any moment, end a run the same way.

- The process exits 130 (SIGINT) or 143 (SIGTERM; the first one handled decides: of two kinds pending at
  once, Python handles SIGINT first) with one line that states
  the true state of the run folder, read from disk after the run stopped: the step of the checkpoint
  kept, or that none exists. Never a traceback.
- Inside unfreeze's own loop (one process) the first signal only asks the loop to stop: it checkpoints
  at the next step boundary and stops (``requested`` / ``stop``). A second signal stops it at once.
  Elsewhere (start-up, building, evaluating, several processes) the first signal stops at once.
- A file being written (a checkpoint, the run log) is never cut: inside ``critical()`` a signal waits
  until the write is complete.
- Once the process is stopping, every further signal is ignored, so the cleanup and the one line are
  never interrupted.

The CLI installs the handlers for the whole command (``install``); code that runs a seed from Python
gets them for the call only (``handled``).
"""

from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager

from .errors import UnfreezeError

CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


class Stop(KeyboardInterrupt):
    """Raised where a signal stops the process; the CLI turns it into exit 130/143."""

    def __init__(self, signum: int = signal.SIGINT):
        super().__init__(signum)
        self.signum = signum


class Interrupted(UnfreezeError):
    """A run stopped by SIGINT (exit 130) or SIGTERM (143), with the state it left."""


class _State:
    first: int | None = None  # the first signal received
    stopping = False  # a Stop was raised: every later signal is ignored
    critical = 0  # > 0: a file is being written
    deferred = False  # a signal that stops at once came during a critical section
    boundary = False  # the loop stops at its next step boundary on the first signal
    depth = 0  # nested ``handled`` calls
    guarded = 0  # > 0: some caller turns a Stop into its one line (``guard``, ``handled``)
    done = False  # a command's body (``guard``) is over
    installed = 0
    previous: dict = {}


_state = _State()


def name(signum: int) -> str:
    return "SIGTERM" if signum == signal.SIGTERM else "SIGINT"


def exit_code(exc: BaseException) -> int:
    return CODES.get(getattr(exc, "signum", signal.SIGINT), 130)


def _handle(signum, frame) -> None:
    if _state.stopping:
        return
    second = _state.first is not None
    if not second:
        _state.first = signum
    if _state.boundary and not second:
        return  # the loop sees ``requested()`` at its next step boundary
    if _state.critical:
        _state.deferred = True
        return
    stop()


def stop() -> None:
    """Stop now (the loop calls it at a step boundary, after its checkpoint); every later signal is ignored
    (SIG_IGN: also while the interpreter shuts down, when Python itself would restore the default action). Outside
    every ``guard`` (a command still starting up, before anything is written) the process ends at once with its
    one line."""
    _state.stopping = True
    _ignore()
    signum = _state.first if _state.first is not None else signal.SIGINT
    if not _state.guarded:
        import os

        after = " after the command finished" if _state.done else ""
        os.write(2, f"Error: interrupted by {name(signum)}{after}\n".encode())
        os._exit(CODES[signum])
    raise Stop(signum)


def _ignore() -> None:
    if _state.installed and threading.current_thread() is threading.main_thread():
        for sig in CODES:
            signal.signal(sig, signal.SIG_IGN)


def requested() -> int | None:
    """The signal that asked the run to stop, or None."""
    return _state.first


def reset() -> None:
    """Forget an earlier signal (a new run in this process); the handlers are ours again if installed."""
    _state.first, _state.stopping, _state.deferred, _state.done = None, False, False, False
    if _state.installed and threading.current_thread() is threading.main_thread():
        for sig in CODES:
            signal.signal(sig, _handle)


def _quiet_stop(previous):
    """An unraisable-exception hook that drops a Stop raised while Python ran a finalizer (a weakref callback
    during garbage collection): Python would print it with a traceback and go on. Nothing is lost: the
    signal is already recorded, and the loop sees ``requested()`` at its next step boundary."""
    def hook(info):
        if not isinstance(info.exc_value, Stop):
            previous(info)
    hook.quiet_stop = True
    return hook


def install() -> bool:
    """Handle SIGINT and SIGTERM in this process from now on (main thread only); True if installed."""
    if threading.current_thread() is not threading.main_thread():
        return False
    if not _state.installed:
        reset()
        _state.previous = {sig: signal.signal(sig, _handle) for sig in CODES}
    if not getattr(sys.unraisablehook, "quiet_stop", False):  # ours, unless someone replaced it since
        sys.unraisablehook = _quiet_stop(sys.unraisablehook)
    _state.installed += 1
    return True


def uninstall() -> None:
    _state.installed -= 1
    if _state.installed <= 0:
        _state.installed = 0
        for sig, handler in _state.previous.items():
            signal.signal(sig, handler)
        _state.previous = {}
        reset()  # installed is 0: the previous handlers stay


@contextmanager
def guard():
    """A command's body: a signal inside raises ``Stop`` for the command to turn into its one line (outside,
    while the command starts or after it is over, the process ends at once with its line)."""
    _state.guarded += 1
    try:
        yield
    finally:
        _state.guarded -= 1
        _state.done = not _state.guarded


@contextmanager
def handled():
    """The handlers for the duration of a call (a run started from Python); restored afterwards. The outermost
    call starts from a clean state (a signal of an earlier run in this process is forgotten)."""
    if not _state.depth:
        reset()
    installed = install()
    _state.depth += 1
    _state.guarded += 1
    try:
        yield
    finally:
        _state.depth -= 1
        _state.guarded -= 1
        if installed:
            uninstall()


@contextmanager
def at_step_boundaries(enabled: bool = True):
    """Inside, the first signal asks the loop to stop at its next step boundary instead of stopping at once."""
    before = _state.boundary
    _state.boundary = enabled
    try:
        yield
    finally:
        _state.boundary = before


@contextmanager
def critical():
    """A write that must complete: a signal inside waits, and stops the run once the write is done."""
    _state.critical += 1
    try:
        yield
    finally:
        _state.critical -= 1
    if not _state.critical and _state.deferred and not _state.stopping:
        stop()


def exit_process(code=0) -> None:
    """End this process now with ``code`` (as ``sys.exit`` takes it), keeping our handlers to the very end: the
    streams are flushed and the ``atexit`` callbacks run while a signal is still answered with 130/143 and its
    line (``stop``: "after the command finished"), then ``os._exit``. Python's own shutdown would restore the
    default handlers first, and a SIGTERM then would kill the process with no line (exit -15)."""
    import atexit
    import os

    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    _state.done = True
    try:
        shutdown = getattr(threading, "_shutdown", None)  # wait for non-daemon threads, as Python's exit does
        if shutdown and threading.current_thread() is threading.main_thread():
            shutdown()
        atexit._run_exitfuncs()
    except BaseException:  # noqa: BLE001 - an atexit callback's failure must not change the command's outcome
        pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code & 0xFF if code >= 0 else 1)
