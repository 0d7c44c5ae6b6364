"""Time-series plots of a run: input rate, utilisation and FIFO occupancy, stalls and drops."""

from __future__ import annotations

from typing import Optional

import numpy as np

from ..blocks import block_label
from ..result import Result
from ._base import (
    _BUSY_COLOR,
    _DROP_COLOR,
    _FIFO_COLOR,
    _STALL_COLOR,
    _empty,
    _fifo_depth,
    _figure,
    _finish,
    _fmt_ns,
    _nice_bin_ns,
    _nice_top,
    _pct,
    _rate_text,
    _rebin,
    _steps,
    _time_unit,
)


def input_rate(events_or_result, *, bin_us: Optional[int] = None, path=None):
    """Input events per second over time.

    `events_or_result`: a `Result` (its input timestamps), or an event array with a `t` field in
    µs (DVS_EVENT, SPIKE_EVENT) or a `t_ns` field. `bin_us`: bin width (default: about 200 bins).
    For a Result the input link's capacity (1 / host_in_ns, or sensor_ns) is drawn dashed.
    """
    capacity = None
    if isinstance(events_or_result, Result):
        res = events_or_result
        t_ns = np.asarray(res.input_t_ns, np.int64)
        opts = res.metadata.get("options", {}) if isinstance(res.metadata, dict) else {}
        key = "sensor_ns" if opts.get("input_path") == "sensor" else "host_in_ns"
        period = res.chip_parameter(key)
        if period:
            capacity = (1e9 / float(period), f"input link capacity (1 / {key} = {period} ns)")
        what = "input"
    else:
        ev = np.asarray(events_or_result)
        names = ev.dtype.names or ()
        if "t" in names:
            t_ns = ev["t"].astype(np.int64) * 1000
        elif "t_ns" in names:
            t_ns = ev["t_ns"].astype(np.int64)
        else:
            raise ValueError(f"input_rate needs a Result or events with a 't' (µs) or 't_ns' field, got fields "
                             f"{list(names) or 'none'}")
        what = "events"
    fig = _figure(10, 3.6)
    ax = fig.add_subplot()
    ax.set_title(f"Input event rate ({len(t_ns):,} events)")
    if len(t_ns) == 0:
        _empty(ax, "no input events")
        return _finish(fig, path)
    t0, t1 = int(t_ns.min()), int(t_ns.max())
    span = max(t1 - t0, 1)
    bin_ns = int(bin_us) * 1000 if bin_us else _nice_bin_ns(span)
    if bin_ns <= 0:
        raise ValueError(f"bin_us must be positive, got {bin_us}")
    n_bins = (t1 - t0) // bin_ns + 1
    counts = np.bincount((t_ns - t0) // bin_ns, minlength=n_bins).astype(np.float64)
    rate = counts * (1e9 / bin_ns)
    if capacity and rate.max() < 0.1 * capacity[0]:  # drawn to scale it would flatten the data
        ax.set_title(f"Input event rate ({len(t_ns):,} events; the input link's capacity, "
                     f"{_rate_text(capacity[0])}, is off the scale)")
        capacity = None
    peak = max(rate.max(), capacity[0] if capacity else 0.0)
    rdiv, runit = (1e6, "Mevents/s") if peak >= 1e6 else ((1e3, "kevents/s") if peak >= 1e3 else (1.0, "events/s"))
    tdiv, tunit = _time_unit(t1)
    edges = (t0 + np.arange(n_bins + 1) * bin_ns) / tdiv
    _steps(ax, edges, rate / rdiv, color=_BUSY_COLOR, fill=True, alpha=0.35)
    _steps(ax, edges, rate / rdiv, color=_BUSY_COLOR, label=f"{what} rate ({_fmt_ns(bin_ns)} bins)")
    if capacity:
        ax.axhline(capacity[0] / rdiv, color=_STALL_COLOR, ls="--", lw=1, label=capacity[1])
    ax.set_xlabel(f"time ({tunit})")
    ax.set_ylabel(f"rate ({runit})")
    ax.set_ylim(0, None)
    ax.legend(loc="upper right", fontsize="small")
    ax.grid(alpha=0.3)
    return _finish(fig, path)


def _plain_log(axis, subs=(1.0,), numticks="auto"):
    """Log ticks labelled as plain numbers (0.01, 1, 10 rather than 10^-2, 10^0, 10^1) on `subs`
    multiples of each power of ten, minor ticks unlabelled."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
    axis.set_major_locator(LogLocator(subs=subs, numticks=numticks))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def _log_fifo_axis(ax, occ: np.ndarray, depth: Optional[int]) -> tuple[float, float]:
    """(bottom, top) of a log FIFO-occupancy axis that always reaches the FIFO depth.

    A mean occupancy per bin is often thousandths of a slot while the depth is 16 or 256: on a
    linear axis either the depth is off the scale or the occupancy is a flat line at zero. A log
    axis shows both. It goes down to the decade below the smallest non-zero mean, but no more than
    five decades below the depth (less than that is an empty FIFO for any purpose)."""
    ref = float(depth) if depth else max(float(occ.max(initial=0.0)), 1.0)
    pos = occ[occ > 0]
    low = max(float(pos.min()) if len(pos) else ref * 1e-3, ref * 1e-5)
    bottom, top = 10.0 ** np.floor(np.log10(low)), ref * 3
    ax.set_yscale("log")
    ax.set_ylim(bottom, top)
    _plain_log(ax.yaxis, numticks=8)
    return bottom, top


def utilisation(result: Result, *, path=None):
    """One panel per used core (and the DVS layer, readout, host output when they had events):
    the fraction of each bin the block spent serving (stalls included, left axis) and its
    time-weighted mean FIFO occupancy (right axis, log scale from an empty FIFO up to the FIFO
    depth, which is drawn dashed)."""
    from matplotlib.ticker import PercentFormatter
    blocks = result.active_blocks()
    fig = _figure(10, 1.25 + 1.75 * max(len(blocks), 1))
    if not blocks:
        _empty(fig.add_subplot(), "no block was used")
        return _finish(fig, path)
    busy, width = _rebin(result.series["busy_ns"], result.bin_ns)
    fifo, _ = _rebin(result.series["fifo_area"], result.bin_ns)
    tdiv, tunit = _time_unit(len(busy) * width)
    edges = np.arange(len(busy) + 1) * width / tdiv
    axes = fig.subplots(len(blocks), 1, sharex=True, squeeze=False)[:, 0]
    fig.suptitle(f"Busy time (blue, left axis) and mean FIFO occupancy (orange, right axis, log scale) per "
                 f"{_fmt_ns(width)} bin; dashed: FIFO depth")
    t_end = max(int(result.t_end_ns), 1)
    for ax, b in zip(axes, blocks):
        row = result.stats[b]
        frac = busy[:, b] / width
        _steps(ax, edges, frac, color=_BUSY_COLOR, fill=True, alpha=0.3)
        _steps(ax, edges, frac, color=_BUSY_COLOR, lw=1.2)
        # a lightly used block gets a zoomed axis (the tick labels say so), a busy one 0..100%
        ax.set_ylim(0, _nice_top(frac.max(initial=0.0), (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5,
                                                          1.0)) * 1.05)
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=None))
        ax.set_ylabel("busy (% of bin)", color=_BUSY_COLOR)
        ax.tick_params(axis="y", colors=_BUSY_COLOR)
        ax.grid(alpha=0.3)
        depth = _fifo_depth(result, b)
        ax2 = ax.twinx()
        occ = fifo[:, b] / width
        bottom, _ = _log_fifo_axis(ax2, occ, depth)
        # an empty FIFO has no place on a log axis: it is drawn on the bottom edge
        _steps(ax2, edges, np.maximum(occ, bottom), color=_FIFO_COLOR, lw=1.2)
        if depth:
            ax2.axhline(depth, color=_FIFO_COLOR, ls="--", lw=1)
        ax2.set_ylabel("FIFO (slots, log scale)", color=_FIFO_COLOR)
        ax2.tick_params(axis="y", which="both", colors=_FIFO_COLOR)
        depth_txt = f" of {depth}" if depth else ""
        ax.set_title(f"{block_label(b)}: busy {_pct(int(row['busy_ns']) / t_end)} of the run, FIFO max "
                     f"{int(row['fifo_max'])}{depth_txt} slots, mean {float(row['fifo_mean']):.3g}",
                     fontsize="medium", loc="left")
    axes[-1].set_xlabel(f"time ({tunit})")
    return _finish(fig, path)


#: Why a block drops events: statistic name → words for a title.
_DROP_REASONS = (("congestion_dropped", "congestion balancer"), ("dropped_out_of_range", "out of range"),
                 ("dvs_filtered", "DVS filter"))


def _drop_text(row) -> str:
    parts = [(int(row[name]), words) for name, words in _DROP_REASONS if int(row[name])]
    total = sum(n for n, _ in parts)
    if len(parts) < 2:
        return f"{total:,} events dropped" + (f" ({parts[0][1]})" if parts else "")
    return f"{total:,} events dropped (" + ", ".join(f"{n:,} {w}" for n, w in parts) + ")"


def stalls_and_drops(result: Result, *, path=None):
    """Per block that stalled or dropped: time its SynOps waited for a full output queue (left
    axis) and events dropped (congestion balancer, out of range, DVS filter; right axis), per bin.
    Blocks with neither get no panel and are named in the title; when no block has anything to
    show, the figure is a single panel saying "no stalls, no drops"."""
    from matplotlib.ticker import MaxNLocator
    blocks = result.active_blocks()
    if not blocks:
        fig = _figure(10, 2.5)
        _empty(fig.add_subplot(), "no block was used")
        return _finish(fig, path)
    stall, width = _rebin(result.series["stall_ns"], result.bin_ns)
    drop, _ = _rebin(result.series["dropped"], result.bin_ns)
    stats = result.stats

    def n_dropped(b):
        return sum(int(stats[b][name]) for name, _ in _DROP_REASONS)

    stalled = {b for b in blocks if int(stats[b]["stall_ns"]) > 0 or stall[:, b].any()}
    dropping = {b for b in blocks if n_dropped(b) > 0 or drop[:, b].any()}
    shown = [b for b in blocks if b in stalled or b in dropping]
    quiet = ", ".join(block_label(b) for b in blocks if b not in stalled and b not in dropping)
    if not shown:
        fig = _figure(10, 2.5)
        ax = fig.add_subplot()
        ax.set_title("Stalls on a full output queue and dropped events")
        _empty(ax, f"no stalls, no drops\n\nno block waited on a full output queue, and none dropped an "
                   f"event\n({quiet})")
        ax.texts[0].set_fontsize("large")
        return _finish(fig, path)
    fig = _figure(10, 1.25 + 1.75 * len(shown))
    tdiv, tunit = _time_unit(len(stall) * width)
    sdiv, sunit = (1e3, "µs") if stall.max(initial=0) >= 1e3 else (1.0, "ns")
    edges = np.arange(len(stall) + 1) * width / tdiv
    axes = fig.subplots(len(shown), 1, sharex=True, squeeze=False)[:, 0]
    per_bin = f"per {_fmt_ns(width)} bin"
    if stalled and dropping:
        title = f"Stall time on a full output queue (red, left axis) and dropped events (grey, right axis) {per_bin}"
    elif stalled:
        title = f"Stall time on a full output queue {per_bin} (no block dropped an event)"
    else:
        title = f"Dropped events {per_bin} (no block waited on a full output queue)"
    fig.suptitle(title + (f"\nno stalls, no drops: {quiet}" if quiet else ""))
    for ax, b in zip(axes, shown):
        row = stats[b]
        ax.grid(alpha=0.3)
        # a measure a block never had gets no axis: a 0..1 scale of nothing reads as data
        if b in stalled:
            _steps(ax, edges, stall[:, b] / sdiv, color=_STALL_COLOR, fill=True, alpha=0.3)
            _steps(ax, edges, stall[:, b] / sdiv, color=_STALL_COLOR, lw=1.2)
            ax.set_ylim(0, stall[:, b].max() / sdiv * 1.1)
            ax.set_ylabel(f"stall ({sunit}/bin)", color=_STALL_COLOR)
            ax.tick_params(axis="y", colors=_STALL_COLOR)
        else:
            ax.set_yticks([])
            ax.set_ylabel("no stalls", color=_STALL_COLOR)
        if b in dropping:
            ax2 = ax.twinx()
            _steps(ax2, edges, drop[:, b], color=_DROP_COLOR, lw=1.2)
            ax2.set_ylim(0, max(drop[:, b].max() * 1.1, 1.0))
            ax2.yaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
            ax2.set_ylabel("dropped (events/bin)", color=_DROP_COLOR)
            ax2.tick_params(axis="y", colors=_DROP_COLOR)
        ax.set_title(f"{block_label(b)}: stalled {_fmt_ns(int(row['stall_ns']))} in all, {_drop_text(row)}",
                     fontsize="medium", loc="left")
    axes[-1].set_xlabel(f"time ({tunit})")
    return _finish(fig, path)


#: Bins per decade of a latency or lag histogram, and the fewest and most bins it has.
