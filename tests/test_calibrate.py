"""Timing calibration, shown to work by recovering known parameters.

The captures here are synthetic: a small configuration simulated on a chip whose timing differs
from speck2f's (`TRUE`), its output times floored to whole µs as a devkit reports them, stored
as a devkit capture. Calibrating plain speck2f on them must give back the values they were made
with, for the parameters the input constrains, and name the others.
"""

import json

import numpy as np
import pytest

from speksim.analysis.calibrate import calibrate, match
from speksim.chip import load_chip
from speksim.cli import main
from speksim.config import ChipConfig, save_config
from speksim.config.build import conv_layer
from speksim.devkit.capture import capture_result
from speksim.errors import ChipFileError, EventError
from speksim.config.model import DvsDestination, Vec2
from speksim.events import DVS_EVENT, OUTPUT_EVENT, SPIKE_EVENT
from speksim.runfile import load_run, save_run
from speksim.simulation import simulate

#: The chip the captures are made with: every time 20-25% off speck2f's, the core FIFO shallower.
TRUE = dict(event_ns=100, synop_ns=25, route_ns=50, host_out_ns=100, host_in_latency_ns=700,
            host_out_latency_ns=720, fifo_depth=12, out_depth=6)


def config() -> ChipConfig:
    """Cores with different work per event, so that the times separate:
    0: 1→1, 3x3 (9 SynOps, 4 at a corner), feeds core 1; 1: 1→8, 3x3 (72 SynOps, 32 at a corner),
    one spike per event; 2: 1→4, 1x1, four spikes of three copies each (monitor, cores 3 and 4),
    so its output stage is its bottleneck (route_ns); 3, 4: take those copies, fire nothing;
    5: 1→16, 1x1, sixteen monitored spikes per event (the host output is the bottleneck:
    host_out_ns); 6: 1→1, 1x1, one SynOp per event (event_ns). All but 3 and 4 monitored."""
    cfg = ChipConfig()
    centre = np.zeros((1, 1, 3, 3), np.int8)
    centre[0, 0, 1, 1] = 1
    wide = np.zeros((8, 1, 3, 3), np.int8)
    wide[0, 0, 1, 1] = 1
    cfg.cnn_layers[0] = conv_layer(centre, (16, 16), padding=1, monitor_enable=True, destinations=[(1,)])
    cfg.cnn_layers[1] = conv_layer(wide, (16, 16), padding=1, monitor_enable=True)
    cfg.cnn_layers[2] = conv_layer(np.ones((4, 1, 1, 1), np.int8), (16, 16), monitor_enable=True,
                                   destinations=[(3,), (4,)])
    cfg.cnn_layers[3] = conv_layer(np.zeros((1, 4, 1, 1), np.int8), (16, 16))
    cfg.cnn_layers[4] = conv_layer(np.zeros((1, 4, 1, 1), np.int8), (16, 16))
    cfg.cnn_layers[5] = conv_layer(np.ones((16, 1, 1, 1), np.int8), (16, 16), monitor_enable=True)
    cfg.cnn_layers[6] = conv_layer(np.ones((1, 1, 1, 1), np.int8), (16, 16), monitor_enable=True)
    return cfg


def events(bursts=(1, 0, 2, 5, 6)) -> np.ndarray:
    """Sparse events (the latency through one and two cores), then a burst per core in
    `bursts`, 300 µs apart so that the chip is idle before each."""
    rows = [(40 * i, 0, 0, 8, 8) for i in range(20)] + [(40 * i + 17, 2, 0, 3 * i % 16, 5 * i % 16) for i in range(10)]
    corners = [(8, 8), (0, 0), (15, 7), (4, 0), (15, 15)]      # centre, corner and edge: 9, 4 or 6 offsets
    size = {1: 40, 0: 30, 2: 30, 5: 10, 6: 100}
    for j, core in enumerate(bursts):
        t = 1000 + 300 * j
        for i in range(size[core]):
            x, y = corners[i % 5] if core in (0, 1) else (7 * i % 16, (3 * i + i // 16) % 16)
            rows.append((t, core, 0, x, y))
    rows.sort(key=lambda r: r[0])
    return np.array(rows, SPIKE_EVENT)


def make_capture(chip, cfg=None, ev=None):
    """What a devkit with `chip`'s timing would have captured: output times floored to whole µs,
    no roots."""
    cfg = config() if cfg is None else cfg
    ev = events() if ev is None else ev
    out = simulate(cfg, ev, chip).outputs.copy()
    out["t_ns"] = out["t_ns"] // 1000 * 1000
    out["root"] = -1
    return capture_result(cfg, "speck2f", ev, out, device="speck2f")


@pytest.fixture(scope="module")
def true_chip():
    return load_chip("speck2f").replace(reason="the chip the captures were made with", **TRUE)


@pytest.fixture(scope="module")
def capture(true_chip):
    return make_capture(true_chip)


@pytest.fixture(scope="module")
def cal(capture):
    return calibrate([capture], "speck2f", names=["capture.h5"])


def _within(value, want, rel=0.05):
    return abs(value - want) <= rel * want


def test_the_times_the_capture_constrains_come_back_within_5_percent(cal):
    for name in ("event_ns", "synop_ns", "route_ns", "host_out_ns", "fifo_depth"):
        assert name not in cal.unidentified, (name, cal.unidentified.get(name))
        assert _within(cal.fitted[name], TRUE[name]), (name, cal.fitted[name], TRUE[name])
    # the speck2f values are 17-25% away, so a fit that moved nothing would fail above
    assert cal.base["synop_ns"] == 20 and cal.base["event_ns"] == 83


def test_the_host_latencies_come_back_only_as_their_sum(cal):
    # every output time holds host_in_latency_ns + host_out_latency_ns once: 700 + 720 = 1420 ns
    for name in ("host_in_latency_ns", "host_out_latency_ns"):
        assert "only host_in_latency_ns + host_out_latency_ns is identified" in cal.unidentified[name]
    total = cal.fitted["host_in_latency_ns"] + cal.fitted["host_out_latency_ns"]
    assert _within(total, 1420), total
    # their ratio is speck2f's (640 : 637), not the one the capture was made with (700 : 720)
    ratio = cal.fitted["host_in_latency_ns"] / cal.fitted["host_out_latency_ns"]
    assert abs(ratio - 640 / 637) < 0.01
    [combo] = cal.combinations
    assert combo["parameters"] == ["host_in_latency_ns", "host_out_latency_ns"] and combo["coefficients"] == [1, 1]


def test_what_the_capture_cannot_fix_is_named_with_why(cal):
    # the busiest burst sends 10 x 16 = 160 monitored spikes: fewer than the host output FIFO's 256 slots
    assert cal.unidentified["host_out_fifo_depth"].startswith("never filled in these captures")
    assert "host_out_fifo_depth" not in cal.fitted
    # every burst is limited by a core, never by the input link: its spacing shows in no output
    assert "host_in_ns" in cal.unidentified and "host_in_ns" not in cal.fitted


def test_the_residual_after_is_far_below_the_one_before(cal):
    before, after = cal.residual["before"], cal.residual["after"]
    # every output is paired: sparse 20 x 2 (cores 0 and 1) + 10 x 4 (core 2), bursts 40 (core 1)
    # + 30 x 2 (cores 0 and 1) + 30 x 4 (core 2) + 10 x 16 (core 5) + 100 (core 6) = 560
    assert after["n"] == before["n"] == 560 and after["unmatched_capture"] == 0
    assert after["rms_ns"] < 0.2 * before["rms_ns"]
    # the true times lie in their capture's µs; the fitted ones almost all do
    assert after["within_us"] > 0.95 > 0.5 > before["within_us"]


def test_the_written_chip_file_extends_speck2f_and_reproduces_the_capture(cal, capture, tmp_path):
    path = cal.write_chip(tmp_path / "fitted.toml", captures=["capture.h5"], date="2026-12-02")
    text = path.read_text()
    assert 'extends = "speck2f"' in text and 'name = "speck2f-fitted"' in text
    assert "#   host_out_fifo_depth: never filled" in text and "host_out_fifo_depth =" not in text
    assert text == cal.chip_toml(captures=["capture.h5"], date="2026-12-02")     # same input, same bytes
    chip = load_chip(path)
    assert chip.name == "speck2f-fitted" and chip.files == ("speck2f.toml", "fitted.toml")
    for key, value in cal.fitted.items():
        got = getattr(chip, key)
        assert (got if isinstance(got, int) else set(got)) == (value if isinstance(got, int) else {value})
        assert chip.provenance[key].source == "fit"
        assert chip.provenance[key].reason.startswith("fitted to capture.h5 on 2026-12-02: rms residual")
    assert chip.host_out_fifo_depth == 256 and chip.provenance["host_out_fifo_depth"].source == "unk"
    # the same chip in memory
    assert all(getattr(cal.chip(), p) == getattr(chip, p) for p in ("event_ns", "synop_ns", "host_out_ns"))
    sim = simulate(config(), capture.input_events, chip).outputs
    i_sim, i_cap = match(sim, capture.outputs)
    assert len(i_sim) == len(sim) == len(capture.outputs)
    floored = sim["t_ns"][i_sim] // 1000 * 1000
    assert np.abs(floored - capture.outputs["t_ns"][i_cap]).max() <= 1000


def test_two_captures_are_fitted_jointly(true_chip):
    # one capture has the bursts that fix the core times, the other (another configuration:
    # cores 5 and 6 only) the host output's; neither alone fixes all four
    a = make_capture(true_chip, ev=events(bursts=(1, 0)))
    cfg = ChipConfig()
    full = config()
    cfg.cnn_layers[5], cfg.cnn_layers[6] = full.cnn_layers[5], full.cnn_layers[6]
    ev = np.array([(0, 6, 0, 1, 1)] + [(100, 5, 0, i, 2) for i in range(10)] + [(400, 6, 0, i % 16, i // 16)
                                                                                for i in range(100)], SPIKE_EVENT)
    b = make_capture(true_chip, cfg, ev)
    params = ["event_ns", "synop_ns", "host_out_ns", "host_in_latency_ns", "host_out_latency_ns"]
    joint = calibrate([a, b], "speck2f", parameters=params)
    for name in ("event_ns", "synop_ns", "host_out_ns"):
        assert _within(joint.fitted[name], TRUE[name]), (name, joint.fitted)
    assert set(joint.per_capture) == {"capture 1", "capture 2"}
    assert joint.residual["after"]["n"] == len(a.outputs) + len(b.outputs)


def test_a_per_core_parameter_is_fitted_on_the_cores_asked_for(tmp_path):
    # only core 1's SynOps are slower (30 ns); core 6's are speck2f's 20 ns
    true = load_chip("speck2f").replace(synop_ns={1: 30})
    cap = make_capture(true, ev=events(bursts=(1, 6)))
    got = calibrate([cap], parameters=["core.1.synop_ns", "core.6.synop_ns"])
    assert got.fitted == {"core.1.synop_ns": 30, "core.6.synop_ns": 20}
    chip = load_chip(got.write_chip(tmp_path / "percore.toml", date="2026-12-02"))
    assert chip.synop_ns == (20, 30, 20, 20, 20, 20, 20, 20, 20)


def test_a_base_chip_file_is_extended_by_its_relative_path(tmp_path):
    base = tmp_path / "chips" / "mine.toml"
    base.parent.mkdir()
    base.write_text('name = "mine"\nextends = "speck2f"\n[timing.core]\n'
                    'synop_ns = { value = 22, source = "est", reason = "ours" }\n')
    true = load_chip(base).replace(event_ns=100)
    cap = make_capture(true, ev=events(bursts=(6,)))
    got = calibrate([cap], str(base), parameters=["event_ns"])
    assert got.fitted == {"event_ns": 100}
    # the capture names speck2f as its chip, the base is "mine": fitted all the same, with a warning
    assert any("recorded with chip 'speck2f', not 'mine'" in w for w in got.warnings)
    (tmp_path / "fitted").mkdir()
    out = got.write_chip(tmp_path / "fitted" / "mine-fitted.toml", date="2026-12-02")
    assert 'extends = "../chips/mine.toml"' in out.read_text()
    chip = load_chip(out)
    assert chip.files == ("speck2f.toml", "mine.toml", "mine-fitted.toml")
    assert chip.synop_ns[0] == 22 and chip.event_ns[0] == 100


def test_camera_input_brings_the_dvs_layers_parameters():
    cfg = ChipConfig()
    cfg.dvs_layer.destinations[0] = DvsDestination(layer=0, enable=True)
    cfg.dvs_layer.pooling = Vec2(4, 4)
    cfg.dvs_layer.monitor_enable = True
    cfg.cnn_layers[0] = conv_layer(np.ones((1, 2, 1, 1), np.int8), (32, 32), monitor_enable=True)
    ev = np.array([(20 * i, 4 * i, 8, 1) for i in range(20)], DVS_EVENT)
    got = calibrate([make_capture(load_chip("speck2f"), cfg, ev)], parameters=None)
    assert {"dvs_event_ns", "dvs_route_ns", "dvs_fifo_depth", "dvs_out_depth"} <= set(got.base)
    # a capture of speck2f itself: the fit has nothing to move
    assert all(got.fitted[k] == got.base[k] for k in got.fitted)


def test_the_pairing_is_by_address_and_occurrence():
    sim = np.zeros(4, OUTPUT_EVENT)
    cap = np.zeros(3, OUTPUT_EVENT)
    sim["feature"] = [1, 2, 1, 1]
    sim["t_ns"] = [10, 20, 30, 40]
    cap["feature"] = [2, 1, 1]
    cap["t_ns"] = [0, 5, 35]
    i_sim, i_cap = match(sim, cap)
    # capture event 0 (feature 2) is the first of its address, like sim event 1; capture events 1
    # and 2 are the first and second of feature 1: sim events 0 and 2; sim event 3 has no twin
    assert i_cap.tolist() == [0, 1, 2] and i_sim.tolist() == [1, 0, 2]


def test_a_run_file_without_input_needs_it(true_chip, tmp_path):
    ev = events(bursts=(6,))
    run = simulate(config(), ev, load_chip("speck2f").replace(event_ns=100))
    path = tmp_path / "run.h5"
    save_run(run, path)
    loaded = load_run(path)
    assert loaded.input_events is None
    with pytest.raises(EventError, match="keeps no input events"):
        calibrate([loaded])
    # a simulation's run file is fitted like a capture once its input is given; its times are
    # exact (not floored to the µs), so the value comes back exactly and the residual is 0
    got = calibrate([loaded], parameters=["event_ns"], inputs=[ev])
    assert got.fitted == {"event_ns": 100}
    assert got.residual["after"]["max_abs_ns"] == 0


def test_parameter_names_are_checked():
    cap = np.zeros(0, OUTPUT_EVENT)
    with pytest.raises(ChipFileError, match="did you mean synop_ns"):
        calibrate([capture_result(config(), "speck2f", events(bursts=()), cap, device="speck2f")],
                  parameters=["synops_ns"])
    with pytest.raises(EventError, match="no capture given"):
        calibrate([])


def test_the_command_line_end_to_end(capture, tmp_path, capsys):
    cap = tmp_path / "capture.h5"
    save_run(capture, cap)
    out = tmp_path / "fitted.toml"
    code = main(["calibrate", str(cap), "--chip", "speck2f", "-o", str(out), "--json", "--param", "synop_ns",
                 "--param", "event_ns", "--param", "fifo_depth"])
    assert code == 0
    d = json.loads(capsys.readouterr().out)
    assert set(d["fitted"]) == {"synop_ns", "event_ns", "fifo_depth"} and d["output"] == str(out)
    assert load_chip(out).provenance["synop_ns"].source == "fit"
    assert main(["calibrate", str(cap), "--param", "synop_ns", "--quiet"]) == 0
    table = capsys.readouterr().out
    assert "synop_ns" in table and "residual over" in table


def test_the_command_line_reads_a_run_files_recording(tmp_path, capsys):
    # a run made with `speksim run` on a camera recording, with a chip whose decode takes 100 ns;
    # its run file keeps no input, so calibrate reads the recording again
    cfg = ChipConfig()
    cfg.dvs_layer.destinations[0] = DvsDestination(layer=0, enable=True)
    cfg.dvs_layer.pooling = Vec2(4, 4)
    cfg.cnn_layers[0] = conv_layer(np.ones((1, 2, 1, 1), np.int8), (32, 32), monitor_enable=True)
    save_config(cfg, tmp_path / "net.json")
    rec = np.array([(20 * i, 4 * i, 8, 1) for i in range(20)] + [(1000, 5 * i % 128, 3 * i % 128, i % 2)
                                                                 for i in range(100)], DVS_EVENT)
    np.save(tmp_path / "rec.npy", rec)
    (tmp_path / "slow.toml").write_text('name = "slow"\nextends = "speck2f"\n[timing.core]\n'
                                        'event_ns = { value = 100, source = "est", reason = "test" }\n')
    run = tmp_path / "run.h5"
    assert main(["run", str(tmp_path / "rec.npy"), "--config", str(tmp_path / "net.json"), "--chip",
                 str(tmp_path / "slow.toml"), "-o", str(run), "--quiet"]) == 0
    out = tmp_path / "fitted.toml"
    assert main(["calibrate", str(run), "--recording", str(tmp_path / "rec.npy"), "--param", "event_ns",
                 "-o", str(out), "--quiet"]) == 0
    assert "recorded with chip 'slow', not 'speck2f'" in capsys.readouterr().err
    assert load_chip(out).event_ns[0] == 100


def test_the_command_line_says_what_is_wrong(capture, tmp_path, capsys):
    assert main(["calibrate"]) == 2
    assert "no capture given" in capsys.readouterr().err
    assert main(["calibrate", str(tmp_path / "missing.h5")]) == 2
    run = tmp_path / "run.h5"
    save_run(simulate(config(), events(bursts=(6,))), run)
    assert main(["calibrate", str(run)]) == 3
    assert "--recording" in capsys.readouterr().err
    cap = tmp_path / "capture.h5"
    save_run(capture, cap)
    assert main(["calibrate", str(cap), "--param", "kernel_words"]) == 2


FAR = {k: v * 2 for k, v in TRUE.items() if k.endswith("_ns")}


@pytest.fixture(scope="module")
def far_capture():
    """A capture made with every time twice TRUE's: 2.4 to 2.5 times speck2f's."""
    return make_capture(load_chip("speck2f").replace(reason="test", **FAR))


def test_times_far_from_the_base_chip_are_found_from_a_coarse_start(far_capture):
    cal = calibrate([far_capture], "speck2f")
    for name in ("event_ns", "synop_ns", "route_ns"):
        assert abs(cal.fitted[name] - FAR[name]) <= 0.05 * FAR[name], (name, cal.fitted[name], FAR[name])
    assert cal.residual["after"]["within_us"] > 0.9
    assert not any("poor fit" in w for w in cal.warnings)


def test_a_fit_that_cannot_reach_the_capture_says_it_is_poor(far_capture):
    # only a FIFO depth may move: no value of it brings times twice too slow into their µs
    cal = calibrate([far_capture], "speck2f", parameters=["fifo_depth"])
    assert cal.residual["after"]["within_us"] < 0.5
    assert any("poor fit" in w and "not to be trusted" in w for w in cal.warnings), cal.warnings
