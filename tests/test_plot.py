"""Plots: every function returns a Figure and writes a non-empty PNG; edge cases do not crash."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import speksim
from speksim import plot
from speksim.config import ChipConfig, CnnLayerConfig, DvsDestination, Vec2

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def small_config() -> ChipConfig:
    cfg = ChipConfig()
    cfg.dvs_layer.pooling = Vec2(4, 4)
    cfg.dvs_layer.destinations[0] = DvsDestination(layer=0, enable=True)
    cfg.dvs_layer.monitor_enable = True
    w = np.random.default_rng(2).integers(0, 3, (4, 2, 3, 3)).astype(np.int8)
    cfg.cnn_layers[0] = CnnLayerConfig.conv(w, (32, 32), padding=1, threshold_high=3, threshold_low=-8,
                                            destinations=[(1, 2, 0)], monitor_enable=True)
    cfg.cnn_layers[1] = CnnLayerConfig.conv(np.ones((2, 4, 3, 3), np.int8), (16, 16), padding=1, threshold_high=6,
                                            threshold_low=-8, monitor_enable=True)
    return cfg


@pytest.fixture(scope="module")
def events():
    rng = np.random.default_rng(4)
    n = 4000
    return speksim.make_events("dvs", t=np.sort(rng.integers(0, 10_000, n)), x=rng.integers(0, 128, n),
                               y=rng.integers(0, 128, n), p=rng.integers(0, 2, n))


@pytest.fixture(scope="module")
def result(events):
    return speksim.simulate(small_config(), events, options=speksim.RunOptions(bin_ns=250_000))


@pytest.fixture(scope="module")
def sparse_run():
    """Input groups 200 µs apart, far sparser than anything on the chip can back up: 91 single
    events, 3 pairs and 1 triple at one timestamp each (100 events). Within a group the host input
    link starts one transfer every host_in_ns, so the k-th event of a group (k = 0, 1, 2) has a lag
    of host_in_latency_ns + k * host_in_ns (SPEC T1): 95 lags of L, 4 of L + h and 1 of L + 2h.
    Core 0's threshold is raised so that it spikes rarely: no output queue ever fills."""
    sizes = [3] + [2] * 3 + [1] * 91
    t = np.repeat(np.arange(len(sizes)) * 200, sizes)
    rng = np.random.default_rng(6)
    ev = speksim.make_events("dvs", t=t, x=rng.integers(0, 128, len(t)), y=rng.integers(0, 128, len(t)),
                             p=rng.integers(0, 2, len(t)))
    cfg = small_config()
    cfg.cnn_layers[0].threshold_high = 6
    return speksim.simulate(cfg, ev)


@pytest.fixture(scope="module")
def empty_result():
    return speksim.simulate(small_config(), np.zeros(0, speksim.DVS_EVENT))


def is_png(path) -> bool:
    data = path.read_bytes()
    return data[:8] == PNG_MAGIC and len(data) > 5000


@pytest.mark.parametrize("name", ["utilisation", "stalls_and_drops", "latency_histogram", "output_raster"])
def test_result_plots_write_png(result, tmp_path, name):
    from matplotlib.figure import Figure
    path = tmp_path / f"{name}.png"
    fig = getattr(plot, name)(result, path=path)
    assert isinstance(fig, Figure) and is_png(path)
    assert any(ax.get_xlabel() for ax in fig.axes)  # axes carry labels with units


def test_utilisation_has_one_panel_per_used_block(result):
    fig = plot.utilisation(result)
    titles = [ax.get_title(loc="left") for ax in fig.axes if ax.get_title(loc="left")]
    assert [t.split(":")[0] for t in titles] == ["core 0", "core 1", "DVS layer", "host output"]


def fifo_depths() -> dict[str, int]:
    chip = speksim.load_chip("speck2f")
    return {**{f"core {k}": d for k, d in enumerate(chip.fifo_depth)}, "DVS layer": chip.dvs_fifo_depth,
            "host output": chip.host_out_fifo_depth}


@pytest.mark.parametrize("run", ["result", "sparse_run"])
def test_utilisation_fifo_axis_reaches_the_depth(run, request):
    # The legend promises the FIFO depth dashed; it must be on the scale even when the FIFO stays
    # nearly empty (host output: 256 slots, a few used; the sparse run: well under one slot).
    fig = plot.utilisation(request.getfixturevalue(run))
    panels = [ax for ax in fig.axes if ax.get_title(loc="left")]
    fifo_axes = [ax for ax in fig.axes if ax.get_ylabel().startswith("FIFO")]
    assert len(fifo_axes) == len(panels) > 0
    depths = fifo_depths()
    for panel, ax in zip(panels, fifo_axes):
        depth = depths[panel.get_title(loc="left").split(":")[0]]
        low, high = ax.get_ylim()
        assert low < depth < high
        assert any(line.get_linestyle() == "--" and list(line.get_ydata()) == [depth, depth] for line in ax.lines)


def test_stalls_and_drops_without_any_is_one_panel_saying_so(sparse_run):
    assert not sparse_run.stats["stall_ns"].any() and not sparse_run.series["dropped"].any()
    fig = plot.stalls_and_drops(sparse_run)
    assert len(fig.axes) == 1
    assert [t.get_text().split("\n")[0] for t in fig.axes[0].texts] == ["no stalls, no drops"]


def test_stalls_and_drops_draws_the_blocks_that_stalled(result):
    # the fixture's 4000 events in 10 ms saturate core 0 and the DVS layer; the others never wait
    stalled = [plot.block_label(b) for b in range(12) if result.stats["stall_ns"][b] > 0]
    assert stalled == ["core 0", "DVS layer"]
    fig = plot.stalls_and_drops(result)
    titles = [ax.get_title(loc="left") for ax in fig.axes if ax.get_title(loc="left")]
    assert [t.split(":")[0] for t in titles] == stalled
    assert fig.get_suptitle().endswith("no stalls, no drops: core 1, host output")


def test_stalls_and_drops_shows_congestion_drops(events):
    cfg = small_config()
    cfg.cnn_layers[1].input_congestion_balancer_enable = True
    res = speksim.simulate(cfg, events, options=speksim.RunOptions(bin_ns=250_000))
    dropped = int(res.stats["congestion_dropped"][1])
    assert dropped > 0
    fig = plot.stalls_and_drops(res)
    panel = next(ax for ax in fig.axes if ax.get_title(loc="left").startswith("core 1:"))
    assert f"{dropped:,} events dropped (congestion balancer)" in panel.get_title(loc="left")
    drop_axis = next(ax for ax in fig.axes if ax.get_ylabel() == "dropped (events/bin)")
    assert drop_axis.get_ylim()[1] >= res.series["dropped"][:, 1].max()


def histogram(ax):
    """(counts, edges in µs) of the histogram drawn on `ax`."""
    from matplotlib.patches import StepPatch
    data = next(p for p in ax.patches if isinstance(p, StepPatch)).get_data()
    return np.asarray(data.values), np.asarray(data.edges)


def test_lag_histogram_shows_every_lag_value(sparse_run):
    chip = speksim.load_chip("speck2f")
    lat, h = chip.host_in_latency_ns, chip.host_in_ns
    expected = np.array([lat] * 95 + [lat + h] * 4 + [lat + 2 * h])
    assert np.array_equal(np.sort(sparse_run.lag_ns), expected)
    fig = plot.latency_histogram(sparse_run)
    ax = next(ax for ax in fig.axes if ax.get_title().startswith("Input lag"))
    counts, edges = histogram(ax)
    ratios = edges[1:] / edges[:-1]
    assert ratios.min() > 1 and np.allclose(ratios, ratios[0])  # log-spaced
    assert list(counts[counts > 0]) == [95, 4, 1]  # one bar per lag value, every input counted
    assert counts[0] == counts[-1] == 0  # no bar stands on the frame
    assert ax.get_xlim() == pytest.approx((edges[0], edges[-1]))
    # 95% in one bar: a linear count axis would show the 4 and the 1 as nothing
    assert ax.get_yscale() == "log" and ax.get_ylim()[0] < 1
    # the 99th of 100 sorted lags is lat + h (720 ns): a lag that occurred, not an interpolation
    labels = ax.get_legend_handles_labels()[1]
    assert f"p99 {(lat + h) / 1e3:.3g} µs" in labels and f"median {lat / 1e3:.3g} µs" in labels


def test_lag_histogram_keeps_a_linear_axis_for_a_spread(result):
    # the saturated fixture's lags spread over four decades with no bin holding most of them
    fig = plot.latency_histogram(result)
    ax = next(ax for ax in fig.axes if ax.get_title().startswith("Input lag"))
    counts, edges = histogram(ax)
    assert counts.sum() == (result.lag_ns >= 0).sum() and counts.max() < counts.sum() / 2
    assert ax.get_yscale() == "linear" and (counts > 0).sum() > 20
    assert edges[-1] / edges[0] > 1e3


def test_input_rate_from_events_and_result(result, events, tmp_path):
    fig = plot.input_rate(events, path=tmp_path / "a.png", bin_us=500)
    assert is_png(tmp_path / "a.png") and "rate" in fig.axes[0].get_ylabel()
    plot.input_rate(result, path=tmp_path / "b.png")
    assert is_png(tmp_path / "b.png")
    with pytest.raises(ValueError, match="'t'"):
        plot.input_rate(np.zeros(3, [("a", "i8")]))


def test_event_images(result, events, tmp_path):
    fig = plot.event_images(result, events, path=tmp_path / "e.png")
    assert is_png(tmp_path / "e.png")
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles[0].startswith("input: 4,000 events")
    assert any(t.startswith("core 1") for t in titles) and any(t.startswith("DVS layer") for t in titles)
    image = plot.input_image(events)
    assert image.shape == (128, 128) and image.sum() == len(events)
    fig2 = plot.event_images(result, np.stack([image, image]))
    assert [ax.get_title() for ax in fig2.axes if ax.get_title()][0].startswith("input: 8,000 events")
    plot.event_images(result)  # no input panel


def test_raster_thins_out_large_outputs(result):
    fig = plot.output_raster(result, max_points=100)
    n = -(-len(result.outputs) // 100)
    assert f"(1 event in {n} drawn)" in fig.get_suptitle()
    drawn = [len(line.get_xdata()) for ax in fig.axes for line in ax.lines]
    per_layer = np.unique(result.outputs["layer"], return_counts=True)[1]
    assert drawn == [-(-k // n) for k in per_layer]  # every n-th event of each layer


def test_empty_result_does_not_crash(empty_result, tmp_path):
    paths = plot.report(empty_result, tmp_path / "empty")
    assert all(is_png(p) or p.stat().st_size > 1000 for p in paths.values())


def test_report_writes_every_png(result, events, tmp_path):
    paths = plot.report(result, tmp_path / "report", input_events=events)
    assert sorted(paths) == sorted(plot.REPORT_FILES)
    assert all(is_png(p) for p in paths.values())


def test_import_speksim_does_not_import_matplotlib():
    code = "import sys, speksim, speksim.runfile, speksim.cli; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
