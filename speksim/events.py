"""The canonical event dtypes, one per kind of event, and their validation.

Every reader returns `DVS_EVENT`; spike input addressed to cores is `SPIKE_EVENT`; everything a
simulated chip sends to the host is `OUTPUT_EVENT`. Input times are microseconds (SPEC §0),
simulated and output times are nanoseconds.
"""

from __future__ import annotations

import numpy as np

from .errors import EventError

#: A camera event: t in µs (int64), pixel x, y, polarity p (1 = ON, 0 = OFF).
DVS_EVENT = np.dtype([("t", "<i8"), ("x", "<u2"), ("y", "<u2"), ("p", "u1")])

#: A spike written by the host straight into a core: t in µs, target core `layer` (0..8),
#: input feature, x, y in that core's input space.
SPIKE_EVENT = np.dtype([("t", "<i8"), ("layer", "u1"), ("feature", "<u2"), ("x", "<u2"), ("y", "<u2")])

#: An event the chip sends to the host: t_ns its output timestamp in ns, layer (0..8 cores, 12
#: readout, 13 DVS layer), feature, x, y, and `root`, the index of the input event it descends
#: from (-1 for spikes caused by a leak job).
OUTPUT_EVENT = np.dtype([("t_ns", "<i8"), ("layer", "u1"), ("feature", "<u2"), ("x", "<u2"), ("y", "<u2"),
                         ("root", "<i8")])

_KINDS = {"dvs": DVS_EVENT, "spike": SPIKE_EVENT, "output": OUTPUT_EVENT}
_TIME_FIELD = {"dvs": "t", "spike": "t", "output": "t_ns"}


def make_events(kind: str, **fields) -> np.ndarray:
    """Build an event array of `kind` ("dvs", "spike", "output") from equal-length field arrays."""
    dtype = _dtype(kind)
    missing = [n for n in dtype.names if n not in fields]
    if missing:
        raise EventError(f"make_events('{kind}') needs the fields {list(dtype.names)}; missing {missing}")
    n = len(np.atleast_1d(fields[dtype.names[0]]))
    out = np.empty(n, dtype=dtype)
    for name in dtype.names:
        col = np.atleast_1d(np.asarray(fields[name]))
        if len(col) != n:
            raise EventError(f"make_events('{kind}'): field '{name}' has {len(col)} values, expected {n}")
        out[name] = _checked_cast(col, dtype[name], name)
    return out


def _dtype(kind: str) -> np.dtype:
    try:
        return _KINDS[kind]
    except KeyError:
        raise EventError(f"unknown event kind '{kind}'; use one of {sorted(_KINDS)}") from None


def _checked_cast(col: np.ndarray, dtype: np.dtype, name: str) -> np.ndarray:
    if col.dtype.kind == "f":
        if not np.all(np.isfinite(col)) or np.any(col != np.floor(col)):
            raise EventError(f"field '{name}' holds non-integer values; event fields are integers")
    elif col.dtype.kind not in "iub":
        raise EventError(f"field '{name}' has dtype {col.dtype}, which is not numeric")
    if col.size:
        info = np.iinfo(dtype)
        lo, hi = col.min(), col.max()
        if lo < info.min or hi > info.max:
            raise EventError(f"field '{name}' has values in [{lo}, {hi}], outside {dtype} [{info.min}, {info.max}]")
    return col.astype(dtype, copy=False)


def as_events(events, kind: str) -> np.ndarray:
    """Return `events` as a contiguous array of the canonical dtype of `kind`.

    Accepts the canonical dtype itself or any structured array that has (at least) the same
    field names with integer types that fit; anything else is an `EventError` that names the field.
    """
    dtype = _dtype(kind)
    arr = np.asarray(events)
    if arr.dtype == dtype:
        return np.ascontiguousarray(arr.reshape(-1))
    if arr.dtype.names is None:
        raise EventError(
            f"expected a structured array of {kind} events with fields {list(dtype.names)}, got an array "
            f"of dtype {arr.dtype}; build one with speksim.make_events('{kind}', ...)")
    missing = [n for n in dtype.names if n not in arr.dtype.names]
    if missing:
        raise EventError(f"{kind} events lack the field(s) {missing}; the fields are {list(dtype.names)}")
    out = np.empty(arr.shape[0] if arr.ndim else 1, dtype=dtype)
    for name in dtype.names:
        out[name] = _checked_cast(np.asarray(arr[name]).reshape(-1), dtype[name], name)
    return out


def validate_events(events, kind: str, *, width: int | None = None, height: int | None = None,
                    t_min: int | None = None) -> np.ndarray:
    """Check every field of an event array and return it in canonical form.

    Checks: dtype and fields (`as_events`), time non-decreasing (and not before `t_min`, the last
    time of an earlier chunk), polarity 0/1 for DVS events, and x < width, y < height when given.
    Raises `EventError` naming the first offending index.
    """
    ev = as_events(events, kind)
    tname = _TIME_FIELD[kind]
    t = ev[tname]
    if t.size:
        if t_min is not None and t[0] < t_min:
            raise EventError(
                f"event 0 has {tname}={t[0]}, earlier than the last event already given ({t_min}); "
                "chunks of one recording must follow each other in time")
        back = np.flatnonzero(np.diff(t) < 0)
        if back.size:
            i = int(back[0]) + 1
            raise EventError(
                f"timestamps must not decrease: event {i} has {tname}={t[i]} after {t[i - 1]}; "
                f"sort the events by time first (np.sort(events, order='{tname}', kind='stable'))")
        if kind != "output" and t[0] < 0:
            raise EventError(f"event 0 has a negative timestamp ({t[0]} µs); shift the recording to start at 0 or "
                             "later")
    if kind == "dvs" and ev.size:
        bad = np.flatnonzero(ev["p"] > 1)
        if bad.size:
            raise EventError(f"event {bad[0]} has polarity {ev['p'][bad[0]]}; polarity must be 0 (OFF) or 1 (ON)")
    for axis, limit in (("x", width), ("y", height)):
        if limit is not None and ev.size:
            bad = np.flatnonzero(ev[axis] >= limit)
            if bad.size:
                raise EventError(
                    f"event {bad[0]} has {axis}={ev[axis][bad[0]]}, outside [0, {limit}); "
                    "crop or downscale the recording to the chip's input size")
    return ev
