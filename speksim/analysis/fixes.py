"""Fixes for a stall, each checked by re-simulating the stalled window with the change, and the
explanation of a deadlock.

The window re-simulated is the worst episode's input, from one window before it (when the chip
was not yet saturated, so its queues held little) to its end, at most `MAX_WINDOW_NS` long. It
starts from the neuron states the functional pass had reached there, so the network's activity
is the run's, not that of a chip starting from rest (with all-zero states a network of
integrate-and-fire neurons needs hundreds of milliseconds of input before it fires as it did in
the run); the queues start empty. The baseline is the unchanged configuration re-simulated the
same way, and every fix is measured against it: the peak load the input offers (functional pass
of the window), the stall time of all blocks, the peak input lag, and what the fix drops.

Changes the user must retrain the model for are checked as close to the trained model as the
change allows. Fewer output channels: the layer keeps its first channels and their trained
weights, and the layers after it are left as they are (they receive fewer channels); what the
core saves is exact, SynOps per event being proportional to its channels (SPEC F2). A larger
stride changes the layer's output map and so the next layer's input: it is checked with the
same network on a chip whose SynOp on that core is faster in proportion to the SynOps the stride
saves (the average over the core's input positions of the kernel offsets that stay valid), so the
core spends on each event the time the changed layer would while its spikes, and the load of the
cores after it, stay those of the trained layer.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ..blocks import DVS, HOST_OUT, N_CORES, N_QUEUED, block_label
from ..config import CnnLayerDestination, conv_out
from ..errors import ConfigError, DeadlockError, ModelError
from .preflight import functional_pass
from .saturation import (LINK, block_series, feeders, lag_threshold, link_timing, runs, upstream,
                         window_sums)

#: The longest stretch of input re-simulated for each fix.
MAX_WINDOW_NS = 1_000_000_000
#: The load a fix aims for on the saturated core, as a fraction of its capacity.
TARGET = 0.8
#: A fix resolves the stall when it leaves at most this fraction of the baseline's stall time...
RESOLVED_STALL = 0.05


@dataclass
class Candidate:
    """One change to check: the configuration, chip and starting states it runs with."""

    kind: str
    title: str
    change: dict
    config: object
    chip: object
    states: Optional[dict]
    core: int                      # where the saturated block's work is done in this candidate
    retrain: bool = False          # a model change: the user must retrain
    same_offered: bool = False     # the functional pass is the baseline's (only timing changes)
    note: str = ""
    saves_synops: Optional[int] = None
    extra: dict = field(default_factory=dict)


def window_bounds(episode, window_ns, bin_ns, chip, options, config) -> tuple:
    """(first, end) input times in ns of the stretch re-simulated for `episode`: from a window
    before it to its end, at most MAX_WINDOW_NS, starting on a multiple of the bin, of the µs and
    of the slow-clock period when a core leaks (so bins and ticks fall as in the run)."""
    from ..config import tick_period_ns
    step = math.lcm(1000, int(bin_ns))
    if any(config.cnn_layers[k].leak_enable for k in config.used_cores()):
        step = math.lcm(step, max(tick_period_ns(options.slow_clock_hz), 1))
    t0 = max(0, episode["t0_ns"] - window_ns) // step * step
    return t0, min(episode["t1_ns"], t0 + MAX_WINDOW_NS)


def _resim_options(options, bin_ns):
    return dataclasses.replace(options, end_ns=None, bin_ns=int(bin_ns))


def _simulate(config, chip, options, events, states):
    from ..simulation import Simulation
    return Simulation(config, chip, options, initial_states=states or None).run(events)


def _measure(res, chip, options, m, core, t0_ns) -> dict:
    """What a re-simulation gave: stall of all blocks, input lag, saturated time, drops."""
    st = res.stats
    lag = np.asarray(res.lag_ns)
    sent = lag[lag >= 0]
    ser = block_series(res, [LINK] + res.active_blocks(), chip, options, m)
    sat = ser.saturated()
    w = m * ser.bin_ns
    spans = runs(sat.any(axis=1))
    busy = window_sums(ser.busy[:, ser.col(core)], m) if core in ser.blocks else np.zeros(1, np.int64)
    return {"stall_ns": int(st["stall_ns"][:N_QUEUED].sum()),
            "peak_lag_ns": int(sent.max()) if len(sent) else None,
            "p99_lag_ns": int(np.percentile(sent, 99)) if len(sent) else None,
            "saturated_ns": int(sum(min((b - 1) * ser.bin_ns + w, len(ser.busy) * ser.bin_ns) - a * ser.bin_ns
                                    for a, b in spans)),
            "peak_busy": float(busy.max()) / w,
            "congestion_dropped": int(st["congestion_dropped"].sum()), "decimated": int(st["decimated"].sum()),
            "dvs_filtered": int(st["dvs_filtered"][DVS]), "inputs": len(lag),
            "synops": int(st["synops"][:N_CORES].sum()), "deadlock": None, "t0_ns": int(t0_ns),
            "saturated": [b for i, b in enumerate(ser.blocks) if sat[:, i].any()],
            "busiest": _busiest(ser)}


def _busiest(ser) -> dict:
    """The block with the most own work (busy, not stalled) in a single bin, and that fraction."""
    own = (ser.busy - ser.stall)[:, 1:]
    if not own.size:
        return {"block": None, "busy_bin": 0.0}
    i, j = np.unravel_index(int(np.argmax(own)), own.shape)
    return {"block": int(ser.blocks[1 + j]), "busy_bin": float(own[i, j]) / ser.bin_ns}


def _peak_offered(fp, chip, core, m) -> float:
    from .preflight import offered_busy_ns
    w = m * fp.bin_ns
    if core == DVS:
        x = fp.series["busy_ns"][:, DVS] * chip.dvs_event_ns
    elif core == HOST_OUT:
        x = fp.series["busy_ns"][:, HOST_OUT] * chip.host_out_ns
    else:
        x = offered_busy_ns(fp, chip, core)
    return float(window_sums(x, m).max()) / w


def verify_fixes(episode, *, config, chip, options, events, states, offered, ser, lag, progress=None):
    """Re-simulate `episode` (a dict from `speksim.analysis.saturation`) without and with each
    candidate fix; returns (fixes best first, fixes not tried with why, the window re-simulated)."""
    bin_ns, m = ser.bin_ns, ser.m
    window = m * bin_ns
    t0, t1 = window_bounds(episode, window, bin_ns, chip, options, config)
    shift_us = t0 // 1000
    sel = events[(events["t"] >= shift_us) & (events["t"] < -(-t1 // 1000))].copy()
    sel["t"] -= shift_us
    opts = _resim_options(options, bin_ns)
    root = episode["root"]
    if progress:
        progress(f"re-simulating {len(sel):,} input events ({(t1 - t0) / 1e6:.1f} ms) without a change")
    base_res = _simulate(config, chip, opts, sel, states)
    work_core = root if root != LINK else DVS
    base = _measure(base_res, chip, opts, m, work_core, t0)
    fp_base = functional_pass(config, chip, sel, opts, bin_ns, initial_states=states or None)
    base["peak_offered"] = _peak_offered(fp_base, chip, work_core, m) if root != LINK else None
    window_info = {"t0_ns": int(t0), "t1_ns": int(t1), "events": len(sel), "baseline": base,
                   "start": "neuron states of the functional pass at the window's start; queues empty"}
    cands, not_tried = _candidates(episode, config, chip, opts, sel, states, fp_base, m)
    thr = lag_threshold(chip, options, window)
    unloaded = (lag or {}).get("unloaded_ns", link_timing(chip, options)[1])
    rows = []
    for cand in cands:
        # a decimator is tried at the ratio the load calls for, and one step stronger if that is not enough
        for attempt in cand.extra.get("attempts", [cand]):
            if progress:
                progress(f"re-simulating with {attempt.title}")
            row = _try(attempt, opts, sel, fp_base, m, base, thr, unloaded, t0)
            if row["resolved"]:
                break
        rows.append(row)
    rows.sort(key=lambda r: (not r["resolved"], r["retrain"], r["loss_fraction"], r["after"]["stall_ns"],
                             r["after"]["peak_lag_ns"] or 0))
    for i, r in enumerate(rows):
        r["rank"] = i + 1
    return rows, not_tried, window_info


def _try(cand: Candidate, opts, sel, fp_base, m, base, thr, unloaded, t0) -> dict:
    row = {"kind": cand.kind, "title": cand.title, "change": cand.change, "retrain": cand.retrain, "note": cand.note,
           "saves_synops": cand.saves_synops, "core": cand.core}
    try:
        res = _simulate(cand.config, cand.chip, opts, sel, cand.states)
        after = _measure(res, cand.chip, opts, m, cand.core, t0)
    except DeadlockError as exc:
        after = {"deadlock": str(exc).splitlines()[0], "stall_ns": base["stall_ns"], "peak_lag_ns": None}
        res = None
    except ConfigError as exc:
        row.update(resolved=False, loss="", loss_fraction=1.0, reduction={},
                   after={"error": str(exc), "stall_ns": base["stall_ns"], "peak_lag_ns": None})
        return row
    if res is not None:
        fp = fp_base if cand.same_offered else functional_pass(cand.config, cand.chip, sel, opts, fp_base.bin_ns,
                                                               initial_states=cand.states or None)
        after["peak_offered"] = _peak_offered(fp, cand.chip, cand.core, m)
    row["after"] = after
    row["loss"], row["loss_fraction"] = _loss(cand, base, after, res)
    lag_ok = after.get("peak_lag_ns") is not None and after["peak_lag_ns"] - unloaded < thr
    row["resolved"] = bool(after.get("deadlock") is None and after["stall_ns"] <= RESOLVED_STALL * base["stall_ns"]
                           and lag_ok)
    row["reduction"] = {k: _less(base.get(k), after.get(k)) for k in ("peak_offered", "stall_ns", "peak_lag_ns",
                                                                        "saturated_ns")}
    return row


def _less(before, after):
    """The fraction by which `after` is below `before` (None when it cannot be said)."""
    if before is None or after is None or before <= 0:
        return None
    return 1.0 - after / before


def _loss(cand, base, after, res):
    """What the fix throws away in the window, in words and as a fraction of what reached the
    point where it acts."""
    if res is None:
        return "", 1.0
    st = res.stats
    if cand.kind == "decimator":
        n = int(after["decimated"] - base["decimated"])
        spikes = int(sum(int(st["spikes"][s]) for s in cand.extra["feeders"]))
        return (f"{n:,} spikes of {', '.join(block_label(s) for s in cand.extra['feeders'])} decimated",
                n / max(spikes, 1))
    if cand.kind == "balancer":
        n = int(after["congestion_dropped"] - base["congestion_dropped"])
        got = int(st["events_in"][cand.core]) + n
        return f"{n:,} events to {block_label(cand.core)} dropped", n / max(got, 1)
    if cand.kind == "crop":
        n = int(after["dvs_filtered"] - base["dvs_filtered"])
        return f"{n:,} camera events cropped out", n / max(after["inputs"], 1)
    if cand.kind == "monitor":
        return "the monitored output of " + block_label(cand.extra["monitor_off"]), 0.0
    return "", 0.0


# --------------------------------------------------------------------------------------------
# Candidates
# --------------------------------------------------------------------------------------------

def _candidates(episode, config, chip, opts, sel, states, fp_base, m):
    root = episode["root"]
    not_tried = []
    if root == LINK:
        period = link_timing(chip, opts)[0]
        not_tried.append({"kind": "input rate", "why": f"the input link itself cannot carry the input (one event per "
                                                       f"{period} ns): lower the rate before the chip"})
        return [], not_tried
    if root == HOST_OUT:
        return _monitor_candidates(config, chip, states, fp_base), not_tried
    if root >= N_CORES:
        not_tried.append({"kind": "input rate", "why": f"{block_label(root)} is the bottleneck; only a lower input "
                                                       "rate helps, which is a change of the recording"})
        return [], not_tried
    cands = []
    # fixes are sized on the busiest bin, not window: a burst shorter than the window that overloads
    # the core within it stalls the chip although the window's average may fit
    load = _peak_offered(fp_base, chip, root, 1)
    for make in (_decimator, _balancer, _channels, _stride, _placement, _crop):
        got = make(root, config, chip, states, fp_base, m, load, episode, not_tried)
        if got is not None:
            cands.append(got)
    not_tried.append({"kind": "dvs pooling", "why": "DVS pooling remaps addresses and drops no event (SPEC F6): "
                                                    "it lowers no rate, and the core it feeds does the same SynOps "
                                                    "per event"})
    return cands, not_tried


def apply_fix(change: dict, config, chip=None):
    """(configuration, chip) with a fix's `change` (the "change" of a fix in a StallReport) made
    to copies of `config` and `chip`. Keys: "cnn_layers[k]" -> {field: value} (with
    "output_channels": n, the layer keeps its first n channels), "dvs_layer" -> {"origin": [x, y],
    "cut": [x, y]}, "swap_cores" -> [a, b], "chip" -> {parameter: value} (`Chip.replace`); a
    layer's "destinations" are given as dicts of `CnnLayerDestination`'s fields.
    A larger "stride" cannot be made without retraining: it raises ModelError."""
    cfg = copy.deepcopy(config)
    for key, what in change.items():
        if key.startswith("cnn_layers["):
            k = int(key[len("cnn_layers["):-1])
            layer = cfg.cnn_layers[k]
            for name, value in what.items():
                if name == "output_channels":
                    _keep_channels(layer, int(value))
                elif name == "destinations":
                    layer.destinations = [CnnLayerDestination(**d) for d in value]
                elif name == "stride":
                    raise ModelError(f"core {k}: a stride of {value} changes the layer's output map and the next "
                                     "layer's input; retrain the model with it and import it again")
                else:
                    setattr(layer, name, value)
        elif key == "dvs_layer":
            cfg.dvs_layer.origin.x, cfg.dvs_layer.origin.y = what["origin"]
            cfg.dvs_layer.cut.x, cfg.dvs_layer.cut.y = what["cut"]
        elif key == "swap_cores":
            cfg = swap_cores(cfg, *what)
        elif key == "chip":
            chip = chip.replace(reason="stall fix", **what)
        else:
            raise ValueError(f"apply_fix: unknown change {key!r}")
    return cfg, chip


def _keep_channels(layer, keep):
    layer.weights, layer.biases = layer.weights[:keep], layer.biases[:keep]
    layer.dimensions.output_shape.feature_count = keep
    if layer.neurons_initial_value is not None:
        layer.neurons_initial_value = layer.neurons_initial_value[:keep]


def _decimator(root, config, chip, states, fp, m, load, episode, not_tried):
    srcs = [s for s in feeders(config, root) if s < N_CORES]
    if not chip.has_decimator:
        not_tried.append({"kind": "decimator", "why": f"{chip.name} has no output decimator"})
        return None
    if not srcs:
        not_tried.append({"kind": "decimator", "why": f"core {root} is fed only by the DVS layer or the input link, "
                                                      "which have no decimator"})
        return None
    ratios = list(chip.decimator_ratios)
    need = max(load / TARGET, 1.0)
    attempts = []
    for step in (0, 1):
        change = {}
        for s in srcs:
            layer = config.cnn_layers[s]
            have = ratios[layer.output_decimator_interval] if layer.output_decimator_enable else 1
            codes = [i for i, r in enumerate(ratios) if r >= have * need] or [len(ratios) - 1]
            code = min(codes[0] + step, len(ratios) - 1)
            change[f"cnn_layers[{s}]"] = {"output_decimator_enable": True, "output_decimator_interval": code}
        kept = ", ".join(f"core {s}" for s in srcs)
        n = ratios[change[f"cnn_layers[{srcs[0]}]"]["output_decimator_interval"]]
        attempts.append(Candidate(
            "decimator", f"output decimator 1 in {n} on {kept}", change,
            apply_fix(change, config)[0], chip, states, root,
            note=f"{kept}'s other destinations and monitor get the decimated spikes too",
            extra={"feeders": srcs}))
    if attempts[1].change == attempts[0].change:
        attempts = attempts[:1]
    first = attempts[0]
    first.extra["attempts"] = attempts
    return first


def _balancer(root, config, chip, states, fp, m, load, episode, not_tried):
    if config.cnn_layers[root].input_congestion_balancer_enable:
        not_tried.append({"kind": "balancer", "why": f"core {root}'s congestion balancer is already on"})
        return None
    change = {f"cnn_layers[{root}]": {"input_congestion_balancer_enable": True}}
    return Candidate("balancer", f"congestion balancer on core {root}", change, apply_fix(change, config)[0], chip,
                     states, root, same_offered=True,
                     note="events that find its FIFO full are dropped instead of waiting")


def _peak_window(fp, chip, core, m):
    """(events, SynOps) the functional pass gave `core` in the window of `m` bins it would be
    busiest in."""
    syn = window_sums(fp.series["synops"][:, core], m)
    ev = window_sums(np.maximum(fp.series["busy_ns"][:, core] - fp.series["stall_ns"][:, core]
                                - fp.series["synops"][:, core], 0), m)
    j = int(np.argmax(_speed(chip, core, ev, syn)))
    return int(ev[j]), int(syn[j])


def _faster_synop(chip, core, fraction):
    return chip.replace(reason="timing of the changed layer", synop_ns={core: max(1, math.ceil(chip.synop_ns[core]
                                                                                            * fraction))})


def _channels(root, config, chip, states, fp, m, load, episode, not_tried):
    d = config.cnn_layers[root].dimensions
    c = d.output_shape.feature_count
    w = fp.bin_ns
    ev, syn = _peak_window(fp, chip, root, 1)
    if syn == 0 or load <= TARGET:
        return None
    keep = int((TARGET * w - ev * chip.event_ns[root]) * c // (syn * chip.synop_ns[root]))
    if keep < 1:
        not_tried.append({"kind": "channels", "why": f"core {root} is saturated by decoding events alone "
                                                     f"({chip.event_ns[root]} ns each): fewer channels cannot help"})
        return None
    if keep >= c:
        return None
    total = int(fp.series["synops"][:, root].sum())
    kept = dict(states or {})
    if root in kept:
        kept[root] = kept[root][:keep]
    change = {f"cnn_layers[{root}]": {"output_channels": keep}}
    return Candidate("channels", f"{keep} output channels instead of {c} in core {root}'s layer", change,
                     apply_fix(change, config)[0], chip, kept, root, retrain=True,
                     saves_synops=total - total * keep // c,
                     note=f"a model change: retrain; checked with the layer's first {keep} channels and their "
                          "trained weights, the next layers unchanged (they receive fewer channels)")


def _valid_offsets(n_in, k, s, p):
    """Sum over the input positions of one axis of the kernel offsets valid there (SPEC F2)."""
    n_out = conv_out(n_in, k, s, p)
    x = np.arange(n_in)[:, None] + p - np.arange(k)[None, :]
    return int(((x % s == 0) & (x >= 0) & (x // s < n_out)).sum())


def _stride(root, config, chip, states, fp, m, load, episode, not_tried):
    d = config.cnn_layers[root].dimensions
    k, sx, sy = d.kernel_size, d.stride.x, d.stride.y
    nx, ny = 2 * sx, 2 * sy
    if load <= TARGET:
        return None
    if k < 2 or nx not in chip.strides or ny not in chip.strides or conv_out(d.input_shape.size.x, k, nx,
                                                                              d.padding.x) < 1:
        not_tried.append({"kind": "stride", "why": f"core {root}'s layer cannot take stride {nx}"
                          + (" (a 1x1 kernel)" if k < 2 else "")})
        return None
    now = _valid_offsets(d.input_shape.size.x, k, sx, d.padding.x) * _valid_offsets(d.input_shape.size.y, k, sy,
                                                                                    d.padding.y)
    then = _valid_offsets(d.input_shape.size.x, k, nx, d.padding.x) * _valid_offsets(d.input_shape.size.y, k, ny,
                                                                                     d.padding.y)
    if not now:
        return None
    frac = then / now
    total = int(fp.series["synops"][:, root].sum())
    wo, ho = conv_out(d.input_shape.size.x, k, nx, d.padding.x), conv_out(d.input_shape.size.y, k, ny, d.padding.y)
    return Candidate("stride", f"stride {nx} instead of {sx} in core {root}'s layer",
                     {f"cnn_layers[{root}]": {"stride": [nx, ny]}}, config, _faster_synop(chip, root, frac), states,
                     root, retrain=True, same_offered=True, saves_synops=int(round(total * (1 - frac))),
                     note=f"a model change: retrain; its output map shrinks from {d.output_shape.size.x}x"
                          f"{d.output_shape.size.y} to {wo}x{ho} (SynOps saved: {1 - frac:.0%}, averaged over the "
                          "input positions)")


def _speed(chip, core, events, synops):
    return events * chip.event_ns[core] + synops * chip.synop_ns[core]


def _placement(root, config, chip, states, fp, m, load, episode, not_tried):
    if len(set(zip(chip.event_ns, chip.synop_ns))) == 1:
        not_tried.append({"kind": "placement", "why": f"every core of {chip.name} has the same speed"})
        return None
    from ..config import validate
    ev, syn = _peak_window(fp, chip, root, 1)
    here = _speed(chip, root, ev, syn)
    for j in sorted(range(N_CORES), key=lambda j: _speed(chip, j, ev, syn)):
        if j == root or _speed(chip, j, ev, syn) >= 0.9 * here:
            continue
        change = {"swap_cores": [root, j]}
        cfg = apply_fix(change, config)[0]
        try:
            validate(cfg, chip)
        except ConfigError:
            continue
        moved = {({root: j, j: root}.get(k, k)): v for k, v in (states or {}).items()}
        return Candidate("placement", f"core {root}'s layer on core {j} (faster)", change, cfg,
                         chip, moved, j, note="the same model placed differently")
    not_tried.append({"kind": "placement", "why": f"no faster core can hold core {root}'s layer"})
    return None


def swap_cores(config, a: int, b: int):
    """A copy of `config` with the layers of cores a and b exchanged and every destination that
    pointed at one pointing at the other."""
    cfg = copy.deepcopy(config)
    cfg.cnn_layers[a], cfg.cnn_layers[b] = cfg.cnn_layers[b], cfg.cnn_layers[a]
    swap = {a: b, b: a}
    for layer in cfg.cnn_layers:
        for d in layer.destinations:
            if d.enable and d.layer in swap:
                d.layer = swap[d.layer]
    for d in cfg.dvs_layer.destinations:
        if d.enable and d.layer in swap:
            d.layer = swap[d.layer]
    for layer in (cfg.model or {}).get("layers", []):
        if layer.get("core") in swap:
            layer["core"] = swap[layer["core"]]
    return cfg


def _crop(root, config, chip, states, fp, m, load, episode, not_tried):
    burst = episode.get("burst") or {}
    region = burst.get("region")
    dl = config.dvs_layer
    if region is None or DVS not in upstream(config, root) or burst.get("polarity") is None:
        return None
    px, py = dl.pooling.x, dl.pooling.y
    bx0, bx1, by0, by1 = region["x0"] // px, region["x1"] // px, region["y0"] // py, region["y1"] // py
    ox, oy, cx, cy = dl.origin.x, dl.origin.y, dl.cut.x, dl.cut.y
    sides = [((ox, oy), (bx0 - 1, cy)), ((bx1 + 1, oy), (cx, cy)), ((ox, oy), (cx, by0 - 1)),
             ((ox, by1 + 1), (cx, cy))]
    sides = [(o, c) for o, c in sides if c[0] >= o[0] and c[1] >= o[1]]
    area = (cx - ox + 1) * (cy - oy + 1)
    best = max(sides, key=lambda oc: (oc[1][0] - oc[0][0] + 1) * (oc[1][1] - oc[0][1] + 1), default=None)
    if best is None or (best[1][0] - best[0][0] + 1) * (best[1][1] - best[0][1] + 1) < area // 4:
        not_tried.append({"kind": "crop", "why": "the burst covers most of the field of view: cropping it out "
                                                 "would leave less than a quarter"})
        return None
    change = {"dvs_layer": {"origin": list(best[0]), "cut": list(best[1])}}
    return Candidate("crop", f"DVS crop to x {best[0][0]}..{best[1][0]}, y {best[0][1]}..{best[1][1]} (burst "
                     "left out)", change, apply_fix(change, config)[0], chip, states, root,
                     note="the network no longer sees the burst's region, and what it sees is shifted by the new "
                          "origin")


def _monitor_candidates(config, chip, states, fp):
    watched = [k for k in config.used_cores() if config.cnn_layers[k].monitor_enable]
    if not watched:
        return []
    k = max(watched, key=lambda k: int(fp.stats["spikes"][k]))
    change = {f"cnn_layers[{k}]": {"monitor_enable": False}}
    return [Candidate("monitor", f"monitor off on core {k}", change, apply_fix(change, config)[0], chip, states,
                      HOST_OUT, note="its spikes still go to their destinations", extra={"monitor_off": k})]


# --------------------------------------------------------------------------------------------
# Deadlock
# --------------------------------------------------------------------------------------------

def explain_deadlock(error: DeadlockError, *, config=None, events=None, chip=None, options=None, progress=None):
    """A StallReport explaining `error`: the cycle of blocks, each one's FIFO and output queue and
    what it waits for; with `config` and `events`, fixes checked by running the input again."""
    from ..chip import load_chip
    from ..config import RunOptions
    from .stalls import StallReport
    chip = load_chip(chip or "speck2f")
    options = options or RunOptions()
    cycle = list(error.cycle)
    blocks = []
    for b, s in sorted(getattr(error, "blocks", {}).items()):
        blocks.append({"block": b, "label": block_label(b), "fifo_fill": len(s["fifo"]), "fifo_depth": s["fifo_depth"],
                       "fifo_head": [list(e) for e in s["fifo"][:8]], "out_queue": s["out_queue"],
                       "out_depth": s["out_depth"], "waits_for": s["waits_for"],
                       "waits_for_label": None if s["waits_for"] is None else block_label(s["waits_for"]),
                       "in_cycle": b in cycle})
    link = getattr(error, "link", None)
    why = (" -> ".join(block_label(b) for b in cycle + cycle[:1]) + ": each one's output stage holds a spike for "
           "the next one's FIFO, which is full, while that block cannot serve its FIFO because its own output "
           "queue is full (SPEC T0, T4, T9); no block can move") if cycle else "senders wait for FIFOs that never free"
    report = StallReport(chip=chip.name, window_ns=0, deadlock={
        "t_ns": error.t_ns, "cycle": cycle, "cycle_labels": [block_label(b) for b in cycle], "blocks": blocks,
        "link": None if link is None else {"input": int(link[0]), "target": int(link[1]),
                                           "target_label": block_label(int(link[1]))},
        "why": why, "message": str(error)})
    if config is None or events is None or not cycle:
        report.not_tried.append({"kind": "all", "why": "checking a fix runs the input again: give the configuration "
                                                       "and the input events"})
        return report
    cands = []
    for k in [b for b in cycle if b < N_CORES]:
        if not config.cnn_layers[k].input_congestion_balancer_enable:
            cands.append(("balancer", f"congestion balancer on core {k}",
                          {f"cnn_layers[{k}]": {"input_congestion_balancer_enable": True}}, False))
    cands.append(("fifo depth", "FIFOs 4x deeper on the cores of the cycle (a different chip)",
                  {"chip": {"fifo_depth": {k: chip.fifo_depth[k] * 4 for k in cycle if k < N_CORES}}}, False))
    last, first = cycle[-1], cycle[0]
    if last < N_CORES:
        dests = [dict(layer=d.layer, enable=d.enable and d.layer != first, pooling=d.pooling,
                      feature_shift=d.feature_shift) for d in config.cnn_layers[last].destinations]
        cands.append(("break cycle", f"no destination from core {last} to {block_label(first)}",
                      {f"cnn_layers[{last}]": {"destinations": dests}}, True))
    for kind, title, change, retrain in cands:
        if progress:
            progress(f"running the input with {title}")
        row = {"kind": kind, "title": title, "change": change, "retrain": retrain}
        cfg, ch = apply_fix(change, config, chip)
        try:
            res = _simulate(cfg, ch, options, events, None)
            # a cycle that no longer deadlocks may still never fall idle: the run is then cut (T12)
            row.update(resolved=not res.cut, after={
                "congestion_dropped": int(res.stats["congestion_dropped"].sum()), "cut": bool(res.cut),
                "stall_ns": int(res.stats["stall_ns"].sum()),
                "peak_lag_ns": int(res.lag_ns.max()) if len(res.lag_ns) else None})
        except DeadlockError as exc:
            row.update(resolved=False, after={"deadlock": str(exc).splitlines()[0]})
        report.fixes.append(row)
    report.fixes.sort(key=lambda r: (not r["resolved"], r["retrain"], r["after"].get("congestion_dropped", 0)))
    for i, r in enumerate(report.fixes):
        r["rank"] = i + 1
    return report


__all__ = ["verify_fixes", "explain_deadlock", "apply_fix", "window_bounds", "swap_cores", "Candidate", "MAX_WINDOW_NS",
           "TARGET", "RESOLVED_STALL"]
