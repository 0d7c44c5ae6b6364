"""Plots of a run, drawn with matplotlib's Agg renderer (no window, no pyplot state).

Every function takes a `Result` (and, where it says so, the input events), returns a
`matplotlib.figure.Figure`, and also writes it as a PNG when `path` is given:

* `input_rate` — input events per second over time (and the input link's capacity);
* `utilisation` — per block: busy fraction and mean FIFO occupancy per bin, against the FIFO depth;
* `stalls_and_drops` — per block that stalled or dropped: output-queue stall time and dropped
  events per bin ("no stalls, no drops" when no block did either);
* `latency_histogram` — output latency and input lag, log-spaced bins, median and p99 marked;
* `output_raster` — time against neuron address, one panel per monitored layer;
* `event_images` — accumulated event count per pixel of the input and of each monitored layer;
* `report` — all of the above into a folder.

This is the only module that imports matplotlib; `import speksim` does not import it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import numpy as np

from .result import BLOCK_NAMES, Result

#: Most points an output raster draws; above it every n-th event is drawn (deterministically).
MAX_RASTER_POINTS = 200_000
#: Most bins a time-series panel draws; longer series are merged into wider bins.
MAX_SERIES_POINTS = 2000

_DPI = 110
_DVS_LAYER = 13
_READOUT_LAYER = 12
_BUSY_COLOR, _FIFO_COLOR, _STALL_COLOR, _DROP_COLOR = "#1f77b4", "#ff7f0e", "#d62728", "#7f7f7f"


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------

def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _finish(fig, path):
    if path is not None:
        fig.savefig(os.fspath(path), dpi=_DPI)
    return fig


def _time_unit(span_ns: float) -> tuple[float, str]:
    """(ns per unit, unit name) for a time axis spanning `span_ns`."""
    if span_ns < 20_000:
        return 1e3, "µs"
    if span_ns < 20e9:
        return 1e6, "ms"
    return 1e9, "s"


def _nice_bin_ns(span_ns: float, target: int = 200) -> int:
    """A bin width of 1, 2 or 5 × 10^k µs giving about `target` bins over `span_ns`."""
    raw = max(span_ns / target, 1000.0)
    exp = 10 ** np.floor(np.log10(raw))
    for m in (1, 2, 5, 10):
        if m * exp >= raw:
            return int(m * exp)
    return int(10 * exp)  # pragma: no cover


def _rate_text(per_s: float) -> str:
    for div, unit in ((1e6, "Mevents/s"), (1e3, "kevents/s")):
        if per_s >= div:
            return f"{per_s / div:.3g} {unit}"
    return f"{per_s:.3g} events/s"


def _fmt_ns(ns: float) -> str:
    for div, unit in ((1e9, "s"), (1e6, "ms"), (1e3, "µs")):
        if ns >= div:
            return f"{ns / div:.4g} {unit}"
    return f"{ns:g} ns"


def _pct(frac: float) -> str:
    """A fraction as a percentage with three significant digits (0.043%, 71.9%, 100%), so that a
    small but non-zero share does not read as 0.0%."""
    return f"{100 * frac:.3g}%"


def block_label(b: int) -> str:
    """Human name of block `b` (index into `speksim.result.BLOCK_NAMES`)."""
    name = BLOCK_NAMES[b]
    return {"dvs": "DVS layer", "readout": "readout", "host_out": "host output"}.get(name, f"core {b}")


def _layer_label(layer: int) -> str:
    if layer == _DVS_LAYER:
        return "DVS layer (13)"
    if layer == _READOUT_LAYER:
        return "readout (12)"
    return f"core {layer}"


def _active_blocks(result: Result) -> list[int]:
    """Used cores, then the DVS layer, readout and host output if they received events."""
    return list(result.used_cores()) + [b for b in (9, 10, 11) if int(result.stats[b]["events_in"]) > 0]


def _chip_value(result: Result, name: str):
    try:
        return result.metadata["chip"]["parameters"][name]["value"]
    except (KeyError, TypeError):
        return None


def _fifo_depth(result: Result, b: int) -> Optional[int]:
    if b < 9:
        v = _chip_value(result, "fifo_depth")
        return int(v[b]) if isinstance(v, list) and b < len(v) else None
    v = _chip_value(result, {9: "dvs_fifo_depth", 10: "readout_fifo_depth", 11: "host_out_fifo_depth"}[b])
    return None if v is None else int(v)


def _rebin(arr: np.ndarray, bin_ns: int) -> tuple[np.ndarray, int]:
    """Merge consecutive bins (summing) so at most MAX_SERIES_POINTS remain."""
    n = len(arr)
    factor = max(1, -(-n // MAX_SERIES_POINTS))
    if factor == 1:
        return arr.astype(np.float64), bin_ns
    pad = (-n) % factor
    a = np.concatenate([arr.astype(np.float64), np.zeros((pad,) + arr.shape[1:])])
    return a.reshape(-1, factor, *arr.shape[1:]).sum(axis=1), bin_ns * factor


def _nice_top(value: float, candidates) -> float:
    """The smallest candidate >= value (the largest candidate if none is)."""
    for c in candidates:
        if value <= c:
            return float(c)
    return float(max(value, candidates[-1]))


def _steps(ax, t_edges, values, **kw):
    """Draw per-bin values as a staircase over the bin edges."""
    if len(values) == 0:
        return
    ax.stairs(values, t_edges, **kw)


def _empty(ax, text):
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


def _layer_geometry(result: Result, layer: int, sel: np.ndarray) -> tuple[int, int, int]:
    """(features, height, width) of a monitored layer's output map, from the configuration when
    the run recorded it, else from the addresses seen."""
    seen = (int(sel["feature"].max()) + 1 if len(sel) else 1, int(sel["y"].max()) + 1 if len(sel) else 1,
            int(sel["x"].max()) + 1 if len(sel) else 1)
    cfg = result.metadata.get("config") if isinstance(result.metadata, dict) else None
    try:
        if layer < 9:
            out = cfg["cnn_layers"][layer]["dimensions"]["output_shape"]
            geo = (int(out["feature_count"]), int(out["size"]["y"]), int(out["size"]["x"]))
        elif layer == _DVS_LAYER:
            dl = cfg["dvs_layer"]
            size = int(_chip_value(result, "dvs_size") or 128)
            dims = []
            for ax in ("x", "y"):
                pool, origin, cut = dl["pooling"][ax], dl["origin"][ax], dl["cut"][ax]
                dims.append(max(1, min(cut, (size - 1) // pool) - origin + 1))
            if dl.get("mirror_diagonal"):
                dims.reverse()
            geo = (1 if dl.get("merge") else 2, dims[1], dims[0])
        else:
            return seen
    except (KeyError, TypeError, IndexError, ValueError):
        return seen
    return tuple(max(a, b) for a, b in zip(geo, seen))


# --------------------------------------------------------------------------------------------
# plots
# --------------------------------------------------------------------------------------------

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
        period = _chip_value(res, key)
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
    blocks = _active_blocks(result)
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
    blocks = _active_blocks(result)
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
_BINS_PER_DECADE, _MIN_BINS, _MAX_BINS = 25, 40, 120


def _log_bins_ns(values_ns: np.ndarray) -> np.ndarray:
    """Log-spaced bin edges (float64, ns, increasing) for a histogram of times >= 0 in ns.

    About `_BINS_PER_DECADE` bins per decade of the positive values, with one empty bin either
    side so that no bar stands on the frame; the window spans at least a factor of 2, so that
    values a few clock cycles apart (lags of 640, 720 and 800 ns) get bars of their own with room
    around them. Zero has no place on a log axis: `_log_counts` counts it in the (empty) first
    bin, so that no value goes missing."""
    pos = values_ns[values_ns > 0]
    lo, hi = (float(pos.min()), float(pos.max())) if len(pos) else (1.0, 1.0)
    a, b = np.log10(lo), np.log10(hi)
    if b - a < np.log10(2.0):
        mid, half = (a + b) / 2, np.log10(2.0) / 2
        a, b = mid - half, mid + half
    n = int(np.clip(np.ceil((b - a) * _BINS_PER_DECADE), _MIN_BINS, _MAX_BINS))
    step = (b - a) / n
    # the outermost values sit in the middle of a bin, and one empty bin pads each side
    return 10.0 ** np.linspace(a - 1.5 * step, b + 1.5 * step, n + 4)


def _log_counts(values_ns: np.ndarray, edges_ns: np.ndarray) -> np.ndarray:
    """Counts per bin (int64); values below the first edge (zeros) are counted in the first bin."""
    return np.histogram(np.clip(values_ns, edges_ns[0], None), edges_ns)[0]


def _log_hist(ax, counts, edges_us, label, color):
    from matplotlib.colors import to_rgba
    ax.stairs(counts, edges_us, fill=True, color=to_rgba(color, 0.25))
    ax.stairs(counts, edges_us, color=color, lw=1.2, label=label)


def _count_axis(ax, counts: np.ndarray, what: str):
    """Counts per bin on a linear axis, or on a log axis when one bin holds most of the values:
    then a linear axis shows a single bar and hides every other one (a lag of 640 ns for 96% of
    the inputs, 720 and 800 ns for the rest)."""
    nonzero = counts[counts > 0]
    if len(nonzero) > 1 and nonzero.max() > 0.5 * nonzero.sum():
        ax.set_yscale("log")
        ax.set_ylim(0.7, nonzero.max() * 2.5)
        ax.set_ylabel(f"{what} per bin (log scale)")
    else:
        ax.set_ylim(0, None)
        ax.set_ylabel(f"{what} per bin")


def _fmt_us(v: float) -> str:
    return f"{v:,.0f}" if v >= 100 else f"{v:.3g}"


def _mark_quantiles(ax, values_ns):
    # inverted_cdf gives values that occurred: with lags of 640 or 720 ns, an interpolated p99
    # of 711 ns would be a lag no input had
    med, p99 = np.percentile(values_ns, [50, 99], method="inverted_cdf") / 1e3
    ax.axvline(med, color="k", ls="--", lw=1, label=f"median {_fmt_us(med)} µs")
    ax.axvline(p99, color="k", ls=":", lw=1.2, label=f"p99 {_fmt_us(p99)} µs")


def _log_x(ax, lo: float, hi: float):
    """Log x axis over [lo, hi], with enough labelled ticks on a narrow window to read a value off."""
    ax.set_xscale("log")
    ax.set_xlim(lo, hi)
    # under half a decade: label every 1..9 multiple; under two decades: the 2 and 5 multiples too
    _plain_log(ax.xaxis, np.arange(1.0, 10.0) if hi / lo < 4 else (1.0, 2.0, 5.0) if hi / lo < 200 else (1.0,))


def latency_histogram(result: Result, *, path=None):
    """Left: latency of every output event (output time − timestamp of the input it descends
    from), one histogram per monitored layer. Right: input lag (SPEC T1). Log-spaced bins in µs;
    median and 99th percentile of all values marked; the count axis turns logarithmic when one
    bin holds most of the values."""
    fig = _figure(11, 4)
    ax_l, ax_r = fig.subplots(1, 2)
    lat = result.latency_ns()
    ok = lat >= 0
    ax_l.set_title(f"Output latency ({int(ok.sum()):,} outputs with an input root)")
    if ok.any():
        vals = lat[ok]
        edges = _log_bins_ns(vals)
        layers = result.outputs["layer"][ok]
        for i, layer in enumerate(np.unique(layers)):
            sel = vals[layers == layer]
            _log_hist(ax_l, _log_counts(sel, edges), edges / 1e3, _layer_label(int(layer)), f"C{i}")
        _mark_quantiles(ax_l, vals)
        _log_x(ax_l, edges[0] / 1e3, edges[-1] / 1e3)
        _count_axis(ax_l, _log_counts(vals, edges), "output events")
        ax_l.set_xlabel("latency (µs)")
        ax_l.legend(fontsize="small")
        ax_l.grid(alpha=0.3)
    else:
        _empty(ax_l, "no output event descends from an input")
    lag = np.asarray(result.lag_ns)
    sent = lag >= 0
    ax_r.set_title(f"Input lag ({int(sent.sum()):,} inputs sent, {int((~sent).sum()):,} dropped)")
    if sent.any():
        vals = lag[sent]
        edges = _log_bins_ns(vals)
        counts = _log_counts(vals, edges)
        _log_hist(ax_r, counts, edges / 1e3, "input lag", "C7")
        _mark_quantiles(ax_r, vals)
        _log_x(ax_r, edges[0] / 1e3, edges[-1] / 1e3)
        _count_axis(ax_r, counts, "input events")
        ax_r.set_xlabel("lag: transfer start + link latency − timestamp (µs)")
        ax_r.legend(fontsize="small")
        ax_r.grid(alpha=0.3)
    else:
        _empty(ax_r, "no input event was sent")
    return _finish(fig, path)


def output_raster(result: Result, *, path=None, max_points: int = MAX_RASTER_POINTS):
    """Output events as dots of time against neuron address, one panel per monitored layer.

    Address = feature·H·W + y·W + x in the layer's output map (H, W). Above `max_points` events
    in all, every n-th event of each layer is drawn (the title says so).
    """
    out = result.outputs
    layers = [int(v) for v in np.unique(out["layer"])] if len(out) else []
    fig = _figure(10, 1.25 + 2.0 * max(len(layers), 1))
    if not layers:
        ax = fig.add_subplot()
        ax.set_title("Output raster")
        _empty(ax, "no output events")
        return _finish(fig, path)
    stride = max(1, -(-len(out) // max(int(max_points), 1)))
    tdiv, tunit = _time_unit(max(int(out["t_ns"].max()), int(result.t_end_ns)))
    axes = fig.subplots(len(layers), 1, sharex=True, squeeze=False)[:, 0]
    note = f" (1 event in {stride} drawn)" if stride > 1 else ""
    fig.suptitle(f"Output raster: {len(out):,} events{note}")
    for i, (ax, layer) in enumerate(zip(axes, layers)):
        sel = out[out["layer"] == layer]
        c, h, w = _layer_geometry(result, layer, sel)
        addr = (sel["feature"].astype(np.int64) * h + sel["y"]) * w + sel["x"]
        draw = slice(None, None, stride)
        ax.plot(sel["t_ns"][draw] / tdiv, addr[draw], ls="none", marker=".", ms=1.5, color=f"C{i}",
                rasterized=True)
        ax.set_ylim(-0.5, c * h * w - 0.5)
        ax.set_ylabel("neuron address")
        ax.grid(alpha=0.3)
        shape = f"{c} × {h} × {w}" if layer != _READOUT_LAYER else f"{c} classes"
        ax.set_title(f"{_layer_label(layer)}: {len(sel):,} events, map {shape} (feature × y × x); "
                     f"address = (feature·{h} + y)·{w} + x", fontsize="medium", loc="left")
    axes[-1].set_xlabel(f"output time ({tunit})")
    axes[-1].set_xlim(0, None)
    return _finish(fig, path)


def input_image(events, size: Optional[tuple[int, int]] = None) -> np.ndarray:
    """Event count per pixel of an input event array: int64 [height, width].

    DVS_EVENT and SPIKE_EVENT (all target cores and features together) are accepted; `size` =
    (width, height), default the larger of 128 and the largest address + 1.
    """
    ev = np.asarray(events)
    if ev.dtype.names is None or "x" not in ev.dtype.names or "y" not in ev.dtype.names:
        raise ValueError("input events must be a structured array with x and y fields")
    if size is None:
        w = max(128, int(ev["x"].max()) + 1 if len(ev) else 0)
        h = max(128, int(ev["y"].max()) + 1 if len(ev) else 0)
    else:
        w, h = int(size[0]), int(size[1])
    idx = ev["y"].astype(np.int64) * w + ev["x"].astype(np.int64)
    return np.bincount(idx, minlength=w * h)[: w * h].reshape(h, w)


def _show_image(fig, ax, img, title):
    from matplotlib.colors import PowerNorm
    vmax = max(int(img.max()), 1)
    im = ax.imshow(img, origin="upper", cmap="magma", norm=PowerNorm(0.5, vmin=0, vmax=vmax),
                   interpolation="nearest")
    ax.set_title(title, fontsize="medium")
    ax.set_xlabel("x (px)")
    ax.set_ylabel("y (px)")
    fig.colorbar(im, ax=ax, shrink=0.85, label="events per pixel")


def event_images(result: Result, input_events=None, *, path=None):
    """Accumulated event count per pixel: the input (when `input_events` is given) and each
    monitored layer's output (features summed; the readout, which has no map, is left out).

    `input_events`: an event array with x, y fields, or an already accumulated count image
    (2-D [height, width], or 3-D [polarity, height, width], which is summed).
    """
    panels = []
    if input_events is not None:
        arr = np.asarray(input_events)
        if arr.dtype.names is None:
            img = arr.sum(axis=0) if arr.ndim == 3 else arr
            if img.ndim != 2:
                raise ValueError(f"an input image must be 2-D or 3-D, got shape {arr.shape}")
            n = int(img.sum())
        else:
            img, n = input_image(arr), len(arr)
        panels.append((img, f"input: {n:,} events"))
    out = result.outputs
    for layer in ([int(v) for v in np.unique(out["layer"])] if len(out) else []):
        if layer == _READOUT_LAYER:
            continue
        sel = out[out["layer"] == layer]
        c, h, w = _layer_geometry(result, layer, sel)
        img = np.bincount(sel["y"].astype(np.int64) * w + sel["x"], minlength=h * w)[: h * w].reshape(h, w)
        panels.append((img, f"{_layer_label(layer)}: {len(sel):,} events,\n{c} feature(s) summed, {w}×{h} px"))
    ncols = min(max(len(panels), 1), 4)
    nrows = -(-max(len(panels), 1) // ncols)
    fig = _figure(max(4.3 * ncols, 6.5), 3.9 * nrows + 0.4)
    fig.suptitle("Accumulated events per pixel (colour: square-root scale)")
    if not panels:
        _empty(fig.add_subplot(), "no input given and no output events")
        return _finish(fig, path)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, (img, title) in zip(axes, panels):
        _show_image(fig, ax, img, title)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    return _finish(fig, path)


#: PNG file names written by `report`, by plot.
REPORT_FILES = {"input_rate": "input_rate.png", "utilisation": "utilisation.png",
                "stalls_and_drops": "stalls_and_drops.png", "latency_histogram": "latency.png",
                "output_raster": "output_raster.png", "event_images": "event_images.png"}


def report(result: Result, out_dir, input_events=None) -> dict[str, Path]:
    """Write every plot as a PNG into `out_dir` (created if needed); returns {plot name: path}.
    `input_events` as in `event_images` (the input rate comes from the result itself)."""
    out = Path(os.fspath(out_dir))
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / fname for name, fname in REPORT_FILES.items()}
    input_rate(result, path=paths["input_rate"])
    utilisation(result, path=paths["utilisation"])
    stalls_and_drops(result, path=paths["stalls_and_drops"])
    latency_histogram(result, path=paths["latency_histogram"])
    output_raster(result, path=paths["output_raster"])
    event_images(result, input_events, path=paths["event_images"])
    return paths


__all__ = ["input_rate", "utilisation", "stalls_and_drops", "latency_histogram", "output_raster",
           "event_images", "input_image", "report", "block_label", "REPORT_FILES"]
