"""A slow, obviously correct model of SPEC F1-F5 for a chain of cores, in plain numpy.

No time and no numba: each core of the chain takes the events its predecessor sent, in order,
and applies F1 (input space), F2 (scatter order), F3 (SynOp), F5 (decimator, monitor, the
destination's pooling and feature shift). In a chain each core has a single sender, so the
order in which a core receives events, and everything it computes, does not depend on timing.
Reads the configuration itself (PyTorch weight layout), not the compiled network.
"""

from __future__ import annotations

import numpy as np

from speksim.chip import Chip
from speksim.config import ChipConfig


def _overflow(v: int, wrap: bool) -> int:
    """SPEC §0: sat16, or two's-complement wrap with the chip switch."""
    if wrap:
        return (v + 32768) % 65536 - 32768
    return min(max(v, -32768), 32767)


def run_chain(config: ChipConfig, chip: Chip, chain: list, events: list):
    """Feed `events` [(feature, x, y)] (roots 0, 1, ...) into core chain[0]; chain[i] must send
    to chain[i+1] (its only core destination). Returns (monitored, states): monitored[core] is
    the list of (feature, x, y, root) the core's monitor sends, in order (F5.2); states[core]
    the final neuron states int64 [c_out, h_out, w_out]."""
    wrap = chip.state_overflow == "wrap"
    monitored, states = {}, {}
    incoming = [(int(c), int(x), int(y), root) for root, (c, x, y) in enumerate(events)]
    for pos, k in enumerate(chain):
        layer = config.cnn_layers[k]
        d = layer.dimensions
        c_in, h_in, w_in = d.input_shape.feature_count, d.input_shape.size.y, d.input_shape.size.x
        c_out, h_out, w_out = d.output_shape.feature_count, d.output_shape.size.y, d.output_shape.size.x
        ks, sy, sx, py, px = d.kernel_size, d.stride.y, d.stride.x, d.padding.y, d.padding.x
        w = np.asarray(layer.weights, np.int64)
        v = (np.zeros((c_out, h_out, w_out), np.int64) if layer.neurons_initial_value is None
             else np.asarray(layer.neurons_initial_value, np.int64).copy())
        th_hi, th_lo = int(layer.threshold_high), int(layer.threshold_low)
        n_dec = chip.decimator_ratios[layer.output_decimator_interval] if layer.output_decimator_enable else 0
        count = 0
        mon, sent = [], []
        nxt = None
        for dest in layer.destinations:
            if dest.enable and dest.layer != chip.readout_layer:
                nxt = dest
        for c, x, y, root in incoming:
            if not (0 <= c < c_in and 0 <= x < w_in and 0 <= y < h_in):      # F1
                continue
            for ky in range(ks):                                                 # F2
                for kx in range(ks):
                    ny, nx = y + py - ky, x + px - kx
                    if ny < 0 or nx < 0 or ny % sy or nx % sx:
                        continue
                    oy, ox = ny // sy, nx // sx
                    if oy >= h_out or ox >= w_out:
                        continue
                    for f in range(c_out):
                        val = _overflow(int(v[f, oy, ox]) + int(w[f, c, ky, kx]), wrap)   # F3
                        spike = val >= th_hi
                        if spike:
                            val = 0 if layer.return_to_zero else val - th_hi
                        v[f, oy, ox] = max(val, th_lo)
                        if not spike:
                            continue
                        if n_dec:                                                # F5.1
                            count += 1
                            if count % n_dec:
                                continue
                        if layer.monitor_enable:                                 # F5.2
                            mon.append((f, ox, oy, root))
                        if nxt is not None:                                      # F5.3
                            sent.append((f + nxt.feature_shift, ox // nxt.pooling, oy // nxt.pooling, root))
        monitored[k] = mon
        states[k] = v
        if pos + 1 < len(chain):
            assert nxt is not None and nxt.layer == chain[pos + 1], "not a chain"
        incoming = sent
    return monitored, states
