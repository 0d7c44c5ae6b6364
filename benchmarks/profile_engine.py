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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.profile_engine", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--replays", type=int, default=10, help="replays sampled (default 10)")
    args = ap.parse_args(argv)
    if shutil.which("perf") is None:
        print("needs the perf command (Linux): install linux-tools (Debian: linux-perf) and run again")
        return 1
    cache = tempfile.mkdtemp(prefix="speksim-profile-")
    os.environ["NUMBA_CACHE_DIR"] = cache          # compiled here, so the addresses are known

    from . import bench_models
    from .common import span_s
    why = bench_models._missing("gesture")
    if why:
        print(f"gesture: skipped: {why}")
        return 1
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
    with open(map_path, "w") as fh:
        for a, size, name in entries:
            fh.write(f"{a:x} {size:x} {name}\n")

    data = os.path.join(cache, "perf.data")
    perf = subprocess.Popen(["perf", "record", "-F", "2000", "-p", str(os.getpid()), "-o", data],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)         # perf attaches
    t0 = time.perf_counter()
    for _ in range(args.replays):
        result = speksim.simulate(config, events, "speck2f")
    wall = (time.perf_counter() - t0) / args.replays
    perf.send_signal(signal.SIGINT)
    perf.wait()
    report = subprocess.run(["perf", "report", "-i", data, "--sort", "sym", "--stdio"], capture_output=True,
                            text=True).stdout
    shares = {}
    for line in report.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0].endswith("%") and not line.startswith("#"):
            name = parts[-1]
            shares[name] = shares.get(name, 0.0) + float(parts[0][:-1]) / 100
    os.remove(map_path)
    shutil.rmtree(cache, ignore_errors=True)

    synops = int(result.stats["synops"].sum())
    served = int(result.stats["served"].sum())
    jobs = int(result.stats["served"][:9].sum())
    print(f"DVS Gesture replay: {len(events):,} events over {span_s(events):.2f} s; {wall:.3f} s a replay "
          f"(real-time factor {span_s(events) / wall:.1f}), {args.replays} replays sampled\n")
    print("| where | share of samples | seconds a replay | per unit of work |")
    print("|---|---|---|---|")
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
    rest = 1.0
    for key, (label, work, unit) in named.items():
        share = shares.get(key, 0.0)
        if not share:
            continue
        rest -= share
        per = f"{share * wall / work * 1e9:.2f} ns per {unit}" if work else ""
        print(f"| {label} | {share:.0%} | {share * wall:.3f} | {per} |")
    print(f"| everything else (Python, numpy, building the Result) | {max(rest, 0):.0%} | "
          f"{max(rest, 0) * wall:.3f} | |")
    if inlined:
        n = sum(rows_work[name] for name in inlined)
        print(f"\nOn this machine the compiler inlined {', '.join(f'`{x}`' for x in inlined)} into the event loop: "
              f"their {n:,} SynOps ({n / synops:.0%}) count in the loop's share, not the kernel's.")
    print(f"\nwork: {synops:,} SynOps, {jobs:,} core jobs, {served:,} events served by all blocks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
