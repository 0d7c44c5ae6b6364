"""The deadlocking cycle the engine, stall and report tests share (SPEC T9)."""

import numpy as np

import speksim
from speksim import ChipConfig, CnnLayerConfig


def cycle_config():
    """Cores 0 and 1 sending each spike to each other twice: every spike makes two, and with
    one-slot FIFOs and output queues the cycle deadlocks."""
    cfg = ChipConfig()
    w = np.full((1, 1, 1, 1), 1, np.int8)
    for k, other in ((0, 1), (1, 0)):
        cfg.cnn_layers[k] = CnnLayerConfig.conv(w, (4, 4), threshold_high=1, threshold_low=-1,
                                                destinations=[(other, 1, 0), (other, 1, 0)])
    return cfg


def tiny_chip():
    """speck2f with one-slot FIFOs and output queues."""
    return speksim.load_chip().replace(fifo_depth=1, out_depth=1)


def deadlock_events():
    """Six spikes into core 0 at t = 0: enough to fill the cycle."""
    return speksim.make_events("spike", t=np.zeros(6, np.int64), layer=np.zeros(6), feature=np.zeros(6),
                               x=[0, 1, 2, 3, 0, 1], y=[0, 0, 0, 0, 1, 1])
