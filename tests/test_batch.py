"""Batch replay (`speksim.batch`, `speksim batch`): one run file per recording, the same bytes
whatever the number of jobs, resuming only from run files that match, failed recordings reported
without stopping the others, and names that never collide."""

from __future__ import annotations

import csv

import h5py
import numpy as np
import pytest

from speksim import simulate
from speksim.batch import COLUMNS, _figures, batch, expand, run_file_names, table
from speksim.cli import main
from speksim.config import ChipConfig, CnnLayerConfig, DvsDestination, Vec2, save_config
from speksim.errors import ConfigError, MissingExtraError, ReaderError
from speksim.io import read_events
from speksim.io.fitplan import FitPlan
from speksim.runfile import load_run


def net(threshold=3) -> ChipConfig:
    """DVS (pooled 4x4, ON/OFF) → core 0 (2→4, 3x3 on 32x32), monitored with the DVS layer."""
    rng = np.random.default_rng(3)
    cfg = ChipConfig()
    cfg.dvs_layer.pooling = Vec2(4, 4)
    cfg.dvs_layer.destinations[0] = DvsDestination(layer=0, enable=True)
    cfg.dvs_layer.monitor_enable = True
    cfg.cnn_layers[0] = CnnLayerConfig.conv(rng.integers(0, 3, (4, 2, 3, 3)).astype(np.int8), (32, 32), padding=1,
                                            threshold_high=threshold, threshold_low=-8, monitor_enable=True)
    return cfg


def write_npz(path, n=1500, width=128, height=128, seed=0):
    """Camera noise: n events at random pixels over 20 ms."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, t=np.sort(rng.integers(0, 20_000, n)), x=rng.integers(0, width, n).astype(np.uint16),
             y=rng.integers(0, height, n).astype(np.uint16), p=rng.integers(0, 2, n).astype(np.uint8))
    return path


@pytest.fixture()
def recordings(tmp_path):
    """Four recordings, two of them with the same name in different folders."""
    data = tmp_path / "data"
    return [write_npz(data / "a" / "walk.npz", seed=1), write_npz(data / "b" / "walk.npz", seed=2),
            write_npz(data / "a" / "wave.npz", seed=3), write_npz(data / "clap.npz", seed=4)]


def contents(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.run.h5"))}


# ------------------------------------------------------------------------------------ results

def test_a_batch_run_file_holds_the_simulation_of_its_recording(tmp_path, recordings):
    rows = batch(net(), "speck2f", recordings, tmp_path / "out", jobs=1)
    assert [r["status"] for r in rows] == ["ok"] * 4
    for path, row in zip(recordings, rows):
        # the same configuration simulated directly, on the events as read (no fitting needed)
        want = simulate(net(), read_events(path), "speck2f")
        got = load_run(tmp_path / "out" / row["run_file"])
        assert np.array_equal(got.outputs, want.outputs) and np.array_equal(got.lag_ns, want.lag_ns)
        assert np.array_equal(got.stats, want.stats)
        assert got.metadata["input_file"]["name"] == path.name
        assert got.metadata["input"] == want.metadata["input"]
        assert "command_line" not in got.metadata       # nothing of how the batch ran
        # the row's figures, from the direct run
        assert row["events"] == len(want.input_t_ns) and row["outputs"] == len(want.outputs)
        assert row["t_end_ns"] == want.t_end_ns and row["lag_max_ns"] == int(want.lag_ns.max())
        assert row["stall_ns"] == sum(int(want.stats[b]["stall_ns"]) for b in list(range(9)) + [9])
        assert row["realtime_factor"] > 0 and row["detail"] == ""
        # the lags are read in blocks (flat memory for long runs): small blocks give the same figures
        small = _figures(tmp_path / "out" / row["run_file"], block=7)
        assert {k: row[k] for k in small if k != "_span_ns"} == {k: v for k, v in small.items() if k != "_span_ns"}


def test_a_batch_stores_every_metadata_entry_as_a_direct_save_does(tmp_path, recordings):
    # the batch writes its configuration's text made once for all its run files; a run saved
    # directly makes it from the Result: both must be the same bytes, and so must the rest
    from speksim import save_run
    rows = batch(net(), "speck2f", recordings[:1], tmp_path / "out", jobs=1)
    direct = save_run(simulate(net(), read_events(recordings[0]), "speck2f"), tmp_path / "direct.h5")
    with h5py.File(tmp_path / "out" / rows[0]["run_file"], "r") as a, h5py.File(direct, "r") as b:
        for key in ("config", "chip", "options", "engine", "input", "warnings"):   # not output: kept or not
            assert a["metadata"][key][()] == b["metadata"][key][()], key
        assert b"threshold_high" in a["metadata/config"][()]


def test_a_run_writer_stores_given_metadata_texts_as_they_are(tmp_path, recordings):
    from speksim.runfile import RunWriter
    from speksim.simulation import Simulation
    with RunWriter(tmp_path / "run.h5") as writer:
        sim = Simulation(net(), "speck2f", keep_outputs=False, sink=writer)
        sim.feed(read_events(recordings[0]))
        result = sim.finish()
        writer.finish(result, metadata_texts={"config": '{"given": true}'})
    with h5py.File(tmp_path / "run.h5", "r") as f:
        assert f["metadata/config"][()] == b'{"given": true}'
    # the entry given as text was never built from the configuration
    from speksim.result import Later
    assert isinstance(result.__dict__["_metadata"]["config"], Later)


def test_one_job_or_two_give_the_same_bytes_and_rows(tmp_path, recordings):
    one = batch(net(), "speck2f", recordings, tmp_path / "one", jobs=1)
    two = batch(net(), "speck2f", recordings, tmp_path / "two", jobs=2)
    assert contents(tmp_path / "one") == contents(tmp_path / "two")
    assert len(contents(tmp_path / "one")) == 4
    # rows in the order of the recordings, whatever order the pool finished them in
    drop = lambda rows: [{k: v for k, v in r.items() if k != "realtime_factor"} for r in rows]  # noqa: E731
    assert drop(one) == drop(two)
    assert [r["recording"] for r in two] == [str(p) for p in recordings]


def test_by_default_a_batch_runs_on_the_cores_the_process_may_use(tmp_path, recordings, monkeypatch):
    """A process that may use one core (a container's or a job scheduler's limit) runs its batch
    in itself, not in a pool of as many processes as the machine has cores."""
    import concurrent.futures
    import os
    if not hasattr(os, "sched_getaffinity"):
        pytest.skip("this system does not say which cores a process may use")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    monkeypatch.setattr(os, "cpu_count", lambda: 64)

    def no_pool(*args, **kwargs):
        raise AssertionError("a pool of worker processes was started")

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", no_pool)
    rows = batch(net(), "speck2f", recordings, tmp_path / "out")
    assert [r["status"] for r in rows] == ["ok"] * 4


def test_the_summary_csv_has_a_row_per_recording(tmp_path, recordings):
    rows = batch(net(), "speck2f", recordings, tmp_path / "out", jobs=1)
    with open(tmp_path / "out" / "summary.csv", newline="") as fh:
        got = list(csv.DictReader(fh))
    assert list(got[0]) == list(COLUMNS)
    assert [(g["recording"], int(g["events"]), int(g["outputs"])) for g in got] == \
           [(r["recording"], r["events"], r["outputs"]) for r in rows]
    assert "4 recordings: 4 simulated, 0 kept" in table(rows)


def test_the_bytes_do_not_depend_on_when_datasets_are_released(tmp_path, recordings, monkeypatch):
    """A Dask worker samples its threads' stacks (its profiler), which keeps the writer's frames,
    and so its h5py datasets, alive a little longer at random moments. The run file must not
    depend on that: here every dataset is kept alive until the file is written."""
    import h5py
    plain = batch(net(), "speck2f", recordings[:2], tmp_path / "plain", jobs=1)
    held, create = [], h5py.Group.create_dataset

    def create_and_hold(self, *args, **kwargs):
        ds = create(self, *args, **kwargs)
        held.append(ds)
        return ds
    monkeypatch.setattr(h5py.Group, "create_dataset", create_and_hold)
    batch(net(), "speck2f", recordings[:2], tmp_path / "held", jobs=1)
    assert len(held) > 10 and all(r["outputs"] > 4096 for r in plain)     # chunked, compressed outputs
    assert contents(tmp_path / "held") == contents(tmp_path / "plain")


# ------------------------------------------------------------------------------------ resuming

def test_a_second_batch_keeps_verified_files_untouched(tmp_path, recordings):
    out = tmp_path / "out"
    first = batch(net(), "speck2f", recordings, out, jobs=1)
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("*.run.h5")}
    again = batch(net(), "speck2f", recordings, out, jobs=1)
    assert [r["status"] for r in again] == ["kept"] * 4
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.run.h5")} == before
    # a kept row has the same figures, read from the file; only the speed is unknown
    for a, b in zip(first, again):
        assert {k: v for k, v in a.items() if k not in ("realtime_factor", "status")} == \
               {k: v for k, v in b.items() if k not in ("realtime_factor", "status")}
        assert b["realtime_factor"] is None
    assert [r["status"] for r in batch(net(), "speck2f", recordings, out, jobs=1, resume=False)] == ["ok"] * 4


def test_incomplete_or_mismatching_files_are_simulated_again(tmp_path, recordings):
    out = tmp_path / "out"
    batch(net(), "speck2f", recordings, out, jobs=1)
    good = contents(out)
    names = run_file_names(recordings)
    with h5py.File(out / names[0], "r+") as f:        # as if the writing had stopped before the end
        f.attrs["complete"] = False
    (out / names[1]).write_bytes(b"not a run file")
    write_npz(recordings[2], seed=99)                  # the recording changed since
    rows = batch(net(), "speck2f", recordings, out, jobs=1)
    assert [r["status"] for r in rows] == ["ok", "ok", "ok", "kept"]
    assert "incomplete" in rows[0]["detail"]
    assert "not a speksim run file" in rows[1]["detail"]
    assert "another recording" in rows[2]["detail"]
    after = contents(out)
    assert after[names[0]] == good[names[0]] and after[names[1]] == good[names[1]]
    assert after[names[2]] != good[names[2]]


@pytest.mark.parametrize("change, needle", [
    (dict(config=net(threshold=4)), "another configuration"),
    (dict(chip=__import__("speksim").load_chip("speck2f").with_overrides(["fifo_depth=8"])), "another chip"),
    (dict(fit=FitPlan(polarity="merge")), "polarity"),
    (dict(t_end_us=10_000), "t_end_us"),
])
def test_a_change_of_settings_simulates_everything_again(tmp_path, recordings, change, needle):
    out = tmp_path / "out"
    batch(net(), "speck2f", recordings[:2], out, jobs=1)
    args = {"config": net(), "chip": "speck2f", **change}
    rows = batch(args.pop("config"), args.pop("chip"), recordings[:2], out, jobs=1, **args)
    assert [r["status"] for r in rows] == ["ok", "ok"]
    assert all(needle in r["detail"] for r in rows), rows


# ------------------------------------------------------------------------------------ failures

def test_a_failing_recording_does_not_stop_the_batch(tmp_path, recordings):
    bad = tmp_path / "data" / "broken.aedat"
    bad.write_bytes(b"#!AER-DAT2.0\r\n" + b"\x00\x01\x02")                   # cut in its first event
    wide = write_npz(tmp_path / "data" / "wide.npz", width=240, height=180)  # larger than the chip's input
    missing = tmp_path / "data" / "missing.npz"
    rows = batch(net(), "speck2f", [recordings[0], bad, wide, missing, recordings[3]], tmp_path / "out", jobs=2)
    assert [r["status"] for r in rows] == ["ok", "failed", "failed", "failed", "ok"]
    assert "broken.aedat" in rows[1]["detail"]
    assert "outside [0, 128)" in rows[2]["detail"]
    assert "no such file" in rows[3]["detail"]
    assert all(r["events"] is None for r in rows[1:4])
    assert sorted(contents(tmp_path / "out")) == sorted([rows[0]["run_file"], rows[4]["run_file"]])
    # fitted to the chip, the wide recording runs
    rows = batch(net(), "speck2f", [wide], tmp_path / "out", jobs=1, fit=FitPlan(fit="crop"))
    assert rows[0]["status"] == "ok" and rows[0]["events"] > 0


def test_a_configuration_the_chip_refuses_stops_before_any_work(tmp_path, recordings):
    cfg = net()
    cfg.cnn_layers[0].destinations[0].enable = True
    cfg.cnn_layers[0].destinations[0].layer = 7                        # a core not in use
    with pytest.raises(ConfigError):
        batch(cfg, "speck2f", recordings, tmp_path / "out", jobs=1)
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------------ names and patterns

def test_names_never_collide(tmp_path):
    paths = [tmp_path / "a" / "walk.npz", tmp_path / "b" / "walk.npz", tmp_path / "a" / "walk.aedat4",
             tmp_path / "c" / "Walk.npz", tmp_path / "clap.npz", tmp_path / "a" / "clap-2.npz"]
    names = run_file_names(paths)
    # the four stems 'walk' (in any case) share the folder tmp_path: named by their path from it
    assert names[:4] == ["a+walk.npz.run.h5", "b+walk.npz.run.h5", "a+walk.aedat4.run.h5", "c+Walk.npz.run.h5"]
    assert names[4:] == ["clap.run.h5", "clap-2.run.h5"]
    assert len({n.casefold() for n in names}) == len(names)
    # a name taken by another recording's stem gets the next free number
    assert run_file_names([tmp_path / "x" / "a+b.npz", tmp_path / "a" / "b.npz", tmp_path / "b" / "b.npz",
                           tmp_path / "a+b.npz"]) == \
        ["x+a+b.npz.run.h5", "a+b.npz.run.h5", "b+b.npz.run.h5", "a+b.npz-2.run.h5"]


def test_patterns_expand_in_order_once_and_skip_the_batch_output(tmp_path, recordings):
    data = tmp_path / "data"
    got = expand([str(data / "**" / "*.npz"), str(recordings[0])], out_dir=data)
    assert got == sorted(got) and set(got) == set(recordings)
    (data / "clap.run.h5").write_bytes(b"")            # the batch's own output, written into data/
    (data / "summary.csv").write_text("")
    assert expand([str(data / "*")], out_dir=data) == [recordings[3]]
    with pytest.raises(ReaderError, match="no file matches"):
        expand([str(data / "*.aedat4")])


# ------------------------------------------------------------------------------------ the command

def test_the_batch_command(tmp_path, recordings, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    save_config(net(), tmp_path / "net.json")
    (tmp_path / "data" / "bad.npz").write_bytes(b"nonsense")
    argv = ["batch", "data/**/*.npz", "--config", "net.json", "-o", "runs", "--jobs", "2"]
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 3                                    # a recording failed
    assert "bad.npz" in err and "warning" in err
    assert "5 recordings: 4 simulated, 0 kept (already done), 1 failed" in out
    assert len(list((tmp_path / "runs").glob("*.run.h5"))) == 4 and (tmp_path / "runs" / "summary.csv").is_file()
    (tmp_path / "data" / "bad.npz").unlink()
    code = main(argv + ["--polarity", "merge"])
    out, err = capsys.readouterr()
    assert code == 0 and "4 recordings: 4 simulated" in out
    assert err.count("speksim: note:") == 4 and "polarity" in err
    assert main(argv + ["--polarity", "merge", "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert out == "" and err == ""
    assert main(argv + ["--jobs", "0"]) == 2
    assert "--jobs must be at least 1" in capsys.readouterr().err
    # a grid: the four recordings at point 0 (the chip as given) and at one grid point
    assert main(argv[:-2] + ["--jobs", "1", "-o", "grid", "--grid", "core.0.synop_ns=40"]) == 0
    out = capsys.readouterr().out
    assert "8 runs: 8 simulated" in out and "core.0.synop_ns" in out
    assert len(list((tmp_path / "grid").glob("point[01]/*.run.h5"))) == 8
    assert main(argv[:-2] + ["--jobs", "1", "-o", "grid", "--grid", "core.0.nonsense=1"]) == 2
    assert "nonsense" in capsys.readouterr().err


# ------------------------------------------------------------------------------------ Dask

def test_without_dask_the_error_says_which_extra(tmp_path, recordings, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "distributed", None)     # as if it were not installed
    with pytest.raises(MissingExtraError, match=r"speksim\[dask\]"):
        batch(net(), "speck2f", recordings, tmp_path / "out", dask=2)
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed", reason="the Dask tests need the dask extra: "
                                                            "pip install 'speksim[dask]'")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as c:
        yield c


def test_a_dask_cluster_writes_the_same_bytes_as_local_processes(tmp_path, recordings, cluster, capsys):
    import distributed
    local = batch(net(), "speck2f", recordings, tmp_path / "local", jobs=1)
    with distributed.Client(cluster) as client:
        remote = batch(net(), "speck2f", recordings, tmp_path / "dask", dask=client)
    drop = lambda rows: [{k: v for k, v in r.items() if k != "realtime_factor"} for r in rows]  # noqa: E731
    assert drop(remote) == drop(local), remote
    got, want = contents(tmp_path / "dask"), contents(tmp_path / "local")
    assert sorted(got) == sorted(want) and len(want) == 4
    assert [n for n in want if got[n] != want[n]] == [], [load_run(tmp_path / "dask" / n).metadata for n in want]
    # the command, on the same cluster by its address: everything is already done
    save_config(net(), tmp_path / "net.json")
    code = main(["batch", *map(str, recordings), "--config", str(tmp_path / "net.json"), "-o", str(tmp_path / "dask"),
                 "--scheduler", cluster.scheduler_address])
    out, err = capsys.readouterr()
    assert code == 0 and "4 recordings: 0 simulated, 4 kept" in out, err
    assert main(["batch", *map(str, recordings), "--config", str(tmp_path / "net.json"), "-o",
                 str(tmp_path / "dask"), "--scheduler", cluster.scheduler_address, "--jobs", "2"]) == 2
    assert "--jobs sets the local worker processes" in capsys.readouterr().err


def test_a_local_dask_cluster_from_the_command(tmp_path, recordings, cluster, capsys):
    save_config(net(), tmp_path / "net.json")
    batch(net(), "speck2f", recordings[:2], tmp_path / "local", jobs=1)
    code = main(["batch", *map(str, recordings[:2]), "--config", str(tmp_path / "net.json"),
                 "-o", str(tmp_path / "dask"), "--dask-local", "1", "--quiet"])
    assert code == 0, capsys.readouterr().err
    assert contents(tmp_path / "dask") == contents(tmp_path / "local")


# ------------------------------------------------------------------------------------ a grid

def test_a_grid_runs_every_point_over_every_recording(tmp_path, recordings):
    from speksim import load_chip
    out = tmp_path / "out"
    rows = batch(net(), "speck2f", recordings[:2], out, jobs=2, grid=["core.0.synop_ns=5,40"])
    # recordings outer, points inner (0: the chip as given, then the grid's values in order)
    assert [(r["recording"], r["point"], r["core.0.synop_ns"]) for r in rows] == [
        (str(recordings[0]), 0, str(load_chip("speck2f").synop_ns[0])), (str(recordings[0]), 1, "5"),
        (str(recordings[0]), 2, "40"), (str(recordings[1]), 0, str(load_chip("speck2f").synop_ns[0])),
        (str(recordings[1]), 1, "5"), (str(recordings[1]), 2, "40")]
    assert list(rows[0])[:4] == ["recording", "point", "core.0.synop_ns", "run_file"]
    assert rows[2]["run_file"] == "point2/" + run_file_names(recordings[:2])[0]
    # point 0 is the plain batch; point 2 the batch of a chip with the override
    plain = batch(net(), "speck2f", recordings[:2], tmp_path / "plain", jobs=1)
    slow = batch(net(), load_chip("speck2f").with_overrides(["core.0.synop_ns=40"]), recordings[:2],
                 tmp_path / "slow", jobs=1)
    assert contents(out / "point0") == contents(tmp_path / "plain")
    for grid_row, row in zip(rows[2::3], slow):
        a, b = load_run(out / grid_row["run_file"]), load_run(tmp_path / "slow" / row["run_file"])
        assert np.array_equal(a.outputs, b.outputs) and np.array_equal(a.stats, b.stats)
        assert a.metadata["chip"]["parameters"]["synop_ns"]["value"][0] == 40
    assert [r["t_end_ns"] for r in rows[::3]] == [r["t_end_ns"] for r in plain]
    again = batch(net(), "speck2f", recordings[:2], out, jobs=1, grid=["core.0.synop_ns=5,40"])
    assert [r["status"] for r in again] == ["kept"] * 6
    assert "6 runs: 0 simulated, 6 kept" in table(again)
