"""The plain numpy event loop a user would write for a configured chip: the naive peer.

Functional rules only (SPEC F1-F3, F5, F6), no timing: each input event goes through the DVS
layer, then a queue of events is drained core by core, breadth first. Per event a core adds the
weight slice of the input channel into its neuron states with numpy slicing, saturates, fires,
resets and clamps, and each spike is pooled and queued for the destination cores. This is the
approach the benchmark compares the fast engine with, so it is written the obvious way, not tuned.

Leak (F4), the decimator and the readout's classification are not modelled (the benchmark's
networks use none of them; spikes sent to the readout are only counted).
"""

from __future__ import annotations

from collections import deque

import numpy as np

from speksim.blocks import N_CORES

_SAT = (-32768, 32767)


def _taps(i: int, pad: int, stride: int, k: int, n_out: int):
    """Kernel taps of one axis that an input at coordinate `i` reaches (F2), as (first output
    index, kernel indices in ascending output order); (0, []) when none."""
    taps, first = [], None
    # output o = (i + pad - tap) / stride: descending taps give ascending outputs
    for tap in range(k - 1, -1, -1):
        n = i + pad - tap
        if n % stride == 0 and 0 <= n // stride < n_out:
            if first is None:
                first = n // stride
            taps.append(tap)
    return (first or 0), taps


class _Core:
    """One core's parameters and neuron states (int32, kept within int16 by saturation)."""

    def __init__(self, layer):
        d = layer.dimensions
        if layer.leak_enable or layer.output_decimator_enable:
            raise ValueError("the naive loop models neither leak nor the output decimator; this configuration uses one")
        self.w = layer.weights.astype(np.int32)
        self.c_in = d.input_shape.feature_count
        self.h_in, self.w_in = d.input_shape.size.y, d.input_shape.size.x
        self.h_out, self.w_out = d.output_shape.size.y, d.output_shape.size.x
        self.pad, self.stride, self.k = (d.padding.y, d.padding.x), (d.stride.y, d.stride.x), d.kernel_size
        self.high, self.low, self.to_zero = layer.threshold_high, layer.threshold_low, layer.return_to_zero
        init = layer.neurons_initial_value
        shape = (self.w.shape[0], self.h_out, self.w_out)
        self.v = np.zeros(shape, np.int32) if init is None else init.astype(np.int32).copy()
        self.monitor = layer.monitor_enable
        self.dests = [(t.layer, t.pooling, t.feature_shift) for t in layer.destinations if t.enable]


def _dvs_map(dvs, x: int, y: int, p: int):
    """F6 for one camera event: (feature, x, y) after merge, pooling, crop and mirrors, or None."""
    if (p == 1 and not dvs.on_channel) or (p == 0 and not dvs.off_channel):
        return None
    f = 0 if dvs.merge else p
    x //= dvs.pooling.x
    y //= dvs.pooling.y
    if not (dvs.origin.x <= x <= dvs.cut.x and dvs.origin.y <= y <= dvs.cut.y):
        return None
    x -= dvs.origin.x
    y -= dvs.origin.y
    if dvs.mirror.x:
        x = dvs.cut.x - dvs.origin.x - x
    if dvs.mirror.y:
        y = dvs.cut.y - dvs.origin.y - y
    if dvs.mirror_diagonal:
        x, y = y, x
    return f, x, y


def run_naive(config, events) -> dict:
    """Push `events` (DVS_EVENT or SPIKE_EVENT) through `config` functionally.

    Returns counts: input events, routed copies (monitor and destination copies, as speksim's
    `copies` statistic counts them), SynOps (output neurons touched, F2) and spikes per core, and
    monitored outputs."""
    cores = {k: _Core(config.cnn_layers[k]) for k in config.used_cores()}
    dvs = config.dvs_layer
    dvs_targets = [d.layer for d in dvs.destinations if d.enable]
    counts = {"inputs": 0, "copies": 0, "synops": 0, "outputs": 0, "spikes": {k: 0 for k in cores}}
    queue = deque()
    camera = "p" in events.dtype.names
    for e in events:
        counts["inputs"] += 1
        if camera:
            mapped = _dvs_map(dvs, int(e["x"]), int(e["y"]), int(e["p"]))
            if mapped is None:
                continue
            counts["copies"] += len(dvs_targets) + int(dvs.monitor_enable)
            counts["outputs"] += int(dvs.monitor_enable)
            for target in dvs_targets:
                queue.append((target,) + mapped)
        else:
            queue.append((int(e["layer"]), int(e["feature"]), int(e["x"]), int(e["y"])))
        while queue:
            k, c, x, y = queue.popleft()
            if k >= N_CORES:
                continue    # the readout: counted as a copy, not classified here
            core = cores[k]
            if not (0 <= c < core.c_in and 0 <= x < core.w_in and 0 <= y < core.h_in):
                continue    # F1: outside the core's input space
            oy0, ky = _taps(y, core.pad[0], core.stride[0], core.k, core.h_out)
            ox0, kx = _taps(x, core.pad[1], core.stride[1], core.k, core.w_out)
            if not ky or not kx:
                continue
            block = core.v[:, oy0:oy0 + len(ky), ox0:ox0 + len(kx)]
            block += core.w[:, c][:, ky][:, :, kx]
            np.clip(block, *_SAT, out=block)
            counts["synops"] += block.size
            fired = block >= core.high
            if fired.any():
                if core.to_zero:
                    block[fired] = 0
                else:
                    block[fired] -= core.high
                f, oy, ox = np.nonzero(fired)
                counts["spikes"][k] += len(f)
                counts["copies"] += len(f) * (len(core.dests) + int(core.monitor))
                counts["outputs"] += len(f) * int(core.monitor)
                for target, pool, shift in core.dests:
                    for fi, yi, xi in zip(f.tolist(), (oy + oy0).tolist(), (ox + ox0).tolist()):
                        queue.append((target, fi + shift, xi // pool, yi // pool))
            np.maximum(block, core.low, out=block)
    return counts
