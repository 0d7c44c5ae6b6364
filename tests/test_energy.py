"""The energy estimate (`speksim.analysis.energy`): every joule follows from counts worked out by
hand and the chip file's figures; leak jobs, per-core figures, two configurations compared; run
files, older chips, and what `speksim run` and `speksim info` print."""

from __future__ import annotations

import numpy as np
import pytest

from speksim import SPIKE_EVENT, ChipConfig, CnnLayerConfig, RunOptions, load_chip, make_events, simulate
from speksim.analysis.energy import energy_line, estimate
from speksim.cli import main
from speksim.config import DvsDestination, Vec2, save_config
from speksim.errors import RunFileError
from speksim.runfile import load_run, save_run

CHIP = load_chip("speck2f")
PJ = 1e-12


def centre_chain():
    """SPEC T10's scenario on two cores: 1->1 channel, 3x3, padding 1, 16x16, only the centre
    weight (1), threshold 1; core 0 sends to core 1, core 1 is monitored."""
    cfg = ChipConfig()
    for k in range(2):
        w = np.zeros((1, 1, 3, 3), np.int8)
        w[0, 0, 1, 1] = 1
        cfg.cnn_layers[k] = CnnLayerConfig.conv(w, (16, 16), padding=1, threshold_high=1, threshold_low=-1,
                                                monitor_enable=k == 1, destinations=[(1, 1, 0)] if k == 0 else [])
    return cfg


def centre_event():
    return make_events("spike", t=[0], layer=[0], feature=[0], x=[8], y=[8])


def test_the_figures_of_the_chip_file_carry_their_sources():
    est = estimate(simulate(centre_chain(), centre_event(), CHIP))
    assert est["estimate"] is True
    figures = est["figures"]
    assert figures["static_uw"] == {"value": 420, "unit": "µW", "source": "doc",
                                    "reason": CHIP.provenance["static_uw"].reason}
    assert "0.42 mW" in figures["static_uw"]["reason"]
    for name in ("synop_pj", "event_pj", "copy_pj", "dvs_event_pj"):
        assert figures[name]["source"] == "est" and figures[name]["reason"], name


def test_every_joule_follows_from_the_counts_and_the_figures():
    """One event at the centre of core 0: all 9 kernel offsets are valid (F2), 1 output channel,
    so 9 SynOps; only the centre weight reaches threshold 1, so one spike and one copy (to core 1).
    Core 1 gets that spike at (8, 8): again 9 SynOps, one spike, one copy (the monitor). Speck2f's
    figures: 15 pJ per SynOp, 300 per event, 100 per copy: 9*15 + 300 + 100 = 535 pJ per core.
    The run ends when the host output has served the output (T7: its timestamp, 1803 ns, less
    host_out_latency_ns 637): 1166 ns of 420 µW static power."""
    res = simulate(centre_chain(), centre_event(), CHIP)
    assert res.t_end_ns == 1803 - 637 == 1166
    est = estimate(res)
    assert [c["core"] for c in est["cores"]] == [0, 1]
    for c in est["cores"]:
        assert (c["synops"], c["events"], c["copies"], c["leak_updates"]) == (9, 1, 1, 0)
        assert c["synop_j"] == pytest.approx(9 * 15 * PJ)
        assert c["event_j"] == pytest.approx(300 * PJ) and c["copy_j"] == pytest.approx(100 * PJ)
        assert c["total_j"] == pytest.approx(535 * PJ)
        assert c["mean_w"] == pytest.approx(535 * PJ / 1166e-9)
    assert est["dvs"] == {"events": 0, "total_j": 0.0, "mean_w": 0.0}
    assert est["dynamic_j"] == pytest.approx(1070 * PJ)
    assert est["static_j"] == pytest.approx(420e-6 * 1166e-9)
    assert est["total_j"] == pytest.approx(1070 * PJ + 420e-6 * 1166e-9)
    assert est["mean_w"] == pytest.approx(est["total_j"] / 1166e-9)
    assert est["duration_s"] == pytest.approx(1166e-9)


def test_each_figure_prices_its_own_count_per_core():
    """The same run priced with other figures: core 1's SynOps at 7 pJ, no event cost, 1000 pJ a
    copy, no static power: core 0 = 9*15 + 1000, core 1 = 9*7 + 1000 pJ."""
    res = simulate(centre_chain(), centre_event(), CHIP)
    other = CHIP.with_overrides(["core.1.synop_pj=7", "event_pj=0", "copy_pj=1000", "static_uw=0"])
    est = estimate(res, chip=other)
    assert [c["total_j"] for c in est["cores"]] == pytest.approx([1135 * PJ, 1063 * PJ])
    assert est["static_j"] == 0 and est["total_j"] == pytest.approx(2198 * PJ)
    assert est["overrides"] == ["core.1.synop_pj=7", "event_pj=0", "copy_pj=1000", "static_uw=0"]
    # and the chip a run used is the chip it is priced with
    ran = simulate(centre_chain(), centre_event(), other)
    assert estimate(ran)["dynamic_j"] == pytest.approx(2198 * PJ)


def test_a_leak_job_is_a_decode_and_a_synop_per_neuron():
    """Core 0 leaks with a 1 kHz slow clock and no input until end_ns = 3.5 ms: ticks at 1, 2 and
    3 ms (F4), each a leak job on an idle core (T5). Its map is 1 x 16 x 16 = 256 neurons, so 3 *
    256 = 768 neuron updates at 15 pJ, and 3 decodes at 300 pJ; 3.5 ms of 420 µW."""
    cfg = ChipConfig()
    cfg.cnn_layers[0] = CnnLayerConfig.conv(np.zeros((1, 1, 3, 3), np.int8), (16, 16), padding=1, threshold_high=5,
                                            threshold_low=-1, biases=np.array([1], np.int16), leak_enable=True)
    res = simulate(cfg, np.zeros(0, SPIKE_EVENT), CHIP, RunOptions(end_ns=3_500_000))
    assert int(res.stats[0]["leak_jobs"]) == 3
    core = estimate(res)["cores"][0]
    assert (core["synops"], core["leak_updates"], core["events"]) == (0, 768, 3)
    assert core["total_j"] == pytest.approx((768 * 15 + 3 * 300) * PJ)
    assert estimate(res)["static_j"] == pytest.approx(420e-6 * 3.5e-3)


def wide(c_out):
    """Core 0: 2 -> c_out channels, 3x3, padding 1, 16x16, threshold out of reach (no spikes)."""
    cfg = ChipConfig()
    cfg.cnn_layers[0] = CnnLayerConfig.conv(np.ones((c_out, 2, 3, 3), np.int8), (16, 16), padding=1,
                                            threshold_high=32767, threshold_low=-1)
    return cfg


def test_two_configurations_compare():
    """Halving the output channels halves the SynOps of every event (F2: C_out x valid offsets)
    and leaves the events: the wider layer's SynOp energy is exactly twice, its event energy the
    same, so the difference of the two dynamic energies is the narrow one's SynOp energy."""
    rng = np.random.default_rng(4)
    n = 500
    ev = make_events("spike", t=np.arange(n) * 10, layer=np.zeros(n), feature=rng.integers(0, 2, n),
                     x=rng.integers(0, 16, n), y=rng.integers(0, 16, n))
    narrow, broad = (estimate(simulate(wide(c), ev, CHIP)) for c in (8, 16))
    a, b = narrow["cores"][0], broad["cores"][0]
    assert b["synops"] == 2 * a["synops"] and b["events"] == a["events"] == n
    assert b["synop_j"] == pytest.approx(2 * a["synop_j"]) and b["event_j"] == pytest.approx(a["event_j"])
    assert broad["dynamic_j"] - narrow["dynamic_j"] == pytest.approx(a["synop_j"])
    assert broad["total_j"] > narrow["total_j"]


def test_a_run_file_gives_the_same_estimate(tmp_path):
    res = simulate(centre_chain(), centre_event(), CHIP.with_overrides(["synop_pj=20"]))
    assert estimate(load_run(save_run(res, tmp_path / "r.h5"))) == estimate(res)


def older(result):
    """The result as a speksim without energy figures recorded it."""
    for name in ("synop_pj", "event_pj", "copy_pj", "dvs_event_pj", "static_uw"):
        del result.metadata["chip"]["parameters"][name]
    return result


def test_a_run_recorded_without_energy_figures_says_how_to_price_it():
    res = older(simulate(centre_chain(), centre_event(), CHIP))
    with pytest.raises(RunFileError, match=r"lacks parameter\(s\).*synop_pj.*estimate\(result, chip="):
        estimate(res)
    assert estimate(res, chip=CHIP)["dynamic_j"] == pytest.approx(1070 * PJ)


def test_run_and_info_print_the_estimate(tmp_path, monkeypatch, capsys):
    """A camera event at (8, 8) through the DVS layer (polarities merged, cropped to 16x16) into
    the centre chain: the DVS layer serves 1 event (100 pJ), each core 535 pJ as above."""
    monkeypatch.chdir(tmp_path)
    cfg = centre_chain()
    cfg.dvs_layer.merge = True
    cfg.dvs_layer.cut = Vec2(15, 15)
    cfg.dvs_layer.destinations[0] = DvsDestination(layer=0, enable=True)
    save_config(cfg, "net.json")
    np.savez("one.npz", t=[0], x=[8], y=[8], p=[1])
    assert main(["run", "one.npz", "--config", "net.json", "-o", "r.h5"]) == 0
    out, _ = capsys.readouterr()
    est = estimate(load_run("r.h5"))
    assert est["dvs"]["total_j"] == pytest.approx(100 * PJ)
    assert energy_line(est).startswith("energy (estimate): ") and energy_line(est) in out.splitlines()
    assert main(["info", "r.h5"]) == 0
    out, _ = capsys.readouterr()
    assert f"  energy       {energy_line(est, label='')}" in out
    assert "core 0 535 pJ, core 1 535 pJ, DVS layer 100 pJ" in out
    save_run(older(load_run("r.h5")), "old.h5")
    assert main(["info", "old.h5"]) == 0
    out, _ = capsys.readouterr()
    assert "  energy       not estimated: " in out and "older speksim" in out
