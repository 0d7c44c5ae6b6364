"""The fast engine on generated workloads: throughput, compile time,
and the reference engine's throughput.

Workloads (generated here, seeded):
  single     one core, 3x3 16->16 channels on 64x64, fed Poisson spike events at 200 k/s, monitored
  single-4   the same with 4 channels in and out
  single-64  64 channels in and out on 16x16, on core 5 (whose kernel memory holds them), at 50 k/s
             (which keeps the core about half busy; at 200 k/s its input would pile up)
  chain      four cores 2->8->16->16->8, 3x3, sum-pooling 2 between them, the last monitored,
             fed at 100 k/s
The three widths of `single` change the SynOps per event by 16x while the events stay alike:
their figures side by side show what SynOps cost against what events cost.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from speksim import ChipConfig, CnnLayerConfig

from .common import REPO, poisson_spikes, rates, span_s, summarize, timed_run

#: name -> (input rate in events/s, (channels, map side, core) of a single core, or None for the chain)
WORKLOADS = {"single-4": (200_000, (4, 64, 0)), "single": (200_000, (16, 64, 0)),
             "single-64": (50_000, (64, 16, 5)), "chain": (100_000, None)}


def single_core(width: int = 16, size: int = 64, core: int = 0, seed: int = 0):
    """One monitored core, 3x3 width->width on size x size; returns (config, input shape)."""
    rng = np.random.default_rng(seed)
    cfg = ChipConfig()
    w = rng.integers(-3, 4, size=(width, width, 3, 3)).astype(np.int8)
    cfg.cnn_layers[core] = CnnLayerConfig.conv(w, (size, size), padding=1, threshold_high=40, threshold_low=-40,
                                               monitor_enable=True)
    return cfg, dict(channels=width, size=size, layer=core)


def chain4(seed: int = 0):
    """Four cores 2->8->16->16->8 with sum-pooling 2 between them; returns (config, input shape)."""
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
    return cfg, dict(channels=2, size=64, layer=0)


def workload(name: str):
    """(config, input shape, input rate) of a named workload."""
    rate, single = WORKLOADS[name]
    cfg, shape = chain4() if single is None else single_core(*single)
    return cfg, shape, rate


def throughput(name: str, n: int, repeats: int) -> dict:
    """The fast engine on `n` inputs of a workload: medians of `repeats` runs after a warm-up."""
    cfg, shape, rate = workload(name)
    ev = poisson_spikes(n, rate, **shape)
    timed_run(cfg, ev[:2000])  # JIT warm-up (or cache load)
    row = summarize([_without_result(timed_run(cfg, ev)) for _ in range(repeats)])
    row.update(rates(row, span_s(ev)), workload=name, input_events=n, input_rate_hz=rate)
    return row


def _without_result(figures: dict) -> dict:
    # Results kept alive would slow the garbage collector in the runs after them
    del figures["result"]
    return figures


def reference_chain(n: int, repeats: int) -> dict:
    """The SimPy reference engine on the first `n` inputs of the chain: input events per second,
    and whether its Result is identical to the fast engine's."""
    cfg, shape, rate = workload("chain")
    ev = poisson_spikes(n, rate, **shape)
    timed_run(cfg, ev[:200], engine="reference")  # imports and first-use costs
    samples = [timed_run(cfg, ev, engine="reference")]
    same = samples[0].pop("result").equals(timed_run(cfg, ev)["result"])
    samples += [_without_result(timed_run(cfg, ev, engine="reference")) for _ in range(repeats - 1)]
    row = summarize(samples)
    row.update(workload="chain", input_events=n, input_events_per_s=n / row["wall_s"], identical_to_fast=same)
    return row


# The child's clock starts before its imports: a user's first result waits for them too.
_START_CHILD = """
import time; t0 = time.perf_counter()
import speksim
from benchmarks.bench_engine import single_core
cfg, _ = single_core()
ev = speksim.make_events("spike", t=[0, 5], layer=[0, 0], feature=[0, 1], x=[1, 2], y=[3, 4])
speksim.simulate(cfg, ev)
print(time.perf_counter() - t0)
"""


def compile_times() -> dict:
    """JIT compile time: `cold` is a whole first process (interpreter start to exit) in a fresh,
    empty numba cache; `warm` is a second process on the cache the first one filled, timed
    from its first line to its first result."""
    with tempfile.TemporaryDirectory(prefix="speksim-numba-") as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        run = [sys.executable, "-c", _START_CHILD]
        t = time.perf_counter()
        subprocess.run(run, env=env, cwd=REPO, check=True, capture_output=True, text=True)
        cold = time.perf_counter() - t
        t = time.perf_counter()
        out = subprocess.run(run, env=env, cwd=REPO, check=True, capture_output=True, text=True)
        warm_process = time.perf_counter() - t
    return {"cold_s": cold, "warm_s": float(out.stdout.split()[-1]), "warm_process_s": warm_process}
