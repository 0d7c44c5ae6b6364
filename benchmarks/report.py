"""The printed table: markdown, so that it reads in a terminal and pastes into the README.

Everything here formats figures that the benchmarks computed; nothing is measured.
"""

from __future__ import annotations

from .bench_batch import figures
from .profile_engine import render_profile

#: the speed targets for the gesture replay: real-time factor, and times faster than sinabs'
#: one-thread forward at 1 ms and at 10 ms steps
TARGET_RTF, TARGET_SINABS_1MS, TARGET_SINABS_10MS = 20.0, 100.0, 10.0

SYNTHETIC = ("single-4", "single", "single-64", "chain")
SINABS_LABELS = {"sinabs_1ms_1thread": "sinabs forward, 1 ms steps, 1 thread",
                 "sinabs_1ms_all": "sinabs forward, 1 ms steps, {threads} threads",
                 "sinabs_10ms_1thread": "sinabs forward, 10 ms steps, 1 thread",
                 "sinabs_10ms_all": "sinabs forward, 10 ms steps, {threads} threads"}


def _s(x: float) -> str:
    """Seconds with three significant digits."""
    return f"{x:.3g} s" if x < 1000 else f"{x:,.0f} s"


def _wall(row: dict, key: str = "wall_s") -> str:
    """Median and, over several repeats, the range: the spread is the noise of the machine."""
    values = row.get(key + "_all", [])
    spread = f" ({min(values):.3g}–{max(values):.3g})" if len(values) > 1 else ""
    return _s(row[key]) + spread


def _rate(x: float, what: str) -> str:
    """A rate with its decimal prefix: 'x.yz M SynOps/s'."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if x >= scale:
            return f"{x / scale:.3g} {unit} {what}"
    return f"{x:.3g} {what}"


def _x(ratio: float) -> str:
    return f"{ratio:.3g}x"


def _table(head: list, rows: list) -> list:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return lines + ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]


def render(results: dict) -> str:
    """The whole table of a results dict (see `benchmarks.__main__`) as markdown text."""
    w = results["workloads"]
    m = results["machine"]
    out = [f"# speksim benchmarks, {m['date']}",
           f"{m['cpu']}, {m['logical_cores']} logical cores, {m['memory_gb']} GB, {m['os']}; "
           f"python {m['python']}, " + ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v)
           + (f"; commit {m['git']['commit'][:10]}{' (modified)' if m['git']['modified'] else ''}" if m["git"] else ""),
           f"Load average at start {m['load_average_start']}, at end {results.get('load_average_end')}. "
           + _repeats(results['settings']['repeats']), ""]
    for section in (_throughput, _peers, _targets, _where, _batch, _compile, _memory, _reference):
        lines = section(w, results)
        if lines:
            out += lines + [""]
    skipped = [f"- {k}: skipped: {v['skipped']}" for k, v in w.items() if isinstance(v, dict) and "skipped" in v]
    failed = [f"- {k}: FAILED: {v['failed']}" for k, v in w.items() if isinstance(v, dict) and "failed" in v]
    return "\n".join(out + skipped + failed)


def _repeats(n: int) -> str:
    if n == 1:
        return "Timed figures: one run after JIT warm-up."
    return f"Timed figures: medians of {n} runs after JIT warm-up, (min–max) over the runs."


def _throughput(w, results):
    rows = []
    for name in SYNTHETIC + ("gesture", "mnist"):
        r = w.get(name)
        if not r or "skipped" in r:
            continue
        f = r["speksim"] if name in ("gesture", "mnist") else r
        rows.append([name, f"{r['input_events']:,}", _wall(f), _rate(f["synops_per_s"], "SynOps/s"),
                     _rate(f["events_per_s"], "events/s"), f"{f['realtime_factor']:.3g}"])
    if not rows:
        return []
    return ["## Fast engine (one CPU core)", ""] + _table(
        ["workload", "input events", "wall", "SynOps/s", "events/s (input + routed)", "real-time factor"], rows)


def _peers(w, results):
    out = []
    for name in ("gesture", "mnist"):
        r = w.get(name)
        if not r or "skipped" in r:
            continue
        fast = r["speksim"]
        rows = [["speksim, fast engine", _wall(fast), f"{fast['realtime_factor']:.3g}", "1", "whole recording"]]
        fl = r.get("floor", {})
        if "floor_s" in fl:
            work = "the fast engine's work" if fl["same_work"] else "NOT the fast engine's work"
            rows.append(["least a replay can take: the SynOps and each event's bookkeeping, no timing model",
                         _wall(fl, "floor_s"), f"{r['span_s'] / fl['floor_s']:.3g}", _x(fl["floor_s"] / fast["wall_s"]),
                         f"benchmarks/floor.py; {work}; the SynOp kernel alone {_wall(fl, 'kernel_s')}"])
        wf = r.get("wavefront", {})
        if "wall_s" in wf:
            same = "the same Result" if wf["identical"] else "a DIFFERENT Result"
            rows.append(["speksim, wave engine (chains only: `engine=\"wave\"`)", _wall(wf),
                         f"{r['span_s'] / wf['wall_s']:.3g}", _x(wf["wall_s"] / fast["wall_s"]),
                         f"whole recording; {same} as the fast engine's"])
        for key, label in SINABS_LABELS.items():
            s = r[key]
            note = f"whole recording; binning {_s(s['bin_s'])} of it"
            rows.append([label.format(threads=s["threads"]), _wall(s), f"{s['realtime_factor']:.3g}",
                         _x(s["ratio"]), note])
        n = r["prefix_events"]
        whole = n == r["input_events"]
        for key, label in (("naive", "numpy event loop"), ("reference", "speksim, SimPy reference engine")):
            p = r[key]
            if whole:
                note = (f"whole recording ({_rate(p['input_events_per_s'], 'input events/s')}, "
                        f"{_rate(p['events_per_s'], 'events/s')})")
            else:
                note = (f"first {n:,} events in {_wall(p)} ({_rate(p['input_events_per_s'], 'input events/s')}, "
                        f"{_rate(p['events_per_s'], 'events/s')}); wall extrapolated by input events")
            if key == "reference":
                note += "; identical to the fast engine" if p["identical_to_fast"] else "; DIFFERS from the fast engine"
            rows.append([label, _s(p["extrapolated_wall_s"]), f"{r['span_s'] / p['extrapolated_wall_s']:.3g}",
                         _x(p["ratio"]), note])
        out += [f"## Peers on {name} ({r['recording']}, {r['input_events']:,} events, {r['span_s']:.3g} s)",
                "ratio: the peer's wall time over speksim's fast engine's", ""]
        out += _table(["run", "wall", "real-time factor", "ratio", "note"], rows) + [""]
    return out[:-1]


def _targets(w, results):
    r = w.get("gesture")
    if not r or "skipped" in r:
        return []
    rows = []
    engines = [("fast engine", r["speksim"]["wall_s"])]
    if _wave_wall(r):
        engines.append(("wave engine", _wave_wall(r)))
    for engine, wall in engines:
        # each goal as the replay time it asks for: the recording's span, or the peer's wall time,
        # over the goal (the figures are those times' ratios)
        for label, over, goal in (("real-time factor", r["span_s"], TARGET_RTF),
                                  ("times faster than sinabs, 1 ms steps, 1 thread", r["sinabs_1ms_1thread"]["wall_s"],
                                   TARGET_SINABS_1MS),
                                  ("times faster than sinabs, 10 ms steps, 1 thread",
                                   r["sinabs_10ms_1thread"]["wall_s"], TARGET_SINABS_10MS)):
            got = over / wall
            verdict = "met" if got >= goal else f"missed by {goal / got:.3g}x"
            rows.append([engine, label, f"≥ {goal:g}", f"{got:.3g}", f"≤ {_s(over / goal)} ({_s(wall)} now)", verdict])
    return (["## Targets for the gesture replay", ""]
            + _table(["engine", "figure", "target", "measured", "replay it asks for", "verdict"], rows)
            + _against_floor(r))


def _against_floor(r) -> list:
    """What the goals leave for the timing model, beside the floor (benchmarks/floor.py): the
    replay time a goal asks for, less the floor, per event served; and what it takes now."""
    fl = r.get("floor", {})
    if "floor_s" not in fl:
        return []
    wall, served = r["speksim"]["wall_s"], fl["served"]
    lines = ["", f"The least a replay can take here is {_s(fl['floor_s'])}: the SynOps alone take "
                 f"{_s(fl['kernel_s'])}, and moving each of the {served:,} events served on takes the rest "
                 "(benchmarks/floor.py, with no timing model at all). Beyond the floor, per event served:", "",
             f"- now: {(wall - fl['floor_s']) / served * 1e9:.3g} ns with the fast engine (the timing model, its "
             "scheduling and the run's setup and finish)" + _wave_beyond(r, fl) + ";"]
    for label, key, goal, end in (("1 ms", "sinabs_1ms_1thread", TARGET_SINABS_1MS, ";"),
                                  ("10 ms", "sinabs_10ms_1thread", TARGET_SINABS_10MS, ".")):
        left = r[key]["wall_s"] / goal - fl["floor_s"]
        lines.append(f"- the goal against sinabs at {label} steps leaves "
                     + (f"{left / served * 1e9:.3g} ns" if left > 0 else "nothing: the floor alone is over it") + end)
    return lines


def _wave_wall(r):
    """The wave engine's replay time, where the harness timed it on its own path and it gave the
    fast engine's Result (so the same goals apply to it); else None."""
    wave = r.get("wavefront", {})
    return wave["wall_s"] if "wall_s" in wave and wave["identical"] else None


def _wave_beyond(r, fl) -> str:
    """", X ns with the wave engine", where its time counts (`_wave_wall`)."""
    wall = _wave_wall(r)
    return f", {(wall - fl['floor_s']) / fl['served'] * 1e9:.3g} ns with the wave engine" if wall else ""


def _where(w, results):
    nets = [n for n in ("gesture", "mnist") if w.get(n) and "skipped" not in w[n]]
    out = []
    if nets:
        labels = (("read_s", "reading the recording"), ("model_s", "loading the network (torch, sinabs)"),
                  ("config_s", "building the configuration (from_torch)"),
                  ("setup_s", "Simulation(): validating and compiling the configuration"),
                  ("feed_s", "feed: the engine's event loop"), ("finish_s", "finish: draining, building the Result"))
        times = {n: {**w[n]["load"], **w[n]["speksim"]} for n in nets}
        totals = {n: sum(times[n][k] for k, _ in labels) for n in nets}
        rows = [[label] + [f"{_s(times[n][k])} ({times[n][k] / totals[n]:.0%})" for n in nets] for k, label in labels]
        out += ["## Where the time goes (medians; share of all phases)", ""]
        out += _table(["phase"] + nets, rows) + [""]
    prof = w.get("profile")
    if prof and "skipped" not in prof:
        out += ["## Inside the gesture replay, per compiled function (Linux perf; the SynOp kernel against the "
                "scheduling)", ""] + render_profile(prof)
    elif nets:
        # a skipped profile says why in the list of skipped workloads at the end
        out.append("Inside the event loop, per compiled function (the SynOp kernel against the scheduling): "
                   "python -m benchmarks.profile_engine (Linux, with perf).")
    return out


def _batch(w, results):
    b = w.get("batch")
    if not b or "rows" not in b:
        return []
    rows = [[r["jobs"], _s(r["wall_s"]), _s(r["cpu_s"]), f"{r['cores_got']:.2f}",
             _rate(r["events_per_s"], "input events/s"), _x(r["speed_up"]), f"{r['of_linear']:.0%}"]
            for r in figures(b["rows"])]
    return ([f"## Batch replay on all local cores ({b['recordings']} recordings: {b['what']}; "
             f"{b.get('network', 'demo network')}; run files identical across job counts)", ""]
            + _table(["jobs", "wall", "CPU", "cores got (CPU / wall)", "throughput", "speed-up", "of linear"], rows)
            + ["", f"Load average before {b['load'][0]}, after {b['load'][1]}: a machine shared with other work gives "
                   "fewer cores than jobs, and the speed-up falls short of linear by that much."])


def _compile(w, results):
    c = w.get("compile")
    if not c:
        return []
    return ["## JIT compile", "",
            f"- cold (a first process in an empty numba cache, start to exit): {_s(c['cold_s'])}",
            f"- warm (a second process, cached code, to its first result): {_s(c['warm_s'])}"]


def _length(seconds: float) -> str:
    if not seconds:
        return "empty run"
    return f"{seconds / 3600:g} h" if seconds >= 3600 else f"{seconds:g} s"


def _memory(w, results):
    mem = w.get("memory")
    if not mem:
        return []
    rows = [[_length(r["seconds"]), f"{r['events']:,}", f"{r['outputs']:,}",
             f"{r['peak_rss_mb']:.0f} MB", _s(r["wall_s"]), f"{r['run_file_mb']:.1f} MB"] for r in mem["rows"]]
    return (["## Peak memory against recording length (demo network, 20 k events/s, run file streamed)", ""]
            + _table(["recording", "input events", "output events", "peak memory", "wall", "run file"], rows)
            + ["", f"Spread over the lengths: {mem['spread_mb']:.1f} MB ({mem['spread_rel']:.1%})."])


def _reference(w, results):
    r = w.get("reference")
    if not r:
        return []
    return ["## Reference engine (SimPy) on the synthetic chain", "",
            f"{r['input_events']:,} input events: {_wall(r)}, {_rate(r['input_events_per_s'], 'input events/s')}; "
            + ("identical to the fast engine." if r["identical_to_fast"] else "DIFFERS from the fast engine.")]
