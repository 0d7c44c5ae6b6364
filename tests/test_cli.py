"""The `speksim` command: every subcommand through `main([...])`, exit codes and one-line errors."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

import speksim
from speksim import cli
from speksim.cli import main
from speksim.config import ChipConfig, CnnLayerConfig, DvsDestination, Vec2, save_config
from speksim.runfile import load_run


def net(pool=4) -> ChipConfig:
    """DVS (pooled, ON/OFF) → core 0 (2→4, 3x3) → core 1 (pooled 2x2, 4→2); cores and DVS monitored."""
    rng = np.random.default_rng(3)
    cfg = ChipConfig()
    cfg.dvs_layer.pooling = Vec2(pool, pool)
    cfg.dvs_layer.destinations[0] = DvsDestination(layer=0, enable=True)
    cfg.dvs_layer.monitor_enable = True
    side = 128 // pool
    cfg.cnn_layers[0] = CnnLayerConfig.conv(rng.integers(0, 3, (4, 2, 3, 3)).astype(np.int8), (side, side),
                                            padding=1, threshold_high=3, threshold_low=-8, destinations=[(1, 2, 0)],
                                            monitor_enable=True)
    cfg.cnn_layers[1] = CnnLayerConfig.conv(rng.integers(0, 3, (2, 4, 3, 3)).astype(np.int8), (side // 2, side // 2),
                                            padding=1, threshold_high=4, threshold_low=-8, monitor_enable=True)
    return cfg


def write_npz(path, n=3000, width=128, height=128, t0=0, seed=0):
    rng = np.random.default_rng(seed)
    np.savez(path, t=t0 + np.sort(rng.integers(0, 30_000, n)), x=rng.integers(0, width, n).astype(np.uint16),
             y=rng.integers(0, height, n).astype(np.uint16), p=rng.integers(0, 2, n).astype(np.uint8))
    return path


@pytest.fixture()
def files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "net.json"
    save_config(net(), config)
    rec = write_npz(tmp_path / "rec.npz")
    return tmp_path, config, rec


def run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("speksim: error: "), err
    assert "Traceback" not in err
    return lines[0]


# ------------------------------------------------------------------------------------------- run

def test_run_writes_a_run_file_and_prints_the_summary(files, capsys):
    tmp, config, rec = files
    code, out, err = run(["run", "--config", config, rec, "-o", tmp / "out" / "r.h5", "--csv", tmp / "s.csv",
                          "--plots", tmp / "plots", "--bin-us", 500], capsys)
    assert code == 0, err
    res = load_run(tmp / "out" / "r.h5")
    assert len(res.outputs) > 0 and res.bin_ns == 500_000
    assert "core0" in out and "speksim: 3,000 input events" in out
    assert res.metadata["input_file"]["name"] == "rec.npz"
    assert res.metadata["command_line"].startswith("speksim run --config")
    assert (tmp / "s.csv").read_text().startswith("block,")
    assert len(list((tmp / "plots").glob("*.png"))) == 6
    assert not [p for p in tmp.rglob("*.tmp*")]


def test_run_default_output_name_and_quiet(files, capsys):
    tmp, config, rec = files
    code, out, err = run(["run", "--config", config, rec, "--quiet"], capsys)
    assert code == 0, err
    assert (tmp / "rec.run.h5").is_file()
    assert out == "" and err == ""  # --quiet: nothing but warnings and errors


def test_a_run_that_must_compile_the_engine_says_so_first(files, capsys, monkeypatch):
    # a first run's wall time and rate include compiling: the user is told, once, before it starts
    import speksim.engine.fast as fast
    tmp, config, rec = files
    monkeypatch.setattr(fast, "compiled", lambda: False)
    code, out, err = run(["run", "--config", config, rec, "-o", "a.h5"], capsys)
    assert code == 0, err
    assert "compiling the fast engine" in err
    code, out, err = run(["run", "--config", config, rec, "-o", "b.h5", "--quiet"], capsys)
    assert code == 0 and err == ""
    monkeypatch.setattr(fast, "compiled", lambda: True)
    code, out, err = run(["run", "--config", config, rec, "-o", "c.h5"], capsys)
    assert code == 0 and "compiling" not in err


def test_run_reference_engine_matches_fast(files, capsys):
    tmp, config, rec = files
    assert run(["run", "--config", config, rec, "-o", "f.h5", "--quiet"], capsys)[0] == 0
    assert run(["run", "--config", config, rec, "-o", "r.h5", "--quiet", "--engine", "reference"], capsys)[0] == 0
    assert load_run(tmp / "f.h5").equals(load_run(tmp / "r.h5"))


def test_large_sensor_needs_fit(files, capsys):
    tmp, config, _ = files
    big = write_npz(tmp / "davis.npz", width=346, height=260, seed=5)
    code, out, err = run(["run", "--config", config, big, "--sensor-size", 346, 260, "-o", "x.h5"], capsys)
    assert code == 3 and "--fit" in one_error_line(err)
    for mode in ("crop", "scale"):
        code, out, err = run(["run", "--config", config, big, "--fit", mode, "-o", f"{mode}.h5"], capsys)
        assert code == 0, err
        assert "assuming 346x260" in err  # npz files do not record their sensor size
        res = load_run(tmp / f"{mode}.h5")
        assert 0 < res.metadata["input"]["events"] <= 3000


def test_fitting_options_chain(files, capsys):
    tmp, config, _ = files
    big = write_npz(tmp / "vga.npz", width=640, height=480, seed=6)
    code, out, err = run(["run", "--config", config, big, "--sensor-size", 640, 480, "--downscale", 4,
                          "--crop", 10, 0, "--flip-x", "--polarity", "merge", "--rezero", "--t-start-us", 1000,
                          "-o", "v.h5", "--quiet"], capsys)
    assert code == 0, err
    res = load_run(tmp / "v.h5")
    assert res.input_t_ns[0] == 0
    dvs_out = res.outputs[res.outputs["layer"] == 13]
    assert set(np.unique(dvs_out["feature"])) == {0}   # merged polarity


def test_wall_clock_timestamps_are_rezeroed_and_recorded(files, capsys):
    tmp, config, rec = files
    late = write_npz(tmp / "late.npz", t0=1_600_000_000_000_000)   # Unix time in µs, as AEDAT4 files have
    code, out, err = run(["run", "--config", config, late], capsys)
    assert code == 0, err
    assert "wall-clock" in err and "--no-rezero" in err
    res = load_run(tmp / "late.run.h5")
    assert res.input_t_ns[0] == 0
    assert res.metadata["input_transform"]["time_shift_us"] == int(np.load(late)["t"].min())  # the file itself
    # a recording that starts near 0 is left as it is, and says nothing about rezeroing
    code, out, err = run(["run", "--config", config, rec, "-o", "near0.h5"], capsys)
    assert code == 0 and "rezero" not in err
    assert load_run(tmp / "near0.h5").metadata["input_transform"]["time_shift_us"] == 0


def test_run_file_as_input(files, capsys):
    tmp, config, rec = files
    assert run(["run", "--config", config, rec, "-o", "first.h5", "--quiet"], capsys)[0] == 0
    # the first run monitored the DVS layer: its layer-13 output is replayed as camera events
    code, out, err = run(["run", "--config", config, "first.h5", "-o", "second.h5", "--quiet"], capsys)
    assert code == 0, err
    first, second = load_run(tmp / "first.h5"), load_run(tmp / "second.h5")
    assert second.metadata["input"]["kind"] == "dvs"
    assert second.metadata["input"]["events"] == int(np.sum(first.outputs["layer"] == 13))
    # core 0's output (4 features, 32x32) into a network whose core 0 takes 4 features at 32x32
    cfg = ChipConfig()
    cfg.cnn_layers[0] = CnnLayerConfig.conv(np.ones((2, 4, 3, 3), np.int8), (32, 32), padding=1, threshold_high=5,
                                            monitor_enable=True)
    save_config(cfg, tmp / "after.json")
    code, out, err = run(["run", "--config", tmp / "after.json", "first.h5", "--layer-map", "0:0", "-o", "third.h5",
                          "--quiet", "--rezero"], capsys)
    assert code == 0, err
    third = load_run(tmp / "third.h5")
    assert third.stats[0]["events_in"] == np.sum(first.outputs["layer"] == 0)
    assert third.metadata["input"]["kind"] == "spike" and third.input_t_ns[0] == 0
    code, out, err = run(["run", "--config", tmp / "after.json", "first.h5", "--layer-map", "zero", "-o", "x.h5"],
                         capsys)
    assert code == 2 and "SRC:DST" in one_error_line(err)


def test_deadlock_exit_code(tmp_path, capsys):
    cfg = ChipConfig()
    cfg.dvs_layer.pooling = Vec2(4, 4)
    cfg.dvs_layer.destinations[0] = DvsDestination(layer=0, enable=True)
    cfg.cnn_layers[0] = CnnLayerConfig.conv(np.ones((4, 2, 1, 1), np.int8), (32, 32), destinations=[(1, 1, 0)])
    cfg.cnn_layers[1] = CnnLayerConfig.conv(np.ones((2, 4, 1, 1), np.int8), (32, 32), destinations=[(0, 1, 0)])
    save_config(cfg, tmp_path / "cycle.json")
    rec = write_npz(tmp_path / "r.npz", n=50)
    code, out, err = run(["run", "--config", tmp_path / "cycle.json", rec, "-o", tmp_path / "d.h5"], capsys)
    assert code == 4
    assert "warning: cores 0 -> 1 -> 0 form a cycle" in err
    assert "speksim: error: deadlock at t = " in err and "Traceback" not in err
    assert not (tmp_path / "d.h5").exists()


def test_interrupt_leaves_no_run_file(files, capsys, monkeypatch):
    tmp, config, rec = files

    def interrupted(self, events, chunk_events=0):
        raise KeyboardInterrupt

    monkeypatch.setattr(speksim.Simulation, "feed", interrupted)
    code, out, err = run(["run", "--config", config, rec, "-o", "i.h5"], capsys)
    assert code == 130 and "interrupted" in err
    assert not (tmp / "i.h5").exists() and not list(tmp.glob("*.tmp*"))


# ------------------------------------------------------------------------------------------ errors

def test_missing_recording(files, capsys):
    tmp, config, _ = files
    code, out, err = run(["run", "--config", config, tmp / "nope.npz"], capsys)
    assert code == 3 and "no such file" in one_error_line(err)


def test_bad_config(files, capsys):
    tmp, _, rec = files
    (tmp / "bad.json").write_text("{not json")
    code, out, err = run(["run", "--config", tmp / "bad.json", rec], capsys)
    assert code == 2 and "not valid JSON" in one_error_line(err)
    code, out, err = run(["run", "--config", tmp / "absent.json", rec], capsys)
    assert code == 2 and "absent.json" in one_error_line(err)


def test_unknown_chip(files, capsys):
    tmp, config, rec = files
    code, out, err = run(["run", "--chip", "speck9", "--config", config, rec], capsys)
    assert code == 2 and "no chip named 'speck9'" in one_error_line(err)


def test_corrupt_recording(files, capsys):
    tmp, config, _ = files
    bad = tmp / "broken.npz"
    bad.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 4)
    code, out, err = run(["run", "--config", config, bad], capsys)
    assert code == 3 and "broken.npz" in one_error_line(err)
    code, out, err = run(["info", bad], capsys)
    assert code == 3 and "broken.npz" in one_error_line(err)


def test_debug_shows_the_traceback(files, capsys):
    tmp, config, _ = files
    code, out, err = run(["run", "--debug", "--config", config, tmp / "nope.npz"], capsys)
    assert code == 3 and "Traceback" in err and "speksim: error:" in err


def test_usage_errors(files, capsys):
    tmp, config, rec = files
    code, out, err = run(["run", "--config", config, rec, "--bin-us", 0], capsys)
    assert code == 2 and "--bin-us" in one_error_line(err)
    assert run(["run", "--config", config], capsys)[0] == 2          # argparse: RECORDING missing
    assert run([], capsys)[0] == 2
    assert run(["--version"], capsys)[0] == 0


# ------------------------------------------------------------------------------- check, describe

def test_check(files, capsys):
    tmp, config, _ = files
    code, out, err = run(["check", "--config", config], capsys)
    assert code == 0 and "valid for speck2f" in out
    cfg = net()
    cfg.cnn_layers[0].threshold_low = 0
    cfg.cnn_layers[1].dimensions.kernel_size = 40
    save_config(cfg, tmp / "wrong.json")
    code, out, err = run(["check", "--chip", "speck2e", "--config", tmp / "wrong.json"], capsys)
    assert code == 2 and "2 problems" in err
    assert "core 0: threshold_low" in err and "core 1: dimensions.kernel_size" in err
    code, out, err = run(["check", "--config", tmp / "none.json"], capsys)
    assert code == 2 and "no such file" in one_error_line(err)
    code, out, err = run(["check", "--chip", "nochip", "--config", config], capsys)
    assert code == 2 and "no chip named" in one_error_line(err)


def test_describe(capsys):
    code, out, err = run(["describe"], capsys)
    assert code == 0 and "[timing.core]" in out and "synop_ns" in out and " est " in out
    code, out, err = run(["describe", "dynapcnn", "--json"], capsys)
    data = json.loads(out)
    assert code == 0 and data["name"] == "dynapcnn"
    row = {r["name"]: r for r in data["parameters"]}["has_decimator"]
    assert row["value"] is False and row["source"] == "doc" and row["reason"]
    assert {r["name"] for r in data["parameters"]} == {p.name for p in speksim.chip.PARAMETERS}
    code, out, err = run(["describe", "nochip"], capsys)
    assert code == 2 and "no chip named" in one_error_line(err)


# ------------------------------------------------------------------------------------ info, plot

def test_info_recording_and_run_file(files, capsys):
    tmp, config, rec = files
    code, out, err = run(["info", rec], capsys)
    assert code == 0 and "npz recording" in out and "3,000" in out and "fits 128x128" in out
    assert run(["run", "--config", config, rec, "-o", "r.h5", "--quiet"], capsys)[0] == 0
    code, out, err = run(["info", "r.h5"], capsys)
    assert code == 0 and "speksim run file" in out and "speck2f" in out and "core0" in out
    code, out, err = run(["info", tmp / "missing.aedat4"], capsys)
    assert code == 3


def test_plot_command(files, capsys):
    tmp, config, rec = files
    assert run(["run", "--config", config, rec, "-o", "r.h5", "--quiet"], capsys)[0] == 0
    code, out, err = run(["plot", "r.h5"], capsys)
    assert code == 0 and len(list((tmp / "r-plots").glob("*.png"))) == 6
    code, out, err = run(["plot", rec], capsys)
    assert code == 3 and "not a speksim run file" in one_error_line(err)


# -------------------------------------------------------------------------------------------- demo

def test_demo_end_to_end(tmp_path, capsys):
    out_dir = tmp_path / "demo"
    code, out, err = run(["demo", "--out", out_dir, "--quiet"], capsys)
    assert code == 0, err
    res = load_run(out_dir / "demo.h5")
    assert set(np.unique(res.outputs["layer"])) == {0, 1, 2}  # every layer of the example network spikes
    assert (out_dir / "demo-config.json").is_file() and (out_dir / "demo-summary.csv").is_file()
    pngs = sorted(p.name for p in out_dir.glob("*.png"))
    assert len(pngs) == 6 and all((out_dir / p).stat().st_size > 10_000 for p in pngs)
    assert str(out_dir / "demo.h5") in out
    assert run(["check", "--config", out_dir / "demo-config.json"], capsys)[0] == 0


def test_bundled_traces_are_found_and_valid():
    from speksim._resources import bundled_traces, traces_dir
    folder = traces_dir()
    names = bundled_traces()
    assert names == ["burst", "moving_bar", "noise", "rotating_dot", "stall_chain", "stall_merge"]
    for name in names:
        p = folder / f"{name}.npz"
        assert p.stat().st_size < 300_000
        ev = speksim.io.read_events(p)
        speksim.validate_events(ev, "dvs", width=128, height=128)


# ---------------------------------------------------------------------------------------- progress

class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_line():
    buf = _Terminal()
    p = cli._common.Progress(enabled=True, stream=buf)
    p.update(1500, 2_000_000, 0.5, force=True)
    p.update(3000, None, 1.0, force=True)
    p.close()
    text = buf.getvalue()
    assert text.startswith("\r[") and "50%" in text and "100%" in text and "events/s" in text
    assert text.endswith("\n")
    log = io.StringIO()   # not a terminal: plain lines, no carriage returns, with an ETA
    p = cli._common.Progress(enabled=True, stream=log)
    p.update(1500, 2_000_000, 0.25, force=True)
    assert log.getvalue().startswith("speksim: ") and "\r" not in log.getvalue() and "ETA" in log.getvalue()
    quiet = io.StringIO()
    p = cli._common.Progress(enabled=False, stream=quiet)
    p.update(1, 1, force=True)
    p.close()
    assert quiet.getvalue() == ""


def test_the_progress_total_is_counted_beside_the_simulation(tmp_path):
    """The recording's events, counted by a thread while the simulation starts: the progress
    bar's total once done; a file the count cannot read leaves it unknown, for the simulation's
    own reading to report."""
    from speksim.cli.run import _Count
    rec = write_npz(tmp_path / "rec.npz", n=12_345)
    bad = tmp_path / "broken.npz"
    bad.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 4)
    window = dict(t_start_us=1000, t_end_us=None)
    expected = int(np.count_nonzero(np.load(rec)["t"] >= 1000))
    for path, total in ((rec, expected), (bad, None)):
        count = _Count(path, None, window)
        count._thread.join(timeout=60)
        assert not count._thread.is_alive() and count.total == total


def test_the_progress_shows_the_fraction_read_once_the_count_is_known(files):
    """While simulating, the progress gets the fraction of the recording read so far from the
    count beside the simulation: none before the count is known, then events read / events."""
    from speksim import io as sio
    from speksim.cli.run import _Count, _Source, simulate_source
    tmp, config, rec = files
    n = len(np.load(rec)["t"])
    calls = []

    class Recorder:
        def update(self, events, t_us, fraction=None, force=False):
            calls.append(fraction)

    for known in (False, True):
        count = _Count(rec, None, dict(t_start_us=None, t_end_us=None))
        count._thread.join(timeout=60)
        if not known:
            count.total = None          # as while the count is still running
        source = _Source(sio.iter_events(rec, chunk_events=700), "dvs", counting=count)
        calls.clear()
        read, fed, _ = simulate_source(source, speksim.Simulation(net(), keep_outputs=False),
                                       lambda ev, camera: ev, Recorder(), None)
        assert read == fed == n
        ends = np.minimum(np.arange(700, n + 700, 700), n)        # events read after each chunk
        assert calls == ((ends / n).tolist() if known else [None] * len(ends))


def test_a_run_with_progress_gives_the_bytes_of_a_quiet_one(files, capsys):
    """The count beside the simulation (for the progress bar) changes nothing in the run."""
    tmp, config, rec = files
    for name, flags in (("quiet.h5", ["--quiet"]), ("shown.h5", [])):
        code, _, err = run(["run", "--config", config, rec, "--chunk-events", "500", "-o", name] + flags, capsys)
        assert code == 0
    assert load_run(tmp / "quiet.h5").equals(load_run(tmp / "shown.h5"))


# ------------------------------------------------------------------------- check refuses what run refuses

def _five_core_file(tmp):
    """A configuration file with five cnn_layers entries (the chip has nine cores)."""
    d = json.loads((tmp / "net.json").read_text())
    d["cnn_layers"] = d["cnn_layers"][:5]
    path = tmp / "five.json"
    path.write_text(json.dumps(d))
    return path


@pytest.mark.parametrize("case", ["five_cores", "bin_zero", "leak_too_slow"])
def test_check_and_run_refuse_the_same_with_the_same_words(files, capsys, case):
    tmp, config, rec = files
    extra = []
    if case == "five_cores":
        config = _five_core_file(tmp)
        needle = "cnn_layers has 5 entries; speck2f has 9 cores"
    elif case == "bin_zero":
        extra = ["--bin-us", "0"]
        needle = "--bin-us is 0 µs; it must be in [0.001,"
    else:
        cfg = net()
        cfg.cnn_layers[0].leak_enable = True        # 4 x 32 x 32 neurons: a leak job of 83 + 4096 * 20 ns
        save_config(cfg, tmp / "leak.json")
        config = tmp / "leak.json"
        extra = ["--slow-clock-hz", "20000"]         # a period of 50,000 ns, shorter than the job
        needle = "core 0: a leak job over its 4096 neurons takes 82003 ns"
    code_c, out_c, err_c = run(["check", "--config", config] + extra, capsys)
    code_r, out_r, err_r = run(["run", "--config", config, rec, "-o", "x.h5"] + extra, capsys)
    assert code_c == code_r == 2
    assert needle in err_c, err_c
    assert err_c == err_r
    assert "RunOptions" not in err_c                  # the command line names its flags
    assert not (tmp / "x.h5").exists()


def test_debug_before_or_after_the_subcommand_shows_the_traceback(files, capsys):
    tmp, config, rec = files
    for argv in (["--debug", "info", tmp / "missing.aedat4"], ["info", "--debug", tmp / "missing.aedat4"]):
        code, out, err = run(argv, capsys)
        assert code == 3 and "Traceback" in err, argv
    code, out, err = run(["info", tmp / "missing.aedat4"], capsys)
    assert code == 3 and "Traceback" not in err


def test_python_dash_m_speksim_runs_the_command():
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, "-m", "speksim", "--version"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == f"speksim {speksim.__version__}"


def test_help_texts_name_what_exists(capsys):
    code, out, err = run(["run", "--help"], capsys)
    assert code == 0
    assert "speksim.save_config" in out and hasattr(speksim, "save_config") and hasattr(speksim, "load_config")
    for flag, default in (("--chunk-events", "200000"), ("--bin-us", "1000")):
        assert f"default: {default}" in out.split(f"\n  {flag}", 1)[1][:300], flag
    assert "aedat4" in out.split("\n  --format", 1)[1][:300]        # the formats are listed where asked for
    for sub in ("info", "plot", "check"):
        code, out, err = run([sub, "--help"], capsys)
        assert code == 0 and len(out.split("\n\n")[1].strip()) > 20, sub   # a description, not only usage


def test_info_on_an_outlier_timestamp_says_where_it_jumps(files, capsys):
    """One timestamp of 10^14 µs used to make info allocate a counter per millisecond of the span
    (745 GiB); now it reports the jump and where it is, in bounded memory."""
    tmp, config, rec = files
    t = np.arange(1000, dtype=np.int64) * 10
    t[500] = 10**14
    t[501:] += 10**14
    np.save(tmp / "jump.npy", np.rec.fromarrays([t, np.zeros(1000, np.uint16), np.zeros(1000, np.uint16),
                                                 np.ones(1000, np.uint8)], names="t,x,y,p"))
    code, out, err = run(["info", tmp / "jump.npy"], capsys)
    assert code == 0, err
    assert "events       1,000" in out
    assert "jump" in out and "event 500" in out, out
