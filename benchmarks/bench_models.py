"""Real networks on real recordings: speksim's fast engine, where its time goes, and its peers.

  gesture  the DVS Gesture network of the shared models folder (../shared/models, imported with
           `speksim.from_torch` from the spiking network sinabs makes of the ANN) on
           ../shared/traces/dvs128_gesture.aedat4, times shifted to start at 0
  mnist    the MNIST network on the central 28x28 of ../shared/traces/nmnist_atis.bin

Each repeat runs speksim and every peer once, one after the other, so that a slow spell of a
shared machine hits all of them alike; the figures are medians over the repeats. The output
layer's spike counts per class of speksim and sinabs are kept in the JSON: they need not agree
(time steps against events, floats against integers: see docs/models.md).
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np

from . import floor, peers, wavefront
from .common import REPO, SHARED, rates, span_s, summarize, timed_run

MODELS, TRACES = SHARED / "models", SHARED / "traces"


def _from_zero(ev):
    ev = ev.copy()
    ev["t"] -= ev["t"][0]
    return ev


def _central_28(ev):
    keep = (ev["x"] >= 3) & (ev["x"] < 31) & (ev["y"] >= 3) & (ev["y"] < 31)
    ev = ev[keep].copy()
    ev["x"] -= 3
    ev["y"] -= 3
    return ev


#: name -> (ANN function of tests/speck_models.py, weights file, recording, input shape, preparation)
NETWORKS = {
    "gesture": ("gesture_ann", "dvs_gesture_params.pt", "dvs128_gesture.aedat4", (2, 128, 128), _from_zero),
    "mnist": ("mnist_ann", "mnist_params.pt", "nmnist_atis.bin", (1, 28, 28), _central_28),
}

#: sinabs runs: (name, time step in µs, threads: 1 or None for torch's default, all cores)
SINABS_RUNS = (("sinabs_1ms_1thread", 1000, 1), ("sinabs_1ms_all", 1000, None),
               ("sinabs_10ms_1thread", 10_000, 1), ("sinabs_10ms_all", 10_000, None))


def _missing(name: str):
    """Why a network workload cannot run here, or None."""
    ann, params, trace, _, _ = NETWORKS[name]
    for path in (MODELS / params, TRACES / trace):
        if not path.exists():
            return (f"{path.name} is not there: the shared models and traces folder sits beside the checkout "
                    "(../shared/models, ../shared/traces)")
    try:
        _speck_models()
    except ImportError as e:
        return f"needs torch, sinabs and pytest ({e}): pip install torch sinabs pytest"
    return None


def _speck_models():
    """The tests' module that builds the shared networks (it imports torch, sinabs and pytest)."""
    if str(REPO / "tests") not in sys.path:
        sys.path.insert(0, str(REPO / "tests"))
    import speck_models
    return speck_models


def _load(name: str):
    """The phases before a simulation, timed: reading the recording, loading the trained network
    into sinabs, building the chip configuration from it. Returns (times, events, snn, config)."""
    from speksim import io as sio
    from speksim.importers.build import ModelWarning, from_torch
    speck_models = _speck_models()
    ann, params, trace, shape, prepare = NETWORKS[name]
    t0 = time.perf_counter()
    events = prepare(sio.read_events(TRACES / trace))
    t1 = time.perf_counter()
    snn = speck_models.snn_of(getattr(speck_models, ann)(), params)
    t2 = time.perf_counter()
    with warnings.catch_warnings():
        # what the importer decided is in config.model; the benchmark need not print it
        warnings.simplefilter("ignore", ModelWarning)
        config = from_torch(snn, shape, "speck2f")
    t3 = time.perf_counter()
    return {"read_s": t1 - t0, "model_s": t2 - t1, "config_s": t3 - t2}, events, snn, config


def _class_counts(config, result):
    """Output events per class of the model's output layer (int64 [classes] as a list)."""
    layer = [lay for lay in config.model["layers"] if lay["output"]][0]
    out = result.outputs[result.outputs["layer"] == layer["core"]]
    return np.bincount(out["feature"], minlength=layer["output_shape"][0]).tolist()


def network(name: str, repeats: int, prefix: int, progress=print) -> dict:
    """speksim and its peers on one network; `prefix` input events for the slow peers (the whole
    recording when it is shorter). Returns the figures, or {"skipped": reason}."""
    why = _missing(name)
    if why:
        return {"skipped": why}
    import torch

    shape = NETWORKS[name][3]
    threads_all = torch.get_num_threads()
    _, events, snn, config = _load(name)
    n_prefix = min(prefix, len(events))
    head = events[:n_prefix]

    # warm-ups: JIT (or cache load), SimPy's first use, torch's first forward
    timed_run(config, events[:2000])
    timed_run(config, events[:200], engine="reference")
    with peers.torch_threads(1):
        peers.sinabs_forward(snn, events[:2000], shape, 10_000)
    # the least a replay can take with speksim's kernel (benchmarks/floor.py; compiled here)
    fl = floor.Floor(config, events)
    # the wave engine, the timing model as per-block recurrences (benchmarks/wavefront.py; checked and compiled here)
    wf = wavefront.Wavefront(config, events)

    runs = {k: [] for k in ("load", "speksim", "speksim_prefix", "naive", "reference", "floor", "wavefront")}
    runs.update({k: [] for k, _, _ in SINABS_RUNS})
    for rep in range(repeats):
        progress(f"  {name}: repeat {rep + 1} of {repeats}")
        runs["load"].append(_load(name)[0])
        for key, ev, engine in (("speksim", events, "fast"), ("speksim_prefix", head, "fast"),
                                ("reference", head, "reference")):
            sample = timed_run(config, ev, engine)
            # only the first Results are read; the others, kept, would slow the garbage collector
            if rep:
                del sample["result"]
            runs[key].append(sample)
        runs["naive"].append(peers.naive_prefix(config, head))
        if not fl.skipped:
            runs["floor"].append(fl.time())
        if not wf.skipped:
            runs["wavefront"].append(wf.time())
        for key, step_us, threads in SINABS_RUNS:
            with peers.torch_threads(threads or threads_all):
                runs[key].append(peers.sinabs_forward(snn, events, shape, step_us))

    fast = summarize(runs["speksim"])
    fast.update(rates(fast, span_s(events)))
    result = runs["speksim"][0]["result"]
    fast["class_counts"] = _class_counts(config, result)
    # how hard the simulated chip works on this recording (the same in every run)
    fast["busy"] = {k: float(result.stats[k]["busy_ns"]) / max(result.t_end_ns, 1) for k in config.used_cores()}
    fast["max_input_lag_ms"] = float(result.lag_ns.max(initial=0)) / 1e6
    fast_prefix = summarize(runs["speksim_prefix"])
    figures = {"network": name, "recording": NETWORKS[name][2], "input_events": len(events), "span_s": span_s(events),
               "cores": config.used_cores(), "prefix_events": n_prefix, "torch_threads_all": threads_all,
               "load": summarize(runs["load"], keys=("read_s", "model_s", "config_s")),
               "speksim": fast, "speksim_prefix": fast_prefix,
               "floor": {"skipped": fl.skipped} if fl.skipped else floor.figures(fl, runs["floor"]),
               "wavefront": {"skipped": wf.skipped} if wf.skipped else wavefront.figures(wf, runs["wavefront"])}

    for key in ("naive", "reference"):
        row = summarize(runs[key])
        row["events_per_s"] = row["events"] / row["wall_s"]
        row["input_events_per_s"] = n_prefix / row["wall_s"]
        # the whole recording's time at the prefix's pace per input event
        row["extrapolated_wall_s"] = row["wall_s"] * len(events) / n_prefix
        row["ratio"] = row["extrapolated_wall_s"] / fast["wall_s"]
        row["ratio_same_prefix"] = row["wall_s"] / fast_prefix["wall_s"]
        row["synops_vs_speksim"] = row["synops"] / max(fast_prefix["synops"], 1)
        figures[key] = row
    figures["reference"]["identical_to_fast"] = bool(
        runs["reference"][0]["result"].equals(runs["speksim_prefix"][0]["result"]))
    for key, step_us, threads in SINABS_RUNS:
        row = summarize(runs[key], keys=("bin_s", "forward_s", "wall_s"))
        row.update(step_us=step_us, threads=threads or threads_all, ratio=row["wall_s"] / fast["wall_s"],
                   realtime_factor=figures["span_s"] / row["wall_s"])
        figures[key] = row
    return figures
