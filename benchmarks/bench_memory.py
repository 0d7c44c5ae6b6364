"""Peak memory against recording length (which speksim keeps flat; this benchmark reports it).

Each length runs in a fresh process, as `speksim run` does: the demo network (three cores, all
monitored) on a generated camera recording of uniform noise at 20 k events/s, read in chunks of
200,000 events and simulated by the fast engine, outputs and per-input arrays streamed to a
run file (`RunWriter`), which is written at the end and then deleted. The figure is the
process's peak resident memory (VmHWM on Linux, else ru_maxrss), which includes Python, numpy,
numba and h5py themselves; the first row shows what an empty run of the same process costs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

from .common import REPO

RATE = 20_000           # events per second of recording
CHUNK = 200_000         # events read and simulated at a time (speksim run's default)


def _peak_kb() -> int:
    """This process's peak resident memory in KiB. Linux's ru_maxrss also counts the memory of the
    process that started this one (it survives exec), so a parent holding torch would show in
    every row; VmHWM belongs to this program alone."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def one_run(seconds: float, out_dir: str) -> dict:
    """Simulate `seconds` of recording in this process; returns the figures."""
    import numpy as np

    import speksim
    from speksim.config import demo_config
    from speksim.runfile import RunWriter

    rng = np.random.default_rng(0)
    n_total = int(seconds * RATE)
    path = os.path.join(out_dir, f"mem-{seconds:g}.h5")
    t0 = time.perf_counter()
    with RunWriter(path) as writer:
        sim = speksim.Simulation(demo_config(), keep_outputs=False, sink=writer)
        done = 0
        while done < n_total:
            n = min(CHUNK, n_total - done)
            # Poisson arrivals at RATE: sorted uniform times within this chunk's share of the span
            lo = done * 1_000_000 // RATE
            hi = (done + n) * 1_000_000 // RATE
            t = np.sort(rng.integers(lo, max(hi, lo + 1), n))
            ev = speksim.make_events("dvs", t=t, x=rng.integers(0, 128, n), y=rng.integers(0, 128, n),
                                     p=rng.integers(0, 2, n))
            sim.feed(ev)
            done += n
        result = sim.finish()
        writer.finish(result)
    wall = time.perf_counter() - t0
    size = os.path.getsize(path)
    os.unlink(path)
    peak_kb = _peak_kb()
    return {"seconds": seconds, "events": n_total, "outputs": result.n_outputs(), "wall_s": round(wall, 2),
            "peak_rss_mb": round(peak_kb / 1024, 1), "run_file_mb": round(size / 2**20, 1),
            "series_bins": int(next(iter(result.series.values())).shape[0]), "bin_ns": int(result.bin_ns)}


def measure(lengths, progress=print) -> dict:
    """Each length in a fresh process, after an empty run for the baseline; returns the rows and
    the spread of peak memory over the lengths (which speksim keeps flat)."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="speksim-mem-") as scratch:
        for seconds in [0.0] + list(lengths):
            progress(f"  memory: {seconds:g} s of recording")
            proc = subprocess.run([sys.executable, "-m", "benchmarks.bench_memory", "--child", str(seconds),
                                   "--out", scratch], cwd=REPO, capture_output=True, text=True, check=True)
            rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    peaks = [r["peak_rss_mb"] for r in rows[1:]]
    return {"rows": rows, "baseline_mb": rows[0]["peak_rss_mb"], "spread_mb": max(peaks) - min(peaks),
            "spread_rel": (max(peaks) - min(peaks)) / min(peaks)}


def _child(argv=None) -> int:
    ap = argparse.ArgumentParser(description="one length of the memory benchmark, in this process")
    ap.add_argument("--child", type=float, required=True, help="seconds of recording")
    ap.add_argument("--out", required=True, help="folder for the temporary run file")
    args = ap.parse_args(argv)
    print(json.dumps(one_run(args.child, args.out)))
    return 0


if __name__ == "__main__":
    sys.exit(_child())
