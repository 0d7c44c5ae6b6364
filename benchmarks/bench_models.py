"""Real networks, imported and replayed: per-class output counts of speksim next to sinabs'
time-stepped forward pass, and how long each takes.

    python benchmarks/bench_models.py            # DVS Gesture and MNIST (needs torch and sinabs)
    python benchmarks/bench_models.py --json

The DVS Gesture network of the shared models folder (../shared/models) runs on
../shared/traces/dvs128_gesture.aedat4; the MNIST network on the central 28x28 of
../shared/traces/nmnist_atis.bin. sinabs runs the same spiking network (float weights, as
trained) at 1 ms steps; speksim runs the discretised configuration event by event with the chip's
timing. The counts need not agree (time steps against events, floats against integers: see
docs/models.md); the benchmark shows by how much.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

STEP_US = 1000


def sinabs_counts(snn, events, shape, chunk=250):
    """Per-class spike counts of the sinabs network over the recording, at 1 ms steps (fed in
    chunks of steps; the neurons keep their state between chunks)."""
    import torch
    c, h, w = shape
    n_steps = int(events["t"].max()) // STEP_US + 1
    total = None
    snn.reset_states()
    with torch.no_grad():
        for s0 in range(0, n_steps, chunk):
            s1 = min(s0 + chunk, n_steps)
            sel = (events["t"] >= s0 * STEP_US) & (events["t"] < s1 * STEP_US)
            ev = events[sel]
            x = np.zeros((s1 - s0, c, h, w), np.float32)
            np.add.at(x, (ev["t"] // STEP_US - s0, 0 if c == 1 else ev["p"], ev["y"], ev["x"]), 1)
            out = snn.spiking_model(torch.from_numpy(x)).sum(0).flatten()
            total = out if total is None else total + out
    return total.numpy().astype(np.int64)


def speksim_counts(config, events, n_classes):
    import speksim
    t0 = time.perf_counter()
    result = speksim.simulate(config, events, "speck2f")
    wall = time.perf_counter() - t0
    core = [layer["core"] for layer in config.model["layers"] if layer["output"]][0]
    out = result.outputs[result.outputs["layer"] == core]
    lat = result.latency_ns()
    return np.bincount(out["feature"], minlength=n_classes), wall, result, lat


def case(name, ann, params, trace, shape, n_classes, prepare):
    import speksim
    from speck_models import MODELS, TRACES, snn_of
    from speksim import io as sio
    if not (MODELS / params).exists() or not (TRACES / trace).exists():
        return {"name": name, "skipped": "the shared models or traces folder is missing (../shared)"}
    snn = snn_of(ann, params)
    t0 = time.perf_counter()
    config = speksim.from_torch(snn, shape, "speck2f")
    t_import = time.perf_counter() - t0
    events = prepare(sio.read_events(TRACES / trace))
    counts, wall, result, lat = speksim_counts(config, events, n_classes)
    t0 = time.perf_counter()
    ref = sinabs_counts(snn, events, shape)
    t_sinabs = time.perf_counter() - t0
    duration = (int(events["t"].max()) - int(events["t"].min())) / 1e6
    return {"name": name, "events": int(len(events)), "duration_s": duration, "import_s": t_import,
            "speksim_s": wall, "sinabs_s": t_sinabs, "speksim_counts": counts.tolist(),
            "sinabs_counts": ref.tolist(), "speksim_class": int(np.argmax(counts)), "sinabs_class": int(np.argmax(ref)),
            "cores": config.used_cores(), "max_input_lag_ms": float(result.lag_ns.max(initial=0)) / 1e6,
            "busy": {k: float(result.stats[k]["busy_ns"]) / max(result.t_end_ns, 1) for k in config.used_cores()}}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    from speck_models import gesture_ann, mnist_ann

    def gesture(ev):
        ev = ev.copy()
        ev["t"] -= ev["t"][0]
        return ev

    def nmnist(ev):
        keep = (ev["x"] >= 3) & (ev["x"] < 31) & (ev["y"] >= 3) & (ev["y"] < 31)
        ev = ev[keep].copy()
        ev["x"] -= 3
        ev["y"] -= 3
        return ev

    rows = [case("dvs_gesture", gesture_ann(), "dvs_gesture_params.pt", "dvs128_gesture.aedat4", (2, 128, 128), 11,
                 gesture),
            case("mnist", mnist_ann(), "mnist_params.pt", "nmnist_atis.bin", (1, 28, 28), 10, nmnist)]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    for r in rows:
        if "skipped" in r:
            print(f"{r['name']}: skipped: {r['skipped']}")
            continue
        print(f"{r['name']}: {r['events']:,} events over {r['duration_s']:.2f} s; import {r['import_s']:.2f} s, "
              f"speksim {r['speksim_s']:.2f} s, sinabs (1 ms steps) {r['sinabs_s']:.2f} s")
        print(f"  class spikes  speksim {r['speksim_counts']}  -> class {r['speksim_class']}")
        print(f"                sinabs  {r['sinabs_counts']}  -> class {r['sinabs_class']}")
        busy = ", ".join(f"{k}: {v:.0%}" for k, v in r["busy"].items())
        print(f"  cores busy {busy}; largest input lag {r['max_input_lag_ms']:.2f} ms")


if __name__ == "__main__":
    main()
