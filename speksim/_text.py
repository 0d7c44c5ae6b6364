"""Numbers worded for people: event rates and durations, as `speksim info`, the progress line
and the run summary print them."""

from __future__ import annotations


def rate_text(per_s: float) -> str:
    """An event rate: '1.6 Mevents/s', '54.5 kevents/s', '823 events/s'."""
    for div, unit in ((1e6, "Mevents/s"), (1e3, "kevents/s")):
        if per_s >= div:
            return f"{per_s / div:.1f} {unit}"
    return f"{per_s:.0f} events/s"


def duration_text(us: float) -> str:
    """A duration given in µs: '5.450 s', '21.985 ms', '40 µs'."""
    if us >= 1e6:
        return f"{us / 1e6:,.3f} s"
    if us >= 1e3:
        return f"{us / 1e3:.3f} ms"
    return f"{us:.0f} µs"
