"""Two runs compared (`speksim.analysis.compare`, `speksim compare`): the figures a user gates a
simulation or a devkit capture on. Expected values are counted here from the events themselves,
or worked out by hand in the comments."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter

import numpy as np
import pytest

from speksim import Simulation, save_run
from speksim.analysis.compare import CHECKS, FIGURES, compare_runs, wasserstein_ns
from speksim.cli import main
from speksim.config import CnnLayerConfig, chain_config
from speksim.devkit.capture import capture_result
from speksim.errors import ConfigError
from speksim.events import OUTPUT_EVENT, SPIKE_EVENT
from speksim.result import Result

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def small_config():
    """Core 0 (2 -> 3 features, 8x8 -> 6x6) feeding core 1 (3 -> 4 features, 6x6 -> 4x4), both
    monitored; low thresholds, so that a few hundred input spikes give thousands of outputs."""
    rng = np.random.default_rng(4)
    a = CnnLayerConfig.conv(rng.integers(0, 4, (3, 2, 3, 3)).astype(np.int8), (8, 8), threshold_high=6)
    b = CnnLayerConfig.conv(rng.integers(0, 4, (4, 3, 3, 3)).astype(np.int8), (6, 6), threshold_high=6)
    return chain_config([a, b], [0, 1], monitor=[0, 1])


def spikes(n, seed, span_us=20_000):
    rng = np.random.default_rng(seed)
    ev = np.zeros(n, SPIKE_EVENT)
    ev["t"] = np.sort(rng.integers(0, span_us, n))
    ev["feature"], ev["x"], ev["y"] = rng.integers(0, 2, n), rng.integers(0, 8, n), rng.integers(0, 8, n)
    return ev


@pytest.fixture(scope="module")
def inputs():
    return spikes(150, 1)


@pytest.fixture(scope="module")
def sim(inputs):
    return Simulation(small_config(), "speck2f").run(inputs)


def with_outputs(result, outputs):
    return dataclasses.replace(result, outputs=outputs)


def made(rows, metadata=None):
    """A Result holding only output events: rows of (t_ns, layer, feature, x, y)."""
    out = np.zeros(len(rows), OUTPUT_EVENT)
    for i, row in enumerate(rows):
        out[i]["t_ns"], out[i]["layer"], out[i]["feature"], out[i]["x"], out[i]["y"] = row
    out["root"] = -1
    return Result(outputs=out, stats=np.zeros(0), input_t_ns=np.zeros(0, np.int64), lag_ns=np.zeros(0, np.int64),
                  series={}, bin_ns=1, t_end_ns=0, states={}, metadata=metadata or {})


# ----- the figures -----------------------------------------------------------------------------
def test_a_run_compared_with_itself_agrees_in_every_figure(sim):
    assert len(sim.outputs) > 1000
    f = compare_runs(sim, sim, window_ns=1_000_000).figures
    assert set(f) == set(FIGURES)
    assert f["matched"] == f["events_a"] == f["events_b"] == len(sim.outputs)
    assert f["recall"] == f["precision"] == f["f1"] == 1.0
    assert f["count_error"] == f["count_error_worst"] == 0.0
    assert f["first_spike_error_max_ns"] == 0 and f["match_offset_median_ns"] == 0
    assert f["latency_distance_ns"] == 0.0 and f["latency_median_a_ns"] == f["latency_median_b_ns"]
    # core 1 sends to no other core: the output layer; every 1 ms window it spiked in is counted
    windows = np.unique(sim.outputs["t_ns"][sim.outputs["layer"] == 1] // 1_000_000)
    assert f["class_layer"] == 1 and f["class_windows"] == len(windows) and f["class_agreement"] == 1.0


def test_a_shift_beyond_the_tolerance_matches_nothing_and_within_it_everything():
    # five addresses, each firing once: a B event can only pair with its own A event
    rows = [(1_000, 0, 0, 0, 0), (5_000, 0, 1, 0, 0), (9_000, 1, 0, 2, 3), (12_000, 1, 2, 1, 1),
            (30_000, 1, 3, 0, 0)]
    a = made(rows)
    for shift, recall in ((2_000, 1.0), (-2_000, 1.0), (2_001, 0.0), (-2_001, 0.0)):
        b = made([(t + shift, *rest) for t, *rest in rows])
        f = compare_runs(a, b, tolerance_ns=2_000, layer=1).figures
        assert (f["recall"], f["precision"]) == (recall, recall), shift
        # the counts do not see time at all
        assert f["count_error"] == 0.0
        # first spikes are per address, whether or not they matched: |shift| each
        assert f["first_spike_error_max_ns"] == f["first_spike_error_median_ns"] == abs(shift)


def test_dropping_k_events_gives_recall_n_minus_k_over_n(sim):
    n, k = len(sim.outputs), 37
    drop = np.random.default_rng(7).choice(n, k, replace=False)
    b = with_outputs(sim, np.delete(sim.outputs, drop))
    f = compare_runs(sim, b).figures
    # every kept event has its identical twin in A: n - k pairs, no unmatched event in B
    assert f["matched"] == n - k
    assert f["recall"] == (n - k) / n and f["precision"] == 1.0
    # dropped the other way round, B is the reference: precision falls, recall stays
    g = compare_runs(b, sim).figures
    assert g["precision"] == (n - k) / n and g["recall"] == 1.0


def test_matching_is_one_to_one_and_makes_as_many_pairs_as_possible():
    # two B events within 2 µs of the one A event: one pair
    f = compare_runs(made([(10_000, 0, 0, 0, 0)]), made([(9_000, 0, 0, 0, 0), (11_000, 0, 0, 0, 0)])).figures
    assert (f["matched"], f["recall"], f["precision"]) == (1, 1.0, 0.5)
    # A at 0 and 2.5 µs, B at 2 and 4 µs: pairing the closest first (2.5 with 2) would leave 0 and 4,
    # 4 µs apart, unmatched; 0-2 and 2.5-4 are both within 2 µs: two pairs
    f = compare_runs(made([(0, 0, 0, 0, 0), (2_500, 0, 0, 0, 0)]),
                     made([(2_000, 0, 0, 0, 0), (4_000, 0, 0, 0, 0)])).figures
    assert f["matched"] == 2
    # another address never pairs, however close in time
    f = compare_runs(made([(0, 0, 0, 0, 0)]), made([(0, 0, 0, 1, 0)])).figures
    assert f["matched"] == 0 and f["first_spike_addresses"] == 0 and f["first_spike_error_max_ns"] is None


def test_counts_per_layer_and_feature(sim):
    rng = np.random.default_rng(3)
    b_out = sim.outputs[rng.random(len(sim.outputs)) < 0.8]
    b_out = b_out[b_out["feature"] != 2]  # a feature that only A has
    cmp = compare_runs(sim, with_outputs(sim, b_out))
    ca = Counter(zip(sim.outputs["layer"].tolist(), sim.outputs["feature"].tolist()))
    cb = Counter(zip(b_out["layer"].tolist(), b_out["feature"].tolist()))
    got = {(r["layer"], r["feature"]): (r["count_a"], r["count_b"]) for r in cmp.to_dict()["per_feature"]}
    assert got == {key: (ca[key], cb[key]) for key in set(ca) | set(cb)}
    per_layer = {r["layer"]: (r["count_a"], r["count_b"]) for r in cmp.to_dict()["per_layer"]}
    assert per_layer == {layer: (sum(v for (l_, _), v in ca.items() if l_ == layer),
                                 sum(v for (l_, _), v in cb.items() if l_ == layer)) for layer in (0, 1)}
    err = sum(abs(ca[key] - cb[key]) for key in set(ca) | set(cb)) / len(sim.outputs)
    assert cmp.figures["count_error"] == pytest.approx(err, rel=1e-12)
    worst = max((abs(a - b) / a, layer) for layer, (a, b) in per_layer.items())
    assert (cmp.figures["count_error_worst"], cmp.figures["count_worst_layer"]) == pytest.approx(worst)


def test_class_agreement_per_window():
    # windows of 1 ms; layer 1's features give the class, layer 0 is ignored
    # A: w0 features 2,2,1 -> 2; w1 0 -> 0; w3 1,3 -> tie, lowest: 1
    # B: w0 2 -> 2; w1 3,3 -> 3; w2 1 -> 1; w3 3,1,1 -> 1; w5 only layer 0: no class
    # windows with a class on either side: 0,1,2,3; equal in 0 and 3: 2 of 4
    ms = 1_000_000
    a = made([(100, 1, 2, 0, 0), (200, 1, 2, 1, 0), (300, 1, 1, 0, 0), (ms + 5, 1, 0, 0, 0), (ms + 6, 0, 3, 0, 0),
              (3 * ms, 1, 3, 0, 0), (3 * ms + 1, 1, 1, 0, 0)])
    b = made([(50, 1, 2, 0, 0), (ms, 1, 3, 0, 0), (ms + 1, 1, 3, 1, 1), (2 * ms + 9, 1, 1, 0, 0),
              (3 * ms, 1, 3, 0, 0), (3 * ms + 2, 1, 1, 0, 0), (3 * ms + 3, 1, 1, 1, 0), (5 * ms, 0, 0, 0, 0)])
    cmp = compare_runs(a, b, window_ns=ms, layer=1)
    assert cmp.figures["class_windows"] == 4 and cmp.figures["class_agreement"] == 0.5
    windows, ca, cb = cmp.windows
    assert windows.tolist() == [0, 1, 2, 3] and ca.tolist() == [2, 0, -1, 1] and cb.tolist() == [2, 3, 1, 1]
    # without a recorded configuration the class layer is the highest core seen: 1 here too
    assert compare_runs(a, b, window_ns=ms).figures["class_agreement"] == 0.5


def test_with_a_monitored_readout_the_classes_are_the_readouts_reports():
    import speksim
    from speksim import ChipConfig, ReadoutConfig, RunOptions, make_events
    # core 0 (monitored) passes input feature c to the readout as feature c; mode 3 (1x1, 16
    # features): class c + 1
    cfg = ChipConfig()
    cfg.cnn_layers[0] = CnnLayerConfig.conv(np.eye(4, dtype=np.int8).reshape(4, 4, 1, 1), (1, 1), threshold_high=1,
                                            threshold_low=-1, destinations=[(12, 1, 0)], monitor_enable=True)
    cfg.readout = ReadoutConfig(enable=True, readout_configuration_sel=3, low_pass_filter_disable=True,
                                monitor_enable=True)
    chip = speksim.load_chip("speck2f").replace(readout_errata=False)

    def events(features):
        t = [100, 110, 120, 130, 1500, 1510]
        return make_events("spike", t=t, layer=np.zeros(6), feature=features, x=np.zeros(6), y=np.zeros(6))

    def run(ev):
        return Simulation(cfg, chip, RunOptions(end_ns=3_500_000)).run(ev)

    # each slow-clock tick (1, 2, 3 ms) reports just after it, so tick k falls in the 1 ms window k.
    # A: class 3 (feature 2 three times), then class 2 (feature 1 twice), then idle
    # B: class 3, then class 1 (feature 0 twice), then idle; the idle reports count as no class
    ev_a = events([2, 2, 2, 0, 1, 1])
    a, b = run(ev_a), run(events([2, 2, 2, 0, 0, 0]))
    cmp = compare_runs(a, b, window_ns=1_000_000)
    assert cmp.figures["class_layer"] == 12 and "readout" in cmp.class_how
    assert [w.tolist() for w in cmp.windows] == [[1, 2], [3, 2], [3, 1]]
    assert cmp.figures["class_agreement"] == 0.5
    # a capture of samna's Spike events alone has no readout event: the readout is left out of
    # every figure, and core 0, which sends to no other core, gives the classes: its most frequent
    # feature per window, 2 in window 0 and 1 in window 1 on both sides
    out = a.outputs[a.outputs["layer"] != 12].copy()
    out["root"] = -1
    capture = capture_result(cfg, chip, ev_a, out, device="speck2f")
    cmp = compare_runs(capture, a, window_ns=1_000_000)
    assert cmp.figures["events_b"] == len(out) and cmp.figures["recall"] == cmp.figures["precision"] == 1.0
    assert cmp.figures["class_layer"] == 0 and [w.tolist() for w in cmp.windows] == [[0, 1], [2, 1], [2, 1]]
    assert any("left out" in note for note in cmp.notes)


def test_a_capture_of_the_same_events_at_microsecond_resolution(sim, inputs):
    """What a devkit that behaved exactly like the model would report: every output, its time cut to
    the µs (the devkit's clock), no roots."""
    out = sim.outputs.copy()
    out["t_ns"] = out["t_ns"] // 1000 * 1000
    out["root"] = -1
    capture = capture_result(small_config(), "speck2f", inputs, out, device="speck2f")
    cmp = compare_runs(capture, sim, tolerance_ns=1_000, window_ns=1_000_000)
    f = cmp.figures
    assert cmp.capture == (True, False) and cmp.same == {"config": True, "input": True}
    assert f["count_error"] == 0.0 and f["recall"] == f["precision"] == 1.0
    assert f["first_spike_error_max_ns"] <= 999
    # cutting to the µs never crosses a 1 ms boundary: the same class in every window
    assert f["class_agreement"] == 1.0
    # the capture's latencies are taken from the simulated twins' roots: its own time minus the
    # twin's input time; per address the twins pair in time order, so these are all of them
    root = sim.outputs["root"]
    expected = np.sort(out["t_ns"][root >= 0] - sim.input_t_ns[root[root >= 0]])
    assert cmp.latency_source == ("twins", "roots")
    assert np.array_equal(np.sort(cmp.latencies[0]), expected)
    assert f["latency_median_a_ns"] == int(np.percentile(expected, 50, method="inverted_cdf"))
    assert 0 < f["latency_distance_ns"] < 1000
    assert "capture" in cmp.text() and cmp.to_dict()["capture"] == {"a": True, "b": False}
    # at a tolerance under the µs cut, events the cut moved no longer match
    assert compare_runs(capture, sim, tolerance_ns=0).figures["recall"] < 1.0


def test_two_captures_have_no_latency_and_a_latency_threshold_fails(sim, inputs):
    out = sim.outputs.copy()
    out["root"] = -1
    capture = capture_result(small_config(), "speck2f", inputs, out, device="speck2f")
    cmp = compare_runs(capture, capture)
    assert cmp.figures["latency_distance_ns"] is None and cmp.figures["recall"] == 1.0
    assert cmp.failures({"min_recall": 1.0}) == []
    (line,) = cmp.failures({"max_latency_distance_ns": 10_000})
    assert "not measured" in line and "max_latency_distance_ns" in line


def test_thresholds_fail_with_one_sentence_each(sim):
    b = with_outputs(sim, sim.outputs[::2])
    cmp = compare_runs(sim, b)
    recall = cmp.figures["recall"]
    assert recall < 0.6
    assert cmp.failures({"min_recall": recall, "max_count_error": 1.0}) == []
    lines = cmp.failures({"min_recall": 0.95, "min_precision": 0.5, "max_first_spike_ns": 1e12})
    assert len(lines) == 1 and lines[0].startswith("recall") and "< 0.95 (min_recall)" in lines[0]
    with pytest.raises(ConfigError, match="min_recall"):
        cmp.failures({"min_recal": 0.9})


def test_different_inputs_are_named_not_refused(sim):
    other = Simulation(small_config(), "speck2f").run(spikes(150, 2))
    cmp = compare_runs(sim, other)
    assert cmp.same == {"config": True, "input": False}
    assert "different inputs" in cmp.text() and cmp.to_dict()["same"]["input"] is False


def test_empty_sides():
    empty, one = made([]), made([(0, 0, 0, 0, 0)])
    f = compare_runs(empty, empty).figures
    assert (f["recall"], f["precision"], f["count_error"], f["class_agreement"]) == (1.0, 1.0, 0.0, None)
    # one side empty, the other not: nothing agrees, so an empty candidate fails any of the gates
    f = compare_runs(one, empty).figures
    assert (f["recall"], f["precision"], f["f1"]) == (0.0, 0.0, 0.0)
    f = compare_runs(empty, one).figures
    # no reference event: the count error is B's one event over max(0, 1)
    assert (f["recall"], f["precision"], f["count_error"]) == (0.0, 0.0, 1.0)


def test_wasserstein_distance_by_hand():
    # {0, 10} against {5, 15}: every unit of mass moves 5 ns
    assert wasserstein_ns(np.array([0, 10]), np.array([5, 15])) == 5.0
    # {0} against {0, 30}: half the mass moves 30 ns
    assert wasserstein_ns(np.array([0]), np.array([0, 30])) == 15.0
    assert wasserstein_ns(np.array([]), np.array([1])) is None


def test_the_fast_and_the_reference_engine_agree_in_every_figure(inputs):
    """The claim of docs/compare.md: the two engines are interchangeable for every figure."""
    ev = inputs[:60]
    fast = Simulation(small_config(), "speck2f").run(ev)
    ref = Simulation(small_config(), "speck2f", engine="reference").run(ev)
    f = compare_runs(fast, ref, tolerance_ns=0, window_ns=1_000_000).figures
    assert f["events_a"] > 100
    assert f["recall"] == f["precision"] == 1.0 and f["count_error"] == 0.0
    assert f["first_spike_error_max_ns"] == 0 and f["latency_distance_ns"] == 0.0
    assert f["class_agreement"] == 1.0 and f["match_offset_median_ns"] == 0


# ----- the command -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def run_files(sim, tmp_path_factory):
    d = tmp_path_factory.mktemp("cmp")
    half = with_outputs(sim, sim.outputs[::2])
    return save_run(sim, d / "a.h5"), save_run(half, d / "half.h5"), d


def run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_without_thresholds_prints_the_table_and_exits_0(run_files, capsys):
    a, half, _ = run_files
    code, out, _ = run(["compare", a, half], capsys)
    assert code == 0 and "recall" in out and "core 1" in out and "PASS" not in out and "FAIL" not in out


def test_cli_exit_code_follows_the_thresholds(run_files, capsys):
    a, half, _ = run_files
    code, out, _ = run(["compare", a, half, "--min-recall", "0.9", "--max-count-error", "0.9"], capsys)
    assert code == 5
    assert [ln for ln in out.splitlines() if ln.startswith("FAIL")] == [ln for ln in out.splitlines()
                                                                        if ln.startswith("FAIL: recall")]
    # keeping every other event keeps ceil(n/2) of n: recall >= 0.5, count error <= 0.5
    code, out, _ = run(["compare", a, half, "--min-recall", "0.4", "--max-count-error", "0.6"], capsys)
    assert code == 0 and out.rstrip().endswith("PASS (2 thresholds)")
    # the same file: every figure at its best
    code, out, _ = run(["compare", a, a, "--min-recall", "1", "--min-precision", "1", "--max-count-error", "0",
                        "--max-first-spike-us", "0", "--max-latency-distance-us", "0",
                        "--min-class-agreement", "1"], capsys)
    assert code == 0, out


def test_cli_has_one_flag_per_check_in_user_units(run_files, capsys):
    from speksim.cli import build_parser
    a, _, _ = run_files
    parsed = build_parser().parse_args(["compare", str(a), str(a), "--max-first-spike-us", "2",
                                        "--max-latency-distance-us", "3"])
    from speksim.cli.compare import thresholds_from_args
    assert thresholds_from_args(parsed) == {"max_first_spike_ns": 2000.0, "max_latency_distance_ns": 3000.0}
    helptext = build_parser()._subparsers._group_actions[0].choices["compare"].format_help()
    flags = [name.replace("_ns", "_us").replace("_", "-") for name in CHECKS]
    assert all(f"--{flag}" in helptext for flag in flags)


def test_cli_json_and_plot(run_files, capsys):
    a, half, d = run_files
    png = d / "cmp.png"
    code, out, _ = run(["compare", a, half, "--json", "--plot", png, "--min-recall", "0.99", "--window-ms", "1"],
                       capsys)
    doc = json.loads(out)
    assert code == 5 and doc["checks"]["passed"] is False and doc["checks"]["failures"][0].startswith("recall")
    assert doc["options"]["window_ns"] == 1_000_000 and doc["figures"]["matched"] == doc["figures"]["events_b"]
    assert png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size > 20_000


def test_cli_a_missing_or_wrong_file_is_an_input_error(run_files, capsys):
    a, _, d = run_files
    not_a_run = d / "notes.h5"
    not_a_run.write_text("not a run\n")
    for bad in (d / "missing.h5", not_a_run):
        code, out, err = run(["compare", a, bad], capsys)
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert code == 3 and lines[0].startswith("speksim: error: ") and str(bad.name) in err and not out


def test_the_plot_of_two_silent_runs_says_so_in_each_panel(tmp_path):
    from speksim.plot import comparison
    empty = made([])
    fig = comparison(compare_runs(empty, empty), empty, empty, path=tmp_path / "empty.png")
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert "no output event on either side" in texts and len(fig.axes) == 5
    assert (tmp_path / "empty.png").read_bytes()[:8] == PNG_MAGIC
