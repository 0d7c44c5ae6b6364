"""Writing files atomically: a reader never sees a half-written file under the final name.

    with atomic_path("run.h5") as tmp:      # tmp = run.h5.tmp-<pid>-<8 hex digits>
        write(tmp)                          # renamed to run.h5 only when the block succeeds

Interrupts: while the block runs, Ctrl-C (SIGINT) is held back and delivered at the next
`check_interrupt()` or when the block ends, before the rename. Without that, h5py can swallow it:
h5py keeps its HDF5 identifiers in a `weakref.WeakValueDictionary`, whose removal callback runs
each time an identifier is freed; a signal handler that raises KeyboardInterrupt inside that
callback is reported as "Exception ignored" and the interrupt is lost, so the file was written and
the program went on as if nothing had been pressed.

Kills: a writer killed outright (SIGKILL, power loss) leaves its temporary file. The next write to
the same path removes the temporary files beside it whose process is no longer running; those of
live processes are never touched. `parse_temporary` recognises such a file.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

_TMP_NAME = re.compile(r"(?P<final>.+)\.tmp-(?P<pid>[0-9]+)-[0-9a-f]{8}")


def temporary_name(path) -> Path:
    """A fresh temporary path beside `path`: `NAME.tmp-PID-XXXXXXXX` (PID: this process)."""
    path = Path(path)
    return path.with_name(f"{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")


def parse_temporary(path) -> Optional[tuple[Path, int]]:
    """(final path, id of the writing process) when `path` is named like a temporary file of
    `atomic_path`, else None. Looks at the name only."""
    path = Path(path)
    m = _TMP_NAME.fullmatch(path.name)
    if m is None:
        return None
    return path.with_name(m["final"]), int(m["pid"])


def process_alive(pid: int) -> bool:
    """True when process `pid` exists on this machine (or may exist: when in doubt, True)."""
    if pid <= 0 or pid == os.getpid():  # pids 0 and below name process groups, not a writer
        return True
    if os.name != "posix":
        # os.kill with signal 0 terminates the process on Windows; without a safe probe, keep the file
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):  # PermissionError: another user's process; others: cannot tell
        return True
    return True


def remove_stale_temporaries(path) -> list[Path]:
    """Remove the temporary files of `path` (see `temporary_name`) whose writer is no longer
    running; returns the removed paths. Files that vanish or resist removal are left alone."""
    path = Path(path)
    prefix = path.name + ".tmp-"
    removed = []
    try:
        entries = [e.name for e in os.scandir(path.parent or ".") if e.name.startswith(prefix)]
    except OSError:
        return removed
    for name in sorted(entries):
        candidate = path.with_name(name)
        parsed = parse_temporary(candidate)
        if parsed is None or parsed[0].name != path.name or process_alive(parsed[1]):
            continue
        try:
            os.unlink(candidate)
        except OSError:
            continue
        removed.append(candidate)
    return removed


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

    Before that, temporary files of `path` left by processes that no longer run are removed.
    An interrupt during the block (see `interrupts_deferred`) is raised before the rename, so an
    interrupted write never leaves a file at `path`.
    """
    path = Path(path)
    remove_stale_temporaries(path)
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
