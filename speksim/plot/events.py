"""Where the events went: output rasters (time against neuron address) and accumulated event images."""

from __future__ import annotations

from typing import Optional

import numpy as np

from ..result import Result
from ._base import (
    MAX_RASTER_POINTS,
    _empty,
    _figure,
    _finish,
    _layer_geometry,
    _layer_label,
    _time_unit,
)


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
        shape = f"{c} × {h} × {w}" if layer != result.chip_parameter("readout_layer") else f"{c} classes"
        ax.set_title(f"{_layer_label(result, layer)}: {len(sel):,} events, map {shape} (feature × y × x); "
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
        if layer == result.chip_parameter("readout_layer"):
            continue
        sel = out[out["layer"] == layer]
        c, h, w = _layer_geometry(result, layer, sel)
        img = np.bincount(sel["y"].astype(np.int64) * w + sel["x"], minlength=h * w)[: h * w].reshape(h, w)
        panels.append((img, f"{_layer_label(result, layer)}: {len(sel):,} events,\n{c} feature(s) summed, {w}×{h} px"))
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
