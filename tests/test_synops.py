"""SynOps accounting: the SynOps a core reports per window are exactly SPEC F2's count, worked out
here from the events and the geometry alone, for a first layer and for a second layer fed by the
first one's spikes; and for uniform random input SynSense's estimate (input events/s x C_out x
k_x x k_y / (s_x x s_y)) is within 5% of that exact count."""

from __future__ import annotations

import numpy as np
import pytest

from speksim import ChipConfig, CnnLayerConfig, load_chip, make_events, simulate
from speksim.analysis.preflight import preflight

CHIP = load_chip("speck2f")
WINDOW_NS = 1_000_000           # RunOptions.bin_ns, the width of a series bin


def f2_offsets(x, y, k, stride, padding, out_size) -> int:
    """SPEC F2: how many kernel offsets (ky, kx) of an input event at (x, y) reach a neuron:
    ny = y + pad_y - ky and nx = x + pad_x - kx divisible by the stride, and the quotients inside
    the output map. stride, padding: (y, x); out_size: (h_out, w_out)."""
    n = 0
    for ky in range(k):
        for kx in range(k):
            ny, nx = y + padding[0] - ky, x + padding[1] - kx
            if ny % stride[0] or nx % stride[1]:
                continue
            oy, ox = ny // stride[0], nx // stride[1]
            if 0 <= oy < out_size[0] and 0 <= ox < out_size[1]:
                n += 1
    return n


def quiet_times(rng, windows, per_window):
    """Event times (µs) in the middle of each 1 ms window, [100, 900) µs into it, sorted: an
    event is served within a few µs of its timestamp at this load, so its SynOps are counted in
    the window of its timestamp (they are counted when the core starts serving it)."""
    t = [w * 1000 + np.sort(rng.integers(100, 900, per_window)) for w in range(windows)]
    return np.concatenate(t)


def per_window(times_us, counts, n_windows) -> np.ndarray:
    return np.bincount(np.asarray(times_us, np.int64) * 1000 // WINDOW_NS, weights=counts,
                       minlength=n_windows).astype(np.int64)


def test_a_first_layer_counts_f2_synops_per_window():
    """Core 0: 2 -> 3 channels, 5x5 kernel, stride (y 1, x 2), padding (y 2, x 1), on a 20 (x) by
    24 (y) input: output 9 x 24 (x by y). Events anywhere, borders included, so that many have
    fewer than the full count of offsets. The threshold is out of reach: no spike goes anywhere."""
    rng = np.random.default_rng(21)
    k, stride, padding, (h, w), c_out = 5, (1, 2), (2, 1), (24, 20), 3
    cfg = ChipConfig()
    cfg.cnn_layers[0] = CnnLayerConfig.conv(np.ones((c_out, 2, k, k), np.int8), (h, w), stride=stride,
                                            padding=padding, threshold_high=32767, threshold_low=-1)
    out = (cfg.cnn_layers[0].dimensions.output_shape.size.y, cfg.cnn_layers[0].dimensions.output_shape.size.x)
    assert out == (24, 9)                     # (24 + 4 - 5) // 1 + 1 and (20 + 2 - 5) // 2 + 1
    n_win = 8
    t = quiet_times(rng, n_win, 40)
    x, y = rng.integers(0, w, len(t)), rng.integers(0, h, len(t))
    ev = make_events("spike", t=t, layer=np.zeros(len(t)), feature=rng.integers(0, 2, len(t)), x=x, y=y)
    res = simulate(cfg, ev, CHIP)
    want = per_window(t, [c_out * f2_offsets(xi, yi, k, stride, padding, out) for xi, yi in zip(x, y)], n_win)
    got = res.series["synops"][:, 0]
    assert got[:n_win].tolist() == want.tolist() and not got[n_win:].any()
    assert int(res.stats[0]["synops"]) == int(want.sum())
    assert len(set(want.tolist())) > 1       # the windows differ: the comparison is per window


def test_a_second_layer_counts_f2_synops_of_the_first_layer_s_spikes():
    """Core 0 (2 -> 2 channels, 3x3, padding 1, 16x16, threshold 2, monitored) sends its spikes to
    core 1 with pooling 2 and feature shift 1 (F5): a spike (f, x, y) arrives at core 1 as
    (f + 1, x // 2, y // 2). Core 1: 3 -> 4 channels, 3x3, no padding, 8x8 in, 6x6 out, threshold
    out of reach. Its SynOps per window are F2's count over core 0's monitored spikes, each counted
    in the window of the input event it descends from (`root`)."""
    rng = np.random.default_rng(8)
    cfg = ChipConfig()
    cfg.cnn_layers[0] = CnnLayerConfig.conv(np.ones((2, 2, 3, 3), np.int8), (16, 16), padding=1, threshold_high=2,
                                            threshold_low=-1, monitor_enable=True, destinations=[(1, 2, 1)])
    cfg.cnn_layers[1] = CnnLayerConfig.conv(np.ones((4, 3, 3, 3), np.int8), (8, 8), threshold_high=32767,
                                            threshold_low=-1)
    n_win = 6
    t = quiet_times(rng, n_win, 30)
    x, y = rng.integers(0, 16, len(t)), rng.integers(0, 16, len(t))
    ev = make_events("spike", t=t, layer=np.zeros(len(t)), feature=rng.integers(0, 2, len(t)), x=x, y=y)
    res = simulate(cfg, ev, CHIP)
    spikes = res.outputs[res.outputs["layer"] == 0]
    assert len(spikes) > 100 and len(spikes) == int(res.stats[0]["spikes"])
    # the premise of counting by the root's window: core 1 is never far behind at this load (core 0
    # may wait a little for its output queue while core 1 works through a burst of spikes, but
    # every spike reaches the host within 50 µs of its input, half the 100 µs margin of a window)
    assert int(res.latency_ns().max()) < 50_000
    assert int(res.stats[0]["stall_ns"]) < 50_000
    want0 = per_window(t, [2 * f2_offsets(xi, yi, 3, (1, 1), (1, 1), (16, 16)) for xi, yi in zip(x, y)], n_win)
    want1 = per_window(t[spikes["root"]], [4 * f2_offsets(int(s["x"]) // 2, int(s["y"]) // 2, 3, (1, 1), (0, 0),
                                                          (6, 6)) for s in spikes], n_win)
    assert res.series["synops"][:n_win, 0].tolist() == want0.tolist()
    assert res.series["synops"][:n_win, 1].tolist() == want1.tolist()
    assert int(res.stats[1]["synops"]) == int(want1.sum()) > 0
    assert int(res.stats[1]["events_in"]) == len(spikes)


@pytest.mark.parametrize("stride", [1, 2])
def test_synsense_estimate_is_within_5_percent_for_uniform_input(stride):
    """Uniform input over a 64x64, 2-channel map, at random times and in random order, into 8
    channels, 3x3, padding 1: every pixel 5 times (20,480 events), so that the share of border
    events is exactly the map's and not a draw of it. The estimate counts k*k / s^2 offsets per
    channel for every event; F2 loses some at the borders. Stride 1: per axis 62 of 64 positions
    have 3 valid offsets and the 2 edge ones have 2, a mean of 190/64, so the exact count is
    (190/64)^2 / 9 = 0.979 of the estimate. Stride 2 (32x32 out): even positions have 1 valid
    offset, odd ones 2 except the last (1), a mean of 95/64, and (95/64)^2 / 2.25 = 0.979 again.
    A 64-pixel map keeps the border share that small; on a 16x16 map the same kernel loses 8%
    ((46/16)^2 / 9 = 0.918)."""
    rng = np.random.default_rng(30 + stride)
    cfg = ChipConfig()
    cfg.cnn_layers[0] = CnnLayerConfig.conv(np.ones((8, 2, 3, 3), np.int8), (64, 64), stride=stride, padding=1,
                                            threshold_high=32767, threshold_low=-1)
    pixels = rng.permutation(np.tile(np.arange(64 * 64), 5))
    n = len(pixels)
    ev = make_events("spike", t=np.sort(rng.integers(0, 200_000, n)), layer=np.zeros(n),
                     feature=rng.integers(0, 2, n), x=pixels % 64, y=pixels // 64)
    load = preflight(cfg, CHIP, ev).load[0]
    out = 64 // stride
    exact = sum(8 * f2_offsets(int(a), int(b), 3, (stride, stride), (1, 1), (out, out))
                for a, b in zip(ev["x"], ev["y"]))
    assert load["synops"] == exact
    ratio = load["synops_per_s"] / load["synops_per_s_formula"]
    assert ratio == pytest.approx((190 / 64) ** 2 / 9, rel=1e-9)
    assert 0.95 <= ratio <= 1.0


def test_measuring_the_load_gathers_none_of_the_outputs():
    """`speksim check --recording` measures the load with a functional pass, which needs the
    statistics, not the outputs: a monitored layer that gives hundreds of outputs per input
    must not have them gathered (a monitored network on a long recording would take gigabytes).
    Here 64 channels fire on each of 9 neurons per input: about 1.2 M outputs, 55 MB as the
    engine's rows, which the pass must not hold."""
    import tracemalloc
    rng = np.random.default_rng(5)
    cfg = ChipConfig()
    cfg.cnn_layers[0] = CnnLayerConfig.conv(np.ones((64, 1, 3, 3), np.int8), (16, 16), padding=1,
                                            threshold_high=1, threshold_low=-1, return_to_zero=True,
                                            monitor_enable=True)
    n = 2000
    ev = make_events("spike", t=np.sort(rng.integers(0, 100_000, n)), layer=np.zeros(n), feature=np.zeros(n),
                     x=rng.integers(1, 15, n), y=rng.integers(1, 15, n))
    preflight(cfg, CHIP, ev[:10])       # what loading the engine allocates is not the pass's
    tracemalloc.start()
    try:
        load = preflight(cfg, CHIP, ev).load[0]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert load["synops"] == n * 9 * 64      # every input away from the border: all 9 offsets (F2)
    assert peak < 20 * 2**20, f"peak {peak / 2**20:.0f} MB"
