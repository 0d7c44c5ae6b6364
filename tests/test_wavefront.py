"""benchmarks.wavefront: the timing model as per-block max-plus recurrences gives the fast
engine's outputs, input lags, busy and stall times on chains, stalled ones above all, and
declines the networks it does not cover."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks import wavefront
from speksim import simulate
from speksim.config import chain_config, demo_config
from speksim.config.build import conv_layer
from speksim.events import SPIKE_EVENT
from speksim.io import read_events

REPO = Path(__file__).resolve().parents[1]


def _random_chain(seed: int):
    """Two to four cores on random places, 3x3 kernels with random weights and thresholds, the
    maps shrinking by strides; only the last core monitored."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 5))
    size, ch = 32, int(rng.choice([2, 8, 16]))
    layers = []
    for _ in range(n):
        out = int(rng.choice([4, 8, 16]))
        stride = int(rng.choice([1, 2])) if size > 4 else 1
        w = rng.integers(-2, 4, (out, ch, 3, 3)).astype(np.int8)
        layers.append(conv_layer(w, (size, size), stride=stride, padding=1,
                                 threshold_high=int(rng.integers(2, 12)), threshold_low=-20))
        size, ch = (size + 2 - 3) // stride + 1, out
    cores = [int(c) for c in rng.permutation(9)[:n]]
    return chain_config(layers, cores, monitor="last"), cores[0], int(layers[0].dimensions.input_shape.feature_count)


def _spikes(seed: int, core: int, features: int, n: int, gap_ns: int):
    rng = np.random.default_rng(seed + 100)
    ev = np.zeros(n, SPIKE_EVENT)
    ev["t"] = np.cumsum(rng.integers(0, 2 * gap_ns // 1000 + 1, n))
    ev["layer"] = core
    ev["feature"] = rng.integers(0, features, n)
    ev["x"], ev["y"] = rng.integers(0, 32, n), rng.integers(0, 32, n)
    return ev


@pytest.mark.parametrize("seed", range(6))
def test_the_wavefront_gives_the_fast_engines_times_on_a_stalling_chain(seed):
    config, first, features = _random_chain(seed)
    # an input every 0-2 µs: far more than a core serves, so the chain stalls back to the link
    ev = _spikes(seed, first, features, 3000, 1000)
    w = wavefront.Wavefront(config, ev)
    assert w.skipped is None
    assert [k for k, same in w.identical.items() if not same] == []
    assert len(w.identical) == 2 + len(wavefront.Wavefront.STATS) + 5    # outputs, lags, statistics, series
    engine = simulate(config, ev, chip="speck2f")
    assert engine.stats["stall_ns"].sum() > 0 and len(engine.outputs) == w.outputs


def test_the_wavefront_gives_the_fast_engines_times_through_the_dvs_layer():
    cfg = demo_config()
    cfg.cnn_layers[0].monitor_enable = False     # a chain: only the last core reports
    cfg.cnn_layers[1].monitor_enable = False
    ev = read_events(REPO / "traces" / "moving_bar.npz")
    w = wavefront.Wavefront(cfg, ev)
    assert w.skipped is None and w.outputs > 0
    assert [k for k, same in w.identical.items() if not same] == []
    assert len(w.identical) == 2 + len(wavefront.Wavefront.STATS) + 5    # outputs, lags, statistics, series


def test_a_network_that_is_not_a_chain_has_no_wavefront():
    ev = read_events(REPO / "traces" / "moving_bar.npz")
    assert "copies" in wavefront.Wavefront(demo_config(), ev).skipped      # every core monitored
    cfg = demo_config()
    cfg.cnn_layers[0].monitor_enable = cfg.cnn_layers[1].monitor_enable = False
    cfg.cnn_layers[1].output_decimator_enable = True
    cfg.cnn_layers[1].output_decimator_interval = 1
    assert "decimator" in wavefront.Wavefront(cfg, ev).skipped

