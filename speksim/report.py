"""One self-contained HTML page about a run, to read in a browser or attach to a bug report: what
was run (chip, overrides, configuration, model, input and its hash), the statistics per block,
the stall diagnosis (`speksim.analysis.stalls`) with its verified fixes or the explanation of a
deadlock, and the plots, embedded as PNG.

    from speksim.report import write_report
    write_report("report.html", result, events)        # events: the run's input, optional
    write_report("report.html", deadlock_error, events, config=config, chip=chip)

The page needs nothing else: inline CSS, images as base64 `data:` URIs, no script, no link out.
The same run and input give the same bytes (no date, no software tag in the PNGs). Every string
read from a file (names, command line, model record) is escaped.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
from pathlib import Path
from typing import Optional

import numpy as np

from ._version import __version__
from .analysis.preflight import WINDOW_NS
from .analysis.stalls import _burst_text, _d, _event_text, _mega, _pct, _t, fix_after_text, fix_loss_text
from .blocks import block_label
from .errors import DeadlockError

#: The plots of a page, in order: (function name in speksim.plot, title, how to read it).
PLOTS = (
    ("utilisation_map", "Busy and stalled time per block",
     "One row per block, in the order events flow. A block bright in both maps was busy waiting for the block "
     "after it (back-pressure); bright above and dark below, it was doing its own work. The windows where a block "
     "was saturated are outlined."),
    ("fifo_occupancy", "FIFO occupancy",
     "A FIFO at its depth (dashed) is full: every block sending to it waits."),
    ("input_lag", "Input lag over time",
     "How late each input reached the chip after its timestamp. It grows while a block is saturated and comes "
     "back down once the chip has caught up; shaded: saturated windows."),
    ("dvs_frames", "The DVS view during the worst stall",
     "Events per pixel in short frames. The DVS monitor output is drawn by the time it reached the host, as a "
     "viewer shows it: during a stall it comes late and spreads over later frames; the input is drawn by "
     "timestamp."),
    ("input_rate", "Input event rate", "Input events per second; the input link's capacity dashed when on scale."),
    ("latency_histogram", "Output latency and input lag",
     "Distribution of output latency per monitored layer and of input lag; median and 99th percentile marked."),
)

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:0 auto;max-width:1180px;
padding:0 20px 40px;color:#1a1a1a;line-height:1.45}
h1{font-size:1.55em;margin:.9em 0 .2em}h2{font-size:1.25em;border-bottom:2px solid #ddd;padding-bottom:.2em;
margin-top:1.8em}h3{font-size:1.05em;margin:1.3em 0 .4em}
.verdict{font-size:1.1em;padding:.6em .9em;border-radius:6px;margin:.8em 0}
.bad{background:#fde8e8;border-left:5px solid #c62828}.good{background:#e7f5ea;border-left:5px solid #2e7d32}
table{border-collapse:collapse;margin:.4em 0 1em;font-size:.9em}
th,td{border:1px solid #d5d5d5;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f1f3f5}tr:nth-child(even) td{background:#fafafa}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.kv th{width:13em;font-weight:600}
code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.88em}
pre{background:#f6f8fa;padding:10px;overflow-x:auto;border:1px solid #e1e4e8}
figure{margin:1em 0 2em}figure img{max-width:100%;height:auto;border:1px solid #e1e4e8}
figcaption{color:#444;font-size:.9em;margin-top:.3em}
nav a{margin-right:1.1em}.muted{color:#666}ol.timeline li{margin:.15em 0}
"""


# --------------------------------------------------------------------------------------------
# HTML pieces
# --------------------------------------------------------------------------------------------

class _Raw(str):
    """HTML already made here (escaped where it had to be): not escaped again."""


def _e(value) -> str:
    return value if isinstance(value, _Raw) else html.escape(str(value), quote=True)


def _table(headers, rows, numeric=(), cls="") -> _Raw:
    """A table; columns whose index is in `numeric` are right-aligned."""
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f'<td class="n">{_e(v)}</td>' if i in numeric else f"<td>{_e(v)}</td>"
                                    for i, v in enumerate(row)) + "</tr>" for row in rows)
    attr = f' class="{cls}"' if cls else ""
    return _Raw(f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def _kv(pairs) -> _Raw:
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in pairs if v is not None)
    return _Raw(f'<table class="kv"><tbody>{rows}</tbody></table>')


def _p(text, cls="") -> _Raw:
    return _Raw(f'<p class="{cls}">{_e(text)}</p>' if cls else f"<p>{_e(text)}</p>")


def _ul(items, cls="") -> _Raw:
    attr = f' class="{cls}"' if cls else ""
    return _Raw(f"<ul{attr}>" + "".join(f"<li>{_e(i)}</li>" for i in items) + "</ul>")


def _png(fig) -> str:
    """The figure as PNG bytes in base64, without the PNG's software tag (the bytes then depend
    only on what was drawn)."""
    from .plot._base import _DPI
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI, metadata={"Software": None})
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _shape(v) -> str:
    return "×".join(str(int(x)) for x in v) if isinstance(v, (list, tuple)) else str(v)


def _compact(v, key: str = "") -> str:
    """A value of a record in a few characters; `key` names it (a shape or size reads 2×128×128)."""
    if isinstance(v, float):
        return f"{v:.4g}"
    if ("shape" in key or "size" in key) and isinstance(v, (list, tuple)) and v and all(
            isinstance(x, (int, np.integer)) for x in v):
        return _shape(v)
    if isinstance(v, (dict, list)):
        return json.dumps(v, sort_keys=True)
    return "-" if v is None else str(v)


# --------------------------------------------------------------------------------------------
# what was run
# --------------------------------------------------------------------------------------------

_NO_OP_TRANSFORMS = (("time_shift_us", 0), ("rezero", "auto"), ("downscale", 1), ("polarity", "keep"))


def _run_section(meta: dict, config, chip_name: str, result) -> list:
    chip = meta.get("chip") or {}
    overrides = chip.get("overrides") or []
    inp = meta.get("input") or {}
    f = meta.get("input_file") or {}
    # the transforms `speksim run` applied, without those left at their no-op default
    tr = {k: v for k, v in (meta.get("input_transform") or {}).items()
          if not (v is None or v is False or (k, v) in _NO_OP_TRANSFORMS)}
    pairs = [("chip", chip_name + (f" ({chip['description']})" if chip.get("description") else "")),
             ("chip files", ", ".join(chip.get("files") or []) or None),
             ("overrides", ", ".join(overrides) if overrides else "none (the chip as its files give it)"),
             ("engine", meta.get("engine")),
             ("run options", ", ".join(f"{k} = {'none' if v is None else _compact(v)}"
                                       for k, v in (meta.get("options") or {}).items()) or None),
             ("input file", _file_text(f)),
             ("input file SHA-256", f.get("sha256")),
             ("input events", f"{int(inp['events']):,} {inp.get('kind', '')} events" if inp.get("events") is not None
              else None),
             ("input events SHA-256", inp.get("sha256")),
             ("input transforms", ", ".join(f"{k} = {_compact(v, k)}" for k, v in tr.items()) or None),
             ("command line", meta.get("command_line"))]
    if result is not None:
        end = f"{_t(result.t_end_ns)} of chip time; {result.n_outputs():,} output events"
        if result.cut or result.active or result.unsent:
            why = "cut at the drain limit (drain_ns after the last input)" if result.cut else "stopped at end_ns"
            end += f"; {why} with work left in {', '.join(result.active) or 'nothing'}"
            if result.unsent:
                end += f"; {result.unsent:,} input events never sent"
        pairs.append(("run", end))
    v = meta.get("versions") or {}
    pairs.append(("made with", ", ".join(f"{k} {x}" for k, x in v.items() if k != "platform") or None))
    for w in meta.get("warnings") or []:
        pairs.append(("warning", w))
    out = [_Raw("<h2 id='run'>What was run</h2>"), _kv(pairs)]
    if config is not None:
        ratios = (((chip.get("parameters") or {}).get("decimator_ratios") or {}).get("value")) or []
        out += _config_section(config, list(ratios))
    return out


def _file_text(f: dict) -> Optional[str]:
    if not f.get("name"):
        return None
    size = f.get("size_bytes")
    return f"{f['name']} ({size:,} bytes)" if isinstance(size, int) else str(f["name"])


def _dests(dests, dvs=False) -> str:
    on = [d for d in dests if d.enable]
    if not on:
        return "-"
    return ", ".join(f"core {d.layer}" if dvs else f"{'readout' if d.layer >= 9 else f'core {d.layer}'}"
                     + ("" if d.pooling == 1 else f" (pooling {d.pooling})")
                     + ("" if not d.feature_shift else f" (feature shift {d.feature_shift})") for d in on)


def _config_section(config, ratios) -> list:
    """The configuration in short; `ratios`: the chip's decimator ratios, by interval."""
    names = {layer.get("core"): layer.get("name") for layer in (config.model or {}).get("layers", [])}
    used = config.used_cores()
    dl = config.dvs_layer
    dvs = [f"to {_dests(dl.destinations, dvs=True)}", f"pooling {dl.pooling.x}×{dl.pooling.y}",
           f"crop x {dl.origin.x}..{dl.cut.x}, y {dl.origin.y}..{dl.cut.y}",
           "ON and OFF merged" if dl.merge else f"channels: {'ON' if dl.on_channel else ''}"
           f"{' and ' if dl.on_channel and dl.off_channel else ''}{'OFF' if dl.off_channel else ''}",
           f"monitor {'on' if dl.monitor_enable else 'off'}"]
    if dl.mirror.x or dl.mirror.y or dl.mirror_diagonal:
        dvs.append(f"mirror x {dl.mirror.x}, y {dl.mirror.y}, diagonal {dl.mirror_diagonal}")
    rows = []
    for k in used:
        c = config.cnn_layers[k]
        d = c.dimensions
        i, o = d.input_shape, d.output_shape
        n = c.output_decimator_interval
        decimator = f"decimator 1 in {ratios[n]}" if 0 <= n < len(ratios) else f"decimator interval {n}"
        extra = [x for x, on in (("monitor", c.monitor_enable), ("leak", c.leak_enable),
                                 (decimator, c.output_decimator_enable),
                                 ("congestion balancer", c.input_congestion_balancer_enable)) if on]
        rows.append([f"core {k}", names.get(k) or "-", f"{i.feature_count}×{i.size.y}×{i.size.x}",
                     f"{o.feature_count}×{o.size.y}×{o.size.x}", f"{d.kernel_size}×{d.kernel_size}",
                     f"{d.stride.y}×{d.stride.x}", f"{d.padding.y}×{d.padding.x}",
                     f"{c.threshold_low}..{c.threshold_high}", _dests(c.destinations), ", ".join(extra) or "-"])
    out = [_Raw("<h3>Configuration</h3>"),
           _p(f"{len(used)} of {len(config.cnn_layers)} cores used ({', '.join(map(str, used)) or 'none'}); "
              f"readout {'on' if config.readout.enable else 'off'}."),
           _kv([("DVS layer", "; ".join(dvs))]),
           _table(["core", "model layer", "input (C×H×W)", "output (C×H×W)", "kernel", "stride", "padding",
                   "thresholds", "sends to", "also"], rows)]
    if config.model:
        out += _model_section(config.model)
    return out


def _model_section(model: dict) -> list:
    """The model record an importer left in the configuration, whatever its keys."""
    layers = model.get("layers") or []
    keys = []
    for layer in layers:
        keys += [k for k in layer if k not in keys]
    out = [_Raw("<h3>Model</h3>"),
           _kv([(k, _compact(v, k)) for k, v in model.items() if k != "layers" and v not in (None, [], {})])]
    if layers:
        out.append(_table([k.replace("_", " ") for k in keys], [[_compact(layer.get(k), k) for k in keys]
                                                                 for layer in layers]))
    return out


# --------------------------------------------------------------------------------------------
# statistics and diagnosis
# --------------------------------------------------------------------------------------------

def _stats_section(result, d: dict) -> list:
    depth = {b["block"]: b["fifo_depth"] for b in d.get("blocks") or []}
    t_end = max(int(result.t_end_ns), 1)
    rows = []
    for b in result.active_blocks():
        s = result.stats[b]
        drops = [f"{n:,} {w}" for n, w in ((int(s["dropped_out_of_range"]), "out of range"),
                                          (int(s["congestion_dropped"]), "congestion"),
                                          (int(s["dvs_filtered"]), "DVS filter"), (int(s["decimated"]), "decimated"))
                 if n]
        fifo = f"{int(s['fifo_max'])}/{depth[b]}" if depth.get(b) else f"{int(s['fifo_max'])}"
        rows.append([block_label(b), f"{int(s['events_in']):,}", f"{int(s['synops']):,}", f"{int(s['spikes']):,}",
                     f"{_d(int(s['busy_ns']))} ({100 * int(s['busy_ns']) / t_end:.3g}%)",
                     _d(int(s["stall_ns"])) if s["stall_ns"] else "-", fifo, f"{float(s['fifo_mean']):.3g}",
                     f"{int(s['out_max'])}", ", ".join(drops) or "-",
                     f"{int(s['pending']):,}" if s["pending"] else "-"])
    return [_Raw("<h2 id='stats'>Statistics per block</h2>"),
            _table(["block", "events in", "SynOps", "spikes", "busy (of the run)", "stalled", "FIFO max",
                    "FIFO mean", "out queue max", "dropped", "left at the end"], rows, numeric=set(range(1, 9)))]


def _verdict(d: dict) -> _Raw:
    if d.get("deadlock"):
        dl = d["deadlock"]
        cyc = " -> ".join(dl["cycle_labels"] + dl["cycle_labels"][:1])
        return _Raw(f'<div class="verdict bad">The run deadlocked at t = {int(dl["t_ns"]):,} ns: {_e(cyc)}.</div>')
    c, lag = d.get("cause"), d.get("lag") or {}
    if c is None:
        return _Raw(f'<div class="verdict good">No block was saturated in any window of {_e(_d(d["window_ns"]))}; '
                    f'peak input lag {_e(_d(lag.get("peak_ns")))}.</div>')
    span = sum(e["t1_ns"] - e["t0_ns"] for e in d["episodes"])
    fix = next((f for f in d.get("fixes") or [] if f.get("resolved")), None)
    fixed = f" Best verified fix: {fix['title']}." if fix else ""
    return _Raw(f'<div class="verdict bad"><b>{_e(c["root_label"])} cannot keep up</b>: '
                f'{len(d["episodes"])} stall episode(s), {_e(_d(span))} in all; the input lag reaches '
                f'{_e(_d(lag.get("peak_ns")))}.{_e(fixed)}</div>')


def _blocks_table(d: dict) -> _Raw:
    rows = []
    for b in d.get("blocks") or []:
        ls = b["longest_stall"]
        syn = b["peak_offered_synops_per_s"] if b["peak_offered_synops_per_s"] is not None else b["peak_synops_per_s"]
        rows.append([b["label"] + (f" (layer {b['layer']})" if b["layer"] else ""), _pct(b["peak_offered_busy"]),
                     _pct(b["peak_busy"]), _mega(syn), _mega(b["capacity_synops_per_s"]),
                     _d(b["saturated_ns"] or None), _d(b["stall_ns"] or None),
                     "-" if ls is None else f"{_d(ls['t1_ns'] - ls['t0_ns'])} at {_t(ls['t0_ns'])}",
                     "-" if b["fifo_max"] is None else f"{b['fifo_max']}/{b['fifo_depth']}",
                     ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in b["drops"].items() if v) or "-"])
    return _table(["block", "load", "busy", "SynOps/s", "capacity", "saturated", "stall", "longest stall",
                   "FIFO max", "drops"], rows, numeric=set(range(1, 9)))


def _cause_section(d: dict) -> list:
    c = d["cause"]
    out = [_Raw("<h3>Cause</h3>"),
           _p(f"The worst episode, {_t(c['t0_ns'])} to {_t(c['t1_ns'])}; stall {_d(c['stall_ns'])} in all blocks:"),
           _Raw("<ol class='timeline'>" + "".join(f"<li><b>{_e(_t(ev['t_ns']))}</b> {_e(_event_text(ev, c))}</li>"
                                                   for ev in c["timeline"]) + "</ol>")]
    if c.get("starved") is None:
        out.append(_p("Which cores after it starved needs the input events.", "muted"))
    if c.get("burst"):
        out += [_Raw("<h3>Triggering burst</h3>"), _p(_burst_text(c["burst"]))]
    others = [e for e in d["episodes"] if e["t0_ns"] != c["t0_ns"]]
    if others:
        out += [_Raw("<h3>Other episodes</h3>"),
                _table(["from", "to", "root", "stall"], [[_t(e["t0_ns"]), _t(e["t1_ns"]), e["root_label"],
                                                          _d(e["stall_ns"])] for e in others], numeric={3})]
    return out


def _fixes_section(d: dict) -> list:
    out = []
    w = d.get("resimulated")
    fixes = d.get("fixes") or []
    if fixes and w:
        base = w["baseline"]
        out += [_Raw("<h3>Fixes, ranked</h3>"),
                _p(f"Each re-simulated on {_t(w['t0_ns'])} to {_t(w['t1_ns'])} of the input ({w['events']:,} events; "
                   f"{w['start']}). Without a change: load {_pct(base.get('peak_offered'))}, stall "
                   f"{_d(base['stall_ns'])}, peak lag {_d(base['peak_lag_ns'])}, saturated "
                   f"{_d(base['saturated_ns'])}.")]
        rows = []
        for f in fixes:
            a, red = f["after"], f["reduction"]
            if a.get("deadlock") or a.get("error"):
                rows.append([f["rank"], f["title"], "no", "-", "-", "-", a.get("deadlock") or a.get("error")])
                continue
            loses = fix_loss_text(f)
            after = fix_after_text(f)
            if after:
                loses += f"; {after}"
            rows.append([f["rank"], f["title"], "yes" if f["resolved"] else "no", _pct(a.get("peak_offered")),
                         f"{_d(a['stall_ns'])} ({_pct(red.get('stall_ns') and -red['stall_ns'])})",
                         f"{_d(a['peak_lag_ns'])} ({_pct(red.get('peak_lag_ns') and -red['peak_lag_ns'])})", loses])
        out.append(_table(["rank", "fix", "resolves", "load", "stall (change)", "peak lag (change)", "loses"], rows,
                          numeric={0, 3, 4, 5}))
    elif fixes:
        rows = []
        for f in fixes:
            a = f["after"]
            what = a["deadlock"] if a.get("deadlock") else "no deadlock" + (
                ", but the chip never falls idle (the run was cut at drain_ns)" if a.get("cut") else "")
            if a.get("congestion_dropped"):
                what += f"; {a['congestion_dropped']:,} transfers dropped"
            rows.append([f["rank"], f["title"], "yes" if f["resolved"] else "no", what,
                         "yes" if f["retrain"] else "no"])
        out += [_Raw("<h3>Fixes, each run on the whole input</h3>"),
                _table(["rank", "fix", "resolves", "with it", "model change"], rows, numeric={0})]
    if d.get("not_tried"):
        out += [_Raw("<h3>Not tried</h3>"), _ul(f"{x['kind']}: {x['why']}" for x in d["not_tried"])]
    return out


def _deadlock_section(d: dict) -> list:
    dl = d["deadlock"]
    rows = [[b["label"] + ("" if b["in_cycle"] else " (outside the cycle)"), f"{b['fifo_fill']}/{b['fifo_depth']}",
             ", ".join(str(tuple(e)) for e in b["fifo_head"]) or "-", f"{b['out_queue']}/{b['out_depth']}",
             b["waits_for_label"] or "-"] for b in dl["blocks"]]
    out = [_p(dl["why"]), _table(["block", "FIFO", "FIFO head (feature, x, y)", "output queue", "waits for"], rows,
                                 numeric={1, 3})]
    if dl.get("link"):
        out.append(_p(f"The input link waits to send input {dl['link']['input']} to {dl['link']['target_label']}."))
    return out


def _diagnosis_section(d: dict) -> list:
    out = [_Raw("<h2 id='diagnosis'>Stall diagnosis</h2>")]
    if d.get("deadlock"):
        out += _deadlock_section(d)
    else:
        out += [_p(f"Windows of {_d(d['window_ns'])} slid by {_d(d['bin_ns'])}; load offered: {d['offered_from']}. "
                   "Busy and load are fractions of a window; a load above 100% is more than the block can serve."),
                _blocks_table(d)]
        lag = d.get("lag") or {}
        if lag.get("peak_ns") is not None:
            out.append(_p(f"Input lag: unloaded {_d(lag.get('unloaded_ns'))}, median {_d(lag.get('p50_ns'))}, 99th "
                          f"percentile {_d(lag.get('p99_ns'))}, peak {_d(lag.get('peak_ns'))} (input at "
                          f"{_t(lag.get('peak_t_ns'))})" + (f"; {lag['dropped']:,} inputs dropped by a balancer"
                                                            if lag.get("dropped") else "") + "."))
        if d.get("cause"):
            out += _cause_section(d)
    out += _fixes_section(d)
    if d.get("notes"):
        out += [_Raw("<h3>Notes</h3>"), _ul(d["notes"])]
    return out


# --------------------------------------------------------------------------------------------
# plots
# --------------------------------------------------------------------------------------------

def _has_dvs_monitor(result) -> bool:
    dvs_id = result.chip_parameter("dvs_layer_id")
    return dvs_id is not None and bool(len(result.outputs)) and bool((result.outputs["layer"] == int(dvs_id)).any())


def _plots_section(result, d: dict, events, progress) -> list:
    from . import plot
    from .plot import stalls as stall_plots
    out = [_Raw("<h2 id='plots'>Plots</h2>")]
    for name, title, how in PLOTS:
        if progress:
            progress(f"drawing the plot: {title}")
        if name == "dvs_frames":
            fig = stall_plots.dvs_frames(result, d, events)
        elif hasattr(stall_plots, name):
            fig = getattr(stall_plots, name)(result, d)
        else:
            fig = getattr(plot, name)(result)
        data = _png(fig)
        if name == "dvs_frames" and not _has_dvs_monitor(result):
            how = ("Events per pixel of the input, by timestamp, in short frames: the run has no DVS monitor output. "
                   "Run it with the DVS layer's monitor_enable on to see the view as a viewer on the host shows it, "
                   "late and spread over later frames during a stall.")
        out.append(_Raw(f"<figure id='{name}'><h3>{_e(title)}</h3><img alt='{_e(title)}' "
                        f"src='data:image/png;base64,{data}'><figcaption>{_e(how)}</figcaption></figure>"))
    return out


# --------------------------------------------------------------------------------------------
# the page
# --------------------------------------------------------------------------------------------

def report_html(subject, events=None, *, stalls=None, config=None, chip=None, options=None,
                input_file: Optional[dict] = None, window_ns: int = WINDOW_NS, fixes: bool = True,
                progress=None) -> str:
    """The page, as a string.

    subject: a `Result` (or a loaded run file), or the `DeadlockError` a run raised (then
    `config`, `chip` and `options` describe the run, as for `diagnose`). events: the run's input
    (checked against its hash): the burst region, verified fixes and the input frames need them.
    stalls: the `StallReport` (or its `to_dict()`) when already made; else `diagnose` runs with
    `window_ns` and `fixes`. input_file: {"name", "size_bytes", "sha256"} of the recording, for a
    run that did not come from a run file. progress(text): called before each slow step.
    """
    from .analysis.stalls import check_events, diagnose, run_config
    result = None if isinstance(subject, DeadlockError) else subject
    if events is not None and result is not None:
        events = check_events(result, events)
    if stalls is None:
        stalls = diagnose(subject, events, window_ns=window_ns, fixes=fixes, config=config, chip=chip,
                          options=options, progress=progress)
    d = stalls.to_dict() if hasattr(stalls, "to_dict") else stalls
    text = stalls.text() if hasattr(stalls, "text") else None
    meta = dict((result.metadata or {}) if result is not None else {})
    if result is None:
        from .chip import load_chip
        meta["chip"] = load_chip(chip or "speck2f").to_dict()
        if options is not None:
            from dataclasses import asdict
            meta["options"] = asdict(options)
        if events is not None:
            import hashlib

            from .events import validate_events
            kind = "spike" if "layer" in (np.asarray(events).dtype.names or ()) else "dvs"
            ev = validate_events(events, kind)
            meta["input"] = {"kind": kind, "events": len(ev), "sha256": hashlib.sha256(ev.tobytes()).hexdigest()}
    else:
        try:
            config = run_config(result)
        except (KeyError, TypeError):
            config = None
    if input_file:
        meta["input_file"] = dict(input_file)
    name = (meta.get("input_file") or {}).get("name")
    title = f"speksim report: {name} on {d['chip']}" if name else f"speksim report: a run on {d['chip']}"
    parts = [_Raw(f"<h1>{_e(title)}</h1>"), _verdict(d),
             _Raw("<nav><a href='#run'>What was run</a>" + ("<a href='#stats'>Statistics</a>" if result is not None
                                                            else "") + "<a href='#diagnosis'>Stall diagnosis</a>"
                  + ("<a href='#plots'>Plots</a>" if result is not None else "") + "<a href='#text'>As text</a></nav>")]
    parts += _run_section(meta, config, d["chip"], result)
    if result is not None:
        parts += _stats_section(result, d)
    parts += _diagnosis_section(d)
    if result is not None:
        parts += _plots_section(result, d, events, progress)
    else:
        parts += [_Raw("<h2 id='plots'>Plots</h2>"), _p("The run deadlocked: there are no statistics or series to "
                                                          "plot.", "muted")]
    if text is not None:
        parts.append(_Raw(f"<h2 id='text'>The diagnosis as text</h2><details><summary>as <code>speksim stalls</code> "
                          f"prints it</summary><pre>{_e(text)}</pre></details>"))
    parts.append(_p(f"Made by speksim {__version__}.", "muted"))
    body = "\n".join(parts)
    return (f"<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n<title>{_e(title)}</title>\n"
            f"<style>{_CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n")


def write_report(path, subject, events=None, **kwargs) -> Path:
    """Write `report_html(subject, events, **kwargs)` to `path` (UTF-8, written atomically); returns the path."""
    from ._files import atomic_path
    page = report_html(subject, events, **kwargs)
    path = Path(os.fspath(path))
    with atomic_path(path) as tmp:
        Path(tmp).write_text(page, encoding="utf-8")
    return path


__all__ = ["report_html", "write_report", "PLOTS"]
