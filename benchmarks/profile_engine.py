"""Where the fast engine's time goes on the DVS Gesture replay, by compiled function (Linux, perf).

    python -m benchmarks.profile_engine                # 10 replays under `perf record`
    python -m benchmarks.profile_engine --replays 20

The engine's event loop (`engine/loop.py: _run`, with its helpers inlined, `kernels.scatter_tabled`
among them) and the kernels it calls (the rows functions of `kernels._event_rows`, the SynOps of
one event; `leak_job`; `dvs_map`) are machine code that numba compiles, which a sampling
profiler cannot name by itself. This script compiles them in this process (in a fresh numba
cache, so their addresses are known), writes the map `perf` reads for code generated at run
time (/tmp/perf-<pid>.map), samples the process while it replays the recording, and prints each
function's share of the samples with the time and work that share stands for. The few steps of
scatter_tabled before it calls the rows, which read the kernel taps that reach an output from
the core's tap tables, count in the loop's share; so do the rows functions that LLVM inlined
into the loop, which it does on some processors and not on others (numba's inline="never"
does not stop it): the script says which, and how many of the SynOps they did.
Needs the `perf` command (package linux-tools / linux-perf) and the shared models and
recordings; says what is missing otherwise.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time


def _rows_name(width: int) -> str:
    """The profile's name of the SynOp kernel's rows function of `width` features (speksim.kernels.ROWS)."""
    return f"_rows{width}" if width else "_rows_any"


def _rows_names() -> dict:
    """{LLVM name: profile name} of the rows functions compiled in this process."""
    from speksim.kernels import ROWS
    return {cres.fndesc.mangled_name: _rows_name(width) for width, rows in ROWS.items()
            for cres in rows.overloads.values()}


def _perf_map(modules) -> list:
    """(address, size, name) of every function numba compiled for `modules` in this process, the
    callees linked into them included (some of which LLVM may have inlined all the same: see main)."""
    from numba.core.registry import CPUDispatcher
    rows = _rows_names()
    entries = set()
    for mod in modules:
        for name in dir(mod):
            f = getattr(mod, name)
            if not isinstance(f, CPUDispatcher):
                continue
            for cres in f.overloads.values():
                lib = cres.library
                for fn in lib._final_module.functions:   # the callees linked into it too
                    if fn.is_declaration:
                        continue
                    addr = lib.get_pointer_to_function(fn.name)
                    if not addr:
                        continue
                    # numba's mangled names hold the qualified Python name: keep its last part
                    short = rows.get(fn.name) or next(
                        (p for p in ("_run", "leak_job", "dvs_map", "readout_tick", "readout_class",
                                     "_readout_send", "_waiting") if p in fn.name), None)
                    if short:
                        entries.add((addr, short))
    entries = sorted(entries)
    return [(a, (entries[i + 1][0] - a) if i + 1 < len(entries) else 1 << 16, n) for i, (a, n) in enumerate(entries)]


def synops_by_rows(result) -> dict:
    """SynOps of the replay by the rows function that did them ({profile name: SynOps}): a core
    whose output has 16, 32 or 64 features uses the function of that width, any other `_rows_any`."""
    from speksim.kernels import ROWS
    work = {}
    for core, states in result.states.items():
        name = _rows_name(states.shape[0] if states.shape[0] in ROWS else 0)
        work[name] = work.get(name, 0) + int(result.stats["synops"][core])
    return work


def profile(replays: int = 10) -> dict:
    """Sample `replays` gesture replays in this process (which must not have imported speksim
    yet: its code is compiled here, in a fresh cache). Returns the figures: `rows`, one per part
    of the engine, each with its label, share of the samples, seconds a replay and time per unit
    of work; or {"skipped": reason}."""
    if shutil.which("perf") is None:
        return {"skipped": "needs the perf command (Linux): install linux-tools (Debian: linux-perf) and run again"}
    cache = tempfile.mkdtemp(prefix="speksim-profile-")
    os.environ["NUMBA_CACHE_DIR"] = cache          # compiled here, so the addresses are known

    from . import bench_models
    from .common import span_s
    why = bench_models._missing("gesture")
    if why:
        shutil.rmtree(cache, ignore_errors=True)
        return {"skipped": why}
    import speksim
    from speksim import kernels
    from speksim.engine import loop, readout, steps
    _, events, _, config = bench_models._load("gesture")
    speksim.simulate(config, events[:5000], "speck2f")        # compile
    # compiling in this process left millions of the compiler's Python objects, which every
    # collection would walk (a quarter of the samples); a process that loads the compiled code from
    # the cache has none of them, so they are moved out of the collector's way
    gc.collect()
    gc.freeze()
    entries = _perf_map((loop, steps, kernels, readout))
    map_path = f"/tmp/perf-{os.getpid()}.map"
    perf = None
    try:
        with open(map_path, "w") as fh:
            for a, size, name in entries:
                fh.write(f"{a:x} {size:x} {name}\n")
        data = os.path.join(cache, "perf.data")
        perf = subprocess.Popen(["perf", "record", "-F", "2000", "-p", str(os.getpid()), "-o", data],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(1.0)         # perf attaches
        if perf.poll() is not None:
            return {"skipped": f"perf record stopped at once: {_said(perf.communicate()[1])}"}
        t0 = time.perf_counter()
        for _ in range(replays):
            result = speksim.simulate(config, events, "speck2f")
        wall = (time.perf_counter() - t0) / replays
        perf.send_signal(signal.SIGINT)
        try:
            said = perf.communicate(timeout=60)[1]
        except subprocess.TimeoutExpired:
            perf.kill()
            said = perf.communicate()[1]
        report = subprocess.run(["perf", "report", "-i", data, "--sort", "sym", "--stdio"], capture_output=True,
                                text=True, timeout=300)
    except subprocess.TimeoutExpired:
        return {"skipped": "perf report took more than 5 minutes"}
    finally:
        if perf is not None and perf.poll() is None:
            perf.kill()
            perf.wait()
        if os.path.exists(map_path):
            os.remove(map_path)
        shutil.rmtree(cache, ignore_errors=True)
    shares = {}
    for line in report.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0].endswith("%") and not line.startswith("#"):
            name = parts[-1]
            shares[name] = shares.get(name, 0.0) + float(parts[0][:-1]) / 100
    if not shares:
        return {"skipped": "perf recorded no samples of this process (with kernel.perf_event_paranoid above 2 it "
                           "may not sample; `sudo sysctl kernel.perf_event_paranoid=2` lets a user sample their own "
                           f"processes); perf said: {_said(said + report.stderr)}"}
    if "_run" not in shares:
        return {"skipped": "perf sampled the process but named none of the engine's compiled functions (it did not "
                           f"read the map of run-time code, /tmp/perf-<pid>.map); perf said: {_said(said)}"}

    synops = int(result.stats["synops"].sum())
    served = int(result.stats["served"].sum())
    jobs = int(result.stats["served"][:9].sum())
    rows_work = synops_by_rows(result)
    # a rows function that did a share of the SynOps but got no samples runs inlined into the loop
    # (its definition may still be in the code, unused)
    inlined = sorted(name for name, n in rows_work.items() if not shares.get(name) and n >= synops / 100)
    named = {"_run": ("event loop (scheduling, FIFOs, routing, statistics)"
                      + (", with the kernel inlined into it" if inlined else ""), served, "served event")}
    for name in sorted(rows_work):
        if name not in inlined:
            named[name] = (f"SynOp kernel (F2, F3), `{name}`", rows_work[name], "SynOp")
    named.update({"leak_job": ("leak kernel (F4)", None, None), "dvs_map": ("DVS layer (F6)", None, None)})
    rows = []
    rest = 1.0
    for key, (label, work, unit) in named.items():
        share = shares.get(key, 0.0)
        if not share:
            continue
        rest -= share
        ns = share * wall / work * 1e9 if work else None
        rows.append({"label": label, "share": share, "seconds": share * wall, "ns_per_unit": ns, "unit": unit})
    rows.append({"label": "everything else (Python, numpy, building the Result)", "share": max(rest, 0.0),
                 "seconds": max(rest, 0.0) * wall, "ns_per_unit": None, "unit": None})
    return {"replays": replays, "wall_s": wall, "events": len(events), "span_s": span_s(events), "rows": rows,
            "inlined": {name: rows_work[name] for name in inlined}, "synops": synops, "jobs": jobs,
            "served": served}


def _said(text: str) -> str:
    """The last lines of what perf printed, on one line (or that it printed nothing)."""
    lines = [x.strip() for x in (text or "").splitlines() if x.strip()]
    return " / ".join(lines[-3:]) if lines else "nothing"


def render_profile(p: dict) -> list:
    """The lines that print a `profile` result (markdown)."""
    if "skipped" in p:
        return [f"profile skipped: {p['skipped']}"]
    out = [f"DVS Gesture replay: {p['events']:,} events over {p['span_s']:.2f} s; {p['wall_s']:.3f} s a replay "
           f"under the profiler (real-time factor {p['span_s'] / p['wall_s']:.1f}), {p['replays']} replays sampled",
           "",
           "| where | share of samples | seconds a replay | per unit of work |", "|---|---|---|---|"]
    # (results written before the rows kept their time per unit as a number have it as text, `per`)
    out += [f"| {r['label']} | {r['share']:.0%} | {r['seconds']:.3f} | "
            + (f"{r['ns_per_unit']:.2f} ns per {r['unit']}" if r.get("unit") else r.get("per", "")) + " |"
            for r in p["rows"]]
    if p["inlined"]:
        n = sum(p["inlined"].values())
        out += ["", f"On this machine the compiler inlined {', '.join(f'`{x}`' for x in sorted(p['inlined']))} "
                    f"into the event loop: their {n:,} SynOps ({n / p['synops']:.0%}) count in the loop's share, "
                    "not the kernel's."]
    out += ["", f"work: {p['synops']:,} SynOps, {p['jobs']:,} core jobs, {p['served']:,} events served by all blocks"]
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.profile_engine", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--replays", type=int, default=10, help="replays sampled (default 10)")
    ap.add_argument("--json", help="also write the figures to this file (as `python -m benchmarks` does)")
    args = ap.parse_args(argv)
    if args.replays < 1:
        ap.error("--replays must be at least 1")
    p = profile(args.replays)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(p, fh, indent=2)
    print("\n".join(render_profile(p)))
    return 1 if "skipped" in p else 0


if __name__ == "__main__":
    sys.exit(main())
