"""What every benchmark shares: where things are, one timed run of the public API, medians.

A timed run splits `speksim.simulate` into the three calls it makes, so that the figures say
where the time goes: building the `Simulation` (validating and compiling the configuration),
`feed` (the engine's event loop over the whole input) and `finish` (draining the chip and
building the Result). Wall time is their sum, which is what `simulate` costs.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np

import speksim

#: the checkout's root (the parent of this folder) and the shared folder beside it
REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def timed_run(config, events, engine: str = "fast") -> dict:
    """Simulate `events` on `config` through the public API; returns the phase times (s), the
    work done and the Result.

    synops: SynOps of all cores; copies: copies made by output stages (monitor and destination
    transfers; for camera input the DVS layer's too); served: events whose service started, over
    all blocks (the loop's per-event work); events: input events plus copies (what the figures
    call events)."""
    t0 = time.perf_counter()
    sim = speksim.Simulation(config, "speck2f", engine=engine)
    t1 = time.perf_counter()
    sim.feed(events)
    t2 = time.perf_counter()
    result = sim.finish()
    t3 = time.perf_counter()
    copies = int(result.stats["copies"].sum())
    return {"setup_s": t1 - t0, "feed_s": t2 - t1, "finish_s": t3 - t2, "wall_s": t3 - t0,
            "synops": int(result.stats["synops"].sum()), "copies": copies,
            "served": int(result.stats["served"].sum()), "events": len(events) + copies,
            "outputs": len(result.outputs), "result": result}


def span_s(events) -> float:
    """The recording's span in seconds (last minus first time stamp, µs): what the real-time
    factor divides by."""
    t = events["t"]
    return (int(t[-1]) - int(t[0])) / 1e6 if len(t) else 0.0


def summarize(samples: list, keys=("setup_s", "feed_s", "finish_s", "wall_s")) -> dict:
    """One row from repeated runs: the median of each timed key (with every sample kept under
    `<key>_all`, to show the spread), and the other entries of the first run (the counts,
    identical from run to run since runs are deterministic)."""
    row = {k: v for k, v in samples[0].items() if k not in keys and k != "result"}
    for k in keys:
        if k in samples[0]:
            values = [s[k] for s in samples]
            row[k] = statistics.median(values)
            row[k + "_all"] = [round(v, 6) for v in values]
    return row


def rates(row: dict, span: float) -> dict:
    """Throughput figures of a summarized run: SynOps/s and events/s of wall time, and the
    real-time factor (recording span over wall time)."""
    wall = row["wall_s"]
    return {"synops_per_s": row["synops"] / wall, "events_per_s": row["events"] / wall,
            "span_s": span, "realtime_factor": span / wall}


def poisson_spikes(n: int, rate_hz: float, channels: int, size: int, layer: int = 0, seed: int = 1,
                   t0_us: float = 0.0):
    """n spike events for core `layer` at Poisson times (mean rate `rate_hz`), uniform over channels
    and a size x size map, seeded: SPIKE_EVENT [n], times in µs."""
    rng = np.random.default_rng(seed)
    t = t0_us + np.cumsum(rng.exponential(1e6 / rate_hz, n))
    return speksim.make_events("spike", t=t.astype(np.int64), layer=np.full(n, layer, np.int64),
                               feature=rng.integers(0, channels, n), x=rng.integers(0, size, n),
                               y=rng.integers(0, size, n))


def on_gesture(argv, prog: str, doc: str, measure, lines) -> int:
    """The command line of a benchmark module run alone (`python -m benchmarks.NAME [--repeats N]`):
    `measure(config, events, repeats)` on the DVS Gesture network and recording, and the lines
    `lines(figures)` prints, or why it did not run (the shared files missing, or the measurement
    skipped). Returns the exit status."""
    import argparse

    from . import bench_models
    ap = argparse.ArgumentParser(prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    why = bench_models._missing("gesture")
    if not why:
        _, events, _, config = bench_models._load("gesture")
        r = measure(config, events, args.repeats)
        why = r.get("skipped")
    print("\n".join(lines(r)) if not why else f"skipped: {why}")
    return 0
