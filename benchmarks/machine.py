"""The machine and software a benchmark ran on, for the JSON results and the table's header."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
from importlib import metadata

from .common import REPO


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gb():
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):  # not a POSIX system
        return None


def _version(package: str):
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _git() -> dict:
    """The checkout's commit and whether tracked files differ from it; {} outside a git checkout."""
    try:
        def git(*args):
            return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
        modified = bool(git("status", "--porcelain", "--untracked-files=no"))
        return {"commit": git("rev-parse", "HEAD"), "modified": modified}
    except (OSError, subprocess.CalledProcessError):
        return {}


def load_average():
    """The 1, 5 and 15 minute load averages, or None where the system has none."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (OSError, AttributeError):
        return None


def describe() -> dict:
    """CPU, cores, memory, OS, versions, the checkout's commit, the date and the load average (a
    load near the core count means other work shared the machine)."""
    import speksim
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": _cpu_model(), "logical_cores": os.cpu_count(), "usable_cores": affinity, "memory_gb": _memory_gb(),
        "os": platform.platform(), "python": sys.version.split()[0],
        "versions": {"speksim": speksim.__version__, **{p: _version(p) for p in ("numpy", "numba", "torch", "sinabs")}},
        "git": _git(), "load_average_start": load_average(),
    }

