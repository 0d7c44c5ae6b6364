"""samna's output events to speksim's `OUTPUT_EVENT` array.

    out = events_from_samna(sink.get_events())      # or the list sinabs' hw_forward returns

A devkit timestamps its output in µs, in an unsigned 32-bit counter that wraps after about
71.6 min (2**32 µs); speksim keeps int64 ns (SPEC §0) and never wraps.
"""

from __future__ import annotations

import numpy as np

from ..errors import EventError
from ..events import OUTPUT_EVENT

_WRAP_US = 2**32


def events_from_samna(events, skip_other: bool = False) -> np.ndarray:
    """An `OUTPUT_EVENT` array of the samna `Spike` events in `events` (any iterable).

    Each `Spike` (layer, feature, x, y, timestamp in µs) becomes one row: t_ns = timestamp * 1000,
    the same layer (0..8 a core, 13 the DVS layer's monitor), feature, x and y, and root -1 (a
    devkit does not say which input event an output descends from). A timestamp more than 2**31
    µs below the one before it is the devkit's 32-bit counter wrapping: 2**32 µs is added from
    there on. The rows are sorted by time, stably, as a simulation's outputs are.

    Other samna events (ReadoutValue, NeuronValue, ...) raise `EventError` naming the first one,
    unless `skip_other`, which leaves them out.
    """
    rows = []
    for i, ev in enumerate(events):
        if type(ev).__name__ != "Spike":
            if skip_other:
                continue
            raise EventError(f"event {i} is a {type(ev).__name__}, not a Spike; only Spike events become output "
                             "events: pass skip_other=True to leave the others out")
        try:
            rows.append((int(ev.timestamp), int(ev.layer), int(ev.feature), int(ev.x), int(ev.y)))
        except AttributeError as exc:
            raise EventError(f"event {i} is a Spike without the fields layer, feature, x, y, timestamp: "
                             f"{exc}") from None
    out = np.zeros(len(rows), OUTPUT_EVENT)
    if not rows:
        return out
    raw = np.array(rows, np.int64)
    t_us = raw[:, 0]
    if t_us.min() < 0 or t_us.max() >= _WRAP_US:
        raise EventError(f"Spike timestamps span [{t_us.min()}, {t_us.max()}] µs; a devkit's are unsigned 32-bit")
    wraps = np.concatenate(([0], np.cumsum(np.diff(t_us) < -(_WRAP_US // 2))))
    t_ns = (t_us + wraps * _WRAP_US) * 1000
    for col, name, limit in ((1, "layer", 255), (2, "feature", 65535), (3, "x", 65535), (4, "y", 65535)):
        bad = np.flatnonzero((raw[:, col] < 0) | (raw[:, col] > limit))
        if bad.size:
            raise EventError(f"Spike {bad[0]} has {name}={raw[bad[0], col]}, outside [0, {limit}]")
    order = np.argsort(t_ns, kind="stable")
    out["t_ns"] = t_ns[order]
    for col, name in ((1, "layer"), (2, "feature"), (3, "x"), (4, "y")):
        out[name] = raw[order, col]
    out["root"] = -1
    return out
