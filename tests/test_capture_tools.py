"""What the other tools do with a devkit capture: they show it as a capture, draw only what a
devkit measures, and refuse, saying what to do instead, where a figure would need statistics a
devkit does not report (a stall diagnosis, an energy estimate).

The capture here is made without a devkit: a simulation's outputs, floored to whole µs as a
devkit reports them, through `capture_result`, the function every capture goes through."""

import numpy as np
import pytest

from speksim import Simulation, load_run, save_run
from speksim.analysis.energy import estimate
from speksim.analysis.stalls import diagnose
from speksim.analysis.sweep import measure
from speksim.cli import main
from speksim.config import CnnLayerConfig, chain_config
from speksim.devkit import capture_result
from speksim.errors import RunFileError
from speksim.events import SPIKE_EVENT


def _config():
    rng = np.random.default_rng(7)
    a = CnnLayerConfig.conv(rng.integers(0, 4, (3, 2, 3, 3)).astype(np.int8), (8, 8), threshold_high=20)
    b = CnnLayerConfig.conv(rng.integers(0, 4, (4, 3, 3, 3)).astype(np.int8), (6, 6), threshold_high=20)
    return chain_config([a, b], [0, 1], monitor=[0, 1])


def _inputs(n=600):
    rng = np.random.default_rng(8)
    ev = np.zeros(n, SPIKE_EVENT)
    ev["t"] = np.sort(rng.integers(0, 3000, n))
    ev["feature"], ev["x"], ev["y"] = rng.integers(0, 2, n), rng.integers(0, 8, n), rng.integers(0, 8, n)
    return ev


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("capture")
    config, inputs = _config(), _inputs()
    sim = Simulation(config, "speck2f").run(inputs)
    out = sim.outputs.copy()
    out["t_ns"] = out["t_ns"] // 1000 * 1000
    out["root"] = -1
    cap = capture_result(config, "speck2f", inputs, out, device="speck2f")
    return save_run(sim, d / "sim.h5"), save_run(cap, d / "cap.h5"), sim


def test_info_presents_a_capture_as_a_capture_without_modelled_figures(files, capsys):
    _, cap, sim = files
    assert main(["info", str(cap)]) == 0
    text = capsys.readouterr().out
    assert "devkit capture" in text and "not measured" in text and "input events kept" in text
    # no modelled energy and no latency: a devkit measures neither
    labels = [line.split()[0] for line in text.splitlines() if line.startswith("  ") and line.strip()]
    assert "energy" not in labels and "latency" not in labels
    # the output counts per layer, as the simulation made them
    for layer in (0, 1):
        n = int((sim.outputs["layer"] == layer).sum())
        assert n > 0
        assert any(line.split()[:2] == [str(layer), str(n)] for line in text.splitlines())
    assert main(["info", str(files[0])]) == 0
    labels = [line.split()[0] for line in capsys.readouterr().out.splitlines() if line.startswith("  ")]
    assert "energy" in labels and "latency" in labels      # a simulation keeps them


def test_a_stall_diagnosis_or_energy_estimate_of_a_capture_is_refused_with_what_to_do(files, capsys):
    cap = load_run(files[1])
    for call in (lambda: diagnose(cap), lambda: estimate(cap)):
        with pytest.raises(RunFileError, match="devkit capture.*speksim compare"):
            call()
    assert main(["stalls", str(files[1])]) == 3
    assert "devkit capture" in capsys.readouterr().err
    # a table of many runs (batch, sweep) leaves the capture's energy empty instead of failing
    row = measure(cap)
    assert row["energy_j"] is None and row["outputs"] == len(cap.outputs)


def test_plots_of_a_capture_are_only_what_a_devkit_measures(files, tmp_path, capsys):
    assert main(["plot", str(files[1]), "--out", str(tmp_path / "cap")]) == 0
    assert sorted(p.name for p in (tmp_path / "cap").iterdir()) == \
        ["event_images.png", "input_rate.png", "output_raster.png"]
    assert main(["plot", str(files[0]), "--out", str(tmp_path / "sim")]) == 0
    assert len(list((tmp_path / "sim").iterdir())) == 6


def test_a_batch_on_a_devkit_leaves_what_a_devkit_does_not_measure_empty(tmp_path, monkeypatch):
    """Through tests/samna_standin.py, a stand-in for samna (NOT samna: its devkit computes nothing)."""
    import sys

    import samna_standin
    from speksim.batch import batch
    from speksim.config import demo_config
    clock = samna_standin.connect_devkit(echo_delay_us=5)
    monkeypatch.setitem(sys.modules, "samna", samna_standin)
    import speksim.devkit.runner as runner_module
    monkeypatch.setattr(runner_module.time, "monotonic_ns", clock.now_ns)
    monkeypatch.setattr(runner_module.time, "sleep", clock.advance)
    rng = np.random.default_rng(3)
    n = 50
    np.savez(tmp_path / "rec.npz", t=np.sort(rng.integers(0, 2000, n)).astype(np.int64),
             x=rng.integers(0, 128, n).astype(np.uint16), y=rng.integers(0, 128, n).astype(np.uint16),
             p=rng.integers(0, 2, n).astype(np.uint8))
    (row,) = batch(demo_config(), "speck2f", [tmp_path / "rec.npz"], tmp_path / "runs", engine="devkit:speck2f",
                   jobs=1)
    assert row["status"] == "ok" and row["events"] == n
    assert row["stall_ns"] is None and row["dropped"] is None
    assert load_run(tmp_path / "runs" / row["run_file"]).is_capture()
