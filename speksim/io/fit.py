"""Fitting a recording to the chip's 128x128 DVS input, as pure functions over DVS_EVENT arrays.

Every function takes a DVS_EVENT array (or anything `speksim.events.as_events` accepts), leaves it
untouched and returns a new DVS_EVENT array. Bad arguments raise `speksim.errors.EventError` with a
hint. Nothing here is applied by the readers: they return the recording as it is in the file.
"""

from __future__ import annotations

import numbers

import numpy as np

from ..errors import EventError
from ..events import as_events

#: Input size of the chip's DVS layer.
CHIP_SIZE = 128

#: Polarity modes of `map_polarity`.
POLARITY_MODES = ("keep", "merge", "on_only", "off_only", "invert")

#: Modes of `fit_to_chip`.
FIT_MODES = ("crop", "scale")


# ------------------------------------------------------------------------------ argument checks

def _events(ev) -> np.ndarray:
    """A new canonical copy of `ev` (as_events may return a view of the caller's array)."""
    return as_events(ev, "dvs").copy()


def _int(value, name, *, minimum=None, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise EventError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    value = int(value)
    if minimum is not None and value < minimum:
        raise EventError(f"{name} must be at least {minimum}, got {value}")
    return value


def _size_pair(sensor_size, name="sensor_size"):
    if sensor_size is None:
        raise EventError(f"{name} is None; pass (width, height) of the camera, e.g. from "
                         "speksim.io.sensor_size(path) when the file records it",
                         cli="the sensor size is unknown; pass --sensor-size W H")
    try:
        w, h = sensor_size
    except (TypeError, ValueError):
        raise EventError(f"{name} must be a (width, height) pair, got {sensor_size!r}") from None
    return _int(w, f"{name} width", minimum=1), _int(h, f"{name} height", minimum=1)


def _check_inside(ev, width, height, what):
    if ev.size:
        for axis, limit in (("x", width), ("y", height)):
            if limit is not None:
                bad = np.flatnonzero(ev[axis] >= limit)
                if bad.size:
                    i = int(bad[0])
                    text = f"event {i} has {axis}={int(ev[axis][i])}, outside the {what} {width}x{height}"
                    raise EventError(f"{text}; pass the recording's real sensor size",
                                     cli=f"{text}; pass the recording's real sensor size with --sensor-size W H")


# ------------------------------------------------------------------------------------ functions

def time_window(ev, t_start_us=None, t_end_us=None) -> np.ndarray:
    """Events with ``t_start_us <= t < t_end_us`` (either bound may be None for no bound)."""
    ev = as_events(ev, "dvs")
    t0 = _int(t_start_us, "t_start_us", allow_none=True)
    t1 = _int(t_end_us, "t_end_us", allow_none=True)
    if t0 is not None and t1 is not None and t1 < t0:
        raise EventError(f"t_end_us ({t1}) is before t_start_us ({t0}); the window is [t_start_us, t_end_us)",
                         cli=f"--t-end-us ({t1}) is before --t-start-us ({t0}); the window is "
                             "[--t-start-us, --t-end-us)")
    keep = np.ones(len(ev), dtype=bool)
    if t0 is not None:
        keep &= ev["t"] >= t0
    if t1 is not None:
        keep &= ev["t"] < t1
    return ev[keep]


def rezero(ev) -> np.ndarray:
    """Shift times so that the earliest event is at t = 0 (for time-sorted events: the first).

    The earliest rather than the literal first event is used so that recordings whose time steps
    back a little (EVT 3.0 files do) never get negative times.
    """
    out = _events(ev)
    if out.size:
        out["t"] -= out["t"].min()
    return out


def crop(ev, x0, y0, width=CHIP_SIZE, height=CHIP_SIZE) -> np.ndarray:
    """Keep the events with ``x0 <= x < x0 + width`` and ``y0 <= y < y0 + height``, moved so that
    (x0, y0) becomes (0, 0)."""
    ev = as_events(ev, "dvs")
    x0 = _int(x0, "x0", minimum=0)
    y0 = _int(y0, "y0", minimum=0)
    width = _int(width, "width", minimum=1)
    height = _int(height, "height", minimum=1)
    x = ev["x"].astype(np.int64)
    y = ev["y"].astype(np.int64)
    keep = (x >= x0) & (x < x0 + width) & (y >= y0) & (y < y0 + height)
    out = ev[keep]
    out["x"] = x[keep] - x0
    out["y"] = y[keep] - y0
    return out


def center_crop(ev, sensor_w, sensor_h, size=CHIP_SIZE) -> np.ndarray:
    """Crop the central ``size`` x ``size`` window of a ``sensor_w`` x ``sensor_h`` sensor.

    The window starts at ``((sensor_w - size) // 2, (sensor_h - size) // 2)``; along a side that is
    already at most `size` nothing is cut and the coordinates are not moved.
    """
    ev = as_events(ev, "dvs")
    sensor_w, sensor_h = _size_pair((sensor_w, sensor_h), "sensor")
    size = _int(size, "size", minimum=1)
    _check_inside(ev, sensor_w, sensor_h, "sensor")
    x0 = max(0, (sensor_w - size) // 2)
    y0 = max(0, (sensor_h - size) // 2)
    return crop(ev, x0, y0, size, size)


def downscale(ev, factor) -> np.ndarray:
    """Divide coordinates by `factor` (x // factor, y // factor); every event is kept.

    `factor` is a power of two; the chip's DVS pooling offers 1, 2 and 4.
    """
    ev = as_events(ev, "dvs")
    factor = _int(factor, "factor", minimum=1)
    if factor & (factor - 1):
        raise EventError(f"factor must be a power of two (1, 2, 4, ...), got {factor}")
    out = ev.copy()
    out["x"] //= factor
    out["y"] //= factor
    return out


def flip(ev, x=False, y=False, width=None, height=None) -> np.ndarray:
    """Mirror the events: x -> width - 1 - x when `x`, y -> height - 1 - y when `y`.

    `width` (and `height`) are the sensor's and are required for the axis that is flipped.
    """
    ev = as_events(ev, "dvs")
    out = ev.copy()
    for axis, on, limit, name in (("x", x, width, "width"), ("y", y, height, "height")):
        if not isinstance(on, (bool, np.bool_)):
            raise EventError(f"flip: {axis} must be True or False, got {on!r}")
        if not on:
            continue
        if limit is None:
            raise EventError(f"flip({axis}=True) needs the sensor {name}; pass {name}=...")
        limit = _int(limit, name, minimum=1)
        bad = np.flatnonzero(ev[axis] >= limit)
        if bad.size:
            text = f"event {int(bad[0])} has {axis}={int(ev[axis][bad[0]])}, outside the sensor {name} {limit}"
            raise EventError(f"{text}; pass the recording's real sensor size",
                             cli=f"{text}; pass the recording's real sensor size with --sensor-size W H")
        out[axis] = limit - 1 - ev[axis].astype(np.int64)
    return out


def map_polarity(ev, mode) -> np.ndarray:
    """Map polarities. Modes:

    * ``"keep"``: unchanged;
    * ``"merge"``: every event gets p = 0 — one channel for a network with a single input feature;
    * ``"on_only"`` / ``"off_only"``: keep only the ON (p = 1) / OFF (p = 0) events, p unchanged
      (like disabling one channel of the chip's DVS layer; combine with "merge" for one channel);
    * ``"invert"``: p -> 1 - p (for cameras wired with the opposite sign).
    """
    ev = as_events(ev, "dvs")
    if mode not in POLARITY_MODES:
        raise EventError(f"unknown polarity mode {mode!r}; use one of {list(POLARITY_MODES)}")
    if mode == "on_only":
        return ev[ev["p"] == 1]
    if mode == "off_only":
        return ev[ev["p"] == 0]
    out = ev.copy()
    if mode == "merge":
        out["p"] = 0
    elif mode == "invert":
        out["p"] = 1 - (ev["p"] != 0)
    return out


def scale_factor(sensor_size, size=CHIP_SIZE) -> int:
    """Smallest power of two f with ceil(min(width, height) / f) <= size (the shorter side fits)."""
    w, h = _size_pair(sensor_size)
    size = _int(size, "size", minimum=1)
    f = 1
    while -(-min(w, h) // f) > size:
        f *= 2
    return f


def fit_to_chip(ev, sensor_size, size=CHIP_SIZE, mode="crop", *, factor=None, polarity="keep",
                flip_x=False, flip_y=False, sort=True) -> np.ndarray:
    """Turn a recording of any sensor into valid ``size`` x ``size`` chip input in one call.

    Steps, in order: check the events lie inside `sensor_size` = (width, height); flip (in sensor
    coordinates); for ``mode="scale"`` divide coordinates by `factor` (default `scale_factor`: the
    smallest power of two that makes the shorter side fit); crop the central ``size`` x ``size``
    window (``mode="crop"`` crops at full resolution), and centre a side that is smaller than the
    chip; map polarities (`map_polarity` mode); and,
    when `sort` is true and times step back anywhere, stable-sort by time so the result passes
    `speksim.events.validate_events`. With ``sort=False`` such input raises instead.
    Times are not shifted (use `rezero`).
    """
    ev = as_events(ev, "dvs")
    w, h = _size_pair(sensor_size)
    size = _int(size, "size", minimum=1)
    if mode not in FIT_MODES:
        raise EventError(f"unknown fit mode {mode!r}; use one of {list(FIT_MODES)}")
    if polarity not in POLARITY_MODES:
        raise EventError(f"unknown polarity mode {polarity!r}; use one of {list(POLARITY_MODES)}")
    if mode == "crop" and factor not in (None, 1):
        raise EventError(f"factor={factor!r} only applies to mode='scale'; use mode='scale' or drop factor")
    _check_inside(ev, w, h, "sensor")
    out = flip(ev, x=flip_x, y=flip_y, width=w, height=h)
    if mode == "scale":
        f = scale_factor((w, h), size) if factor is None else _int(factor, "factor", minimum=1)
        out = downscale(out, f)
        w, h = -(-w // f), -(-h // f)
    out = center_crop(out, w, h, size)
    # a side smaller than the chip is centred on it, not left in a corner
    pad_x, pad_y = max(0, size - w) // 2, max(0, size - h) // 2
    if pad_x or pad_y:
        out = out.copy()
        out["x"] += pad_x
        out["y"] += pad_y
    out = map_polarity(out, polarity)
    if out.size > 1 and np.any(np.diff(out["t"]) < 0):
        if not sort:
            raise EventError("event times step back; pass sort=True to stable-sort them by time")
        out = out[np.argsort(out["t"], kind="stable")]
    return out


__all__ = ["CHIP_SIZE", "POLARITY_MODES", "FIT_MODES", "time_window", "rezero", "crop", "center_crop",
           "downscale", "flip", "map_polarity", "scale_factor", "fit_to_chip"]
