"""Throughput, compile time, cached start and peak memory of the fast engine.

    python benchmarks/bench_engine.py            # full run (about a minute)
    python benchmarks/bench_engine.py --quick    # smaller inputs

Workloads (generated here, seeded):
  single  one core, 3x3 16->16 channels on 64x64, fed Poisson spike events, monitored
  chain   four cores 2->8->16->16->8, 3x3, sum-pooling 2 between them, the last monitored
Figures are wall-clock after JIT warm-up, on one CPU core; compile time is measured apart, in a
fresh numba cache. "events" counts input events plus every routed copy (monitor and destination
transfers) that the output stages made.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

import speksim
from speksim import ChipConfig, CnnLayerConfig, Simulation, make_events

CHIP = speksim.load_chip("speck2f")


def single_core(seed=0):
    rng = np.random.default_rng(seed)
    cfg = ChipConfig()
    w = rng.integers(-3, 4, size=(16, 16, 3, 3)).astype(np.int8)
    cfg.cnn_layers[0] = CnnLayerConfig.conv(w, (64, 64), padding=1, threshold_high=40, threshold_low=-40,
                                            monitor_enable=True)
    return cfg, dict(channels=16, size=64)


def chain4(seed=0):
    rng = np.random.default_rng(seed)
    cfg = ChipConfig()
    chans = [2, 8, 16, 16, 8]
    size = 64
    for k in range(4):
        w = rng.integers(-3, 5, size=(chans[k + 1], chans[k], 3, 3)).astype(np.int8)
        cfg.cnn_layers[k] = CnnLayerConfig.conv(
            w, (size, size), padding=1, threshold_high=40, threshold_low=-40, monitor_enable=(k == 3),
            destinations=[(k + 1, 2, 0)] if k < 3 else [])
        size //= 2
    return cfg, dict(channels=2, size=64)


def poisson_spikes(n, rate_hz, channels, size, seed=1, t0_us=0.0):
    rng = np.random.default_rng(seed)
    t = t0_us + np.cumsum(rng.exponential(1e6 / rate_hz, n))
    return make_events("spike", t=t.astype(np.int64), layer=np.zeros(n, np.int64),
                       feature=rng.integers(0, channels, n), x=rng.integers(0, size, n), y=rng.integers(0, size, n))


def throughput(name, cfg, shape, n, rate_hz):
    ev = poisson_spikes(n, rate_hz, **shape)
    Simulation(cfg, CHIP).run(ev[:2000])  # JIT warm-up (and cache load)
    t = time.perf_counter()
    r = Simulation(cfg, CHIP).run(ev)
    wall = time.perf_counter() - t
    synops = int(r.stats["synops"].sum())
    routed = int(r.stats["copies"].sum())
    used = r.used_cores()
    busiest = max(used, key=lambda k: r.stats["busy_ns"][k])
    return dict(workload=name, input_events=n, input_rate_hz=rate_hz, wall_s=round(wall, 3),
                synops=synops, synops_per_s=synops / wall, routed_events=routed,
                events_per_s=(n + routed) / wall, outputs=len(r.outputs),
                simulated_s=r.t_end_ns / 1e9, busiest_core_utilisation=r.stats["busy_ns"][busiest] / r.t_end_ns,
                stall_ns=int(r.stats["stall_ns"].sum()))


_MEMORY_CHILD = """
import resource, sys, numpy as np
sys.path.insert(0, {bench!r})
from bench_engine import chain4, poisson_spikes, CHIP
from speksim import Simulation
cfg, shape = chain4()
sim = Simulation(cfg, CHIP, keep_outputs=False)
n_total, chunk, t0 = {n}, 250_000, 0.0
done = outs = 0
while done < n_total:
    ev = poisson_spikes(chunk, 100_000, seed=done, t0_us=t0, **shape)
    t0 = float(ev["t"][-1])
    outs += len(sim.feed(ev))
    done += chunk
r = sim.finish()
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, outs + len(sim.last_outputs))
"""

_START_CHILD = """
import time; t0 = time.perf_counter()
import numpy as np
from speksim import simulate, load_chip, make_events
import sys; sys.path.insert(0, {bench!r})
from bench_engine import single_core
cfg, shape = single_core()
ev = make_events("spike", t=[0, 5], layer=[0, 0], feature=[0, 1], x=[1, 2], y=[3, 4])
simulate(cfg, ev, load_chip("speck2f"))
print(time.perf_counter() - t0)
"""


def child(code, env=None):
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return out.stdout.split()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller inputs (for a smoke run)")
    ap.add_argument("--json", help="also write the figures to this JSON file")
    args = ap.parse_args(argv)
    here = os.path.dirname(os.path.abspath(__file__))
    n = 200_000 if args.quick else 1_000_000
    figures = {"machine": {"python": sys.version.split()[0], "cpus": os.cpu_count()}}

    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        t = time.perf_counter()
        child(_START_CHILD.format(bench=here), env)
        figures["compile_s_cold"] = time.perf_counter() - t
    child(_START_CHILD.format(bench=here))  # make sure the normal cache is warm
    figures["start_s_cached"] = float(child(_START_CHILD.format(bench=here))[0])

    cfg, shape = single_core()
    figures["single"] = throughput("single", cfg, shape, n, 200_000)
    cfg, shape = chain4()
    figures["chain"] = throughput("chain", cfg, shape, n, 100_000)
    n_mem = 2_000_000 if args.quick else 10_000_000
    rss, outs = child(_MEMORY_CHILD.format(bench=here, n=n_mem))
    figures["memory"] = dict(input_events=n_mem, peak_rss_mb=float(rss), outputs=int(outs))

    print(f"compile (cold cache, whole first run): {figures['compile_s_cold']:.1f} s")
    print(f"second process to first simulated result (cached kernels): {figures['start_s_cached']:.2f} s")
    for key in ("single", "chain"):
        f = figures[key]
        print(f"{key:7s} {f['input_events']:>9,} inputs  {f['wall_s']:6.2f} s  "
              f"{f['synops_per_s'] / 1e6:7.1f} M SynOps/s  {f['events_per_s'] / 1e6:5.2f} M events/s "
              f"(input + {f['routed_events']:,} routed)  busiest core {f['busiest_core_utilisation']:.0%} busy")
    m = figures["memory"]
    print(f"memory  {m['input_events']:,} inputs streamed through the chain: peak RSS {m['peak_rss_mb']:.0f} MB")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(figures, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
