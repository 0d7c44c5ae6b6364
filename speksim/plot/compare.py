"""The plot of a comparison of two runs (`speksim.analysis.compare.compare_runs`)."""

from __future__ import annotations

import numpy as np

from .._text import duration_text
from ..result import Result
from ._base import _empty, _figure, _finish, _time_unit
from .latency import _log_bins_ns, _log_counts, _log_hist, _log_x

_A_COLOR, _B_COLOR, _MISS_COLOR = "#1f77b4", "#ff7f0e", "#d62728"
_MAX_BARS = 64


def _side(result: Result, name: str) -> str:
    return f"{name} ({'capture' if (result.metadata or {}).get('source') == 'devkit' else 'simulation'})"


def _bars(ax, labels, ca, cb, la, lb, title):
    x = np.arange(len(labels))
    ax.bar(x - 0.2, ca, 0.4, color=_A_COLOR, label=la)
    ax.bar(x + 0.2, cb, 0.4, color=_B_COLOR, label=lb)
    ax.set_xticks(x, labels, rotation=45 if len(labels) > 8 else 0, ha="right" if len(labels) > 8 else "center",
                  fontsize="small" if len(labels) > 16 else None)
    ax.set_ylabel("spikes")
    ax.set_ylim(0, max(int(np.max(ca, initial=0)), int(np.max(cb, initial=0)), 1) * 1.2)  # room for the legend
    ax.set_title(title)
    ax.legend(fontsize="small")
    ax.grid(axis="y", alpha=0.3)


def _counts_panels(ax_l, ax_f, cmp, la, lb):
    pl = cmp.per_layer
    if len(pl):
        names = [cmp.layer_names.get(int(k), f"layer {int(k)}") for k in pl["layer"]]
        _bars(ax_l, names, pl["count_a"], pl["count_b"], la, lb,
              f"Spikes per layer (count error {cmp.figures['count_error']:.3g})")
    else:
        _empty(ax_l, "no output event on either side")
    layer = cmp.figures["class_layer"]
    pf = cmp.per_feature[cmp.per_feature["layer"] == layer] if layer is not None else cmp.per_feature[:0]
    if not len(pf):
        _empty(ax_f, "no spike of the output layer")
        return
    name = cmp.layer_names.get(int(layer), f"layer {layer}")
    if len(pf) > _MAX_BARS:  # the features where the two sides differ most
        keep = np.sort(np.argsort(-np.abs(pf["count_a"] - pf["count_b"]), kind="stable")[:_MAX_BARS])
        pf, name = pf[keep], f"{name}, the {_MAX_BARS} features differing most"
    _bars(ax_f, [str(int(f)) for f in pf["feature"]], pf["count_a"], pf["count_b"], la, lb,
          f"Spikes per feature of {name}")
    ax_f.set_xlabel("feature")


def _offset_panel(ax, cmp):
    dt = cmp.match_dt_ns
    tol = cmp.options["tolerance_ns"]
    f = cmp.figures
    ax.set_title(f"Matched events: t_B − t_A ({f['matched']:,} pairs; precision {f['precision']:.3g}, "
                 f"recall {f['recall']:.3g})")
    if not len(dt):
        _empty(ax, f"no event matched within {tol:,} ns")
        return
    scale, unit = (1e3, "µs") if tol >= 2000 else (1.0, "ns")
    lo, hi = (-tol, tol) if tol else (-1, 1)
    # integer ns: bins no narrower than 1 ns, so a constant offset is one bar, not a comb
    n = int(min(81, hi - lo + 1))
    edges = np.linspace(lo - 0.5, hi + 0.5, n + 1)
    counts = np.histogram(dt, edges)[0]
    ax.stairs(counts, edges / scale, fill=True, color=_B_COLOR, alpha=0.5)
    ax.stairs(counts, edges / scale, color=_B_COLOR)
    ax.axvline(0, color="k", lw=0.8)
    ax.set_xlabel(f"time difference of a matched pair ({unit}); tolerance ±{tol / scale:g} {unit}")
    ax.set_ylabel("pairs per bin")
    ax.grid(alpha=0.3)


def _latency_panel(ax, cmp, la, lb):
    f = cmp.figures
    lat_a, lat_b = cmp.latencies
    d = f["latency_distance_ns"]
    if d is not None:
        text = f"{d:.0f} ns" if d < 1000 else duration_text(d / 1e3)
        ax.set_title(f"Output latency (Wasserstein distance {text})")
    else:
        ax.set_title("Output latency")
    both = np.concatenate([lat_a, lat_b]) if len(lat_a) or len(lat_b) else np.zeros(0, np.int64)
    if not len(both):
        _empty(ax, "no output latency is known (no roots on either side)")
        return
    edges = _log_bins_ns(both)
    src = {"roots": "", "twins": ", via matched twins", "none": ", unknown"}
    for vals, label, color, s in ((lat_a, la, _A_COLOR, cmp.latency_source[0]),
                                  (lat_b, lb, _B_COLOR, cmp.latency_source[1])):
        if len(vals):
            _log_hist(ax, _log_counts(vals, edges), edges / 1e3, f"{label}{src[s]}", color)
            ax.axvline(np.percentile(vals, 50, method="inverted_cdf") / 1e3, color=color, ls="--", lw=1)
    _log_x(ax, edges[0] / 1e3, edges[-1] / 1e3)
    ax.set_xlabel("latency (µs); dashed: medians")
    ax.set_ylabel("output events per bin")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)


def _class_panel(ax, cmp, la, lb):
    f = cmp.figures
    windows, ca, cb = cmp.windows
    if f["class_layer"] is None:
        _empty(ax, f"classes not compared: {cmp.class_how}")
        return
    w = cmp.options["window_ns"]
    ax.set_title(f"Class per {w / 1e6:g} ms window, from {cmp.class_how}: agreement "
                 f"{f['class_agreement']:.3g} over {f['class_windows']:,} windows")
    if not len(windows):
        _empty(ax, "neither side gave a class in any window")
        return
    div, unit = _time_unit(float((windows[-1] + 1) * w))
    t = (windows * w + w / 2) / div
    top = int(max(ca.max(), cb.max()))
    miss = ca != cb
    if miss.any():  # the whole window shaded: its width is the time the classes were compared over
        ax.bar(t[miss], top + 1, width=w / div, bottom=-0.5, color=_MISS_COLOR, alpha=0.2, label="classes differ")
    for cls, label, color, marker in ((ca, la, _A_COLOR, "o"), (cb, lb, _B_COLOR, "x")):
        has = cls >= 0
        ax.plot(t[has], cls[has], marker, color=color, ms=5, mfc="none" if marker == "o" else color,
                ls="none", label=label)
    # the time axis spans whole windows from 0, so a single window is drawn as one, not as a point
    ax.set_xlim(0, (windows[-1] + 1) * w / div)
    ax.set_ylim(-0.5, top + 0.5)
    if top < 20:
        ax.set_yticks(range(top + 1))
    ax.set_xlabel(f"time ({unit}); windows with no class on a side have no mark for it")
    ax.set_ylabel("class")
    ax.legend(fontsize="small", loc="upper right")
    ax.grid(alpha=0.3)


def comparison(cmp, a: Result, b: Result, path=None):
    """Five panels of a `Comparison` of runs `a` (reference) and `b` (candidate): spike counts of
    both per layer and per feature of the class layer (at most 64 features: those differing most);
    the time differences t_B − t_A of the matched events over the tolerance; both output-latency
    distributions (log bins, µs; a capture's via its matched twins); the class each side gave per
    window over time, the windows where they differ shaded."""
    fig = _figure(12, 10.5)
    grid = fig.add_gridspec(3, 2)
    la, lb = _side(a, "A"), _side(b, "B")
    _counts_panels(fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1]), cmp, la, lb)
    _offset_panel(fig.add_subplot(grid[1, 0]), cmp)
    _latency_panel(fig.add_subplot(grid[1, 1]), cmp, la, lb)
    _class_panel(fig.add_subplot(grid[2, :]), cmp, la, lb)
    return _finish(fig, path)


__all__ = ["comparison"]
