"""Histograms of output latency and input lag, on log-spaced bins that resolve clock-cycle steps."""

from __future__ import annotations

import numpy as np

from ..result import Result
from ._base import _empty, _figure, _finish, _layer_label
from .series import _plain_log

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
            _log_hist(ax_l, _log_counts(sel, edges), edges / 1e3, _layer_label(result, int(layer)), f"C{i}")
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
