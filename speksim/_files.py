"""Writing files atomically: a reader never sees a half-written file under the final name.

    with atomic_path("run.h5") as tmp:      # tmp = run.h5.tmp-<pid>-<8 hex digits>
        write(tmp)                          # renamed to run.h5 only when the block succeeds

Interrupts: while the block runs, Ctrl-C (SIGINT) is held back and delivered at the next
`check_interrupt()` or when the block ends, before the rename. Without that, h5py can swallow it:
h5py keeps its HDF5 identifiers in a `weakref.WeakValueDictionary`, whose removal callback runs
each time an identifier is freed; a signal handler that raises KeyboardInterrupt inside that
callback is reported as "Exception ignored" and the interrupt is lost, so the file was written and
the program went on as if nothing had been pressed.
"""

from __future__ import annotations

import os
import secrets
import signal
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Optional


def temporary_name(path) -> Path:
    """A fresh temporary path beside `path`: `NAME.tmp-PID-XXXXXXXX` (PID: this process)."""
    path = Path(path)
    return path.with_name(f"{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")


# ------------------------------------------------------------------------------------ interrupts

class _Deferral:
    """The SIGINT handler in force while a file is written: it records the signal; the handler
    it replaced is called later, at a point where an exception can propagate."""

    def __init__(self, previous):
        self.previous = previous
        self.pending = False

    def __call__(self, signum, frame):
        self.pending = True

    def deliver(self):
        if self.pending:
            self.pending = False
            self.previous(signal.SIGINT, None)


_deferral: Optional[_Deferral] = None


@contextmanager
def interrupts_deferred():
    """Hold back SIGINT for the duration of the block: delivered by `check_interrupt()` inside it,
    or when it ends. Does nothing outside the main thread, or when SIGINT is not handled by a
    Python function (ignored, or left to the system), or inside another such block."""
    global _deferral
    if _deferral is not None or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    if not callable(previous):
        yield
        return
    deferral = _Deferral(previous)
    signal.signal(signal.SIGINT, deferral)
    _deferral = deferral
    try:
        yield
    finally:
        _deferral = None
        signal.signal(signal.SIGINT, previous)
        deferral.deliver()


def check_interrupt() -> None:
    """Deliver an interrupt held back by `interrupts_deferred` (raises KeyboardInterrupt by default)."""
    if _deferral is not None:
        _deferral.deliver()


# ------------------------------------------------------------------------------------ atomic write

@contextmanager
def atomic_path(path):
    """Yield a fresh temporary path beside `path`; on success it is synced and renamed to `path`,
    on any error or interrupt it is removed and the error goes on.

    An interrupt during the block (see `interrupts_deferred`) is raised before the rename, so an
    interrupted write never leaves a file at `path`.
    """
    path = Path(path)
    with interrupts_deferred():
        tmp = temporary_name(path)
        try:
            yield tmp
            check_interrupt()
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            check_interrupt()
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
