"""What speksim finds on this machine: the folders of data shipped with it (the built-in chip
files and the bundled recordings), and the cores it may use.

In an installed package the data folders are the package-data folders `speksim/_chips` and
`speksim/_traces`; in a source checkout, `chips/` and `traces/` at the top.
"""

from __future__ import annotations

import os
from pathlib import Path


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity where the system tells it (a container
    or a job scheduler may give it fewer than the machine has), else the machine's count."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def _data_dir(package: str, suffix: str, checkout_name: str) -> Path:
    try:
        from importlib.resources import files
        # the package-data folders are namespace packages (no __init__.py): walk, do not str()
        for entry in files(package).iterdir():
            if entry.name.endswith(suffix):
                return Path(str(entry)).parent
    except (ModuleNotFoundError, TypeError, FileNotFoundError):
        pass
    return Path(__file__).resolve().parent.parent / checkout_name


def chips_dir() -> Path:
    """The folder of the built-in chip files (`*.toml`)."""
    return _data_dir("speksim._chips", ".toml", "chips")


def traces_dir() -> Path:
    """The folder of the bundled recordings (`*.npz`, made by traces/make_traces.py)."""
    return _data_dir("speksim._traces", ".npz", "traces")


def bundled_traces() -> list[str]:
    """Names of the bundled recordings (without `.npz`)."""
    return sorted(p.stem for p in traces_dir().glob("*.npz"))
