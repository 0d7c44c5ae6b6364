"""Peak memory against recording length (which speksim keeps flat; this script reports it).

    python benchmarks/bench_memory.py                    # 10 s, 100 s, 1000 s and 1 h
    python benchmarks/bench_memory.py --seconds 10 100   # chosen lengths

Each length runs in a fresh process, as `speksim run` does: the demo network (three cores, all
monitored) on a generated camera recording of uniform noise at 20 k events/s, read in chunks of
200,000 events and simulated by the fast engine, outputs and per-input arrays streamed to a
run file (`RunWriter`), which is written at the end and then deleted. The figure is the
process's peak resident memory (ru_maxrss), which includes Python, numpy, numba and h5py
themselves; the first line shows what an empty run of the same process costs.
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

RATE = 20_000           # events per second of recording
CHUNK = 200_000         # events read and simulated at a time (speksim run's default)


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
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"seconds": seconds, "events": n_total, "outputs": result.n_outputs(), "wall_s": round(wall, 2),
            "peak_rss_mb": round(peak_kb / 1024, 1), "run_file_mb": round(size / 2**20, 1),
            "series_bins": int(next(iter(result.series.values())).shape[0]), "bin_ns": int(result.bin_ns)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, nargs="*", default=[10, 100, 1000, 3600])
    ap.add_argument("--child", type=float, help=argparse.SUPPRESS)
    ap.add_argument("--out", default=None, help="folder for the temporary run files (default: a temporary folder)")
    ap.add_argument("--json", help="also write the figures to this JSON file")
    args = ap.parse_args(argv)
    if args.child is not None:
        print(json.dumps(one_run(args.child, args.out)))
        return 0
    with tempfile.TemporaryDirectory(prefix="speksim-mem-") as scratch:
        rows = _measure(args.seconds, args.out or scratch)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=2)
    return 0


def _measure(lengths, out_dir: str) -> list:
    """Each length in a fresh process (after an empty run, for the baseline); prints a row each."""
    rows = []
    for seconds in [0.0] + list(lengths):
        proc = subprocess.run([sys.executable, __file__, "--child", str(seconds), "--out", out_dir],
                              capture_output=True, text=True, check=True)
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(f"{row['seconds']:>7g} s  {row['events']:>11,} events  {row['outputs']:>12,} outputs  "
              f"peak {row['peak_rss_mb']:>7.1f} MB  wall {row['wall_s']:>7.1f} s  "
              f"run file {row['run_file_mb']:>7.1f} MB  "
              f"series {row['series_bins']:,} bins of {row['bin_ns'] / 1e6:g} ms", flush=True)
    return rows


if __name__ == "__main__":
    sys.exit(main())
