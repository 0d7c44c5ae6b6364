"""Batch replay on one core and on all of them: the speed-up of `speksim.batch` and how near it
comes to the ideal (the number of worker processes).

    python -m benchmarks.bench_batch                    # 4 per core (at least 8) recordings of 5 s each
    python -m benchmarks.bench_batch --recordings 16 --seconds 10
    python -m benchmarks.bench_batch --gesture          # copies of the shared DVS128 gesture recording

The demo network (three cores, all monitored) runs over the same recordings twice, with one
job and with one per usable core, writing run files into two scratch folders (resume off, so
every recording is simulated both times); the run files of the two batches must be identical.
Recordings: uniform camera noise at 20 k events/s, seeded, one .npy file each; or, with
--gesture, copies of ../shared/traces/dvs128_gesture.aedat4 (5.45 s, 297 k events). A JIT
warm-up batch runs first, so neither timing pays for compiling. The load average is printed
before and after: on a machine shared with other work, the speed-up falls short of the ideal
by what the others took.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from speksim._resources import usable_cores

from .common import SHARED
from .machine import load_average

RATE = 20_000           # events per second of generated recording
GESTURE = SHARED / "traces" / "dvs128_gesture.aedat4"


def noise_recordings(folder: Path, n: int, seconds: float, seed: int = 0) -> list[Path]:
    """n recordings of uniform camera noise (128x128, RATE events/s), seeded, as .npy files."""
    import speksim
    paths = []
    for i in range(n):
        rng = np.random.default_rng(seed + i)
        m = int(seconds * RATE)
        ev = speksim.make_events("dvs", t=np.sort(rng.integers(0, int(seconds * 1e6), m)), x=rng.integers(0, 128, m),
                                 y=rng.integers(0, 128, m), p=rng.integers(0, 2, m))
        path = folder / f"noise{i:03d}.npy"
        np.save(path, ev)
        paths.append(path)
    return paths


def gesture_recordings(folder: Path, n: int) -> list[Path]:
    """n copies of the shared gesture recording, in a scratch folder (never in the checkout)."""
    paths = []
    for i in range(n):
        path = folder / f"gesture{i:03d}.aedat4"
        shutil.copyfile(GESTURE, path)
        paths.append(path)
    return paths


def _cpu_s() -> float:
    """CPU time (user + system) of this process and of its finished children."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def timed_batch(recordings, out: Path, jobs: int, config=None) -> tuple[float, float, list]:
    """(wall s, CPU s, rows) of one batch of `config` (default: the demo network); the pool's
    workers have ended when it returns, so their CPU time is counted."""
    from speksim.batch import batch
    from speksim.config import demo_config
    t0, c0 = time.perf_counter(), _cpu_s()
    rows = batch(config or demo_config(), "speck2f", recordings, out, jobs=jobs, resume=False)
    return time.perf_counter() - t0, _cpu_s() - c0, rows


def measure(recordings, scratch: Path, jobs_all: int, progress=print, config=None) -> list[dict]:
    """Wall time with one job and with `jobs_all`; the run files of both must be identical."""
    progress("  warm-up (compiling once, cached for the workers)")
    timed_batch(recordings[:1], scratch / "warm", 1, config)
    out = []
    for jobs in (1, jobs_all):
        progress(f"  {len(recordings)} recordings, --jobs {jobs}")
        wall, cpu, rows = timed_batch(recordings, scratch / f"jobs{jobs}", jobs, config)
        failed = [r for r in rows if r["status"] != "ok"]
        if failed:
            raise SystemExit(f"bench_batch: {failed[0]['recording']} failed: {failed[0]['detail']}")
        out.append({"jobs": jobs, "wall_s": wall, "cpu_s": cpu, "events": sum(r["events"] for r in rows)})
    one, many = (sorted(p.name for p in (scratch / f"jobs{j}").glob("*.run.h5")) for j in (1, jobs_all))
    same = one == many and all((scratch / "jobs1" / n).read_bytes() == (scratch / f"jobs{jobs_all}" / n).read_bytes()
                               for n in one)
    if not same:
        raise SystemExit("bench_batch: the run files of --jobs 1 and --jobs all differ; they must be identical")
    return out


def workload(n: int, jobs: int, seconds: float = 5.0, gesture: bool = True, progress=print, config=None,
             network: str = "demo network") -> dict:
    """The batch workload: n recordings, copies of the shared gesture recording where it is there
    (else generated noise of `seconds` each), through `config` (`network` names it; default: the
    demo network) with one job and with `jobs`. Returns the figures: what the recordings and the
    network were, a row per job count, the load average before and after."""
    with tempfile.TemporaryDirectory(prefix="speksim-batch-") as tmp:
        scratch = Path(tmp)
        (scratch / "in").mkdir()
        if gesture and GESTURE.exists():
            recordings, what = gesture_recordings(scratch / "in", n), "DVS128 gesture, 5.45 s each"
        else:
            recordings = noise_recordings(scratch / "in", n, seconds)
            what = f"camera noise, {seconds:g} s at {RATE // 1000} k events/s each"
        before = load_average()
        rows = measure(recordings, scratch, jobs, progress, config)
        return {"recordings": n, "what": what, "network": network, "rows": rows, "load": [before, load_average()]}


def figures(rows: list[dict]) -> list[dict]:
    """Each row of `measure` with what follows from it: the cores it got (CPU over wall time), input
    events per second, the speed-up over the first row and its share of linear."""
    base = rows[0]["wall_s"]
    return [{**r, "cores_got": r["cpu_s"] / r["wall_s"], "events_per_s": r["events"] / r["wall_s"],
             "speed_up": base / r["wall_s"], "of_linear": base / r["wall_s"] / r["jobs"]} for r in rows]


def render(rows: list[dict], n: int, what: str, load) -> str:
    lines = [f"batch replay: {n} recordings ({what}), demo network, fast engine; run files identical across jobs",
             f"{'jobs':>4}  {'wall s':>8}  {'CPU s':>7}  {'cores got':>9}  {'events/s':>10}  {'speed-up':>8}  "
             f"{'ideal':>5}  {'efficiency':>10}"]
    for r in figures(rows):
        lines.append(f"{r['jobs']:>4}  {r['wall_s']:>8.2f}  {r['cpu_s']:>7.2f}  {r['cores_got']:>9.2f}  "
                     f"{r['events_per_s']:>10,.0f}  {r['speed_up']:>8.2f}  {r['jobs']:>5}  {r['of_linear']:>10.0%}")
    lines.append("CPU s: user + system time of the batch and its workers; cores got: CPU s / wall s. Much the same "
                 "CPU time with more jobs means little overhead; fewer cores got than jobs means other work shared "
                 "the machine, and the speed-up falls short of the ideal by that much")
    lines.append(f"load average (1, 5, 15 min) before: {load[0]}, after: {load[1]}")
    return "\n".join(lines)


def main(argv=None) -> int:
    cores = usable_cores()
    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench_batch", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recordings", type=int, default=max(8, 4 * cores),
                    help=f"how many recordings (default: {max(8, 4 * cores)}, at least four per core)")
    ap.add_argument("--seconds", type=float, default=5.0, help="length of each generated recording (default: 5)")
    ap.add_argument("--jobs", type=int, default=cores, help=f"the 'all cores' job count (default: {cores})")
    ap.add_argument("--gesture", action="store_true", help="copies of ../shared/traces/dvs128_gesture.aedat4")
    args = ap.parse_args(argv)
    if args.gesture and not GESTURE.exists():
        print(f"bench_batch: {GESTURE.name} is not there: the shared traces folder sits beside the checkout "
              "(../shared/traces); run without --gesture for generated recordings", file=sys.stderr)
        return 2
    w = workload(args.recordings, args.jobs, args.seconds, args.gesture, progress=lambda s: print(s, file=sys.stderr))
    print(render(w["rows"], w["recordings"], w["what"], w["load"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
