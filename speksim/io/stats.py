"""What a recording holds, computed while streaming it: counts, times, extent, peak rate, and
where its timestamps go back or jump.

    stats = speksim.io.describe_recording("walk.aedat4")
    print("\\n".join(stats.lines()))

Memory is bounded by the chunk size whatever the timestamps are: nothing is kept per millisecond
of the recording's span, so one corrupt timestamp far in the future costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .._text import duration_text, rate_text
from .fit import CHIP_SIZE
from .sensors import guess_sensor

#: A step forward between consecutive events longer than this (µs) is reported as a jump. A working
#: camera is never silent this long (background activity alone fires pixels every few ms), so such
#: a gap is a corrupt timestamp, recordings joined together, or a paused recording.
JUMP_US = 10_000_000

#: The peak rate stays exact while no event comes more than this (µs) behind the latest time
#: before it; later stragglers are left out of the count, which is then a lower bound.
PEAK_REORDER_US = 1_000_000

#: Width of the windows of the peak rate (µs).
PEAK_WINDOW_US = 1_000

#: How many time steps back (and jumps) are kept as examples.
MAX_EXAMPLES = 5


class TimeStep(NamedTuple):
    """A step between consecutive events: `index` is the later event's (0-based, file order)."""

    index: int
    t_before_us: int
    t_after_us: int


@dataclass(frozen=True)
class RecordingStats:
    """Statistics of one recording. Times are µs as in the file; None when there are no events.

    `format` is a key of `speksim.io.FORMATS`; `on` / `off` count p = 1 / p = 0; `t_first` /
    `t_last` are the first and last event's times in file order, `t_min` / `t_max` the extremes;
    `x_min` .. `y_max` the pixel extent of the events; `sensor_size` (width, height) as the file
    records it, or None. `backward_steps` counts the times t decreases from one event to the next
    and `forward_jumps` the steps up by more than `jump_threshold_us`, each with its first
    `MAX_EXAMPLES` as `TimeStep` in `backward_examples` / `jump_examples`.

    The peak rate counts events in 1 ms windows ``[t_first + k ms, t_first + (k + 1) ms)``; it
    is exact when `peak_exact` (always for time-sorted recordings), else a lower bound that leaves
    out the `late_events` that came more than `PEAK_REORDER_US` behind an earlier event.
    """

    path: str
    format: str
    events: int
    on: int
    off: int
    t_first: int | None
    t_last: int | None
    t_min: int | None
    t_max: int | None
    x_min: int | None
    x_max: int | None
    y_min: int | None
    y_max: int | None
    sensor_size: tuple | None
    peak_events_per_ms: int | None
    peak_exact: bool
    late_events: int
    backward_steps: int
    backward_examples: tuple
    forward_jumps: int
    jump_examples: tuple
    jump_threshold_us: int = JUMP_US

    @property
    def duration_us(self) -> int | None:
        """t_max - t_min (µs)."""
        return None if self.t_max is None else self.t_max - self.t_min

    @property
    def mean_rate(self) -> float | None:
        """Events per second over the duration (a zero duration counts as 1 µs)."""
        return None if not self.events else self.events / max(self.duration_us, 1) * 1e6

    @property
    def peak_rate(self) -> int | None:
        """Events per second in the busiest 1 ms window."""
        return None if self.peak_events_per_ms is None else self.peak_events_per_ms * (1_000_000 // PEAK_WINDOW_US)

    @property
    def time_sorted(self) -> bool:
        """True when no event's time is before the previous event's."""
        return self.backward_steps == 0

    @property
    def extent(self) -> tuple | None:
        """(width, height) holding the recorded sensor (if any) and every event (None when neither)."""
        w, h = self.sensor_size if self.sensor_size is not None else (0, 0)
        if self.x_max is not None:
            w, h = max(w, self.x_max + 1), max(h, self.y_max + 1)
        return (w, h) if w else None

    def fits(self, size: int = CHIP_SIZE) -> bool | None:
        """Whether the events fit a `size` x `size` input as they are (None without events)."""
        ext = self.extent
        return None if ext is None else ext[0] <= size and ext[1] <= size

    def lines(self) -> list:
        """The statistics as text lines (what `speksim info` prints), warnings last."""
        name = Path(self.path).name
        from . import FORMATS
        out = [f"{name}: {self.format} recording ({FORMATS.get(self.format, '')})"]
        n = self.events
        out.append(f"  events       {n:,}" + (f" (ON {self.on:,}, OFF {self.off:,})" if n else ""))
        if n:
            out.append(f"  duration     {duration_text(self.duration_us)} (t = {self.t_min:,} .. {self.t_max:,} µs)")
            out.append(f"  mean rate    {rate_text(self.mean_rate)}")
            if self.peak_exact:
                out.append(f"  peak rate    {rate_text(self.peak_rate)} (busiest 1 ms)")
            else:
                out.append(f"  peak rate    at least {rate_text(self.peak_rate)} (busiest 1 ms; {self.late_events:,} "
                           f"events came more than {PEAK_REORDER_US / 1e6:g} s behind earlier ones and are not "
                           "counted)")
        if self.sensor_size is not None:
            out.append(f"  sensor size  {self.sensor_size[0]}x{self.sensor_size[1]}")
        elif n:
            w, h, guess = guess_sensor(self.x_max, self.y_max)
            out.append(f"  sensor size  not recorded in the file; events reach x = {self.x_max}, y = {self.y_max} "
                       f"(taken as {w}x{h}, {guess}, where a size is needed; set it with --sensor-size W H)")
        else:
            out.append("  sensor size  not recorded in the file")
        if n:
            w, h = self.extent
            if self.fits():
                out.append(f"  chip input   fits {CHIP_SIZE}x{CHIP_SIZE}")
            else:
                out.append(f"  chip input   {w}x{h}, larger than {CHIP_SIZE}x{CHIP_SIZE}: use speksim run --fit crop "
                           f"(keep the central {CHIP_SIZE}x{CHIP_SIZE}) or --fit scale (downscale by a power of "
                           "two, then crop)")
        if n and self.sensor_size is not None and self.extent != tuple(self.sensor_size):
            out.append(f"  warning      events reach x = {self.x_max}, y = {self.y_max}, outside the "
                       f"{self.sensor_size[0]}x{self.sensor_size[1]} sensor the file records")
        if self.backward_steps:
            out.append(f"  warning      timestamps go back {_times(self.backward_steps)}: "
                       f"{_examples(self.backward_examples, self.backward_steps)}; the simulator needs "
                       "time-ordered events")
        if self.forward_jumps:
            out.append(f"  warning      timestamps jump forward by more than {self.jump_threshold_us / 1e6:g} s "
                       f"{_times(self.forward_jumps)}: {_examples(self.jump_examples, self.forward_jumps)}; a "
                       "corrupt timestamp, or joined or paused recordings (a simulation spans the gap)")
        return out


def _times(n: int) -> str:
    return "once" if n == 1 else f"{n:,} times"


def _examples(steps, total: int, shown: int = 3) -> str:
    steps = steps[:shown]
    text = ", ".join(f"event {s.index:,} at {s.t_after_us:,} µs after {s.t_before_us:,} µs" for s in steps)
    return text + (f", and {total - len(steps):,} more" if total > len(steps) else "")


class _PeakCounter:
    """Events per 1 ms window in bounded memory, the same for any chunking of the input.

    An event is late when its window lies more than PEAK_REORDER_US before the latest window of
    the events before it; late events are left out. Windows that no later event can reach (below
    the latest window minus that span) are closed into the maximum, so at most that span of
    windows is held, as sorted keys and counts.
    """

    _SPAN = PEAK_REORDER_US // PEAK_WINDOW_US

    def __init__(self):
        self.keys = np.empty(0, np.int64)
        self.counts = np.empty(0, np.int64)
        self.latest = None  # latest window of the events so far
        self.peak = 0
        self.late = 0

    def add(self, window: np.ndarray) -> None:
        if not window.size:
            return
        before = np.maximum.accumulate(window)
        before[1:] = before[:-1].copy()
        if self.latest is not None:
            np.maximum(before, self.latest, out=before)
        else:
            before[0] = window[0]
        self.latest = int(before[-1]) if window[-1] <= before[-1] else int(window[-1])
        late = window < before - self._SPAN
        n_late = int(np.count_nonzero(late))
        if n_late:
            self.late += n_late
            window = window[~late]
            if not window.size:  # late events never move `latest`: nothing closes either
                return
        keys, counts = _runs(window if np.all(window[1:] >= window[:-1]) else np.sort(window))
        if self.keys.size:
            merged = np.union1d(self.keys, keys)
            total = np.zeros(merged.size, np.int64)
            total[np.searchsorted(merged, self.keys)] += self.counts
            total[np.searchsorted(merged, keys)] += counts
            keys, counts = merged, total
        closing = keys < self.latest - self._SPAN
        if closing.any():
            self.peak = max(self.peak, int(counts[closing].max()))
        self.keys, self.counts = keys[~closing], counts[~closing]

    def result(self) -> int:
        return max(self.peak, int(self.counts.max()) if self.counts.size else 0)


def _runs(ordered: np.ndarray) -> tuple:
    """Distinct values of a sorted, non-empty int64 array and how often each occurs."""
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    return ordered[starts], np.diff(np.append(starts, ordered.size))


class _Steps:
    """Counts and first examples of the steps between consecutive events that match a test."""

    def __init__(self):
        self.count = 0
        self.examples = []

    def add(self, where: np.ndarray, t: np.ndarray, prev: np.ndarray, first_index: int) -> None:
        self.count += int(where.size)
        for i in where[:MAX_EXAMPLES - len(self.examples)]:
            self.examples.append(TimeStep(first_index + int(i), int(prev[i]), int(t[i])))


def describe_recording(path, format=None, chunk_events=1 << 20) -> RecordingStats:
    """Statistics of a recording (`RecordingStats`), streaming it in chunks of `chunk_events`.

    `format` as for `speksim.io.read_events`. Memory stays bounded by the chunk size; reader
    errors (`ReaderError`) and bad arguments (`EventError`) propagate.
    """
    from . import _resolve, iter_events, sensor_size

    p, fmt = _resolve(path, format)
    chunks = iter_events(p, fmt, chunk_events=chunk_events)
    n = n_on = 0
    t_first = t_last = t_min = t_max = None
    x_min = y_min = 1 << 16
    x_max = y_max = -1
    peak = _PeakCounter()
    back, jumps = _Steps(), _Steps()
    for ev in chunks:
        t = ev["t"]
        if t_first is None:
            t_first = int(t[0])
            t_last = t_first
        # each event's predecessor, across the chunk boundary
        prev = np.concatenate(([t_last], t[:-1]))
        step = t - prev
        back.add(np.flatnonzero(step < 0), t, prev, n)
        jumps.add(np.flatnonzero(step > JUMP_US), t, prev, n)
        t_last = int(t[-1])
        lo, hi = int(t.min()), int(t.max())
        t_min = lo if t_min is None else min(t_min, lo)
        t_max = hi if t_max is None else max(t_max, hi)
        x_min, x_max = min(x_min, int(ev["x"].min())), max(x_max, int(ev["x"].max()))
        y_min, y_max = min(y_min, int(ev["y"].min())), max(y_max, int(ev["y"].max()))
        n += len(ev)
        n_on += int(np.count_nonzero(ev["p"]))
        peak.add((t - t_first) // PEAK_WINDOW_US)
    empty = n == 0
    return RecordingStats(
        path=str(p), format=fmt, events=n, on=n_on, off=n - n_on, t_first=t_first, t_last=t_last,
        t_min=t_min, t_max=t_max, x_min=None if empty else x_min, x_max=None if empty else x_max,
        y_min=None if empty else y_min, y_max=None if empty else y_max, sensor_size=sensor_size(p, fmt),
        peak_events_per_ms=None if empty else peak.result(), peak_exact=peak.late == 0, late_events=peak.late,
        backward_steps=back.count, backward_examples=tuple(back.examples), forward_jumps=jumps.count,
        jump_examples=tuple(jumps.examples))


__all__ = ["RecordingStats", "TimeStep", "describe_recording", "JUMP_US", "PEAK_REORDER_US"]
