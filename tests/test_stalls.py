"""Stall diagnosis (speksim.analysis.stalls, .saturation, .fixes) and `speksim stalls`, on the bundled
stall workloads (traces/stall_*.json and .npz), a deadlocking cycle, and the DVS Gesture network.

The chain workload, by hand (speck2f: event_ns 83, synop_ns 20, host_in_ns 80): core 1 has 16
channels and a 3x3 kernel with padding 1, so an event inside its 64x64 map costs
83 + 16 * 9 * 20 = 2963 ns and the core serves at most 1e9 / 2963 = 337.5 kevents/s. Core 0 turns
every camera event into exactly one event for core 1 (2x2 kernel, stride 2, weight 1, threshold 1).
The burst at 120-125 ms brings 1 Mevents/s: about 3x what core 1 serves. Its 5,000 events are served
5000 / 337.5e3 = 14.8 ms after it starts, so the last one waits about 14.8 - 5 = 9.8 ms. The burst at
40-45 ms (150 kevents/s) asks 44% of core 1 and must not show as a stall.
"""

import json
import warnings

import numpy as np
import pytest

import speksim
from speksim import ChipConfig, CnnLayerConfig, DeadlockError, EventError
from speksim._resources import traces_dir
from speksim.analysis.fixes import _valid_offsets, apply_fix, swap_cores
from speksim.analysis.saturation import LINK, runs, window_sums
from speksim.analysis.stalls import diagnose
from speksim.cli import main
from speksim.io import read_events
from speksim.runfile import load_run, save_run
from deadlock_case import cycle_config, deadlock_events, tiny_chip
from stall_workloads import diagnosed, workload

MS = 1_000_000


@pytest.fixture(scope="module")
def chain():
    return diagnosed("stall_chain")


@pytest.fixture(scope="module")
def merge():
    return diagnosed("stall_merge")


def lag_between(result, t0_ms, t1_ms):
    keep = (result.input_t_ns >= t0_ms * MS) & (result.input_t_ns < t1_ms * MS)
    return result.lag_ns[keep]


# ------------------------------------------------------------------------------------------ chain

def test_chain_names_the_saturated_core_and_the_burst(chain):
    _, _, _, report = chain
    assert len(report.episodes) == 1            # the 40-45 ms burst overloads nothing
    cause = report.cause
    assert cause["root"] == 1 and [s["block"] for s in cause["saturated"]] == [1]
    burst = cause["burst"]
    assert 119 * MS <= burst["t0_ns"] <= 121 * MS and 124 * MS <= burst["t1_ns"] <= 126 * MS
    g = burst["region"]
    # the square covers x 80..111, y 70..101; the box holds the central 90% of the events
    assert 80 <= g["x0"] < g["x1"] <= 111 and 70 <= g["y0"] < g["y1"] <= 101
    assert abs(g["centroid_x"] - 95.5) < 2 and abs(g["centroid_y"] - 85.5) < 2
    assert burst["polarity"]["on_fraction"] == pytest.approx(0.8, abs=0.05)
    # 1 Mevents/s, with the background's 10 kevents/s
    assert burst["rate_per_s"] == pytest.approx(1.01e6, rel=0.05)


def test_chain_timeline_saturation_then_back_pressure_then_starvation(chain):
    _, _, _, report = chain
    c = report.cause
    first = c["timeline"][0]
    assert (first["block"], first["what"]) == (1, "saturated")
    pressed = {r["block"] for r in c["back_pressured"]}
    assert pressed == {0, 9, LINK}              # core 0, the DVS layer and the input link, all before core 1
    assert [r["block"] for r in c["starved"]] == [2]
    times = [e["t_ns"] for e in c["timeline"]]
    assert times == sorted(times) and times[0] == c["saturated"][0]["from_ns"]
    # the load per 1 ms bin is about 3x core 1's capacity (see the module docstring)
    assert c["offered_peak_bin"] == pytest.approx(1.0e6 * 2963e-9, rel=0.1)


def test_chain_latency_grows_during_the_burst_and_recovers(chain):
    _, _, result, report = chain
    chip = speksim.load_chip()
    unloaded = chip.host_in_latency_ns
    assert lag_between(result, 0, 120).max() < 1000          # the small burst included
    during = [lag_between(result, t, t + 1).max() for t in range(120, 125)]
    assert during == sorted(during) and during[-1] > 9 * MS   # ~9.8 ms by hand
    assert report.lag["peak_ns"] == pytest.approx(9.8 * MS, rel=0.1)
    # at most one event ahead on the link (two inputs in the same µs): back to the unloaded lag
    assert lag_between(result, 140, 200).max() <= unloaded + chip.host_in_ns
    assert report.cause["lag_recovered_ns"] < 140 * MS
    # lag grows by 1 - 337.5k/1M = 0.66 ns per ns of chip time while core 1 is saturated
    assert report.cause["lag_growth"] == pytest.approx(0.66, abs=0.05)


def test_chain_with_the_congestion_balancer_drops_and_keeps_latency_bounded(chain):
    config, events, result, _ = chain
    balanced, _ = apply_fix({"cnn_layers[1]": {"input_congestion_balancer_enable": True}}, config)
    r = speksim.simulate(balanced, events)
    assert r.stats["congestion_dropped"][1] > 0 and result.stats["congestion_dropped"][1] == 0
    assert r.lag_ns.max() < 2000                              # was ~10 ms
    assert r.stats["stall_ns"][:10].sum() == 0


def test_chain_top_fix_removes_the_stall_when_the_whole_recording_is_run_again(chain):
    config, events, result, report = chain
    top = report.fixes[0]
    assert top["resolved"] and top["rank"] == 1
    fixed_config, fixed_chip = apply_fix(top["change"], config, speksim.load_chip())
    again = speksim.simulate(fixed_config, events, fixed_chip)
    before = int(result.stats["stall_ns"][:10].sum())
    assert before > 25 * MS
    assert again.stats["stall_ns"][:10].sum() <= 0.01 * before
    assert again.lag_ns[again.lag_ns >= 0].max() < 10_000


def test_chain_fixes_are_ranked_and_each_says_what_it_costs(chain):
    _, _, _, report = chain
    kinds = [f["kind"] for f in report.fixes]
    assert {"balancer", "decimator", "channels", "stride"} <= set(kinds)
    resolved = [f["resolved"] for f in report.fixes]
    assert resolved == sorted(resolved, reverse=True)       # the ones that work come first
    base = report.resimulated["baseline"]
    assert base["stall_ns"] > 0 and base["peak_lag_ns"] > 5 * MS
    dec = next(f for f in report.fixes if f["kind"] == "decimator")
    # core 1 needs its input cut ~3x (to at most 80% busy): the documented ratio 4
    assert dec["change"] == {"cnn_layers[0]": {"output_decimator_enable": True, "output_decimator_interval": 1}}
    assert dec["loss_fraction"] == pytest.approx(0.75, abs=0.01)
    ch = next(f for f in report.fixes if f["kind"] == "channels")
    assert ch["retrain"] and ch["saves_synops"] > 0
    assert {"placement", "dvs pooling"} <= {x["kind"] for x in report.not_tried}


def test_the_resimulated_window_reproduces_the_run(chain):
    """A re-simulation starts from the functional pass's neuron states: without a change it must
    give the run's own stall and peak lag for the same inputs."""
    _, _, result, report = chain
    base = report.resimulated["baseline"]
    assert base["peak_lag_ns"] == report.lag["peak_ns"]
    assert base["stall_ns"] == pytest.approx(int(result.stats["stall_ns"][:10].sum()), rel=0.02)


def test_report_is_json_ready_and_readable(chain):
    _, _, _, report = chain
    d = report.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["stalled"] and d["cause"]["root"] == 1 and len(d["blocks"]) == 6
    text = report.text()
    assert "core 1 saturated" in text and "triggering burst: 0.120 s" in text and "congestion balancer" in text


def test_the_same_run_gives_the_same_report(chain):
    _, events, result, report = chain
    assert diagnose(result, events).to_dict() == report.to_dict()
    assert diagnose(result, events).text() == report.text()


def test_spike_input_written_to_a_core():
    """Spikes written by the host straight into core 1 of the chain: 5,000 in 5 ms (1 Mevents/s,
    about 3x what core 1 serves: it is busy 14.8 ms) in the 16x16 square from (20, 30). The burst is
    described by the cores it went to; there is no camera region to crop."""
    config, _ = workload("stall_chain")
    rng = np.random.default_rng(7)
    t = np.concatenate([rng.integers(0, 40_000, 400), rng.integers(10_000, 15_000, 5000)])
    xy = np.concatenate([rng.integers(0, 64, (400, 2)), rng.integers(0, 16, (5000, 2)) + [20, 30]])
    order = np.argsort(t, kind="stable")
    n = len(t)
    ev = speksim.make_events("spike", t=t[order], layer=np.full(n, 1), feature=np.zeros(n), x=xy[order, 0],
                             y=xy[order, 1])
    report = diagnose(speksim.simulate(config, ev), ev)
    c = report.cause
    assert c["root"] == 1 and c["burst"]["cores"] == {1: c["burst"]["events"]} and c["burst"]["polarity"] is None
    assert 20 <= c["burst"]["region"]["x0"] and c["burst"]["region"]["x1"] <= 35
    assert "crop" not in {f["kind"] for f in report.fixes} and any(f["resolved"] for f in report.fixes)


def test_a_calm_run_reports_no_stall():
    config, events = workload("stall_chain")
    calm = events[events["t"] < 100_000]
    report = diagnose(speksim.simulate(config, calm), calm)
    assert not report.stalled and report.fixes == [] and report.cause is None
    assert "no block was saturated" in report.text()


def test_without_the_events_the_core_and_burst_time_still_show(chain):
    _, _, result, _ = chain
    report = diagnose(result)
    assert report.cause["root"] == 1 and report.cause["starved"] is None
    burst = report.cause["burst"]
    assert burst["region"] is None and 119 * MS <= burst["t0_ns"] <= 121 * MS
    assert report.fixes == [] and report.not_tried[0]["kind"] == "all"


def test_events_other_than_the_runs_are_refused(chain):
    _, events, result, _ = chain
    with pytest.raises(EventError, match="the run was fed"):
        diagnose(result, events[:-1])
    shifted = events.copy()
    shifted["x"][0] = (shifted["x"][0] + 1) % 128
    with pytest.raises(EventError, match="SHA-256"):
        diagnose(result, shifted)


# ------------------------------------------------------------------------------------------ merge

def test_merge_names_the_merged_core_not_its_sources(merge):
    _, _, _, report = merge
    c = report.cause
    assert c["root"] == 2 and [s["block"] for s in c["saturated"]] == [2]
    assert 1 in {r["block"] for r in c["back_pressured"]}
    assert all(e["root"] == 2 for e in report.episodes)
    assert 59 * MS <= c["burst"]["t0_ns"] <= 61 * MS and c["burst"]["polarity"]["on_fraction"] == pytest.approx(
        0.5, abs=0.05)


def test_merge_each_source_alone_does_not_overload():
    """Core 0 passes ON events, core 1 OFF ones: with one polarity only, core 2 gets one source's
    load (about 80% of what it serves) and nothing saturates."""
    config, events = workload("stall_merge")
    for p in (0, 1):
        one = events[events["p"] == p]
        assert not diagnose(speksim.simulate(config, one), fixes=False).stalled


def test_merge_decimates_both_sources(merge):
    _, _, _, report = merge
    dec = next(f for f in report.fixes if f["kind"] == "decimator")
    assert set(dec["change"]) == {"cnn_layers[0]", "cnn_layers[1]"} and dec["resolved"]


# ------------------------------------------------------------------------------------------ placement

def test_placement_moves_the_layer_to_a_faster_core():
    """A chip whose core 1 is four times slower per SynOp than the others: the report offers to
    move core 1's layer to a faster core that can hold it, and checks it."""
    config, events = workload("stall_chain")
    chip = speksim.load_chip().replace(synop_ns=5).replace(synop_ns={1: 20})
    result = speksim.simulate(config, events, chip)
    report = diagnose(result, events)
    assert report.cause["root"] == 1
    move = next(f for f in report.fixes if f["kind"] == "placement")
    a, b = move["change"]["swap_cores"]
    assert a == 1 and b != 1 and move["after"]["stall_ns"] < report.resimulated["baseline"]["stall_ns"]


def test_swap_cores_rewires_every_destination():
    config, _ = workload("stall_merge")
    swapped = swap_cores(config, 2, 5)
    assert swapped.cnn_layers[5].dimensions.output_shape.feature_count == 16 and not swapped.cnn_layers[2].in_use
    assert [d.layer for d in swapped.cnn_layers[0].destinations if d.enable] == [5]
    assert [d.layer for d in swapped.cnn_layers[1].destinations if d.enable] == [5]
    assert config.cnn_layers[2].in_use        # the original is untouched


def test_a_stride_is_a_model_change():
    config, _ = workload("stall_chain")
    with pytest.raises(speksim.ModelError, match="retrain"):
        apply_fix({"cnn_layers[1]": {"stride": [2, 2]}}, config)


# ------------------------------------------------------------------------------------------ deadlock

def test_deadlock_is_explained_with_the_cycle_and_fifo_states():
    chip, ev = tiny_chip(), deadlock_events()
    with pytest.raises(DeadlockError) as err:
        speksim.simulate(cycle_config(), ev, chip)
    # a balancer stops the deadlock, but two spikes per spike keep the cycle busy until the drain limit
    report = diagnose(err.value, ev, config=cycle_config(), chip=chip, options=speksim.RunOptions(drain_ns=100_000))
    d = report.deadlock
    assert d["cycle"] == [0, 1] and d["t_ns"] == err.value.t_ns
    for b in d["blocks"]:
        assert b["fifo_fill"] == b["fifo_depth"] == 1 and b["out_queue"] == b["out_depth"] == 1
        assert b["waits_for"] == 1 - b["block"]
    assert d["link"]["target"] == 0
    kinds = {f["kind"]: f for f in report.fixes}
    assert kinds["break cycle"]["resolved"] and kinds["break cycle"]["retrain"]
    assert kinds["balancer"]["after"]["cut"] and not kinds["balancer"]["resolved"]
    assert "core 0 -> core 1 -> core 0" in report.text()
    assert json.loads(json.dumps(report.to_dict()))["deadlock"]["cycle_labels"] == ["core 0", "core 1"]


def test_deadlock_without_the_configuration_is_explained_but_not_fixed():
    err = DeadlockError("deadlock", t_ns=5, cycle=[0, 1], blocks={
        0: {"fifo": [(0, 1, 1)], "fifo_depth": 1, "out_queue": 1, "out_depth": 1, "waits_for": 1},
        1: {"fifo": [(0, 2, 2)], "fifo_depth": 1, "out_queue": 1, "out_depth": 1, "waits_for": 0}})
    report = diagnose(err)
    assert report.deadlock["cycle"] == [0, 1] and report.fixes == [] and report.not_tried


# ------------------------------------------------------------------------------------------ building blocks

def test_window_sums_and_runs():
    x = np.array([1, 2, 3, 4, 5])
    assert window_sums(x, 2).tolist() == [3, 5, 7, 9]
    assert window_sums(x, 9).tolist() == [15]           # fewer bins than a window: one sum
    mask = np.array([0, 1, 1, 0, 0, 1, 0, 1], bool)
    assert runs(mask) == [(1, 3), (5, 6), (7, 8)]
    assert runs(mask, gap=1) == [(1, 3), (5, 8)]
    assert runs(np.zeros(3, bool)) == []


@pytest.mark.parametrize("n, k, s, p", [(64, 3, 1, 1), (64, 3, 2, 1), (32, 2, 2, 0), (17, 5, 4, 2), (8, 3, 8, 0)])
def test_valid_offsets_against_counting_them_one_by_one(n, k, s, p):
    """SPEC F2, on one axis: offset kx is valid for input x when x + p - kx is a multiple of s
    whose quotient is an output position."""
    n_out = (n + 2 * p - k) // s + 1
    naive = sum(1 for x in range(n) for kx in range(k)
                if (x + p - kx) % s == 0 and 0 <= (x + p - kx) // s < n_out and x + p - kx >= 0)
    assert _valid_offsets(n, k, s, p) == naive


# ------------------------------------------------------------------------------------------ command line

def test_cli_on_a_run_file_with_its_recording(tmp_path, capsys):
    folder = traces_dir()
    run = tmp_path / "chain.h5"
    assert main(["run", str(folder / "stall_chain.npz"), "--config", str(folder / "stall_chain.json"), "-o",
                 str(run), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["stalls", str(run), "--recording", str(folder / "stall_chain.npz"), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["cause"]["root"] == 1 and d["fixes"][0]["resolved"]
    assert main(["stalls", str(run), "--no-fixes"]) == 0
    out = capsys.readouterr().out
    assert "core 1 saturated" in out and "fixes, re-simulated" not in out


def test_cli_refuses_another_recording(tmp_path, capsys):
    folder = traces_dir()
    run = tmp_path / "chain.h5"
    config, events = workload("stall_chain")
    save_run(speksim.simulate(config, events), run, input_name="stall_chain.npz",
             input_sha256="0" * 64)
    assert load_run(run).metadata["input_file"]["sha256"] == "0" * 64
    assert main(["stalls", str(run), "--recording", str(folder / "stall_chain.npz")]) == 3
    assert "not the recording this run was made from" in capsys.readouterr().err


def test_cli_runs_a_configuration_and_explains_its_deadlock(tmp_path, capsys):
    """Camera events into a cycle: core 0 sends every spike twice to core 1, whose two channels
    send theirs twice back; each event of core 0 makes eight, the 16-slot FIFOs fill and the chip
    deadlocks."""
    cfg = ChipConfig()
    cfg.dvs_layer.destinations[0] = speksim.DvsDestination(layer=0, enable=True)
    cfg.cnn_layers[0] = CnnLayerConfig.conv(np.ones((1, 2, 2, 2), np.int8), (128, 128), stride=2, threshold_high=1,
                                            destinations=[(1, 1, 0), (1, 1, 0)])
    cfg.cnn_layers[1] = CnnLayerConfig.conv(np.ones((2, 1, 1, 1), np.int8), (64, 64), threshold_high=1,
                                            destinations=[(0, 1, 0), (0, 1, 0)])
    speksim.save_config(cfg, tmp_path / "cycle.json")
    assert main(["stalls", "--config", str(tmp_path / "cycle.json"), "--recording",
                 str(traces_dir() / "rotating_dot.npz"), "--drain-us", "1000", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["deadlock"]["cycle"] == [0, 1] and any(f["resolved"] for f in d["fixes"])


# ------------------------------------------------------------------------------------------ DVS Gesture

def test_dvs_gesture_replay_names_core_2_its_burst_and_a_verified_fix():
    """The DVS Gesture network on its recording keeps its third layer's core (core 2) busy about
    72% of the run, and the input lag reaches about 9 ms."""
    from speck_models import TRACES, gesture_ann, need, snn_of
    snn = snn_of(gesture_ann(), "dvs_gesture_params.pt")
    events = read_events(need(TRACES / "dvs128_gesture.aedat4"))
    events["t"] -= events["t"][0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", speksim.ModelWarning)     # what the import decided is not tested here
        config = speksim.from_torch(snn, (2, 128, 128))
    result = speksim.simulate(config, events)
    assert result.stats["busy_ns"][2] / result.t_end_ns == pytest.approx(0.72, abs=0.03)
    report = diagnose(result, events)
    assert report.cause["root"] == 2 and {e["root"] for e in report.episodes} == {2}
    assert report.lag["peak_ns"] == pytest.approx(9 * MS, rel=0.1)
    burst = report.cause["burst"]
    assert burst["events"] > 0 and burst["region"] is not None and burst["polarity"] is not None
    assert report.cause["t0_ns"] - report.window_ns <= burst["t0_ns"] <= report.cause["t1_ns"]
    assert any(f["resolved"] for f in report.fixes)
    assert {r["block"] for r in report.cause["back_pressured"]} >= {0, 1, 9}
