"""What a user would run instead of speksim on the same network and recording.

- sinabs' time-stepped forward of the spiking network (float weights, as trained): the
  recording binned into frames of `step_us`, fed in chunks of steps with the neurons keeping
  their state between chunks, the way one replays a long recording without a chip. Binning and
  the forward are timed apart, so the table can tell what the binning costs.
- The plain numpy event loop (`benchmarks.naive`), far slower, so that it runs on a prefix of the
  recording and its time is extrapolated by input events (speksim's SimPy reference engine, the
  third peer, runs through the public API like the fast engine, on the same prefix).
"""

from __future__ import annotations

import time
from contextlib import contextmanager

import numpy as np

from .naive import run_naive

#: time steps per forward call: 250 frames of 2x128x128 float32 are 33 MB
CHUNK_STEPS = 250


@contextmanager
def torch_threads(n: int):
    """torch limited to `n` intra-op threads inside the block; the previous setting after it."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def sinabs_forward(snn, events, shape, step_us: int, chunk_steps: int = CHUNK_STEPS) -> dict:
    """The spiking network `snn` (sinabs, batch size 1) over the whole of `events` (DVS_EVENT, µs)
    binned at `step_us` from the first event; one channel takes both polarities when shape[0] is 1.

    Returns bin_s and forward_s (s), their sum wall_s, the number of steps, and the output
    layer's spike count per class (int64 [classes])."""
    import torch
    c, h, w = shape
    t_start = time.perf_counter()
    t = events["t"].astype(np.int64) - int(events["t"][0])
    step = t // step_us
    n_steps = int(step[-1]) + 1
    # flat index of each event in a (steps, c, h, w) frame array; events are in time order, so
    # each chunk of steps is one contiguous slice
    pixel = (0 if c == 1 else events["p"].astype(np.int64)) * h * w + events["y"].astype(np.int64) * w + events["x"]
    bounds = np.searchsorted(step, np.arange(0, n_steps + chunk_steps, chunk_steps))
    snn.reset_states()
    bin_s, forward_s = time.perf_counter() - t_start, 0.0
    counts = None
    with torch.no_grad():
        for i, s0 in enumerate(range(0, n_steps, chunk_steps)):
            t0 = time.perf_counter()
            s1 = min(s0 + chunk_steps, n_steps)
            lo, hi = bounds[i], bounds[i + 1]
            flat = (step[lo:hi] - s0) * (c * h * w) + pixel[lo:hi]
            frames = np.bincount(flat, minlength=(s1 - s0) * c * h * w).astype(np.float32)
            x = torch.from_numpy(frames.reshape(s1 - s0, c, h, w))
            t1 = time.perf_counter()
            out = snn.spiking_model(x).sum(0).flatten()
            counts = out if counts is None else counts + out
            t2 = time.perf_counter()
            bin_s += t1 - t0
            forward_s += t2 - t1
    return {"bin_s": bin_s, "forward_s": forward_s, "wall_s": bin_s + forward_s, "steps": n_steps,
            "class_counts": counts.numpy().astype(np.int64).tolist()}


def naive_prefix(config, events) -> dict:
    """The numpy event loop over `events`; wall time and the work it counted."""
    t0 = time.perf_counter()
    counts = run_naive(config, events)
    wall = time.perf_counter() - t0
    return {"wall_s": wall, "synops": counts["synops"], "events": counts["inputs"] + counts["copies"],
            "outputs": counts["outputs"], "spikes": counts["spikes"]}

