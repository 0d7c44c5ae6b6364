"""The HTML report (speksim.report, `speksim report`) and the stall plots (speksim.plot.stalls), on the
bundled chain workload (traces/stall_chain.*; tests/test_stalls.py says what it does by hand): a
5 ms burst at 120-125 ms of 1 Mevents/s in the square x 80..111, y 70..101 offers core 1 three
times what it serves, so core 1 saturates from 120 ms and core 0, the DVS layer and the input
link wait behind it until about 136 ms.
"""

import base64
import io
import re
import struct

import numpy as np
import pytest

import speksim
from speksim import ChipConfig, CnnLayerConfig, DeadlockError
from speksim._resources import traces_dir
from speksim.analysis.stalls import diagnose
from speksim.cli import main
from speksim.report import PLOTS, report_html
from speksim.runfile import load_run, save_run
from deadlock_case import cycle_config, deadlock_events, tiny_chip
from stall_workloads import diagnosed

MS = 1_000_000
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def chain():
    return diagnosed("stall_chain")


@pytest.fixture(scope="module")
def page(chain):
    _, events, result, report = chain
    return report_html(result, events, stalls=report)


def images(page: str) -> list:
    """The PNG bytes of every embedded image, in order."""
    return [base64.b64decode(m) for m in re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", page)]


def png_chunks(data: bytes) -> list:
    """The chunk types of a PNG file, in order."""
    out, i = [], 8
    while i < len(data):
        n, kind = struct.unpack(">I4s", data[i:i + 8])
        out.append(kind.decode("ascii"))
        i += 12 + n
    return out


# ------------------------------------------------------------------------------------------ the page

def test_the_page_is_self_contained(page):
    # every attribute that could load something points inside the page: images are data: URIs, links anchors
    targets = re.findall(r"""\b(?:src|href)\s*=\s*['"]([^'"]*)['"]""", page, flags=re.IGNORECASE)
    assert targets and all(t.startswith("data:image/png;base64,") or t.startswith("#") for t in targets)
    for anchor in re.findall(r"href='#([^']+)'", page):
        assert f"id='{anchor}'" in page
    lowered = page.lower()
    assert "<script" not in lowered and "<link" not in lowered and "url(" not in lowered and "@import" not in lowered
    assert "http://" not in lowered and "https://" not in lowered and "file:" not in lowered


def test_the_page_names_the_saturated_core_and_the_burst(page, chain):
    _, events, result, report = chain
    assert "<b>core 1 cannot keep up</b>" in page
    assert "core 1 saturated: the input offers it" in page
    # the burst as the workload makes it: 120 to 125 ms, in the square x 80..111, y 70..101
    burst = re.search(r"<h3>Triggering burst</h3>\s*<p>0\.120 s to 0\.125 s, ([0-9,]+) events.*?"
                      r"region x (\d+)\.\.(\d+), y (\d+)\.\.(\d+)", page)
    assert burst is not None
    n = int(burst.group(1).replace(",", ""))
    in_burst = int(((events["t"] >= 120_000) & (events["t"] < 125_000)).sum())
    assert n == in_burst
    x0, x1, y0, y1 = map(int, burst.groups()[1:])
    assert 80 <= x0 < x1 <= 111 and 70 <= y0 < y1 <= 101
    # the ranked fixes with their measured effect, the best first
    assert "<h3>Fixes, ranked</h3>" in page and "<td>congestion balancer on core 1</td>" in page
    # the statistics table holds the run's own figures
    synops = int(result.stats["synops"][1])
    assert f"<td class=\"n\">{synops:,}</td>" in page


def test_the_page_says_what_was_run(chain, tmp_path):
    config, events, result, report = chain
    path = tmp_path / "chain.h5"
    save_run(result, path, input_name="stall_chain.npz", input_size=1234, input_sha256="ab" * 32,
             command_line=["speksim", "run", "stall_chain.npz"])
    page = report_html(load_run(path), stalls=report)
    assert "stall_chain.npz (1,234 bytes)" in page and "ab" * 32 in page
    assert result.metadata["input"]["sha256"] in page and "7,793 dvs events" in page
    assert "3 of 9 cores used (0, 1, 2)" in page and "<td>core 2 (pooling 2)</td>" in page
    assert "none (the chip as its files give it)" in page


def test_a_chip_override_is_shown(chain):
    config, events, _, _ = chain
    chip = speksim.load_chip().with_overrides(["core.1.synop_ns=10"])
    result = speksim.simulate(config, events, chip)
    assert "core.1.synop_ns=10" in report_html(result, fixes=False)


def test_every_plot_is_embedded_as_a_png_without_software_tag(page):
    from matplotlib.image import imread
    pngs = images(page)
    assert len(pngs) == len(PLOTS) == 6
    for data in pngs:
        assert data[:8] == PNG_MAGIC
        img = imread(io.BytesIO(data), format="png")
        assert img.ndim == 3 and img.shape[1] >= 600
        # the software tag names matplotlib's version: without it the bytes depend only on the drawing
        assert "tEXt" not in png_chunks(data)
    for name, title, _ in PLOTS:
        assert f"<figure id='{name}'><h3>{title}</h3>" in page


def test_the_same_run_gives_the_same_bytes(chain, page):
    _, events, result, report = chain
    assert report_html(result, events, stalls=report) == page
    assert report_html(result, events) == page            # diagnosed here: the same report


def test_strings_from_files_are_escaped(chain, tmp_path):
    _, _, result, _ = chain
    path = tmp_path / "hostile.h5"
    hostile = "<script>alert('x')</script>"
    save_run(result, path, input_name=f"{hostile}.npz", command_line=["speksim", "run", f"{hostile}.npz"])
    run = load_run(path)
    run.metadata["config"]["model"] = {"importer": hostile, "layers": [{"name": "<img src=x onerror=alert(1)>",
                                                                          "core": 0}]}
    page = report_html(run, fixes=False)
    assert "<script" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;.npz" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_a_run_without_stalls(chain):
    config, events, _, _ = chain
    calm = events[events["t"] < 100_000]              # the small burst at 40-45 ms saturates nothing
    result = speksim.simulate(config, calm)
    page = report_html(result, calm)
    assert 'class="verdict good">No block was saturated' in page
    assert "Fixes" not in page and "Cause" not in page
    assert len(images(page)) == len(PLOTS)


def test_a_deadlock_is_explained():
    chip, ev = tiny_chip(), deadlock_events()
    with pytest.raises(DeadlockError) as err:
        speksim.simulate(cycle_config(), ev, chip)
    options = speksim.RunOptions(drain_ns=100_000)
    page = report_html(err.value, ev, config=cycle_config(), chip=chip, options=options,
                       input_file={"name": "spikes.npz", "size_bytes": 10, "sha256": "cd" * 32})
    assert f"The run deadlocked at t = {err.value.t_ns:,} ns: core 0 -&gt; core 1 -&gt; core 0." in page
    # each block of the cycle: a full one-slot FIFO and output queue, waiting for the other
    assert page.count('<td class="n">1/1</td>') == 4
    assert "<td>no destination from core 1 to core 0</td><td>yes</td><td>no deadlock</td>" in page
    assert "spikes.npz (10 bytes)" in page and "6 spike events" in page and "fifo_depth=" in page
    assert images(page) == [] and "no statistics or series to plot" in page
    assert report_html(err.value, ev, config=cycle_config(), chip=chip, options=options) == report_html(
        err.value, ev, config=cycle_config(), chip=chip, options=options)


# ------------------------------------------------------------------------------------------ command line

def test_cli_writes_the_same_page_as_the_api(chain, page, tmp_path, capsys):
    folder = traces_dir()
    run = tmp_path / "chain.h5"
    assert main(["run", str(folder / "stall_chain.npz"), "--config", str(folder / "stall_chain.json"), "-o",
                 str(run), "--quiet"]) == 0
    out = tmp_path / "report.html"
    assert main(["report", str(run), "--recording", str(folder / "stall_chain.npz"), "-o", str(out), "--quiet"]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {out}"
    written = out.read_text(encoding="utf-8")
    _, events, _, _ = chain
    assert written == report_html(load_run(run), events)
    # the page of the run file says what the run file says, and otherwise is the in-memory run's
    assert "stall_chain.npz (" in written and images(written) == images(page)


def test_cli_runs_a_configuration_and_reports_its_deadlock(tmp_path, capsys):
    """Camera events into a cycle of cores that doubles every spike (as in tests/test_stalls.py):
    the run deadlocks, and the page explains it."""
    cfg = ChipConfig()
    cfg.dvs_layer.destinations[0] = speksim.DvsDestination(layer=0, enable=True)
    cfg.cnn_layers[0] = CnnLayerConfig.conv(np.ones((1, 2, 2, 2), np.int8), (128, 128), stride=2, threshold_high=1,
                                            destinations=[(1, 1, 0), (1, 1, 0)])
    cfg.cnn_layers[1] = CnnLayerConfig.conv(np.ones((2, 1, 1, 1), np.int8), (64, 64), threshold_high=1,
                                            destinations=[(0, 1, 0), (0, 1, 0)])
    speksim.save_config(cfg, tmp_path / "cycle.json")
    out = tmp_path / "dead.html"
    assert main(["report", "--config", str(tmp_path / "cycle.json"), "--recording",
                 str(traces_dir() / "rotating_dot.npz"), "--drain-us", "1000", "-o", str(out), "--quiet"]) == 0
    page = out.read_text(encoding="utf-8")
    assert "The run deadlocked" in page and "core 0 -&gt; core 1 -&gt; core 0" in page
    assert "rotating_dot.npz (" in page and "<h3>Fixes, each run on the whole input</h3>" in page


def test_cli_refuses_what_does_not_fit(tmp_path, capsys):
    assert main(["report"]) == 2
    assert "give a run file" in capsys.readouterr().err
    run = tmp_path / "x.h5"
    run.write_bytes(b"")
    assert main(["report", str(run), "-o", str(tmp_path / "y.h5")]) == 2
    assert "would overwrite a run file" in capsys.readouterr().err
    assert main(["report", "--config", "c.json", "--recording", str(tmp_path / "none.npz")]) == 2


# ------------------------------------------------------------------------------------------ plots

def test_utilisation_map_rows_and_saturated_outline(chain):
    from matplotlib.patches import Rectangle
    from speksim.plot.stalls import utilisation_map
    _, _, result, report = chain
    fig = utilisation_map(result, report)
    maps = [ax for ax in fig.axes if ax.get_title(loc="left").split(" (")[0] in ("busy", "stalled")]
    assert len(maps) == 2
    for ax in maps:
        assert [t.get_text() for t in ax.get_yticklabels()] == ["input link", "DVS layer", "core 0", "core 1",
                                                                "core 2", "host output"]
        # core 1 (row 3) outlined over its saturated windows, 120 to 136 ms (times in ms on this axis)
        boxes = [p for p in ax.patches if isinstance(p, Rectangle)]
        assert len(boxes) == 1
        (x, y), w = boxes[0].get_xy(), boxes[0].get_width()
        assert y == pytest.approx(3 - 0.45) and x == pytest.approx(120) and x + w == pytest.approx(136)
    assert maps[-1].get_xlabel() == "time (ms)"
    track = next(ax for ax in fig.axes if ax.get_ylabel() == "stall\nepisodes")
    assert len(track.patches) == len(report.episodes) == 1
    # the busy fraction drawn for core 1 is its busy time per 1 ms bin
    busy = maps[0].collections[0].get_array().reshape(6, -1)
    assert np.allclose(busy[3], result.series["busy_ns"][:, 1] / result.bin_ns)
    plain = utilisation_map(result)                    # without a diagnosis: no marks, no track
    assert len(plain.axes) == 3 and not any(isinstance(p, Rectangle) for ax in plain.axes for p in ax.patches)


def test_rows_follow_the_events_not_the_core_ids(chain):
    """The chain with cores 0 and 2 swapped: DVS -> core 2 -> core 1 -> core 0."""
    from speksim.analysis.fixes import swap_cores
    from speksim.plot.stalls import fifo_occupancy, utilisation_map
    config, events, _, _ = chain
    result = speksim.simulate(swap_cores(config, 0, 2), events)
    fig = utilisation_map(result)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["input link", "DVS layer", "core 2", "core 1",
                                                                     "core 0", "host output"]
    titles = [ax.get_title(loc="left").split(":")[0] for ax in fifo_occupancy(result).axes if ax.get_title(loc="left")]
    assert titles == ["DVS layer", "core 2", "core 1", "core 0", "host output"]


def test_fifo_occupancy_panels_reach_the_depth(chain):
    from speksim.plot.stalls import fifo_occupancy
    _, _, result, report = chain
    fig = fifo_occupancy(result, report)
    panels = [ax for ax in fig.axes if ax.get_title(loc="left")]
    assert [ax.get_title(loc="left").split(":")[0] for ax in panels] == ["DVS layer", "core 0", "core 1", "core 2",
                                                                         "host output"]
    chip = speksim.load_chip()
    for ax, depth in zip(panels, [chip.dvs_fifo_depth, 16, 16, 16, chip.host_out_fifo_depth]):
        assert any(line.get_linestyle() == "--" and list(line.get_ydata()) == [depth, depth] for line in ax.lines)
        assert ax.get_ylim()[0] == 0 and ax.get_ylim()[1] > depth
        assert ax.get_ylabel() == "slots"
    assert "saturated: core 1" in [t.get_text() for t in fig.legends[0].get_texts()]


def test_input_lag_dots_or_bins(chain):
    from speksim.plot.stalls import input_lag
    _, _, result, report = chain
    fig = input_lag(result, report)
    ax = fig.axes[0]
    dots = next(line for line in ax.lines if line.get_label() == "lag of an input")
    assert len(dots.get_xdata()) == len(result.lag_ns)
    assert ax.get_ylabel() == "lag (ms)" and ax.get_xlabel() == "input timestamp (ms)"
    labels = ax.get_legend_handles_labels()[1]
    assert "saturated: core 1" in labels and "unloaded lag (640 ns)" in labels
    binned = input_lag(result, report, max_points=100).axes[0]
    labels = binned.get_legend_handles_labels()[1]
    assert "maximum per 1 ms bin" in labels and "99th percentile per 1 ms bin" in labels
    # the highest bin is the peak lag (10.163 ms in the text report)
    assert binned.get_ylim()[1] == pytest.approx(result.lag_ns.max() / 1e6 * 1.08)


def frame_counts(fig) -> list:
    return [int(ax.get_title().split("\n")[1].split()[0].replace(",", "")) for ax in fig.axes if "\n" in ax.get_title()]


def test_dvs_frames_from_the_input_during_the_stall(chain):
    from speksim.plot.stalls import dvs_frames
    _, events, result, report = chain
    fig = dvs_frames(result, report, events)
    assert "worst stall (core 1 saturated from 120 ms)" in fig.get_suptitle()
    assert [s.get_suptitle() for s in fig.subfigs] == ["input events, by timestamp"]
    # eight 1 ms frames from one frame before the episode: 119..127 ms
    t = events["t"]
    assert frame_counts(fig) == [int(((t >= a * 1000) & (t < (a + 1) * 1000)).sum()) for a in range(119, 127)]
    assert fig.axes[0].get_title().startswith("119–120 ms")


def test_dvs_frames_from_the_monitor_output(chain):
    """With the DVS monitor on, the frames of the monitor output count its events by the time they
    reached the host: during the stall they arrive at core 1's pace, after the burst has ended."""
    from speksim.plot.stalls import dvs_frames
    config, events, _, _ = chain
    config = speksim.load_config(traces_dir() / "stall_chain.json")
    config.dvs_layer.monitor_enable = True
    result = speksim.simulate(config, events)
    fig = dvs_frames(result, diagnose(result, fixes=False), events, frame_us=2000, n_frames=6)
    titles = [s.get_suptitle() for s in fig.subfigs]
    assert titles == ["DVS monitor output (layer 13), by the time it reached the host", "input events, by timestamp"]
    mon = result.outputs[result.outputs["layer"] == 13]["t_ns"]
    starts = [118 + 2 * k for k in range(6)]
    counts = frame_counts(fig)
    assert counts[:6] == [int(((mon >= a * MS) & (mon < (a + 2) * MS)).sum()) for a in starts]
    # the camera stopped its burst at 125 ms; the monitor output still carries it after that
    assert counts[6 + 4] < 50 < counts[4]


def test_dvs_frames_without_a_source_and_bad_arguments(chain):
    from speksim.plot.stalls import dvs_frames
    _, _, result, _ = chain
    fig = dvs_frames(result)
    assert "no DVS monitor output" in fig.axes[0].texts[0].get_text()
    with pytest.raises(ValueError, match="frame_us"):
        dvs_frames(result, frame_us=0)


def test_plots_write_png(chain, tmp_path):
    from speksim.plot import stalls
    _, events, result, report = chain
    for name in ("utilisation_map", "fifo_occupancy", "input_lag"):
        getattr(stalls, name)(result, report, path=tmp_path / f"{name}.png")
    stalls.dvs_frames(result, report, events, path=tmp_path / "frames.png")
    for p in tmp_path.glob("*.png"):
        assert p.read_bytes()[:8] == PNG_MAGIC and p.stat().st_size > 5000
