"""Helpers shared by the plots: figures without pyplot, time units, block and layer labels."""

from __future__ import annotations

import os
from typing import Optional

import numpy as np

from ..blocks import DVS, HOST_OUT, N_CORES, READOUT
from ..result import Result

#: Most points an output raster draws; above it every n-th event is drawn (deterministically).
MAX_RASTER_POINTS = 200_000
#: Most bins a time-series panel draws; longer series are merged into wider bins.
MAX_SERIES_POINTS = 2000

_DPI = 110
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


def _layer_label(result: Result, layer: int) -> str:
    """Name of an output event's layer: a core, the DVS layer or the readout (ids from the chip)."""
    if layer == result.chip_parameter("dvs_layer_id"):
        return f"DVS layer ({layer})"
    if layer == result.chip_parameter("readout_layer"):
        return f"readout ({layer})"
    return f"core {layer}"


def _fifo_depth(result: Result, b: int) -> Optional[int]:
    if b < N_CORES:
        v = result.chip_parameter("fifo_depth")
        return int(v[b]) if isinstance(v, list) and b < len(v) else None
    names = {DVS: "dvs_fifo_depth", READOUT: "readout_fifo_depth", HOST_OUT: "host_out_fifo_depth"}
    v = result.chip_parameter(names[b])
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
        elif layer == result.chip_parameter("dvs_layer_id"):
            dl = cfg["dvs_layer"]
            size = int(result.chip_parameter("dvs_size") or 128)
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
