"""Regression scenarios (`speksim bench regress`): today's simulator against stored baselines.

The baselines in benchmarks/regression/baselines/ were written by `speksim bench regress --update`;
the first test holds today's engine to them, to the ns. When a change to the chip model moves
them on purpose, regenerate them (`speksim bench regress --baseline
benchmarks/regression/baselines --update --only NAME`) and say why in the commit."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from speksim import load_run, save_run
from speksim.cli import main
from speksim.devkit import capture_result
from speksim.errors import ConfigError
from speksim.io import read_events
from speksim.regress import DEVKIT, load_scenarios, passed, regress, run_scenario, table

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = REPO / "benchmarks" / "regression" / "scenarios.toml"
BASELINES = REPO / "benchmarks" / "regression" / "baselines"
#: The scenarios on speksim's own recordings, whose baselines are stored.
OWN = ("demo", "demo_burst", "stall_chain", "stall_merge")


def _own():
    return [s for s in load_scenarios(SCENARIOS) if s.name in OWN]


def test_todays_simulator_reproduces_every_stored_baseline_exactly(tmp_path):
    outcomes = regress(_own(), BASELINES, tmp_path)
    assert [o.status for o in outcomes] == ["pass"] * len(OWN), table(outcomes)
    for o in outcomes:
        # exact: every baseline event found at the same ns, and nothing else
        assert o.figures["recall"] == 1.0 and o.figures["precision"] == 1.0
        assert o.figures["stats_differ"] == 0 and o.figures["same_lags"] is True
    assert sorted(p.stem for p in BASELINES.glob("*.h5")) == sorted(OWN)


def test_a_timing_change_is_reported_as_drift_with_what_moved(tmp_path):
    s = [s for s in _own() if s.name == "stall_chain"][0]
    s.set = ("core.1.synop_ns=30",)          # core 1 is the one the burst overloads
    (o,) = regress([s], BASELINES, tmp_path)
    assert o.status == "fail" and not passed([o])
    assert o.figures["stats_differ"] > 0
    assert any("core1.stall_ns" in f or "core1.busy_ns" in f for f in o.failures), o.failures
    # its output events moved in time: with exact matching some are no longer found
    assert o.figures["recall"] < 1.0


def test_missing_baselines_fail_and_missing_inputs_skip(tmp_path):
    own = _own()[:1]
    (o,) = regress(own, tmp_path / "empty", tmp_path / "runs")
    assert o.status == "no baseline" and "--update" in o.detail and not passed([o])
    gone = own[0]
    gone.recording = tmp_path / "nowhere.npz"
    (o,) = regress([gone], BASELINES, tmp_path / "runs")
    assert o.status == "skipped" and "nowhere.npz" in o.detail and passed([o])


def test_update_writes_baselines_that_then_pass_but_never_overwrites_a_capture(tmp_path):
    own = [s for s in _own() if s.name == "demo"]
    (o,) = regress(own, tmp_path / "bl", tmp_path / "runs", update=True)
    assert o.status == "updated" and (tmp_path / "bl" / "demo.h5").is_file()
    assert [o.status for o in regress(own, tmp_path / "bl", tmp_path / "runs")] == ["pass"]
    cap = _capture_of(load_run(tmp_path / "bl" / "demo.h5"))
    save_run(cap, tmp_path / "bl" / "demo.h5")
    before = (tmp_path / "bl" / "demo.h5").read_bytes()
    (o,) = regress(own, tmp_path / "bl", tmp_path / "runs", update=True)
    assert o.status == "no change" and (tmp_path / "bl" / "demo.h5").read_bytes() == before


def _capture_of(sim, keep=None):
    """A devkit capture of the demo scenario's run as a devkit would report it: times floored to
    whole µs, no roots; `keep` selects the output events kept (a devkit that spiked less)."""
    from speksim.config import config_from_dict
    out = sim.outputs.copy() if keep is None else sim.outputs[keep].copy()
    out["t_ns"] = out["t_ns"] // 1000 * 1000
    out["root"] = -1
    events = read_events(REPO / "traces" / "rotating_dot.npz")     # the demo scenario reads it as it is
    return capture_result(config_from_dict(sim.metadata["config"]), "speck2f", events, out, device="speck2f")


def test_against_a_devkit_capture_the_figures_are_statistical(tmp_path):
    demo = [s for s in _own() if s.name == "demo"]
    path, _ = run_scenario(demo[0], tmp_path / "sim")
    sim = load_run(path)
    (tmp_path / "bl").mkdir()
    save_run(_capture_of(sim), tmp_path / "bl" / "demo.h5")
    (o,) = regress(demo, tmp_path / "bl", tmp_path / "runs")
    # µs timestamps: exact matching would fail, the devkit thresholds and tolerance pass
    assert o.status == "pass" and o.baseline == "capture", table([o])
    assert o.figures["count_error"] == 0 and "stats_differ" not in o.figures
    # a devkit that gave a quarter fewer spikes is past DEVKIT's count error
    keep = np.arange(len(sim.outputs)) % 4 != 0
    save_run(_capture_of(sim, keep), tmp_path / "bl" / "demo.h5")
    (o,) = regress(demo, tmp_path / "bl", tmp_path / "runs")
    assert o.status == "fail" and o.figures["count_error"] > DEVKIT["max_count_error"]


@pytest.mark.parametrize("text, words", [
    ('[[scenario]]\nname = "a"\nconfig = "demo"\n', "needs a recording"),
    ('[[scenario]]\nname = "a"\nconfig = "demo"\nmodel = "m.nir"\nrecording = "r.npz"\n', "either config"),
    ('[[scenario]]\nname = "a"\nconfig = "demo"\nrecording = "r.npz"\nspeed = 3\n', "unknown key"),
    ('[[scenario]]\nname = "a/b"\nconfig = "demo"\nrecording = "r.npz"\n', "needs a name"),
    ('[[scenario]]\nname = "a"\nconfig = "demo"\nrecording = "r.npz"\noptions = { bin = 3 }\n', "table of run options"),
    ('[[scenario]]\nname = "a"\nconfig = "demo"\nrecording = "r.npz"\n' * 2, "two scenarios are named"),
    ('name = "a"\n', "no [[scenario]]"),
    ('[[scenario]\n', "not valid TOML"),
])
def test_a_bad_scenarios_file_says_what_is_wrong(tmp_path, text, words):
    (tmp_path / "s.toml").write_text(text)
    with pytest.raises(ConfigError, match=words.replace("[", r"\[")):
        load_scenarios(tmp_path / "s.toml")


def test_the_command_gates_on_drift(tmp_path, capsys):
    scen = tmp_path / "s.toml"
    shutil.copy(SCENARIOS, scen)
    text = scen.read_text().replace("../../traces/", f"{(REPO / 'traces').as_posix()}/")
    scen.write_text(text)
    base = ["bench", "regress", "--scenarios", str(scen), "--out", str(tmp_path / "runs"), "--quiet"]
    assert main(base + ["--baseline", str(BASELINES), "--only", "stall_merge"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("PASS")
    assert main(base + ["--baseline", str(tmp_path / "none"), "--only", "stall_merge", "--json", "-"]) == 5
    doc = json.loads(capsys.readouterr().out)
    assert doc["passed"] is False and doc["outcomes"][0]["status"] == "no baseline"
    assert main(base + ["--baseline", str(BASELINES), "--only", "nope"]) == 2
    assert "stall_merge" in capsys.readouterr().err


def test_the_shared_scenarios_parse_and_say_what_they_need():
    (g,) = load_scenarios(SCENARIOS.with_name("shared.toml"))
    assert g.name == "gesture" and g.input_shape == (2, 128, 128)
    assert g.recording.name == "dvs128_gesture.aedat4" and "torch" in g.needs
    if not g.recording.exists():
        assert "dvs128_gesture.aedat4" in g.missing()
