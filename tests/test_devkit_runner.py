"""The devkit runner and capture files.

samna cannot be installed where speksim is developed: these tests drive the runner through
`tests/samna_standin.py`, a stand-in with samna's device, model, event buffer, graph and
stopwatch API as sinabs uses them. It is NOT samna and its fake devkit computes nothing: it
echoes each input Spike written to a monitored core as an output Spike of that core a fixed
delay later, so the expected captures below are computed from the input alone. Time is a fake
clock the runner's waits advance.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

import samna_standin
from speksim import Simulation, load_run, save_run
from speksim.blocks import SERIES_NAMES, STAT_NAMES
from speksim.config import CnnLayerConfig, Vec2, chain_config
from speksim.devkit import DevkitError, DevkitRunner, capture_from_events, is_capture, to_samna
from speksim.errors import EventError, MissingExtraError
from speksim.events import DVS_EVENT, OUTPUT_EVENT, SPIKE_EVENT

SAMNA = samna_standin


def two_cores():
    """Core 5 (2 -> 3 features, 8x8 -> 6x6, a non-zero initial state) feeding core 1 (monitored);
    core 5 is not monitored. Layer indices differ from core numbers on purpose."""
    rng = np.random.default_rng(4)
    a = CnnLayerConfig.conv(rng.integers(-3, 4, (3, 2, 3, 3)).astype(np.int8), (8, 8), threshold_high=50,
                            neurons_initial_value=rng.integers(-9, 9, (3, 6, 6)).astype(np.int16))
    b = CnnLayerConfig.conv(rng.integers(-3, 4, (4, 3, 3, 3)).astype(np.int8), (6, 6), threshold_high=50)
    return chain_config([a, b], [5, 1], monitor=[1])


def spikes(seed, n, core, features, size):
    """n seeded SPIKE_EVENTs into `core`, times in µs, sorted."""
    rng = np.random.default_rng(seed)
    ev = np.zeros(n, SPIKE_EVENT)
    ev["t"] = np.sort(rng.integers(0, 5000, n))
    ev["layer"], ev["feature"] = core, rng.integers(0, features, n)
    ev["x"], ev["y"] = rng.integers(0, size, n), rng.integers(0, size, n)
    return ev


def echoed(inputs, delay_us):
    """What the stand-in's devkit sends back for input to a monitored core: the same spike,
    delay_us later, ordered by time (stably)."""
    out = np.zeros(len(inputs), OUTPUT_EVENT)
    out["t_ns"] = (inputs["t"] + delay_us) * 1000
    for f in ("layer", "feature", "x", "y"):
        out[f] = inputs[f]
    out["root"] = -1
    return out[np.argsort(out["t_ns"], kind="stable")]


def runner(clock, **kw):
    return DevkitRunner("speck2f", samna=SAMNA, clock=clock.now_ns, wait=clock.advance, **kw)


# ----- capture files ---------------------------------------------------------------------------
def test_a_users_samna_events_become_a_capture_that_reads_back_as_a_run(tmp_path):
    config = two_cores()
    inputs = spikes(0, 40, 5, 2, 8)
    rng = np.random.default_rng(1)
    samna_out = [SAMNA.Spike(layer=1, feature=int(f), x=int(x), y=int(y), timestamp=int(t))
                 for f, x, y, t in zip(rng.integers(0, 4, 30), rng.integers(0, 4, 30), rng.integers(0, 4, 30),
                                       rng.integers(0, 9000, 30))]
    samna_out.insert(3, SAMNA.ReadoutValue(value=5))
    result = capture_from_events(config, "speck2f", inputs, samna_out)
    path = save_run(result, tmp_path / "capture.h5")
    back = load_run(path)

    ts = np.array([e.timestamp for e in samna_out if type(e).__name__ == "Spike"])
    assert np.array_equal(back.outputs["t_ns"], np.sort(ts, kind="stable") * 1000)
    assert back.metadata["source"] == "devkit" and is_capture(back)
    assert np.array_equal(back.input_t_ns, inputs["t"] * 1000)
    assert np.all(back.lag_ns == -1) and len(back.lag_ns) == len(inputs)
    assert back.t_end_ns == max(ts.max(), inputs["t"].max()) * 1000
    for name in STAT_NAMES:
        assert np.all(back.stats[name] == 0)
    assert set(back.metadata["not_measured"]["statistics"]) >= set(STAT_NAMES)
    assert set(back.metadata["not_measured"]["series"]) == set(SERIES_NAMES)
    assert all(not np.any(back.series[name]) for name in SERIES_NAMES)
    assert back.metadata["input"]["events"] == len(inputs)
    assert back.metadata["config"] == result.metadata["config"]
    # the input itself comes back, so the run can be simulated again without the recording
    assert back.input_events.dtype == SPIKE_EVENT and np.array_equal(back.input_events, inputs)


def test_a_simulations_run_file_does_not_keep_its_input_but_a_dvs_capture_does(tmp_path):
    config = two_cores()
    sim = Simulation(config, "speck2f").run(spikes(3, 20, 5, 2, 8))
    assert load_run(save_run(sim, tmp_path / "sim.h5")).input_events is None
    dvs = np.zeros(5, DVS_EVENT)
    dvs["t"], dvs["x"], dvs["y"], dvs["p"] = [0, 3, 3, 9, 20], [1, 2, 3, 4, 5], [5, 4, 3, 2, 1], [0, 1, 1, 0, 1]
    back = load_run(save_run(capture_from_events(config, "speck2f", dvs, []), tmp_path / "cap.h5"))
    assert back.input_events.dtype == DVS_EVENT and np.array_equal(back.input_events, dvs)


def test_a_capture_is_the_same_bytes_each_time(tmp_path):
    config, inputs = two_cores(), spikes(2, 10, 5, 2, 8)
    events = [SAMNA.Spike(layer=1, feature=0, x=1, y=2, timestamp=7)]
    a = save_run(capture_from_events(config, "speck2f", inputs, events), tmp_path / "a.h5")
    b = save_run(capture_from_events(config, "speck2f", inputs, events), tmp_path / "b.h5")
    assert load_run(a).equals(load_run(b))
    assert load_run(a).metadata["input"]["sha256"] == load_run(b).metadata["input"]["sha256"]


def test_a_capture_names_its_input_as_a_simulation_of_the_same_input_does():
    config, inputs = two_cores(), spikes(13, 50, 5, 2, 8)
    capture = capture_from_events(config, "speck2f", inputs, [], extra={"source": "elsewhere", "serial": "x1"})
    sim = Simulation(config, "speck2f").run(inputs, chunk_events=7)
    assert capture.metadata["input"] == sim.metadata["input"]
    assert capture.metadata["config"] == sim.metadata["config"]
    assert capture.metadata["source"] == "devkit" and capture.metadata["serial"] == "x1"


def test_capture_refuses_input_a_simulation_would_refuse():
    bad = spikes(3, 5, 4, 2, 8)            # core 4 is not in use
    with pytest.raises(EventError):
        capture_from_events(two_cores(), "speck2f", bad, [])


def test_capture_can_refuse_events_that_are_not_spikes():
    events = [SAMNA.ReadoutValue(value=1)]
    with pytest.raises(EventError, match="ReadoutValue"):
        capture_from_events(two_cores(), "speck2f", spikes(0, 3, 5, 2, 8), events, skip_other=False)


# ----- the runner --------------------------------------------------------------------------------
@pytest.mark.parametrize("delay_us", [0, 37, 900])
def test_the_runner_captures_what_the_devkit_sends(delay_us):
    clock = SAMNA.connect_devkit(echo_delay_us=delay_us)
    config = two_cores()
    inputs = spikes(5, 60, 1, 3, 6)          # straight into the monitored core 1
    result = runner(clock).run(config, inputs)
    assert np.array_equal(result.outputs, echoed(inputs, delay_us))
    assert result.metadata["source"] == "devkit" and result.metadata["engine"] == "devkit:speck2f"
    assert np.array_equal(result.input_t_ns, inputs["t"] * 1000)


def test_input_to_an_unmonitored_core_sends_nothing_back():
    clock = SAMNA.connect_devkit(echo_delay_us=10)
    result = runner(clock).run(two_cores(), spikes(6, 20, 5, 2, 8))
    assert len(result.outputs) == 0


def test_input_is_written_as_spikes_to_the_target_core_with_us_timestamps():
    clock = SAMNA.connect_devkit()
    inputs = spikes(7, 25, 5, 2, 8)
    runner(clock).run(two_cores(), inputs)
    written = SAMNA.device.opened[-1].model.written
    assert [type(e).__name__ for e in written] == ["Spike"] * len(inputs)
    got = np.array([(e.timestamp, e.layer, e.feature, e.x, e.y) for e in written])
    want = np.stack([inputs[n].astype(np.int64) for n in ("t", "layer", "feature", "x", "y")], axis=1)
    assert np.array_equal(got, want)


def test_camera_input_is_written_as_dvs_events():
    clock = SAMNA.connect_devkit()
    config = two_cores()
    config.dvs_layer.destinations[0].layer, config.dvs_layer.destinations[0].enable = 5, True
    config.dvs_layer.on_channel, config.dvs_layer.off_channel = True, True
    config.dvs_layer.cut = Vec2(7, 7)        # an 8x8 crop, core 5's input
    ev = np.zeros(4, DVS_EVENT)
    ev["t"], ev["x"], ev["y"], ev["p"] = [1, 2, 2, 9], [0, 3, 7, 1], [1, 2, 0, 5], [1, 0, 1, 0]
    runner(clock).run(config, ev)
    written = SAMNA.device.opened[-1].model.written
    assert [(type(e).__name__, e.timestamp, e.x, e.y, e.p) for e in written] == \
        [("DvsEvent", int(t), int(x), int(y), bool(p)) for t, x, y, p in ev[["t", "x", "y", "p"]].tolist()]


def test_the_stopwatch_is_reset_and_started_after_configuring_and_before_any_input():
    clock = SAMNA.connect_devkit()
    runner(clock).run(two_cores(), spikes(8, 5, 1, 3, 6))
    calls = [c[0] for c in SAMNA.device.opened[-1].calls]
    first_write = calls.index("write")
    assert calls.index("apply_configuration") < calls.index("stopwatch.reset") < first_write
    assert calls.index("stopwatch.reset") < calls.index("stopwatch.start") < first_write
    assert ("stopwatch.enable", True) in SAMNA.device.opened[-1].calls
    assert SAMNA.device.opened[-1].closed


def test_the_used_cores_are_reset_by_their_own_number():
    config = two_cores()
    cfg = to_samna(config, "speck2f", samna=SAMNA)
    junk = [[[7] * 6 for _ in range(6)] for _ in range(3)]
    cfg.cnn_layers[5].neurons_initial_value = junk
    cfg.cnn_layers[0].neurons_initial_value = [[[3]]]     # an unused core: left alone
    SAMNA.connect_devkit()
    model = SAMNA.device.open_device(SAMNA.device.connected[0]).get_model()
    DevkitRunner.reset_states(model, cfg, config)
    applied = model.configuration.cnn_layers
    want5 = config.cnn_layers[5].neurons_initial_value.transpose(0, 2, 1).tolist()
    assert applied[5].neurons_initial_value == want5
    assert applied[1].neurons_initial_value == np.zeros((4, 4, 4), int).tolist()
    assert applied[0].neurons_initial_value == [[[3]]]


def test_collection_stops_once_nothing_arrives_not_at_the_drain_limit():
    clock = SAMNA.connect_devkit(echo_delay_us=50)
    inputs = spikes(9, 30, 1, 3, 6)
    r = runner(clock, drain_ns=10**13, idle_ns=2_000_000, poll_ns=100_000)
    result = r.run(two_cores(), inputs)
    assert np.array_equal(result.outputs, echoed(inputs, 50))
    # stopped within an idle period (plus a poll or two) after the last output arrived
    last = (int(inputs["t"].max()) + 50) * 1000
    assert clock.now_ns() <= last + 2_000_000 + 2 * 100_000


def test_collection_ends_at_the_drain_limit_and_later_output_is_not_captured():
    clock = SAMNA.connect_devkit(echo_delay_us=5_000)
    inputs = spikes(10, 30, 1, 3, 6)
    result = runner(clock, drain_ns=1_000_000, idle_ns=10**12, poll_ns=100_000).run(two_cores(), inputs)
    # the stopwatch starts before the last input's time is counted from, so output up to
    # last input + drain (1000 µs) may come; nothing later
    t_last = int(inputs["t"].max())
    assert np.all(result.outputs["t_ns"] <= (t_last + 1000) * 1000)
    want = echoed(inputs, 5_000)
    assert np.array_equal(result.outputs, want[want["t_ns"] <= (t_last + 1000) * 1000])


def test_an_empty_input_gives_an_empty_capture():
    clock = SAMNA.connect_devkit()
    result = runner(clock).run(two_cores(), np.zeros(0, SPIKE_EVENT))
    assert len(result.outputs) == 0 and len(result.input_t_ns) == 0 and result.t_end_ns == 0


def test_input_beyond_the_devkits_32_bit_clock_is_refused_before_anything_is_written():
    clock = SAMNA.connect_devkit()
    inputs = spikes(12, 3, 1, 3, 6)
    inputs["t"][-1] = 2**32
    with pytest.raises(EventError, match="32-bit"):
        runner(clock).run(two_cores(), inputs)
    assert SAMNA.device.opened == []


def test_without_samna_the_runner_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "samna", None)
    with pytest.raises(MissingExtraError, match="pip install"):
        DevkitRunner("speck2f").run(two_cores(), spikes(0, 3, 1, 3, 6))


def test_without_a_connected_devkit_the_error_says_what_samna_sees():
    SAMNA.connect_devkit("Speck2eTestBoard")
    clock = SAMNA.device.clock
    with pytest.raises(DevkitError, match="Speck2eTestBoard"):
        runner(clock).run(two_cores(), spikes(0, 3, 1, 3, 6))


def test_the_devkit_is_an_engine_of_simulation(monkeypatch):
    clock = SAMNA.connect_devkit(echo_delay_us=12)
    monkeypatch.setitem(sys.modules, "samna", SAMNA)
    import speksim.devkit.runner as runner_module
    monkeypatch.setattr(runner_module.time, "monotonic_ns", clock.now_ns)
    monkeypatch.setattr(runner_module.time, "sleep", clock.advance)
    inputs = spikes(11, 40, 1, 3, 6)
    sim = Simulation(two_cores(), "speck2f", engine="devkit:speck2f")
    sim.feed(inputs[:15])
    sim.feed(inputs[15:])
    result = sim.finish()
    assert np.array_equal(result.outputs, echoed(inputs, 12))
    assert np.all(result.lag_ns == -1) and len(result.lag_ns) == len(inputs)
    assert result.metadata["engine"] == "devkit:speck2f"
    # a capture like DevkitRunner.run's: it says it came from the devkit, and what was not measured
    assert result.metadata["source"] == "devkit" and "states" in result.metadata["not_measured"]
    assert result.states == {}
    assert np.array_equal(result.input_events, inputs)
