"""What-ifs: chip overrides (`Chip.with_overrides`, `--set`) and sweeps (`speksim.analysis.sweep`,
`speksim sweep`): what they change, what a run file records, the rows a sweep gives, and the
errors a user gets."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from speksim import ChipConfig, CnnLayerConfig, RunOptions, load_chip, make_events, simulate
from speksim.analysis.sweep import (METRICS, apply_setting, default_output_layer, parse_grid, sweep, table,
                                    write_csv)
from speksim.chip import PARAMETERS, chip_from_dict
from speksim.cli import main
from speksim.config import DvsDestination, Vec2, save_config
from speksim.errors import ChipFileError, ConfigError
from speksim.runfile import load_run, save_run

CHIP = load_chip("speck2f")
LAT = CHIP.host_in_latency_ns


def centre_chain(n_cores=2):
    """SPEC T10's scenario: n cores of 1->1 channel, 3x3, only the centre weight (1), threshold 1,
    the last one monitored."""
    cfg = ChipConfig()
    for k in range(n_cores):
        w = np.zeros((1, 1, 3, 3), np.int8)
        w[0, 0, 1, 1] = 1
        cfg.cnn_layers[k] = CnnLayerConfig.conv(w, (16, 16), padding=1, threshold_high=1, threshold_low=-1,
                                                monitor_enable=k == n_cores - 1,
                                                destinations=[(k + 1, 1, 0)] if k < n_cores - 1 else [])
    return cfg


def centre_event():
    return make_events("spike", t=[0], layer=[0], feature=[0], x=[8], y=[8])


def busy_core():
    """Core 0: 2 -> 16 channels, 3x3, padding 1, 16x16, monitored; weights 0..2 and threshold 12,
    so that some spikes come out. An interior event costs event_ns + 9 * 16 SynOps."""
    rng = np.random.default_rng(5)
    cfg = ChipConfig()
    cfg.cnn_layers[0] = CnnLayerConfig.conv(rng.integers(0, 3, (16, 2, 3, 3)).astype(np.int8), (16, 16),
                                            padding=1, threshold_high=12, threshold_low=-8, monitor_enable=True)
    return cfg


def one_per_us(n=400, seed=1):
    """n spike events into core 0, one every µs, at random addresses."""
    rng = np.random.default_rng(seed)
    return make_events("spike", t=np.arange(n), layer=np.zeros(n), feature=rng.integers(0, 2, n),
                       x=rng.integers(0, 16, n), y=rng.integers(0, 16, n))


# ------------------------------------------------------------------------------------ overrides

def test_overrides_change_only_what_they_name():
    chip = CHIP.with_overrides(["core.3.synop_ns=8", "fifo_depth=64", "host_out_ns=100"])
    for p in PARAMETERS:
        new, old = getattr(chip, p.name), getattr(CHIP, p.name)
        if p.name == "synop_ns":
            assert new == old[:3] + (8,) + old[4:]
        elif p.name == "fifo_depth":
            assert new == (64,) * 9
        elif p.name == "host_out_ns":
            assert new == 100
        else:
            assert new == old, p.name
    assert chip.name == "speck2f" and chip.files == CHIP.files
    assert chip.overrides == ("core.3.synop_ns=8", "fifo_depth=64", "host_out_ns=100")
    assert chip.provenance["synop_ns"].file == "override" and "core.3.synop_ns=8" in chip.provenance["synop_ns"].reason
    assert chip.provenance["event_ns"] == CHIP.provenance["event_ns"]


def test_override_spellings_agree_and_later_ones_win():
    by_text = CHIP.with_overrides(["timing.core.synop_ns=30", "core.3.synop_ns=8", "leak_can_fire=on",
                                   "decimator_ratios=2,4,8,16,32,64,128,256"])
    by_dict = CHIP.with_overrides({"synop_ns": 30, "core.3.synop_ns": 8, "leak_can_fire": True,
                                   "decimator_ratios": [2, 4, 8, 16, 32, 64, 128, 256]})
    by_replace = CHIP.replace(synop_ns=30).replace(synop_ns={3: 8}, leak_can_fire=True,
                                                   decimator_ratios=[2, 4, 8, 16, 32, 64, 128, 256])
    assert by_text == by_dict == by_replace
    assert by_text.synop_ns == (30, 30, 30, 8, 30, 30, 30, 30, 30)
    assert by_text.overrides == by_dict.overrides == by_replace.overrides == (
        "synop_ns=30", "core.3.synop_ns=8", "leak_can_fire=true", "decimator_ratios=2,4,8,16,32,64,128,256")
    assert CHIP.with_overrides("fifo_depth=1,2,3,4,5,6,7,8,9").fifo_depth == tuple(range(1, 10))
    assert CHIP.overrides == ()


@pytest.mark.parametrize("item, needles", [
    ("core.3.synop_ns=0", ["timing.core.synop_ns", "is 0", "[1, 1000000000] ns"]),
    ("host_out_ns=-5", ["timing.host_out_ns", "is -5", "[1, 1000000000] ns"]),
    ("synopns=8", ["no chip parameter is named 'synopns'", "did you mean synop_ns"]),
    ("fifo_dept=64", ["did you mean fifo_depth"]),
    ("core.9.synop_ns=8", ["core 9 does not exist", "0..8"]),
    ("core.three.synop_ns=8", ["core.K.NAME"]),
    ("core.1.host_out_ns=100", ["not a per-core parameter", "host_out_ns=VALUE"]),
    ("fifo_depth=1,2", ["has 2 values", "one per core (9)"]),
    ("synop_ns=fast", ["whole numbers of ns", "'fast'"]),
    ("leak_can_fire=maybe", ["a switch", "true or false"]),
    ("state_overflow=clip", ["'clip'", "saturate", "wrap"]),
    ("synop_ns", ["not NAME=VALUE"]),
])
def test_a_bad_override_says_which_and_why(item, needles):
    with pytest.raises(ChipFileError) as err:
        CHIP.with_overrides([item])
    for text in (str(err.value), err.value.cli):
        for needle in needles:
            assert needle in text, (needle, text)
    assert str(err.value).startswith(f"override '{item}': ")
    assert err.value.cli.startswith(f"--set {item}: ")


def test_an_override_times_the_run_as_the_rules_say():
    """SPEC T10: one centre event through two cores arrives host_in_latency + 2 * (event_ns +
    5 * synop_ns + route_ns) + host_out_ns + host_out_latency after its timestamp; the centre
    weight is the 5th SynOp. With core 1's SynOp at 8 ns instead of 20 it arrives 5 * 12 = 60 ns
    earlier; a host output taking 100 ns instead of 80 adds 20 ns."""
    base = simulate(centre_chain(), centre_event(), CHIP).latency_ns()[0]
    assert base == 640 + 2 * (83 + 5 * 20 + 40) + 80 + 637 == 1803
    faster = simulate(centre_chain(), centre_event(), CHIP.with_overrides(["core.1.synop_ns=8"]))
    assert faster.latency_ns()[0] == base - 60
    both = CHIP.with_overrides(["core.1.synop_ns=8", "host_out_ns=100"])
    assert simulate(centre_chain(), centre_event(), both).latency_ns()[0] == base - 60 + 20


def test_the_run_file_records_the_overrides_of_the_named_chip(tmp_path):
    chip = CHIP.with_overrides(["core.1.synop_ns=8", "fifo_depth=64"])
    run = load_run(save_run(simulate(centre_chain(), centre_event(), chip), tmp_path / "r.h5"))
    record = run.metadata["chip"]
    assert record["name"] == "speck2f" and record["overrides"] == ["core.1.synop_ns=8", "fifo_depth=64"]
    assert record["parameters"]["synop_ns"]["value"] == [20, 8, 20, 20, 20, 20, 20, 20, 20]
    again = chip_from_dict(record)
    assert again == chip and again.overrides == chip.overrides
    plain = load_run(save_run(simulate(centre_chain(), centre_event(), CHIP), tmp_path / "p.h5"))
    assert plain.metadata["chip"]["overrides"] == []


def test_a_recorded_chip_from_an_older_speksim_is_refused_with_the_reason():
    record = CHIP.to_dict()
    del record["parameters"]["synop_pj"]
    with pytest.raises(ChipFileError, match=r"lacks parameter\(s\) \['synop_pj'\].*older speksim"):
        chip_from_dict(record)


# ---------------------------------------------------------------------------------- the command

def run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def dvs_net():
    """The DVS layer (both polarities) into core 0 of `busy_core`: pooled 4x and cropped to the
    pooled 16x16, so that camera events at x, y < 64 reach it."""
    cfg = busy_core()
    cfg.dvs_layer.pooling = Vec2(4, 4)
    cfg.dvs_layer.cut = Vec2(15, 15)
    cfg.dvs_layer.destinations[0] = DvsDestination(layer=0, enable=True)
    return cfg


@pytest.fixture()
def camera(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    save_config(dvs_net(), tmp_path / "net.json")
    rng = np.random.default_rng(2)
    for name, n in (("a.npz", 600), ("b.npz", 300)):
        np.savez(tmp_path / name, t=np.arange(n) * 2, x=rng.integers(0, 64, n).astype(np.uint16),
                 y=rng.integers(0, 64, n).astype(np.uint16), p=rng.integers(0, 2, n).astype(np.uint8))
    return tmp_path


def test_run_and_info_show_the_overrides(camera, capsys):
    code, out, err = run(["run", "a.npz", "--config", "net.json", "--set", "core.0.synop_ns=8", "--set",
                          "fifo_depth=64", "-o", "r.h5"], capsys)
    assert code == 0, err
    assert load_run("r.h5").metadata["chip"]["overrides"] == ["core.0.synop_ns=8", "fifo_depth=64"]
    code, out, err = run(["info", "r.h5"], capsys)
    assert code == 0, err
    assert "  overrides    core.0.synop_ns=8, fifo_depth=64" in out


@pytest.mark.parametrize("item, needle", [
    ("core.0.synop_ns=0", "--set core.0.synop_ns=0: 'timing.core.synop_ns' is 0"),
    ("synopns=3", "did you mean synop_ns"),
    ("core.0.decimator=2", "a setting of the configuration, not of the chip"),
])
def test_a_bad_set_is_one_error_line_and_exit_2(camera, capsys, item, needle):
    for command in (["run", "a.npz", "--config", "net.json"], ["check", "net.json"]):
        code, out, err = run(command + ["--set", item], capsys)
        assert code == 2
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("speksim: error: ") and needle in lines[0], err


def test_check_measures_capacity_with_the_override(camera, capsys):
    code, out, err = run(["check", "net.json", "--set", "core.0.synop_ns=40", "--recording", "a.npz", "--json"],
                         capsys)
    assert code == 0, err
    import json
    load = json.loads(out)["load"]
    assert load[0]["capacity_synops_per_s"] == pytest.approx(1e9 / 40)     # one SynOp per 40 ns


# ------------------------------------------------------------------------------------ sweeps

def test_settings_change_one_core_of_a_copy():
    cfg = centre_chain()
    on = apply_setting(cfg, "core.1.decimator", "2")
    assert (on.cnn_layers[1].output_decimator_enable, on.cnn_layers[1].output_decimator_interval) == (True, 2)
    assert not cfg.cnn_layers[1].output_decimator_enable              # the original is untouched
    assert on.cnn_layers[0] is cfg.cnn_layers[0]
    assert not apply_setting(on, "core.1.decimator", "off").cnn_layers[1].output_decimator_enable
    assert apply_setting(cfg, "core.0.balancer", "on").cnn_layers[0].input_congestion_balancer_enable


@pytest.mark.parametrize("grid, error, needles", [
    (["core.0.synop_nss=1,2"], ChipFileError, ["did you mean synop_ns", "core.K.decimator"]),
    (["core.0.decimater=1"], ChipFileError, ["core.K.decimator"]),
    (["core.5.decimator=1"], ConfigError, ["core 5 is not in use", "in use: 0, 1"]),
    (["core.1.decimator=9"], ConfigError, ["'off' or an interval code 0..7", "2, 4, 8"]),
    (["core.1.balancer=maybe"], ConfigError, ["'on' or 'off'"]),
    (["decimator=1"], ConfigError, ["belongs to one core"]),
    (["core.1.synop_ns=0"], ChipFileError, ["--grid core.1.synop_ns=0", "is 0"]),
    (["synop_ns=1,2", "timing.core.synop_ns=3"], ConfigError, ["given twice"]),
    (["synop_ns=30:10:5"], ConfigError, ["STOP >= START"]),
    (["synop_ns"], ConfigError, ["KEY=V1,V2"]),
    ([], ConfigError, ["the grid is empty"]),
])
def test_a_bad_grid_is_refused_before_anything_runs(grid, error, needles):
    with pytest.raises(error) as err:
        sweep(centre_chain(), CHIP, centre_event(), grid, jobs=1)
    text = f"{err.value} | {getattr(err.value, 'cli', '')}"
    for needle in needles:
        assert needle in text, (needle, text)


def test_a_point_the_chip_refuses_is_named():
    """The DYNAP-CNN devkit has no decimator: a grid that turns it on is refused, naming the point."""
    with pytest.raises(ConfigError, match="grid point core.1.decimator=0: .*decimator"):
        sweep(centre_chain(), "dynapcnn", centre_event(), ["core.1.decimator=off,0"], jobs=1)


def test_ranges_and_axes_in_order():
    axes = parse_grid(["core.1.synop_ns=10:25:5", "fifo_depth=8,16", "core.1.decimator=off,1"], centre_chain(), CHIP)
    assert [(a.key, a.kind, a.values, a.base) for a in axes] == [
        ("core.1.synop_ns", "chip", ("10", "15", "20", "25"), "20"),
        ("fifo_depth", "chip", ("8", "16"), "16"),
        ("core.1.decimator", "config", ("off", "1"), "off")]


def test_sweep_rows_come_in_grid_order_with_the_baseline_first():
    rows = sweep(busy_core(), CHIP, {"a": one_per_us(200), "b": one_per_us(100, seed=2)},
                 ["core.0.synop_ns=1,20", "core.0.balancer=off,on"], jobs=1)
    assert [(r["recording"], r["point"], r["core.0.synop_ns"], r["core.0.balancer"]) for r in rows] == [
        (name, i, v, b) for name in "ab" for i, (v, b) in enumerate(
            [("20", "off"), ("1", "off"), ("1", "on"), ("20", "off"), ("20", "on")])]
    cols = list(rows[0])
    assert cols == ["recording", "point", "core.0.synop_ns", "core.0.balancer"] + [
        m.format(core=0) for m in METRICS]
    for r in rows:
        assert list(r) == cols
    # point 3 is the baseline's chip and configuration again: the same figures
    for name in "ab":
        base, same = (next(r for r in rows if r["recording"] == name and r["point"] == i) for i in (0, 3))
        assert {k: v for k, v in base.items() if k != "point"} == {k: v for k, v in same.items() if k != "point"}
        assert base["agree_events"] == base["agree_classes"] == 1.0 and base["same_top_class"] == 1


def test_a_faster_core_stops_the_lag_and_a_balancer_bounds_it():
    """Inputs come one per µs. With SynOps of 20 ns an interior event keeps core 0 busy 83 + 144 *
    20 = 2963 ns: the core falls behind, back-pressure reaches the input link and the lag grows
    (T0, T1). With 1 ns SynOps an event takes at most 83 + 144 = 227 ns, done before the next
    arrives: every lag is the link's latency alone. With the congestion balancer on (T6) the link
    drops what core 0 cannot take, at no cost, so every input sent also has that lag. Timing
    changes no output when nothing is dropped (F rules do not depend on time)."""
    rows = sweep(busy_core(), CHIP, one_per_us(), ["core.0.synop_ns=1,20", "core.0.balancer=off,on"], jobs=1)
    by = {(r["core.0.synop_ns"], r["core.0.balancer"]): r for r in rows if r["point"]}
    slow, fast, balanced = by[("20", "off")], by[("1", "off")], by[("20", "on")]
    assert slow["lag_max_ns"] > 100_000 and slow["lag_p99_ns"] > 100_000
    assert fast["lag_p50_ns"] == fast["lag_max_ns"] == LAT
    assert fast["agree_events"] == 1.0 and fast["inputs_dropped"] == 0
    assert balanced["lag_max_ns"] == LAT
    assert balanced["congestion_dropped"] == balanced["inputs_dropped"] > 0
    assert balanced["agree_events"] < 1.0
    assert slow["busy_max"] > fast["busy_max"]


def test_a_decimator_drops_all_but_every_nth_spike():
    """F5.1: with interval code 1 (one spike in 4 passes on Speck2f) core 0 keeps its 4th, 8th, ...
    spike: of S spikes, S - S // 4 are decimated; the monitored outputs are a subset of the
    baseline's, so the agreement is the share that passed."""
    base = simulate(busy_core(), one_per_us(), CHIP)
    spikes = int(base.stats[0]["spikes"])
    assert spikes > 40
    rows = sweep(busy_core(), CHIP, one_per_us(), ["core.0.decimator=1"], jobs=1)
    assert rows[1]["decimated"] == spikes - spikes // 4
    assert rows[1]["outputs"] == spikes // 4
    assert rows[1]["agree_events"] == pytest.approx((spikes // 4) / spikes)
    assert rows[0]["outputs"] == spikes and rows[0]["decimated"] == 0


def test_a_pool_gives_the_same_rows_as_one_process(tmp_path):
    grid = ["core.0.synop_ns=5,20,40"]
    one = sweep(busy_core(), CHIP, {"a": one_per_us(150), "b": one_per_us(120, 3)}, grid, jobs=1)
    two = sweep(busy_core(), CHIP, {"a": one_per_us(150), "b": one_per_us(120, 3)}, grid, jobs=2)
    assert one == two
    a, b = write_csv(one, tmp_path / "a.csv"), write_csv(two, tmp_path / "b.csv")
    assert a.read_bytes() == b.read_bytes()
    with open(a, newline="") as fh:
        table_rows = list(csv.DictReader(fh))
    assert len(table_rows) == 8 and table_rows[0]["point"] == "0" and table_rows[0]["recording"] == "a"
    assert int(table_rows[1]["stall_ns"]) == one[1]["stall_ns"]
    for r in one:          # the total is the cores' and the DVS layer's stalls
        assert r["stall_ns"] == r["stall_ns_core0"] + r["stall_ns_dvs"]


def test_the_plot_shows_each_line_against_the_first_axis():
    """Categorical first axis (decimator off, 0): two x positions labelled as given; one line per
    value of the second axis, and the baseline."""
    from speksim.plot.sweep import sweep_plot
    rows = sweep(busy_core(), CHIP, one_per_us(100), ["core.0.decimator=off,0", "core.0.synop_ns=5,40"], jobs=1)
    fig = sweep_plot(rows)
    stall, lag = fig.axes
    assert [t.get_text() for t in lag.get_xticklabels()] == ["off", "0"]
    labels = [line.get_label() for line in stall.get_lines()]
    assert labels == ["core.0.synop_ns=5", "core.0.synop_ns=40", "baseline (core.0.decimator=off)"]
    got = sorted(tuple(line.get_ydata()) for line in stall.get_lines()[:2])
    want = sorted(tuple(r["stall_ns"] / 1e6 for r in rows[1:] if r["core.0.synop_ns"] == v) for v in ("5", "40"))
    assert got == want


def test_a_deadlocked_point_is_a_row_with_its_error():
    """Two cores feeding each other with one FIFO slot and one output slot deadlock (T9)."""
    cfg = ChipConfig()
    w = np.ones((1, 1, 1, 1), np.int8)
    for k, other in ((0, 1), (1, 0)):
        cfg.cnn_layers[k] = CnnLayerConfig.conv(w, (4, 4), threshold_high=1, threshold_low=-1,
                                                destinations=[(other, 1, 0), (other, 1, 0)])
    ev = make_events("spike", t=np.zeros(6), layer=np.zeros(6), feature=np.zeros(6), x=[0, 1, 2, 3, 0, 1],
                     y=[0, 0, 0, 0, 1, 1])
    rows = sweep(cfg, CHIP.with_overrides(["out_depth=1"]), ev, ["fifo_depth=1"], jobs=1,
                 options=RunOptions(drain_ns=200_000))
    assert rows[1]["error"].startswith("deadlock") and rows[1]["stall_ns"] is None
    assert "deadlock" in table(rows).splitlines()[2]


def test_the_output_layer_is_the_network_s_last():
    assert default_output_layer(centre_chain(3), CHIP) == 2
    cfg = centre_chain(2)
    cfg.cnn_layers[0].monitor_enable = True           # monitored, but it feeds core 1
    assert default_output_layer(cfg, CHIP) == 1
    cfg.model = {"layers": [{"core": 0, "output": False}, {"core": 1, "output": True}]}
    assert default_output_layer(cfg, CHIP) == 1


def test_the_sweep_command_writes_a_csv_a_plot_and_a_table(camera, capsys):
    code, out, err = run(["sweep", "a.npz", "b.npz", "--config", "net.json", "--grid", "core.0.synop_ns=5,40",
                          "--grid", "core.0.decimator=off,0", "--jobs", "1", "-o", "out/s.csv"], capsys)
    assert code == 0, err
    with open(camera / "out" / "s.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["recording"], r["point"]) for r in rows] == [(n, str(i)) for n in ("a.npz", "b.npz") for i in range(5)]
    assert rows[0]["input_events"] == "600" and rows[5]["input_events"] == "300"
    assert (camera / "out" / "s.png").stat().st_size > 10_000
    assert "core.0.synop_ns" in out.splitlines()[0] and "wrote out/s.csv, out/s.png" in out


def test_the_sweep_command_fits_recordings_as_run_does(camera, capsys):
    """The same reading flags as `speksim run`: --t-end-us keeps the first 200 µs (100 events)."""
    code, out, err = run(["sweep", "a.npz", "--config", "net.json", "--grid", "host_out_ns=80,160", "--jobs", "1",
                          "--t-end-us", "200", "--quiet"], capsys)
    assert code == 0, err
    with open(camera / "sweep.csv", newline="") as fh:
        assert {r["input_events"] for r in csv.DictReader(fh)} == {"100"}
    assert out == ""


@pytest.mark.parametrize("grid, needle", [
    ("core.0.synop_nss=1", "--grid core.0.synop_nss=1: no chip parameter"),
    ("core.4.decimator=1", "core 4 is not in use"),
])
def test_the_sweep_command_refuses_a_bad_grid_with_exit_2(camera, capsys, grid, needle):
    code, out, err = run(["sweep", "a.npz", "--config", "net.json", "--grid", grid], capsys)
    assert code == 2 and needle in err and err.count("\n") == 1, err
    assert not (camera / "sweep.csv").exists()
