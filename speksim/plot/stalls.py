"""Plots of a stall: which block was busy when, how full the FIFOs were, how far the input fell
behind, and what the DVS view looked like while the chip stalled.

Each function takes the `Result` and, optionally, the stall diagnosis of it
(`speksim.analysis.stalls.diagnose(...)`, as the `StallReport` or its `to_dict()`), whose
saturated spans it marks; without one the plots show the run alone.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from ..blocks import DVS, HOST_OUT, N_CORES, READOUT, block_label
from ..result import Result
from ._base import (
    _BUSY_COLOR,
    _FIFO_COLOR,
    _STALL_COLOR,
    _empty,
    _fifo_depth,
    _figure,
    _finish,
    _fmt_ns,
    _layer_geometry,
    _nice_bin_ns,
    _rebin,
    _steps,
    _time_unit,
)

#: Above this many inputs sent, the input lag is drawn as per-bin maximum and 99th percentile
#: instead of one dot per input.
MAX_LAG_POINTS = 20_000
#: Row id of the input link in the utilisation map (it is a sender, not a block).
LINK = -1

#: Marks on the heat maps: a colour that shows on magma's dark and bright ends alike.
_MARK = "#00d5ff"
_SAT_SHADE = dict(color=_STALL_COLOR, alpha=0.12, lw=0)


# --------------------------------------------------------------------------------------------
# what the diagnosis says, read from either form of it
# --------------------------------------------------------------------------------------------

def _as_dict(report) -> Optional[dict]:
    if report is None:
        return None
    return report.to_dict() if hasattr(report, "to_dict") else report


def _saturated_spans(report: Optional[dict]) -> dict:
    """{block: [(t0_ns, t1_ns)]} of the windows where each block was saturated."""
    out = {}
    for row in (report or {}).get("blocks") or []:
        if row.get("saturated"):
            out[int(row["block"])] = [(int(a), int(b)) for a, b in row["saturated"]]
    return out


def _union(spans) -> list:
    merged = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return [(a, b) for a, b in merged]


def _shade_saturated(ax, report, tdiv, label=True) -> None:
    """Shade the spans where some block was saturated; the legend names the blocks."""
    spans = _saturated_spans(report)
    if not spans:
        return
    names = ", ".join(_row_label(b, report) for b in sorted(spans))
    for i, (a, b) in enumerate(_union(s for v in spans.values() for s in v)):
        ax.axvspan(a / tdiv, b / tdiv, label=f"saturated: {names}" if label and i == 0 else None, **_SAT_SHADE)


def _row_label(block: int, report: Optional[dict]) -> str:
    if block == LINK:
        return "input link"
    layer = next((r.get("layer") for r in (report or {}).get("blocks") or [] if r.get("block") == block), None)
    return f"{block_label(block)} (layer {layer})" if layer else block_label(block)


# --------------------------------------------------------------------------------------------
# core x time utilisation map
# --------------------------------------------------------------------------------------------

def _link_busy(result: Result, n_bins: int) -> Optional[np.ndarray]:
    """int64 [n_bins]: the input link's busy time per run bin, one link period per input at the
    time its transfer started (SPEC T1: lag = start + link latency - timestamp); None without inputs."""
    lag = np.asarray(result.lag_ns)
    if not len(lag):
        return None
    sensor = ((result.metadata or {}).get("options") or {}).get("input_path") == "sensor"
    period = result.chip_parameter("sensor_ns" if sensor else "host_in_ns")
    latency = result.chip_parameter("sensor_latency_ns" if sensor else "host_in_latency_ns")
    if period is None or latency is None:
        return None
    sent = lag >= 0
    start = (np.asarray(result.input_t_ns)[sent] + lag[sent] - int(latency)) // result.bin_ns
    return np.bincount(np.clip(start, 0, n_bins - 1), minlength=n_bins)[:n_bins].astype(np.int64) * int(period)


def _episode_track(ax, episodes, cause, tdiv) -> None:
    """A thin track of the stall episodes above the maps, the worst one (the report's cause) darker."""
    worst = None if not cause else (cause["t0_ns"], cause["t1_ns"])
    for e in episodes:
        is_worst = (e["t0_ns"], e["t1_ns"]) == worst
        ax.axvspan(e["t0_ns"] / tdiv, e["t1_ns"] / tdiv, color=_STALL_COLOR, alpha=1.0 if is_worst else 0.45, lw=0)
    ax.set_yticks([])
    ax.set_ylabel("stall\nepisodes", rotation=0, ha="right", va="center", fontsize="small")
    if len(episodes) > 1:
        ax.set_title(f"{len(episodes)} stall episodes; darkest: the worst", fontsize="small", loc="left")


def _core_order(result: Result, cores: list) -> list:
    """`cores` in the order events flow through them (each after the cores sending to it, ties by
    id), from the destinations of the configuration the run recorded; by id without it, and the
    cores of a cycle by id after the others."""
    try:
        layers = result.metadata["config"]["cnn_layers"]
        edges = {k: sorted({int(d["layer"]) for d in layers[k]["destinations"]
                            if d["enable"] and int(d["layer"]) in cores and int(d["layer"]) != k}) for k in cores}
    except (KeyError, TypeError, IndexError, ValueError):
        return list(cores)
    waiting = {k: sum(k in t for t in edges.values()) for k in cores}
    ready, order = sorted(k for k in cores if not waiting[k]), []
    while ready:
        k = ready.pop(0)
        order.append(k)
        for t in edges[k]:
            waiting[t] -= 1
            if not waiting[t]:
                ready = sorted(ready + [t])
    return order + [k for k in cores if k not in order]


def _flow_order(result: Result) -> list:
    """The blocks of the run in the order events flow: the DVS layer, the cores (see
    `_core_order`), readout, host output."""
    active = result.active_blocks()
    return ([DVS] if DVS in active else []) + _core_order(result, [b for b in active if b < N_CORES]) + [
        b for b in (READOUT, HOST_OUT) if b in active]


def utilisation_map(result: Result, report=None, *, path=None):
    """Heat maps of block against time: above, the fraction of each bin a block was busy (stalls
    included); below, the fraction it was stalled on a full output queue (SPEC T4). Rows in the
    order events flow: the input link (one link period per input sent), the DVS layer, the used
    cores, readout and host output. A block busy and not stalled is doing its own work; busy and
    stalled, it waits for the block after it. The windows where the diagnosis found a block
    saturated are outlined on its row."""
    from matplotlib.patches import Rectangle
    blocks = _flow_order(result)
    busy_all, width = _rebin(result.series["busy_ns"], result.bin_ns)
    stall_all, _ = _rebin(result.series["stall_ns"], result.bin_ns)
    lb = _link_busy(result, len(result.series["busy_ns"]))
    link = None if lb is None else _rebin(lb, result.bin_ns)[0]
    rows = ([LINK] if link is not None else []) + blocks
    fig = _figure(10, 1.7 + 0.62 * max(len(rows), 1))
    if not blocks:
        _empty(fig.add_subplot(), "no block was used")
        return _finish(fig, path)
    report = _as_dict(report)
    busy = np.array([link / width if b == LINK else busy_all[:, b] / width for b in rows])
    stall = np.array([np.full(len(link), np.nan) if b == LINK else stall_all[:, b] / width for b in rows])
    n = busy.shape[1]
    tdiv, tunit = _time_unit(n * width)
    edges = np.arange(n + 1) * width / tdiv
    episodes = (report or {}).get("episodes") or []
    if episodes:
        ax_e, ax_b, ax_s = fig.subplots(3, 1, sharex=True, height_ratios=[0.09 * len(rows), len(rows), len(rows)])
        _episode_track(ax_e, episodes, (report or {}).get("cause"), tdiv)
    else:
        ax_b, ax_s = fig.subplots(2, 1, sharex=True)
    fig.suptitle(f"Busy and stalled time per {_fmt_ns(width)} bin (busy includes stalls; stalled: waiting for a "
                 "full output queue)")
    labels = [_row_label(b, report) for b in rows]
    spans = _saturated_spans(report)
    for ax, data, title in ((ax_b, busy, "busy"), (ax_s, stall, "stalled")):
        mesh = ax.pcolormesh(edges, np.arange(len(rows) + 1) - 0.5, np.clip(data, 0, 1), cmap="magma", vmin=0,
                             vmax=1, shading="flat", rasterized=True)
        ax.set_facecolor("0.85")      # a row with nothing recorded (the link's stall) shows grey
        ax.set_yticks(range(len(rows)), labels)
        ax.set_ylim(len(rows) - 0.5, -0.5)
        ax.set_title(f"{title} (% of bin)" + ("; input link: not recorded" if title == "stalled" and link is not None
                                              else ""), fontsize="medium", loc="left")
        for i, b in enumerate(rows):
            for a, z in spans.get(b, []):
                ax.add_patch(Rectangle((a / tdiv, i - 0.45), (z - a) / tdiv, 0.9, fill=False, ec=_MARK, lw=1.6,
                                       label="saturated" if not ax.patches else None))
    # one colour scale for both maps, beside the episode track too, so that every panel has one width
    cb = fig.colorbar(mesh, ax=fig.axes, pad=0.01, fraction=0.04, aspect=35, label="% of bin")
    cb.set_ticks([0, 0.25, 0.5, 0.75, 1.0], labels=["0%", "25%", "50%", "75%", "100%"])
    if spans:
        ax_b.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize="small", frameon=False,
                    borderaxespad=0.2)
    ax_b.set_xlim(0, edges[-1])
    ax_s.set_xlabel(f"time ({tunit})")
    return _finish(fig, path)


# --------------------------------------------------------------------------------------------
# FIFO occupancy
# --------------------------------------------------------------------------------------------

def fifo_occupancy(result: Result, report=None, *, path=None):
    """One panel per block in the order events flow: the time-weighted mean FIFO occupancy per bin
    (slots, linear scale from 0 to the FIFO depth, drawn dashed), so that a full FIFO reads as
    full; saturated spans of the diagnosis shaded."""
    blocks = _flow_order(result)
    fig = _figure(10, 1.1 + 1.3 * max(len(blocks), 1))
    if not blocks:
        _empty(fig.add_subplot(), "no block was used")
        return _finish(fig, path)
    report = _as_dict(report)
    fifo, width = _rebin(result.series["fifo_area"], result.bin_ns)
    tdiv, tunit = _time_unit(len(fifo) * width)
    edges = np.arange(len(fifo) + 1) * width / tdiv
    axes = fig.subplots(len(blocks), 1, sharex=True, squeeze=False)[:, 0]
    fig.suptitle(f"Mean FIFO occupancy per {_fmt_ns(width)} bin (slots); dashed: the FIFO's depth")
    for i, (ax, b) in enumerate(zip(axes, blocks)):
        occ = fifo[:, b] / width
        depth = _fifo_depth(result, b)
        _shade_saturated(ax, report, tdiv, label=i == 0)
        _steps(ax, edges, occ, color=_FIFO_COLOR, fill=True, alpha=0.3)
        _steps(ax, edges, occ, color=_FIFO_COLOR, lw=1.2, label="mean occupancy" if i == 0 else None)
        if depth:
            ax.axhline(depth, color="k", ls="--", lw=1, label="FIFO depth" if i == 0 else None)
        top = max(float(depth or 0), float(occ.max(initial=0.0)), 1.0)
        ax.set_ylim(0, top * 1.12)
        ax.set_ylabel("slots")
        ax.grid(alpha=0.3)
        row = result.stats[b]
        depth_txt = f" of {depth}" if depth else ""
        ax.set_title(f"{_row_label(b, report)}: at most {int(row['fifo_max'])}{depth_txt} slots taken, "
                     f"{float(row['fifo_mean']):.3g} on average", fontsize="medium", loc="left")
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncols=len(names), fontsize="small")
    axes[-1].set_xlim(0, edges[-1])
    axes[-1].set_xlabel(f"time ({tunit})")
    return _finish(fig, path)


# --------------------------------------------------------------------------------------------
# input lag over time
# --------------------------------------------------------------------------------------------

def input_lag(result: Result, report=None, *, path=None, max_points: int = MAX_LAG_POINTS):
    """The input lag (SPEC T1) of each input against its timestamp: one dot per input, or, above
    `max_points` inputs sent, the maximum and 99th percentile per time bin. The unloaded lag (the
    smallest) is drawn dashed, inputs a congestion balancer dropped as ticks on the time axis, and
    the diagnosis's saturated spans shaded."""
    lag = np.asarray(result.lag_ns)
    t = np.asarray(result.input_t_ns)
    sent = lag >= 0
    fig = _figure(10, 3.8)
    ax = fig.add_subplot()
    ax.set_title(f"Input lag over time ({int(sent.sum()):,} inputs sent, {int((~sent).sum()):,} not sent)")
    if not sent.any():
        _empty(ax, "no input event was sent")
        return _finish(fig, path)
    report = _as_dict(report)
    tdiv, tunit = _time_unit(max(int(t.max()), int(result.t_end_ns), 1))
    ls, ts = lag[sent], t[sent]
    peak = int(ls.max())
    ldiv, lunit = (1e3, "µs") if peak < 20_000 else (1e6, "ms")
    _shade_saturated(ax, report, tdiv)
    if len(ls) <= max_points:
        ax.plot(ts / tdiv, ls / ldiv, ls="none", marker=".", ms=2.5, color=_BUSY_COLOR, rasterized=True,
                label="lag of an input")
    else:
        bin_ns = max(int(result.bin_ns), _nice_bin_ns(float(t.max() + 1), 1000))
        k = ts // bin_ns
        cuts = np.flatnonzero(np.diff(k)) + 1
        firsts = np.concatenate([[0], cuts])
        groups = np.split(ls, cuts)
        edges = np.arange(int(k[-1]) + 2) * bin_ns / tdiv
        top = np.zeros(len(edges) - 1)
        p99 = np.zeros(len(edges) - 1)
        where = k[firsts]
        top[where] = [g.max() for g in groups]
        p99[where] = [np.percentile(g, 99, method="inverted_cdf") for g in groups]
        _steps(ax, edges, top / ldiv, color=_BUSY_COLOR, fill=True, alpha=0.35, lw=0,
               label=f"maximum per {_fmt_ns(bin_ns)} bin")
        _steps(ax, edges, p99 / ldiv, color=_FIFO_COLOR, lw=1.2, label=f"99th percentile per {_fmt_ns(bin_ns)} bin")
    ax.axhline(ls.min() / ldiv, color="k", ls="--", lw=1, label=f"unloaded lag ({_fmt_ns(int(ls.min()))})")
    dropped = t[lag == -1]
    if len(dropped):
        from matplotlib.transforms import blended_transform_factory
        trans = blended_transform_factory(ax.transData, ax.transAxes)
        ax.plot(dropped / tdiv, np.zeros(len(dropped)), ls="none", marker="|", ms=8, color="0.35", transform=trans,
                clip_on=False, rasterized=True, label=f"not sent ({len(dropped):,})")
    ax.set_ylim(0, peak / ldiv * 1.08 if peak else 1)
    ax.set_xlim(0, max(int(t.max()), int(result.t_end_ns)) / tdiv)
    ax.set_xlabel(f"input timestamp ({tunit})")
    ax.set_ylabel(f"lag ({lunit})")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize="small")
    return _finish(fig, path)


# --------------------------------------------------------------------------------------------
# the DVS view during the worst stall
# --------------------------------------------------------------------------------------------

def _frames_start_ns(result: Result, report: Optional[dict], frame_ns: int, n_frames: int) -> tuple[int, str]:
    """Where the strip starts (a whole number of frames), and why: one frame before the worst
    stall episode, or around the input with the largest lag when there is none."""
    cause = (report or {}).get("cause")
    if cause:
        t = int(cause["t0_ns"]) - frame_ns
        why = f"the worst stall ({cause['root_label']} saturated from {_fmt_ns(int(cause['t0_ns']))})"
    else:
        lag = np.asarray(result.lag_ns)
        if not len(lag) or not (lag >= 0).any():
            return 0, "the start of the run"
        t = int(result.input_t_ns[int(np.argmax(lag))]) - (n_frames // 2) * frame_ns
        why = "the largest input lag" + (" (no block was saturated)" if report is not None else "")
    return max(0, t // frame_ns * frame_ns), why


def dvs_frames(result: Result, report=None, events=None, *, frame_us: int = 1000, n_frames: int = 8,
               t0_us: Optional[int] = None, path=None):
    """The DVS view accumulated in frames of `frame_us` µs, a strip of `n_frames`, from one frame
    before the worst stall episode of the diagnosis (or `t0_us`).

    Drawn from the run's DVS-layer monitor output (layer `dvs_layer_id`, by the time each event
    reached the host, as a viewer on the host shows it) when the run has any, and from the input
    `events` (DVS_EVENT or SPIKE_EVENT, t in µs, by timestamp) when given: with both, one strip
    above the other, so that what the stall did to the view shows against what the camera saw.
    Colour: events per pixel, square-root scale, one scale for every frame.
    """
    from matplotlib.colors import PowerNorm
    if frame_us < 1 or n_frames < 1:
        raise ValueError(f"frame_us and n_frames must be at least 1, got {frame_us} and {n_frames}")
    report = _as_dict(report)
    frame_ns = int(frame_us) * 1000
    if t0_us is None:
        start, why = _frames_start_ns(result, report, frame_ns, n_frames)
    else:
        start, why = int(t0_us) * 1000, f"t = {_fmt_ns(int(t0_us) * 1000)}"
    stop = start + n_frames * frame_ns
    strips = []
    dvs_id = result.chip_parameter("dvs_layer_id")
    out = result.outputs
    if dvs_id is not None and len(out):
        mon = out[out["layer"] == int(dvs_id)]
        if len(mon):
            _, h, w = _layer_geometry(result, int(dvs_id), mon)
            sel = mon[(mon["t_ns"] >= start) & (mon["t_ns"] < stop)]
            strips.append((f"DVS monitor output (layer {dvs_id}), by the time it reached the host",
                           sel["t_ns"].astype(np.int64), sel["x"], sel["y"], h, w))
    if events is not None:
        ev = np.asarray(events)
        names = ev.dtype.names or ()
        if not {"t", "x", "y"} <= set(names):
            raise ValueError(f"events need t (µs), x and y fields, got {list(names) or 'none'}")
        sel = ev[(ev["t"] >= start // 1000) & (ev["t"] < -(-stop // 1000))]
        size = int(result.chip_parameter("dvs_size") or 128)
        h = max(size, int(ev["y"].max()) + 1 if len(ev) else 0)
        w = max(size, int(ev["x"].max()) + 1 if len(ev) else 0)
        what = "input spikes" if "layer" in names else "input events"
        strips.append((f"{what}, by timestamp", sel["t"].astype(np.int64) * 1000, sel["x"], sel["y"], h, w))
    fig = _figure(1.55 * n_frames + 0.9, 0.5 + 2.2 * max(len(strips), 1))
    fig.suptitle(f"DVS view in {_fmt_ns(frame_ns)} frames around {why}")
    if not strips:
        _empty(fig.add_subplot(), "no DVS monitor output in the run and no input events given")
        return _finish(fig, path)
    images = []
    for _, tt, x, y, h, w in strips:
        k = (tt - start) // frame_ns
        idx = (k * h + y.astype(np.int64)) * w + x.astype(np.int64)
        images.append(np.bincount(idx, minlength=n_frames * h * w)[:n_frames * h * w].reshape(n_frames, h, w))
    # one scale for every frame of every strip: a frame that looks brighter had more events
    norm = PowerNorm(0.5, vmin=0, vmax=max(max(int(im.max()) for im in images), 1))
    tdiv, tunit = _time_unit(stop)
    subfigs = fig.subfigures(len(strips), 1, squeeze=False)[:, 0]
    for sub, (title, *_), img in zip(subfigs, strips, images):
        sub.suptitle(title, x=0.01, ha="left", fontsize="medium")
        axes = sub.subplots(1, n_frames, squeeze=False)[0]
        for j, ax in enumerate(axes):
            mesh = ax.imshow(img[j], origin="upper", cmap="magma", norm=norm, interpolation="nearest")
            a, b = (start + j * frame_ns) / tdiv, (start + (j + 1) * frame_ns) / tdiv
            ax.set_title(f"{a:g}–{b:g} {tunit}\n{int(img[j].sum()):,} events", fontsize="small")
            ax.set_xticks([])
            ax.set_yticks([])
        sub.colorbar(mesh, ax=axes.tolist(), shrink=0.85, pad=0.01, label="events per pixel")
    return _finish(fig, path)


__all__ = ["utilisation_map", "fifo_occupancy", "input_lag", "dvs_frames", "MAX_LAG_POINTS"]
