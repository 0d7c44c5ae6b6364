"""`speksim bench regress`: the regression scenarios against stored baselines."""

from __future__ import annotations


def add(sub, common) -> None:
    """Not yet: the subcommand is added here."""
