"""`speksim calibrate`: fit a chip's timing parameters to devkit captures."""

from __future__ import annotations


def add(sub, common) -> None:
    """Not yet: the subcommand is added here."""
