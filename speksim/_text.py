"""Numbers worded for people: event rates and durations, as `speksim info`, the progress line
and the run summary print them; and values made plain for JSON."""

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


def plain(v):
    """`v` with NumPy scalars and arrays turned into Python ones, dict keys into strings, tuples
    into lists, recursively: ready for json.dumps."""
    import numpy as np
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, np.ndarray):
        return plain(v.tolist())
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    return v
