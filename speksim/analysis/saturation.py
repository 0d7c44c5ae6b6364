"""Saturation over sliding windows: per block, the windows where it could not keep up, and the
episodes they make, each with its root block, the blocks it back-pressured and starved, the input
lag and the input burst that set it off. `speksim.analysis.stalls.diagnose` puts them in a report;
the rules are in that module's docstring and in docs/stalls.md."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..blocks import BLOCK_NAMES, DVS, HOST_OUT, N_CORES, READOUT, block_label
from .preflight import offered_busy_ns

#: A block is saturated in a window when busy at least this fraction of it...
SATURATED = 0.95
#: ...and at least this fraction of that busy time is its own work (not stalled by a block after it).
OWN_WORK = 0.5
#: A block upstream counts as back-pressured from the first bin it stalls at least this fraction of.
BACK_PRESSURE = 0.1
#: A core downstream counts as starved when it received less than this fraction of what it is offered.
STARVED = 0.8
#: Pseudo block id of the input link (it has no row in the statistics).
LINK = -1


# --------------------------------------------------------------------------------------------
# The graph of blocks
# --------------------------------------------------------------------------------------------

def block_edges(config) -> dict:
    """{sender: [targets]} among the cores, the DVS layer, readout and host output (the input
    link sends to the DVS layer or to the cores it writes to)."""
    edges = {DVS: [d.layer for d in config.dvs_layer.destinations if d.enable]}
    for k in config.used_cores():
        layer = config.cnn_layers[k]
        out = [d.layer if d.layer < N_CORES else READOUT for d in layer.destinations if d.enable]
        if layer.monitor_enable:
            out.append(HOST_OUT)
        edges[k] = out
    if config.dvs_layer.monitor_enable:
        edges[DVS].append(HOST_OUT)
    return edges


def feeders(config, block: int) -> list:
    """The blocks sending straight to `block`."""
    return sorted(s for s, ts in block_edges(config).items() if block in ts)


def _reach(edges: dict, start: int) -> set:
    seen, todo = set(), [start]
    while todo:
        for t in edges.get(todo.pop(), []):
            if t not in seen:
                seen.add(t)
                todo.append(t)
    seen.discard(start)
    return seen


def upstream(config, block: int) -> set:
    """Every block whose events can reach `block`."""
    rev = {}
    for s, ts in block_edges(config).items():
        for t in ts:
            rev.setdefault(t, []).append(s)
    return _reach(rev, block)


def downstream(config, block: int) -> set:
    """Every block `block`'s events can reach."""
    return _reach(block_edges(config), block)


def layer_names(config) -> dict:
    """{core: the model layer's name} when an importer made the configuration."""
    return {layer.get("core"): layer.get("name") for layer in (config.model or {}).get("layers", [])}


# --------------------------------------------------------------------------------------------
# Series over sliding windows
# --------------------------------------------------------------------------------------------

def window_sums(x: np.ndarray, m: int) -> np.ndarray:
    """Sums of `m` consecutive bins along axis 0, one per start bin: [n - m + 1, ...] (one sum of
    everything when there are fewer than m bins)."""
    x = np.asarray(x, np.int64)
    if len(x) <= m:
        return x.sum(axis=0, keepdims=True)
    c = np.concatenate([np.zeros((1,) + x.shape[1:], np.int64), np.cumsum(x, axis=0)])
    return c[m:] - c[:-m]


def runs(mask: np.ndarray, gap: int = 0) -> list:
    """[(first, end)] index ranges of the runs of True in `mask`, joining runs separated by at most
    `gap` False entries."""
    idx = np.flatnonzero(mask)
    if not len(idx):
        return []
    breaks = np.flatnonzero(np.diff(idx) > gap + 1)
    starts = np.concatenate([[idx[0]], idx[breaks + 1]])
    ends = np.concatenate([idx[breaks], [idx[-1]]]) + 1
    return [(int(a), int(b)) for a, b in zip(starts, ends)]


@dataclass
class BlockSeries:
    """A run's series over some blocks, each int64 [n_bins, n_blocks] with columns in the order of
    `blocks`; the input link (LINK) comes first, busy for its period per input it sent."""

    blocks: list          # block ids, LINK first
    busy: np.ndarray      # int64 [n_bins, n_blocks]
    stall: np.ndarray
    synops: np.ndarray
    fifo: np.ndarray
    bin_ns: int
    m: int                # bins per window

    def col(self, block: int) -> int:
        return self.blocks.index(block)

    def saturated(self) -> np.ndarray:
        """bool [n_windows, n_blocks]."""
        w = self.m * self.bin_ns
        busy, stall = window_sums(self.busy, self.m), window_sums(self.stall, self.m)
        return (busy >= SATURATED * w) & (busy - stall >= OWN_WORK * busy)


def link_timing(chip, options) -> tuple:
    """(time between starts, transfer latency) of the input link the run used (SPEC T1)."""
    if options.input_path == "sensor":
        return chip.sensor_ns, chip.sensor_latency_ns
    return chip.host_in_ns, chip.host_in_latency_ns


def block_series(result, blocks, chip, options, m) -> BlockSeries:
    """The series of `blocks` (LINK included) of `result`, for windows of `m` bins."""
    s = result.series
    n = len(s["busy_ns"])
    cols = [b for b in blocks if b != LINK]
    link = np.zeros((n, 1), np.int64)
    lag = np.asarray(result.lag_ns)
    if len(lag):
        period, latency = link_timing(chip, options)
        sent = lag >= 0
        start = (np.asarray(result.input_t_ns)[sent] + lag[sent] - latency) // result.bin_ns
        link[:, 0] = np.bincount(np.clip(start, 0, n - 1), minlength=n)[:n] * period
    z = np.zeros((n, 1), np.int64)

    def pick(name):
        return np.asarray(s[name])[:, cols].astype(np.int64)

    return BlockSeries([LINK] + cols, np.hstack([link, pick("busy_ns")]), np.hstack([z, pick("stall_ns")]),
                       np.hstack([z, pick("synops")]), np.hstack([z, pick("fifo_area")]), int(result.bin_ns), m)


def offered_load(fp, ser: BlockSeries, chip, config) -> dict:
    """{block: int64 [n_bins] busy time the input offers it, at the block's real speed, from the
    functional pass `fp`; "synops": {core: int64 [n_bins] SynOps offered}}, in the bins of `ser`."""
    n = len(ser.busy)
    per_event = {DVS: chip.dvs_event_ns, READOUT: chip.readout_event_ns, HOST_OUT: chip.host_out_ns}
    out = {}
    for b in ser.blocks:
        if b == LINK:
            continue
        out[b] = _fit(offered_busy_ns(fp, chip, b) if b < N_CORES else fp.series["busy_ns"][:, b] * per_event[b], n)
    out["synops"] = {b: _fit(fp.series["synops"][:, b], n) for b in ser.blocks if 0 <= b < N_CORES}
    return out


def _link_offered(result, n, period):
    t = np.asarray(result.input_t_ns)
    if not len(t):
        return None
    return np.bincount(np.clip(t // result.bin_ns, 0, n - 1), minlength=n)[:n].astype(np.int64) * period


def _fit(x, n):
    y = np.zeros(n, np.int64)
    y[:min(n, len(x))] = x[:n]
    return y


def _depth(chip, b):
    if b < N_CORES:
        return int(chip.fifo_depth[b])
    return {DVS: chip.dvs_fifo_depth, READOUT: chip.readout_fifo_depth, HOST_OUT: chip.host_out_fifo_depth}.get(b)


def block_rows(result, ser: BlockSeries, sat, offered, chip, config, link_period: int) -> list:
    """One dict per block of `ser`: load offered and served, saturated windows, stalls, FIFO and
    drops (see StallReport)."""
    rows = []
    w = ser.m * ser.bin_ns
    names = layer_names(config)
    busy_w, syn_w = window_sums(ser.busy, ser.m), window_sums(ser.synops, ser.m)
    starts = np.arange(len(busy_w), dtype=np.int64) * ser.bin_ns
    t_end = max(int(result.t_end_ns), 1)
    for i, b in enumerate(ser.blocks):
        row = {"block": b, "name": "link" if b == LINK else BLOCK_NAMES[b],
               "label": "input link" if b == LINK else block_label(b), "layer": names.get(b)}
        core = 0 <= b < N_CORES
        row["capacity_synops_per_s"] = 1e9 / chip.synop_ns[b] if core else None
        row["synops"] = int(ser.synops[:, i].sum())
        row["peak_synops_per_s"] = float(syn_w[:, i].max()) * 1e9 / w if core else None
        row["busy_fraction"] = float(ser.busy[:, i].sum()) / t_end
        j = int(np.argmax(busy_w[:, i]))
        row["peak_busy"], row["peak_busy_at_ns"] = float(busy_w[j, i]) / w, int(starts[j])
        row["peak_offered_busy"] = row["peak_offered_at_ns"] = row["peak_offered_synops_per_s"] = None
        load = offered.get(b) if offered is not None else None
        if b == LINK:
            # what the link is offered is known without a functional pass: the inputs' timestamps
            load = _link_offered(result, len(ser.busy), link_period)
        if load is not None:
            ow = window_sums(load, ser.m)
            j = int(np.argmax(ow))
            row["peak_offered_busy"], row["peak_offered_at_ns"] = float(ow[j]) / w, int(j * ser.bin_ns)
            if core:
                row["peak_offered_synops_per_s"] = float(window_sums(offered["synops"][b], ser.m).max()) * 1e9 / w
        spans = [(a * ser.bin_ns, min((e - 1) * ser.bin_ns + w, t_end)) for a, e in runs(sat[:, i])]
        row["saturated"] = [[int(a), int(e)] for a, e in spans]
        row["saturated_ns"] = int(sum(e - a for a, e in spans))
        row["stall_ns"] = int(ser.stall[:, i].sum())
        longest = max(runs(ser.stall[:, i] > 0), key=lambda r: (r[1] - r[0], -r[0]), default=None)
        row["longest_stall"] = None if longest is None else {
            "t0_ns": longest[0] * ser.bin_ns, "t1_ns": min(longest[1] * ser.bin_ns, t_end),
            "stall_ns": int(ser.stall[longest[0]:longest[1], i].sum())}
        if b == LINK:
            row.update(fifo_depth=None, fifo_max=None, peak_fifo_mean=None, peak_fifo_at_ns=None, drops={})
        else:
            st = result.stats[b]
            k = int(np.argmax(ser.fifo[:, i]))
            row.update(fifo_depth=_depth(chip, b), fifo_max=int(st["fifo_max"]),
                       peak_fifo_mean=float(ser.fifo[k, i]) / ser.bin_ns, peak_fifo_at_ns=k * ser.bin_ns,
                       drops={"congestion": int(st["congestion_dropped"]), "decimated": int(st["decimated"]),
                              "out_of_range": int(st["dropped_out_of_range"]),
                              "dvs_filtered": int(st["dvs_filtered"])})
        rows.append(row)
    return rows


def lag_threshold(chip, options, window_ns: int) -> int:
    """How far beyond its unloaded value the input lag must grow to count as the link waiting:
    a hundredth of the window, or ten link periods if more."""
    return max(window_ns // 100, 10 * link_timing(chip, options)[0])


def lag_summary(result, chip, options, window_ns) -> Optional[dict]:
    """The input lag over the run (ns): unloaded (the smallest), median, 99th percentile and peak
    (with that input's index and time) of the inputs sent; how many a balancer dropped and how
    many were never sent; None when the result kept no lags."""
    lag = np.asarray(result.lag_ns)
    if not len(lag):
        return None
    sent = lag >= 0
    out = {"inputs": len(lag), "dropped": int((lag == -1).sum()) - int(result.unsent), "unsent": int(result.unsent),
           "excess_threshold_ns": lag_threshold(chip, options, window_ns)}
    if sent.any():
        ls = lag[sent]
        i = int(np.flatnonzero(sent)[np.argmax(ls)])
        out.update(unloaded_ns=int(ls.min()), peak_ns=int(lag[i]), peak_input=i,
                   peak_t_ns=int(result.input_t_ns[i]), p50_ns=int(np.percentile(ls, 50)),
                   p99_ns=int(np.percentile(ls, 99)))
    return out


def episodes(ser: BlockSeries, sat) -> list:
    """The spans where some block was saturated (windows joined when less than a window apart)."""
    w = ser.m * ser.bin_ns
    t_end = len(ser.busy) * ser.bin_ns
    spans = [(a * ser.bin_ns, min((e - 1) * ser.bin_ns + w, t_end)) for a, e in runs(sat.any(axis=1), gap=ser.m)]
    return [{"t0_ns": int(a), "t1_ns": int(e), "stall_ns": int(ser.stall[a // ser.bin_ns:-(-e // ser.bin_ns)].sum())}
            for a, e in spans]


def describe_episode(e, result, ser, sat, offered, config, chip, options, events, window):
    """Fill in episode `e`: its saturated blocks, root, back-pressured and starved blocks, lag,
    input burst, and the timeline of them all."""
    bn = ser.bin_ns
    a, z = e["t0_ns"] // bn, -(-e["t1_ns"] // bn)
    names = layer_names(config)
    satd = []
    for i, b in enumerate(ser.blocks):
        hit = np.flatnonzero(sat[a:z, i]) if a < len(sat) else []
        if len(hit):
            first, last = a + int(hit[0]), a + int(hit[-1])
            satd.append({"block": b, "label": _label(b, names), "from_ns": first * bn,
                         "to_ns": min(last * bn + window, e["t1_ns"])})
    # the root saturated first; at the same time, the one furthest downstream (the others feed it)
    satd.sort(key=lambda s: (s["from_ns"], -len(upstream(config, s["block"])) if s["block"] != LINK else 0))
    root = satd[0]["block"]
    e.update(root=root, root_label=satd[0]["label"], saturated=satd)
    lo = max(0, a - ser.m)
    up = sorted(upstream(config, root)) if root != LINK else []
    bp = []
    # onsets are looked for from the root's saturation on: a stall before it, while the root was
    # only briefly full, is the same back-pressure starting, and the timeline reads cause first
    since = satd[0]["from_ns"] // bn
    for b in up:
        if b not in ser.blocks:
            continue
        i = ser.col(b)
        hit = np.flatnonzero(ser.stall[since:z, i] >= BACK_PRESSURE * bn)
        if len(hit):
            bp.append({"block": b, "label": _label(b, names), "from_ns": (since + int(hit[0])) * bn,
                       "stall_ns": int(ser.stall[a:z, i].sum())})
    lag = _episode_lag(e, result, chip, options, window, satd[0]["from_ns"])
    e.update(lag)
    if root != LINK and lag.get("link_from_ns") is not None:
        bp.append({"block": LINK, "label": "input link", "from_ns": lag["link_from_ns"], "stall_ns": None})
    e["back_pressured"] = sorted(bp, key=lambda r: (r["from_ns"], r["block"] == LINK))
    e["starved"] = None if offered is None else _starved(e, ser, offered, config, root, names)
    e["offered_peak"] = e["offered_peak_bin"] = None
    if offered is not None and root in offered and z > lo:
        e["offered_peak"] = float(window_sums(offered[root][lo:z], ser.m).max()) / window
        e["offered_peak_bin"] = float(offered[root][lo:z].max()) / bn
    e["burst"] = _burst(e, result, ser, offered, events, root, window)
    timeline = [{"t_ns": s["from_ns"], "block": s["block"], "label": s["label"], "what": "saturated"} for s in satd]
    timeline += [{"t_ns": r["from_ns"], "block": r["block"], "label": r["label"], "what": "back-pressured"}
                 for r in e["back_pressured"]]
    timeline += [{"t_ns": r["from_ns"], "block": r["block"], "label": r["label"], "what": "starved"}
                 for r in e["starved"] or [] if r["from_ns"] is not None]
    e["timeline"] = sorted(timeline, key=lambda r: r["t_ns"])


def _label(b, names):
    if b == LINK:
        return "input link"
    name = names.get(b)
    return f"{block_label(b)} (layer {name})" if name else block_label(b)


def _episode_lag(e, result, chip, options, window, sat_from) -> dict:
    """Input lag over the episode, by the time each input was sent: peak, growth while the root
    was saturated, when the link started waiting and when the lag came back down."""
    out = {"peak_lag_ns": None, "peak_lag_input_t_ns": None, "lag_growth": None, "link_from_ns": None,
           "lag_recovered_ns": None}
    lag = np.asarray(result.lag_ns)
    if not len(lag):
        return out
    period, latency = link_timing(chip, options)
    t_in = np.asarray(result.input_t_ns)
    sent = lag >= 0
    send = np.where(sent, t_in + lag - latency, -1)
    ok = sent & (send >= e["t0_ns"]) & (send < e["t1_ns"])
    if not ok.any():
        return out
    idx = np.flatnonzero(ok)
    base = int(lag[sent].min())
    thr = lag_threshold(chip, options, window)
    p = idx[int(np.argmax(lag[idx]))]
    out.update(peak_lag_ns=int(lag[p]), peak_lag_input_t_ns=int(t_in[p]))
    grow = idx[send[idx] >= sat_from]
    if len(grow) and send[p] > send[grow[0]]:
        out["lag_growth"] = float(lag[p] - lag[grow[0]]) / float(send[p] - send[grow[0]])
    waiting = idx[lag[idx] - base >= thr]
    if len(waiting):
        out["link_from_ns"] = int(send[waiting[0]])
    after = np.flatnonzero(sent & (send > send[p]) & (lag - base < thr))
    if len(after):
        out["lag_recovered_ns"] = int(send[after[0]])
    return out


def _starved(e, ser, offered, config, root, names) -> list:
    """The cores after the root whose running total of SynOps since the episode began fell below
    STARVED of what the input offered them (the functional pass's): when it first did, and the
    lowest fraction it reached. Bins before 1% of the episode's offer are skipped: a ratio of a
    few events says nothing."""
    bn = ser.bin_ns
    a, z = e["t0_ns"] // bn, -(-e["t1_ns"] // bn)
    out = []
    for b in sorted(downstream(config, root)) if root != LINK else []:
        if not 0 <= b < N_CORES or b not in offered["synops"]:
            continue
        got = np.cumsum(ser.synops[a:z, ser.col(b)]).astype(np.float64)
        off = np.cumsum(offered["synops"][b][a:z]).astype(np.float64)
        if not len(off) or off[-1] <= 0:
            continue
        judged = off >= 0.01 * off[-1]
        ratio = np.where(judged, got / np.maximum(off, 1), np.inf)
        behind = np.flatnonzero(ratio < STARVED)
        if len(behind):
            k = int(np.argmin(ratio))
            out.append({"block": b, "label": _label(b, names), "received_fraction": float(ratio[k]),
                        "lowest_at_ns": (a + k + 1) * bn, "from_ns": (a + int(behind[0])) * bn})
    return out


def _burst(e, result, ser, offered, events, root, window) -> Optional[dict]:
    """The input burst that set the episode off. With the functional pass: among the windows
    starting from one window before the episode, the first run (gaps shorter than a window
    bridged) of those in which the input offered the root more than it can serve, trimmed to its
    first and last bin over capacity. Without it:
    the first run of bins where the input rate was at least half its peak there."""
    bn, m = ser.bin_ns, ser.m
    lo, hi = max(0, (e["t0_ns"] - window) // bn), -(-e["t1_ns"] // bn)
    t_in = np.asarray(result.input_t_ns)
    n = len(ser.busy)
    counts = np.bincount(np.clip(t_in // bn, 0, n - 1), minlength=n)[:n] if len(t_in) else np.zeros(n, np.int64)
    span = None
    if offered is not None and root in offered:
        load = offered[root]
        wl = window_sums(load, m)[lo:hi]
        over = wl >= window if (wl >= window).any() else wl >= 0.9 * wl.max(initial=0)
        found = runs(over, gap=m) if wl.max(initial=0) > 0 else []
        if found:
            a, b = lo + found[0][0], min(lo + found[0][1] - 1 + m, n)
            hot = np.flatnonzero(load[a:b] >= bn)
            span = (a + int(hot[0]), a + int(hot[-1]) + 1) if len(hot) else (a, b)
        how = "input offered the root more than it serves"
    else:
        c = counts[lo:hi]
        found = runs(c >= 0.5 * c.max(), gap=max(1, m // 5)) if c.max(initial=0) > 0 else []
        span = (lo + found[0][0], lo + found[0][1]) if found else None
        how = "input rate at least half its peak (no functional pass)"
    if span is None:
        return None
    t0, t1 = span[0] * bn, span[1] * bn
    n_ev = int(counts[span[0]:span[1]].sum())
    duration = max(len(t_in) and int(t_in[-1]) - int(t_in[0]), 1)
    out = {"t0_ns": int(t0), "t1_ns": int(t1), "events": n_ev, "rate_per_s": n_ev * 1e9 / (t1 - t0),
           "rate_vs_mean": (n_ev / (t1 - t0)) / (len(t_in) / duration) if len(t_in) else None, "how": how,
           "region": None, "polarity": None, "cores": None}
    if events is not None:
        sel = events[(events["t"] >= t0 // 1000) & (events["t"] < -(-t1 // 1000))]
        if len(sel):
            x, y = sel["x"].astype(np.float64), sel["y"].astype(np.float64)
            box = [int(np.floor(np.percentile(v, q))) for v in (x, y) for q in (5, 95)]
            out["region"] = {"x0": box[0], "x1": box[1], "y0": box[2], "y1": box[3],
                             "centroid_x": float(x.mean()), "centroid_y": float(y.mean()), "box_share": 0.9}
            if "p" in sel.dtype.names:
                on = int(sel["p"].sum())
                out["polarity"] = {"on": on, "off": len(sel) - on, "on_fraction": on / len(sel)}
            else:
                ks, cs = np.unique(sel["layer"], return_counts=True)
                out["cores"] = {int(k): int(c) for k, c in zip(ks, cs)}
    return out


__all__ = ["SATURATED", "OWN_WORK", "BACK_PRESSURE", "STARVED", "LINK", "block_edges", "feeders", "upstream",
           "downstream", "layer_names", "window_sums", "runs", "BlockSeries", "block_series", "link_timing",
           "lag_threshold", "offered_load", "block_rows", "lag_summary", "episodes", "describe_episode"]
