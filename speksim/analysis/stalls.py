"""Stall diagnosis: which block of a run could not keep up, what it held back, which input burst
set it off, and which changes remove the stall (each checked by re-simulating it).

    report = diagnose(result, events)     # events: the run's input (optional; see below)
    print(report.text())                  # or report.to_dict() for a script or a report page

A run records per bin, for every block, the time it spent serving (`busy_ns`, stalls included),
the part of it a core or the DVS layer spent unable to finish a SynOp because its output queue was
full (`stall_ns`, SPEC T4), its FIFO occupancy and its SynOps; and per input its lag (T1). From
these, over windows of `window_ns` slid by one bin:

- a block is *saturated* in a window when it was busy at least 95% of it, at least half of that
  with its own work rather than stalled: it cannot serve more;
- a block upstream of a saturated one is *back-pressured* when its stall rises: its output stage
  waits for the saturated block's FIFO (T0), its output queue fills, its SynOps wait (T4); the
  input link is back-pressured when the input lag grows;
- a core downstream of it is *starved* when it receives less than the input offers it, known
  only from the *functional pass* (preflight's: the same input on a chip whose every time is
  1 ns), which needs the input events.

With the input events the report also names the input burst that set a saturation off (time
range, rate, image region, polarity) and re-simulates the worst stall with each candidate fix
(`speksim.analysis.fixes`). docs/stalls.md says how to read the report.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from .._text import duration_text, plain
from ..blocks import block_label
from ..errors import DeadlockError, EventError, SpeksimError
from .preflight import WINDOW_NS, functional_pass
from .saturation import (LINK, block_rows, block_series, describe_episode, episodes, lag_summary,
                         link_timing, offered_load)


@dataclass
class StallReport:
    """What `diagnose` found; `to_dict()` holds everything, JSON-ready, `text()` the same for people.

    blocks: one dict per block worth reporting (the input link, the used cores, the DVS layer,
    readout and host output when they had events). lag: input-lag summary. episodes: the spans
    where some block was saturated, each with its root block, timeline and input burst; cause:
    the worst of them (most stall). fixes: re-simulated changes, best first; not_tried: the fixes
    that do not apply here, and why. deadlock: the explanation of a DeadlockError instead of a run.
    Times are int ns, fractions are of the window (busy) or of a capacity (load)."""

    chip: str
    window_ns: int
    bin_ns: int = 0
    duration_ns: int = 0
    n_inputs: int = 0
    offered_from: str = ""
    blocks: list = field(default_factory=list)
    lag: Optional[dict] = None
    episodes: list = field(default_factory=list)
    cause: Optional[dict] = None
    fixes: list = field(default_factory=list)
    not_tried: list = field(default_factory=list)
    resimulated: Optional[dict] = None
    deadlock: Optional[dict] = None
    notes: list = field(default_factory=list)

    @property
    def stalled(self) -> bool:
        """True when some block was saturated, or the run deadlocked."""
        return bool(self.episodes) or self.deadlock is not None

    def to_dict(self) -> dict:
        """Everything in the report as plain JSON types (no NumPy scalars)."""
        return plain(dataclasses.asdict(self) | {"stalled": self.stalled})

    def text(self) -> str:
        """The report as a person reads it."""
        return report_text(self)


# --------------------------------------------------------------------------------------------
# What the run was: its chip, configuration, options and input
# --------------------------------------------------------------------------------------------

def run_chip(result):
    """The chip a run used, rebuilt from the parameter values its metadata records."""
    from ..chip import builtin_chips, load_chip
    d = (result.metadata or {}).get("chip")
    if not d:
        raise SpeksimError("the result records no chip (its metadata has no 'chip'); diagnose a result of "
                           "speksim.simulate or a run file")
    base = load_chip(d["name"] if d.get("name") in builtin_chips() else "speck2f")
    values = {k: tuple(p["value"]) if isinstance(p["value"], list) else p["value"]
              for k, p in d["parameters"].items()}
    chip = base.replace(reason="as recorded in the run", **values)
    return dataclasses.replace(chip, name=str(d.get("name", chip.name)))


def run_config(result):
    """The configuration a run used, from its metadata."""
    from ..config import config_from_dict
    return config_from_dict(result.metadata["config"])


def run_options(result):
    """The run options a run used, from its metadata."""
    from ..config import RunOptions
    return RunOptions(**result.metadata.get("options", {}))


def check_events(result, events) -> np.ndarray:
    """`events` in canonical form, checked to be the run's input: same kind, count and SHA-256 as
    the run's metadata records (`input`). Raises EventError otherwise."""
    from ..events import validate_events
    meta = (result.metadata or {}).get("input", {})
    kind = "spike" if "layer" in (getattr(np.asarray(events).dtype, "names", None) or ()) else "dvs"
    ev = validate_events(events, kind)
    if meta.get("kind") not in (None, "none", kind):
        raise EventError(f"the run was fed {meta['kind']} events; these are {kind} events")
    if meta.get("events") is not None and int(meta["events"]) != len(ev):
        raise EventError(f"these are {len(ev):,} events, but the run was fed {int(meta['events']):,}: give the events "
                         "the run was made from (the same file, time window and transforms)",
                         cli=f"the recording gives {len(ev):,} events, but the run was fed {int(meta['events']):,}")
    sha = meta.get("sha256")
    if sha and hashlib.sha256(ev.tobytes()).hexdigest() != sha:
        raise EventError("these events are not the run's input (their SHA-256 differs from the one the run "
                         "recorded): give the events the run was made from, with the same transforms")
    return ev


def events_for_run(result, path, *, format=None, t_start_us=None, t_end_us=None) -> np.ndarray:
    """Read the recording at `path` again as the run read it (the time window given, the
    transforms its metadata records), check it against the run, and return the events."""
    from ..io import read_events, sensor_size
    from ..io.fitplan import FitPlan
    from ..runfile import file_sha256
    meta = result.metadata or {}
    known = (meta.get("input_file") or {}).get("sha256")
    if known and file_sha256(path) != known:
        name = (meta.get("input_file") or {}).get("name")
        raise EventError(f"{path}: not the recording this run was made from (its SHA-256 differs from that of "
                         f"{name or 'the run input'})")
    ev = read_events(path, format, t_start_us=t_start_us, t_end_us=t_end_us)
    tr = meta.get("input_transform") or {}
    sensor = tr.get("sensor_size") or sensor_size(path, format)
    from ..chip import load_chip
    size = run_chip(result).dvs_size if meta.get("chip") else load_chip().dvs_size
    plan = FitPlan(rezero=tr.get("rezero", "auto"), flip_x=bool(tr.get("flip_x")), flip_y=bool(tr.get("flip_y")),
                   downscale=int(tr.get("downscale") or 1), crop=tuple(tr["crop"]) if tr.get("crop") else None,
                   fit=tr.get("fit"), polarity=tr.get("polarity", "keep"))
    plan = plan.prepare(tuple(sensor) if sensor else None, size)
    return check_events(result, plan(ev))


# --------------------------------------------------------------------------------------------
# Diagnosis
# --------------------------------------------------------------------------------------------

def diagnose(subject, events=None, *, window_ns: int = WINDOW_NS, fixes: bool = True, config=None, chip=None,
             options=None, progress=None) -> StallReport:
    """Diagnose the stalls of a run: `subject` is a `Result` (or a loaded run file), or the
    `DeadlockError` a run raised.

    events: the run's input (DVS_EVENT or SPIKE_EVENT, µs, exactly as fed: checked against the
    run's recorded hash); without them the report has no burst region, no starvation and no
    verified fixes. window_ns: the sliding window (a whole number of the run's bins; at least one).
    fixes: re-simulate the worst stall with each candidate fix (needs `events`).
    For a DeadlockError: config, chip (a Chip or name) and options describe the run, and with
    `events` the fixes are checked by running it again.
    progress(text): called with a short line before each slow step, if given.
    """
    if isinstance(subject, DeadlockError):
        from .fixes import explain_deadlock
        return explain_deadlock(subject, config=config, events=events, chip=chip, options=options,
                                progress=progress)
    result = subject
    result.require_simulation("a stall diagnosis")
    chip, config, options = run_chip(result), run_config(result), run_options(result)
    if events is not None:
        events = check_events(result, events)
    bin_ns = int(result.bin_ns)
    m = max(1, int(round(window_ns / bin_ns)))
    window = m * bin_ns
    report = StallReport(chip=chip.name, window_ns=window, bin_ns=bin_ns, duration_ns=int(result.t_end_ns),
                         n_inputs=len(result.input_t_ns))
    if window != window_ns:
        report.notes.append(f"windows of {duration_text(window / 1e3)} (a whole number of the run's "
                            f"{duration_text(bin_ns / 1e3)} bins) instead of {duration_text(window_ns / 1e3)}")
    ser = block_series(result, [LINK] + result.active_blocks(), chip, options, m)
    sat = ser.saturated()
    found = episodes(ser, sat)
    # the worst episode is the one whose stalls cost the most time; its fixes are re-simulated
    worst = max(found, key=lambda e: (e["stall_ns"], e["t1_ns"] - e["t0_ns"])) if found else None
    offered = states = None
    if events is not None:
        if progress:
            progress("functional pass: the load the input offers each block")
        split = None
        if worst is not None:
            from .fixes import window_bounds
            split = window_bounds(worst, window, bin_ns, chip, options, config)[0]
        fp, states = _functional(config, chip, options, events, result, split)
        offered = offered_load(fp, ser, chip, config)
        report.offered_from = "functional pass of the input"
    else:
        report.offered_from = "SynOps performed (a lower bound of the load offered: no input events given)"
        report.notes.append("without the input events there is no burst region, no starvation and no fix "
                            "checked: give them (speksim stalls RUN --recording FILE)")
    report.blocks = block_rows(result, ser, sat, offered, chip, config, link_timing(chip, options)[0])
    report.lag = lag_summary(result, chip, options, window)
    for e in found:
        describe_episode(e, result, ser, sat, offered, config, chip, options, events, window)
    report.episodes, report.cause = found, worst
    if worst is not None and fixes:
        if events is None:
            report.not_tried.append({"kind": "all", "why": "fixes are checked by re-simulating the input: give "
                                                           "the input events"})
        else:
            from .fixes import verify_fixes
            report.fixes, report.not_tried, report.resimulated = verify_fixes(
                worst, config=config, chip=chip, options=options, events=events, states=states, offered=offered,
                ser=ser, lag=report.lag, progress=progress)
    return report


def _functional(config, chip, options, events, result, split_ns):
    """The functional pass over the whole input, in the run's bins; with `split_ns`, run in two
    parts so that the neuron states at that input time come out too: a re-simulation of the
    input from there starts from them, as the run had them then (its queues aside)."""
    n_bins = len(result.series["busy_ns"])
    opts = dataclasses.replace(options, max_series_bins=max(options.max_series_bins, 2 * n_bins + 4))
    if split_ns is None:
        return functional_pass(config, chip, events, opts, result.bin_ns), None
    cut = int(np.searchsorted(events["t"], split_ns // 1000, side="left"))
    first = functional_pass(config, chip, events[:cut], opts, result.bin_ns)
    rest = functional_pass(config, chip, events[cut:], opts, result.bin_ns, initial_states=first.states)
    n = max(len(first.series["busy_ns"]), len(rest.series["busy_ns"]))
    series = {}
    for k in first.series:
        s = np.zeros((n,) + first.series[k].shape[1:], np.int64)
        s[:len(first.series[k])] += first.series[k]
        s[:len(rest.series[k])] += rest.series[k]
        series[k] = s
    return dataclasses.replace(rest, series=series), first.states


# --------------------------------------------------------------------------------------------
# The report for people
# --------------------------------------------------------------------------------------------

def _t(ns) -> str:
    """A time in the run: '0.125 s'."""
    return "-" if ns is None else f"{ns / 1e9:.3f} s"


def _d(ns) -> str:
    """A duration: '10.163 ms', '640 ns'."""
    if ns is None:
        return "-"
    return f"{ns:.0f} ns" if abs(ns) < 1000 else duration_text(ns / 1e3)


def _label_of(b) -> str:
    return "input link" if b == LINK else block_label(b)


def _mega(x) -> str:
    return "-" if x is None else f"{x / 1e6:.1f}M"


def _pct(x) -> str:
    return "-" if x is None else f"{x:.0%}"


def fix_loss_text(f: dict) -> str:
    """What a ranked fix (an entry of `StallReport.fixes`) costs, in words."""
    if f["retrain"]:
        return "nothing at run time; retrain the model" + (
            f" (saves {f['saves_synops']:,} SynOps in the window)" if f.get("saves_synops") else "")
    if f["loss"]:
        return f"{f['loss']} ({f['loss_fraction']:.0%})"
    return "-"


def fix_after_text(f: dict) -> str:
    """For a fix that does not resolve the stall: what is still saturated, or the busiest block
    with it; '' otherwise."""
    a = f["after"]
    still = [_label_of(b) for b in a.get("saturated", [])]
    busiest = a.get("busiest") or {}
    if not f["resolved"] and still:
        return f"still saturated with it: {', '.join(still)}"
    if not f["resolved"] and busiest.get("block") is not None:
        return f"busiest with it: {_label_of(busiest['block'])} ({_pct(busiest['busy_bin'])} of a bin)"
    return ""


def report_text(r: StallReport) -> str:
    """`StallReport.text()`."""
    if r.deadlock is not None:
        return _deadlock_text(r)
    out = [f"stall diagnosis on {r.chip}: {r.n_inputs:,} input events, {_t(r.duration_ns)} of chip time, windows of "
           f"{_d(r.window_ns)} slid by {_d(r.bin_ns)}", f"load offered: {r.offered_from}", ""]
    c = r.cause
    lag = r.lag or {}
    if c is None:
        out.append(f"verdict: no block was saturated in any window; peak input lag {_d(lag.get('peak_ns'))}")
    else:
        roots = sorted({e["root_label"] for e in r.episodes} - {c["root_label"]})
        also = f" (and, in other episodes, {', '.join(roots)})" if roots else ""
        span = sum(e["t1_ns"] - e["t0_ns"] for e in r.episodes)
        out.append(f"verdict: {c['root_label']} cannot keep up{also}: {len(r.episodes)} stall episode(s), "
                   f"{_d(span)} in all; the input lag reaches {_d(lag.get('peak_ns'))}")
    out += ["", "blocks (busy and load are fractions of a window; load: what the input offers, at the block's "
                "speed; above 100% it cannot keep up):",
            f"  {'block':<24}{'load':>7}{'busy':>7}{'SynOps/s':>10}{'capacity':>10}{'saturated':>11}{'stall':>12}"
            f"{'longest stall':>24}{'FIFO max':>10}  drops"]
    for b in r.blocks:
        ls = b["longest_stall"]
        longest = "-" if ls is None else f"{_d(ls['t1_ns'] - ls['t0_ns'])} at {_t(ls['t0_ns'])}"
        fifo = "-" if b["fifo_max"] is None else f"{b['fifo_max']}/{b['fifo_depth']}"
        drops = ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in b["drops"].items() if v) or "-"
        cap = b["capacity_synops_per_s"]
        syn = b["peak_offered_synops_per_s"] if b["peak_offered_synops_per_s"] is not None else b["peak_synops_per_s"]
        label = b["label"] + (f" (layer {b['layer']})" if b["layer"] else "")
        out.append(f"  {label[:23]:<24}{_pct(b['peak_offered_busy']):>7}{_pct(b['peak_busy']):>7}"
                   f"{_mega(syn):>10}{_mega(cap):>10}"
                   f"{_d(b['saturated_ns'] or None):>11}{_d(b['stall_ns'] or None):>12}{longest:>24}{fifo:>10}"
                   f"  {drops}")
    if lag:
        out += ["", f"input lag: unloaded {_d(lag.get('unloaded_ns'))}, median {_d(lag.get('p50_ns'))}, 99th "
                    f"percentile {_d(lag.get('p99_ns'))}, peak {_d(lag.get('peak_ns'))} (input at "
                    f"{_t(lag.get('peak_t_ns'))})" + (f"; {lag['dropped']:,} inputs dropped by a balancer"
                                                      if lag.get("dropped") else "")]
    if c is not None:
        out += ["", f"cause (the worst episode, {_t(c['t0_ns'])} to {_t(c['t1_ns'])}; stall {_d(c['stall_ns'])}):"]
        out += [f"  {_t(ev['t_ns'])}  {_event_text(ev, c)}" for ev in c["timeline"]]
        if c.get("starved") is None:
            out.append("  (which cores after it starved needs the input events)")
        if c["burst"]:
            out.append("  triggering burst: " + _burst_text(c["burst"]))
        others = [e for e in r.episodes if e is not c]
        if others:
            out.append(f"  {len(others)} other episode(s): " + ", ".join(
                f"{_t(e['t0_ns'])} {e['root_label']}" for e in others[:6]) + (" ..." if len(others) > 6 else ""))
    out += _fixes_text(r)
    if r.notes:
        out += ["", "notes:"] + [f"  - {n}" for n in r.notes]
    return "\n".join(out)


def _event_text(ev, c) -> str:
    what, label = ev["what"], ev["label"]
    if what == "saturated":
        load = (f": the input offers it up to {_pct(c['offered_peak'])} of what it can serve in a window, "
                f"{_pct(c['offered_peak_bin'])} in a bin") if ev["block"] == c["root"] and c.get("offered_peak") else ""
        return f"{label} saturated{load}"
    if what == "back-pressured":
        if ev["block"] == -1:
            grow = f"grows {c['lag_growth']:.2f} ns per ns, " if c.get("lag_growth") else ""
            back = f"; back down at {_t(c['lag_recovered_ns'])}" if c.get("lag_recovered_ns") else ""
            return f"input link back-pressured: the input lag {grow}peak {_d(c['peak_lag_ns'])}{back}"
        row = next(b for b in c["back_pressured"] if b["block"] == ev["block"])
        return f"{label} back-pressured (stalled {_d(row['stall_ns'])} in the episode)"
    row = next(b for b in c["starved"] if b["block"] == ev["block"])
    return (f"{label} starved: by {_t(row['lowest_at_ns'])} it had received only {_pct(row['received_fraction'])} "
            "of the SynOps the input offers it since the episode began")


def _burst_text(b) -> str:
    parts = [f"{_t(b['t0_ns'])} to {_t(b['t1_ns'])}, {b['events']:,} events ({b['rate_per_s'] / 1e3:,.0f} kevents/s"
             + (f", {b['rate_vs_mean']:.1f}x the mean rate" if b.get("rate_vs_mean") else "") + ")"]
    g = b.get("region")
    if g:
        parts.append(f"region x {g['x0']}..{g['x1']}, y {g['y0']}..{g['y1']} (90% of its events; centroid "
                     f"{g['centroid_x']:.1f}, {g['centroid_y']:.1f})")
    p = b.get("polarity")
    if p:
        parts.append(f"ON {p['on_fraction']:.0%} / OFF {1 - p['on_fraction']:.0%}")
    if b.get("cores"):
        parts.append("to " + ", ".join(f"core {k}: {n:,}" for k, n in b["cores"].items()))
    return "; ".join(parts)


def _fixes_text(r: StallReport) -> list:
    out = []
    w = r.resimulated
    if r.fixes and w:
        base = w["baseline"]
        out += ["", f"fixes, re-simulated on {_t(w['t0_ns'])} to {_t(w['t1_ns'])} of the input ({w['events']:,} "
                    f"events; {w['start']}):",
                f"  without a change: load {_pct(base.get('peak_offered'))}, stall {_d(base['stall_ns'])}, peak lag "
                f"{_d(base['peak_lag_ns'])}, saturated {_d(base['saturated_ns'])}",
                f"  {'rank':<5}{'fix':<56}{'resolves':>9}{'load':>7}{'stall':>20}{'peak lag':>20}  loses"]
        for f in r.fixes:
            a, red = f["after"], f["reduction"]
            if a.get("deadlock") or a.get("error"):
                out.append(f"  {f['rank']:<5}{f['title'][:55]:<56}{'no':>9}  {a.get('deadlock') or a.get('error')}")
                continue
            stall = f"{_d(a['stall_ns'])} ({_pct(red.get('stall_ns') and -red['stall_ns'])})"
            lagt = f"{_d(a['peak_lag_ns'])} ({_pct(red.get('peak_lag_ns') and -red['peak_lag_ns'])})"
            loses = fix_loss_text(f)
            out.append(f"  {f['rank']:<5}{f['title'][:55]:<56}{'yes' if f['resolved'] else 'no':>9}"
                       f"{_pct(a.get('peak_offered')):>7}{stall:>20}{lagt:>20}  {loses}")
            after = fix_after_text(f)
            if after:
                out.append(f"  {'':<5}  {after}")
    elif r.fixes:
        out += ["", "fixes, each run on the whole input:"]
        for f in r.fixes:
            a = f["after"]
            if a.get("deadlock"):
                what = a["deadlock"]
            else:
                what = "no deadlock" + (", but the chip never falls idle (the run was cut at drain_ns)"
                                        if a.get("cut") else "")
                what += f"; {a['congestion_dropped']:,} transfers dropped" if a.get("congestion_dropped") else ""
            out.append(f"  {f['rank']}. {f['title']}: {what}" + (" (a model change)" if f["retrain"] else ""))
    if r.not_tried:
        out += ["", "not tried:"] + [f"  - {x['kind']}: {x['why']}" for x in r.not_tried]
    return out


def _deadlock_text(r: StallReport) -> str:
    d = r.deadlock
    out = [f"deadlock on {r.chip} at t = {d['t_ns']} ns: {' -> '.join(d['cycle_labels'] + d['cycle_labels'][:1])}",
           f"why: {d['why']}", "", "blocks:"]
    for b in d["blocks"]:
        out.append(f"  {b['label']:<10} FIFO {b['fifo_fill']}/{b['fifo_depth']} (head (feature, x, y): "
                   f"{[tuple(e) for e in b['fifo_head']]}), output queue {b['out_queue']}/{b['out_depth']}"
                   + (f", waits for {b['waits_for_label']}" if b["waits_for_label"] else "")
                   + ("" if b["in_cycle"] else " (outside the cycle)"))
    if d["link"]:
        out.append(f"  the input link waits to send input {d['link']['input']} to {d['link']['target_label']}")
    out += _fixes_text(r)
    return "\n".join(out)


__all__ = ["StallReport", "diagnose", "check_events", "events_for_run", "run_chip", "run_config", "run_options"]
