"""Run speksim's benchmarks, print a table and write the figures as JSON.

    python -m benchmarks                      # everything (about 15 minutes on a 2-core machine)
    python -m benchmarks --quick              # a smoke run (about 2 minutes)
    python -m benchmarks --only gesture chain --repeats 3
    python -m benchmarks --show benchmarks/results/FILE.json   # the table of an earlier run

Run from the checkout's root. Workloads (--only takes these names; `synthetic` means the four
generated ones):
  compile    JIT compile time, cold (fresh numba cache) and warm (cached), in child processes
  single-4, single, single-64, chain
             generated spike input through one core at three widths and a four-core chain
             (benchmarks/bench_engine.py)
  reference  the SimPy reference engine on a prefix of the chain's input
  gesture, mnist
             the shared networks on the shared recordings, with sinabs' forward, a numpy event loop,
             the reference engine, the least a replay can take (benchmarks/floor.py) and
             the wave engine (`engine="wave"`, benchmarks/wavefront.py) beside the fast
             engine (benchmarks/bench_models.py)
  profile    where the gesture replay's time goes, per compiled function (Linux perf; skipped
             with the reason when perf or the shared files are missing; benchmarks/profile_engine.py)
  batch      many recordings through `speksim.batch`, with one job and one per core: the speed-up
             (copies of the shared gesture recording through its network, else the demo network on
             generated noise; benchmarks/bench_batch.py)
  memory     peak memory for 10 s, 100 s, 1000 s and 1 h of recording, a process each
Timed figures are medians of --repeats runs after JIT warm-up, on one core (sinabs also on all).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time

from speksim._resources import usable_cores

from . import bench_batch, bench_engine, bench_memory, bench_models
from .common import REPO
from .machine import describe, load_average
from .report import SYNTHETIC, render

ORDER = ("compile",) + SYNTHETIC + ("reference", "gesture", "profile", "mnist", "batch", "memory")


def _settings(args) -> dict:
    quick = args.quick
    return {"quick": quick, "repeats": args.repeats or (1 if quick else 5),
            "synthetic_events": 200_000 if quick else 1_000_000,
            "reference_events": 50_000 if quick else 200_000,
            "prefix_events": 5_000 if quick else 20_000,
            "profile_replays": 3 if quick else 10,
            "batch_recordings": 2 * usable_cores() if quick else max(8, 4 * usable_cores()),
            "memory_seconds": [10, 100] if quick else [10, 100, 1000, 3600]}


def _run(name: str, s: dict, progress):
    n, repeats = s["synthetic_events"], s["repeats"]
    if name == "compile":
        return bench_engine.compile_times()
    if name in SYNTHETIC:
        return bench_engine.throughput(name, n, repeats)
    if name == "reference":
        return bench_engine.reference_chain(s["reference_events"], repeats)
    if name in bench_models.NETWORKS:
        return bench_models.network(name, repeats, s["prefix_events"], progress)
    if name == "profile":
        return _profile(s["profile_replays"])
    if name == "batch":
        return _batch(s["batch_recordings"], progress)
    return bench_memory.measure(s["memory_seconds"], progress)


def _profile(replays: int) -> dict:
    """benchmarks.profile_engine in a child process: it compiles the engine afresh, in a cache of
    its own, to know where the code lies, and samples only itself."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "profile.json")
        try:
            run = subprocess.run([sys.executable, "-m", "benchmarks.profile_engine", "--replays", str(replays),
                                  "--json", out], cwd=REPO, capture_output=True, text=True, timeout=1800)
        except subprocess.TimeoutExpired:
            return {"skipped": "the profiler took more than 30 minutes"}
        if not os.path.exists(out):
            return {"skipped": f"the profiler stopped (exit {run.returncode}): {run.stderr.strip()[-500:]}"}
        with open(out) as fh:
            return json.load(fh)


def _batch(n: int, progress) -> dict:
    """Batch replay of copies of the gesture recording through the gesture network (what a
    regression suite over many recordings runs); the demo network on generated noise where the
    shared files are missing."""
    config, network = None, "demo network"
    if not bench_models._missing("gesture"):
        config, network = bench_models._load("gesture")[3], "DVS Gesture network"
    try:
        return bench_batch.workload(n, usable_cores(), progress=progress, config=config, network=network)
    except SystemExit as e:       # a failed recording, or run files that differ across job counts
        return {"failed": str(e)}


def _write(path: str, results: dict):
    """Write atomically, so that an interrupted run leaves the figures of the workloads done."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(results, fh, indent=2)
    os.replace(tmp, path)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="smaller inputs, one repeat, memory for 10 s and 100 s only: a smoke run")
    ap.add_argument("--only", nargs="+", metavar="NAME", choices=ORDER + ("synthetic",),
                    help="run only these workloads")
    ap.add_argument("--repeats", type=int,
                    help="timed runs per figure, of which the median (default 5; 1 with --quick)")
    ap.add_argument("--json", help="where to write the figures (default: benchmarks/results/<date>-<time>.json)")
    ap.add_argument("--show", metavar="JSON", help="print the table of an earlier run's results file, and run nothing")
    args = ap.parse_args(argv)
    if args.show:
        with open(args.show) as fh:
            print(render(json.load(fh)))
        return 0
    if args.repeats is not None and args.repeats < 1:
        ap.error("--repeats must be at least 1")
    chosen = set(args.only or ORDER)
    if "synthetic" in chosen:
        chosen |= set(SYNTHETIC)
    names = [n for n in ORDER if n in chosen]
    s = _settings(args)
    stamp = datetime.datetime.now().strftime("%Y-%m-%d-%H%M%S")
    path = args.json or str(REPO / "benchmarks" / "results" / f"{stamp}.json")

    def progress(msg):
        print(msg, file=sys.stderr, flush=True)

    results = {"machine": describe(), "settings": s, "workloads": {}}
    t_start = time.perf_counter()
    for name in names:
        progress(f"{name} ...")
        t = time.perf_counter()
        results["workloads"][name] = _run(name, s, progress)
        progress(f"{name}: {time.perf_counter() - t:.0f} s")
        _write(path, results)
    results["load_average_end"] = load_average()
    results["total_s"] = time.perf_counter() - t_start
    _write(path, results)
    print(render(results))
    print(f"\nFigures written to {path} ({results['total_s']:.0f} s in all).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
