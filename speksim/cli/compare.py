"""`speksim compare`: two run files (simulations or devkit captures) side by side."""

from __future__ import annotations


def add(sub, common) -> None:
    """Not yet: the subcommand is added here."""
