"""benchmarks.floor: the bound the harness sets against the speed targets is of the same work as a
replay (the same SynOps, spikes, served events and copies as the fast engine), and is not given
where it would not be."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks import floor, report
from speksim import simulate
from speksim.config import CnnLayerDestination, demo_config
from speksim.config.build import conv_layer
from speksim.events import SPIKE_EVENT
from speksim.io import read_events

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def events():
    return read_events(REPO / "traces" / "moving_bar.npz")


def _tree():
    """The demo network with a fan-out and a decimator: core 1 keeps one spike in two and sends it
    to core 2 (as before) and, pooled the same, to features 8 to 23 of a core 3."""
    cfg = demo_config()
    cfg.cnn_layers[1].destinations[1] = CnnLayerDestination(layer=3, enable=True, pooling=4, feature_shift=8)
    cfg.cnn_layers[1].output_decimator_enable = True
    cfg.cnn_layers[1].output_decimator_interval = 2
    w = np.random.default_rng(1).integers(-1, 3, (4, 24, 3, 3)).astype(np.int8)
    cfg.cnn_layers[3] = conv_layer(w, (8, 8), padding=1, threshold_high=8, threshold_low=-16, monitor_enable=True)
    return cfg


@pytest.mark.parametrize("make", [demo_config, _tree], ids=["chain", "tree-with-decimator"])
def test_the_floor_does_the_fast_engines_work(make, events):
    r = floor.measure(make(), events, repeats=1)
    assert "skipped" not in r, r.get("skipped")
    assert r["same_work_by_count"] == {"served": True, "synops": True, "spikes": True, "copies": True}
    assert r["same_work"]
    assert r["synops"] > 0 and r["core_jobs"] > 0
    # the SynOps timed alone are the same work: replayed over the logged jobs, they fire every
    # spike the fast engine's cores fired
    engine = simulate(make(), events, chip="speck2f")
    assert r["kernel_spikes"] == int(engine.stats["spikes"][:9].sum())


def test_a_network_whose_fifo_two_blocks_feed_has_no_floor(events):
    cfg = _tree()            # core 3 fed by core 2 as well as by core 1
    cfg.cnn_layers[2].destinations[0] = CnnLayerDestination(layer=3, enable=True, pooling=1, feature_shift=0)
    r = floor.measure(cfg, events, repeats=1)
    assert "fed by two blocks" in r["skipped"]


def test_a_network_with_leak_ticks_has_no_floor(events):
    cfg = demo_config()
    cfg.cnn_layers[1].leak_enable = True
    cfg.cnn_layers[1].biases = np.full(16, -1, np.int16)
    r = floor.measure(cfg, events, repeats=1)
    assert "leak" in r["skipped"]


def test_a_core_fed_by_the_input_and_by_a_block_has_no_floor():
    # spikes into core 1, which core 0 feeds too: their order there depends on the timing
    ev = np.zeros(50, SPIKE_EVENT)
    ev["t"] = np.arange(50) * 10
    ev["layer"] = np.where(np.arange(50) % 2, 0, 1)
    ev["x"], ev["y"] = 5, 7
    r = floor.measure(demo_config(), ev, repeats=1)
    assert "by a block and the input" in r["skipped"]
    ev["layer"] = 0     # the same spikes into core 0 alone: the chain has a floor
    assert floor.measure(demo_config(), ev, repeats=1)["same_work"]


def test_the_targets_table_says_what_each_goal_leaves_beyond_the_floor():
    # round figures: 2 M events served, a floor of 0.08 s and a replay of 0.18 s; sinabs taking
    # 10 s at 1 ms steps (goal 100x: 0.1 s, so 0.02 s beyond the floor, 10 ns an event) and 0.7 s
    # at 10 ms (goal 10x: 0.07 s, under the floor)
    gesture = {"span_s": 5.4, "speksim": {"wall_s": 0.18, "realtime_factor": 30.0},
               "sinabs_1ms_1thread": {"wall_s": 10.0, "ratio": 10.0 / 0.18},
               "sinabs_10ms_1thread": {"wall_s": 0.7, "ratio": 0.7 / 0.18},
               "floor": {"floor_s": 0.08, "kernel_s": 0.05, "served": 2_000_000}}
    text = "\n".join(report._targets({"gesture": gesture}, {}))
    assert "The least a replay can take here is 0.08 s: the SynOps alone take 0.05 s" in text
    assert "- now: 50 ns with the fast engine" in text and "wave engine;" not in text
    assert "at 1 ms steps leaves 10 ns;" in text
    assert "at 10 ms steps leaves nothing: the floor alone is over it." in text
    # the wave engine: 0.01 s beyond the floor, 5 ns an event
    gesture["wavefront"] = {"wall_s": 0.09, "identical": True}
    assert "finish), 5 ns with the wave engine;" in "\n".join(report._targets({"gesture": gesture}, {}))
    del gesture["floor"]        # results written before the floor: the table alone
    assert "least a replay" not in "\n".join(report._targets({"gesture": gesture}, {}))
