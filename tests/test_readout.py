"""The readout through the public API (SPEC F7, T11, T12): the class it reports per tick as
`Result.readout()` gives it, the Speck2e/2f erratum as the chip files set it, run files, the end of
a run, the 16-bit counters, and the configuration checks. The nanosecond timelines of the rule
are in tests/conformance/scenarios/readout.py, on both engines."""

import numpy as np
import pytest

import speksim
from speksim import ChipConfig, CnnLayerConfig, ConfigError, ReadoutConfig, RunOptions, Simulation, make_events
from speksim import simulate, validate
from speksim.engine.readout import COUNT_MAX, RS_AVG, RS_CLASS, RS_COUNT, new_state, readout_count, readout_tick
from speksim.result import READOUT_DTYPE

CHIP = speksim.load_chip("speck2f")
MS = 1_000_000                  # the slow-clock period at the default 1 kHz, in ns


def classifier(c_in=4, **readout) -> ChipConfig:
    """Core 0 passes each input feature c to the readout as feature c (1x1 identity, threshold 1)."""
    cfg = ChipConfig()
    cfg.cnn_layers[0] = CnnLayerConfig.conv(np.eye(c_in, dtype=np.int8).reshape(c_in, c_in, 1, 1), (1, 1),
                                            threshold_high=1, threshold_low=-1, destinations=[(12, 1, 0)])
    cfg.readout = ReadoutConfig(enable=True, readout_configuration_sel=3, low_pass_filter_disable=True, **readout)
    return cfg


def spikes(t_us, feature):
    n = len(t_us)
    return make_events("spike", t=t_us, layer=np.zeros(n), feature=feature, x=np.zeros(n), y=np.zeros(n))


def tick_output_ns(chip, tick_ns, position=0):
    """SPEC T11, T7 with an idle host output: the tick's events start at the tick, one per
    readout_event_ns, and each is served host_out_ns after the previous one ends."""
    return (tick_ns + chip.readout_event_ns + (position + 1) * chip.host_out_ns + chip.host_out_latency_ns)


def test_the_class_of_each_tick_with_its_average_and_pin():
    chip = CHIP.replace(readout_errata=False)
    cfg = classifier(threshold=2, monitor_enable=True, readout_pin_monitor_enable=True)
    # before the 1 ms tick: feature 2 three times (mode 1x1y16f: class 3), feature 0 once (class 1);
    # before 2 ms: feature 1 twice (class 2); then nothing: the idle class at 3 ms
    ev = spikes([100, 110, 120, 130, 1500, 1510], [2, 2, 2, 0, 1, 1])
    r = simulate(cfg, ev, chip, RunOptions(end_ns=3 * MS + MS // 2))
    got = r.readout()
    assert got.dtype == READOUT_DTYPE
    # average 3 > threshold 2: a pin event too, which is part of the first tick's row
    assert got.tolist() == [(tick_output_ns(chip, MS), 3, 3, True), (tick_output_ns(chip, 2 * MS), 2, 2, False),
                            (tick_output_ns(chip, 3 * MS), 0, 0, False)]
    # the events behind the rows: layer 12, feature = class, x = kind (0 value, 1 pin), y = average
    rows = r.outputs[r.outputs["layer"] == 12]
    assert rows[["feature", "x", "y", "root"]].tolist() == [(3, 0, 3, -1), (3, 1, 3, -1), (2, 0, 2, -1), (0, 0, 0, -1)]
    assert rows["t_ns"][1] == tick_output_ns(chip, MS, position=1)
    assert r.latency_ns()[r.outputs["layer"] == 12].tolist() == [-1] * 4


def test_pin_events_alone():
    cfg = classifier(threshold=2, readout_pin_monitor_enable=True)
    ev = spikes([100, 110, 120, 1500, 1510], [2, 2, 2, 1, 1])
    r = simulate(cfg, ev, CHIP.replace(readout_errata=False), RunOptions(end_ns=2 * MS + MS // 2))
    # only the first tick's average (3) is above the threshold; a pin-only row is its first event
    assert r.readout().tolist() == [(tick_output_ns(CHIP, MS), 3, 3, True)]


@pytest.mark.parametrize("chip_name, report", [("speck2f", (2, 2)), ("speck2e", (2, 2)), ("dynapcnn", (5, 2))])
def test_the_erratum_follows_the_chip_file(chip_name, report):
    """Speck2e/2f: class i reads feature 4 (i - 1), so features 0, 4, 4 are classes 1, 2, 2; the
    DYNAP-CNN devkit has no erratum: classes 1, 5, 5."""
    cfg = classifier(c_in=8, monitor_enable=True)
    r = simulate(cfg, spikes([100, 110, 120], [0, 4, 4]), chip_name, RunOptions(end_ns=MS + MS // 2))
    assert [(int(c), int(a)) for c, a in r.readout()[["class", "average"]].tolist()] == [report]


def test_readout_survives_a_run_file(tmp_path):
    cfg = classifier(threshold=1, monitor_enable=True, readout_pin_monitor_enable=True)
    r = simulate(cfg, spikes([100, 110, 1500], [0, 0, 0]), CHIP, RunOptions(end_ns=2 * MS + MS // 2))
    path = tmp_path / "run.h5"
    speksim.save_run(r, path)
    back = speksim.load_run(path).readout()
    assert back.tolist() == r.readout().tolist() and len(back) == 2 and back["pin"].tolist() == [True, False]


def test_ticks_report_only_while_the_run_goes_on():
    """T12: without end_ns a tick counts while input is still to come, even with the chip idle,
    but a tick after the last activity does not: the last input's spike is never reported. With
    end_ns every tick up to it reports; fed in chunks, the same."""
    cfg = classifier(c_in=8, monitor_enable=True)
    ev = spikes([100, 1500], [0, 4])        # classes 1 and 2 (speck2f's erratum)
    r = simulate(cfg, ev, CHIP)
    assert r.readout()[["class", "average"]].tolist() == [(1, 1)]
    assert r.t_end_ns < 2 * MS and not r.cut
    opts = RunOptions(end_ns=3 * MS + MS // 2)      # the 3 ms tick's output comes after 3 ms (T7)
    whole = simulate(cfg, ev, CHIP, opts)
    assert whole.readout()[["class", "average"]].tolist() == [(1, 1), (2, 1), (0, 0)]
    assert simulate(cfg, ev, CHIP, opts, chunk_events=1).equals(whole)
    sim = Simulation(cfg, CHIP, opts)
    for i in range(len(ev)):
        sim.feed(ev[i:i + 1])
    assert sim.finish().equals(whole)


def test_no_slow_clock_no_report():
    cfg = classifier(monitor_enable=True)
    r = simulate(cfg, spikes([100], [0]), CHIP, RunOptions(slow_clock_hz=0, end_ns=3 * MS))
    assert len(r.readout()) == 0 and r.stats["events_in"][10] == 1


def test_readout_of_a_run_without_readout_events_is_empty():
    cfg = classifier()          # no monitor: the readout counts but reports nothing
    r = simulate(cfg, spikes([100], [0]), CHIP, RunOptions(end_ns=2 * MS))
    got = r.readout()
    assert got.dtype == READOUT_DTYPE and len(got) == 0


def test_counters_are_16_bit_and_saturate():
    """F7: a class counter stops at 65535; the average of a window of one tick is that count."""
    rs = new_state()
    rs[RS_COUNT + 3] = COUNT_MAX - 2
    for _ in range(5):
        readout_count(rs, 3)
    assert rs[RS_COUNT + 3] == COUNT_MAX == 65535
    readout_tick(rs, 1, 0, 1, 0)        # window 1, threshold 0, ReadoutValue only
    assert (rs[RS_CLASS], rs[RS_AVG]) == (3, 65535) and rs[RS_COUNT + 3] == 0    # the tick clears the counters


@pytest.mark.parametrize("field, value, fragment", [
    ("threshold", -1, "threshold is -1; it must be 0..65535"),
    ("threshold", 65536, "threshold is 65536; it must be 0..65535"),
    ("output_mode_sel", 4, "output_mode_sel is 4; it must be 0..3"),
    ("readout_configuration_sel", 4, "readout_configuration_sel is 4; it must be 0..3"),
])
def test_readout_settings_out_of_range_are_refused(field, value, fragment):
    cfg = classifier()
    setattr(cfg.readout, field, value)
    with pytest.raises(ConfigError, match=fragment):
        validate(cfg, CHIP)
