"""Run files: round trip, byte determinism, atomic writes, refusals; replay; CSV summary."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import h5py
import numpy as np
import pytest

import speksim
from speksim import _files, runfile
from speksim.config import ChipConfig, CnnLayerConfig, DvsDestination, Vec2
from speksim.errors import EventError, RunFileError
from speksim.events import DVS_EVENT, SPIKE_EVENT
from speksim.result import STATS_DTYPE
from speksim.io.runfiles import run_outputs_as_dvs, run_outputs_as_spikes
from speksim.runfile import (
    export_csv_summary,
    is_run_file,
    load_run,
    save_run,
    temporary_file_note,
)

CHECKOUT = Path(__file__).resolve().parent.parent


def small_config(monitor_dvs=True) -> ChipConfig:
    """DVS (pooled 4x4 → 32x32, ON/OFF) → core 0 (2→4, 3x3) → core 1 (pooled 2x2, 4→2, 3x3)."""
    rng = np.random.default_rng(7)
    cfg = ChipConfig()
    cfg.dvs_layer.pooling = Vec2(4, 4)
    cfg.dvs_layer.destinations[0] = DvsDestination(layer=0, enable=True)
    cfg.dvs_layer.monitor_enable = monitor_dvs
    cfg.cnn_layers[0] = CnnLayerConfig.conv(rng.integers(0, 3, (4, 2, 3, 3)).astype(np.int8), (32, 32), padding=1,
                                            threshold_high=3, threshold_low=-8, destinations=[(1, 2, 0)],
                                            monitor_enable=True)
    cfg.cnn_layers[1] = CnnLayerConfig.conv(rng.integers(0, 3, (2, 4, 3, 3)).astype(np.int8), (16, 16), padding=1,
                                            threshold_high=4, threshold_low=-8, monitor_enable=True)
    return cfg


def dvs_events(n=5000, t_end_us=20_000, seed=1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return speksim.make_events("dvs", t=np.sort(rng.integers(0, t_end_us, n)), x=rng.integers(0, 128, n),
                               y=rng.integers(0, 128, n), p=rng.integers(0, 2, n))


@pytest.fixture(autouse=True)
def ctrl_c_raises():
    """Ctrl-C raises KeyboardInterrupt, as in a terminal, even when the tests were started with
    SIGINT ignored (a background job of a non-interactive shell inherits that)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.fixture(scope="module")
def result():
    return speksim.simulate(small_config(), dvs_events(), options=speksim.RunOptions(bin_ns=500_000))


def _tmp_files(folder):
    return sorted(p.name for p in folder.iterdir() if ".tmp" in p.name)


# ----------------------------------------------------------------------------------------- round trip

def test_round_trip_equals(result, tmp_path):
    assert len(result.outputs) > 100 and set(np.unique(result.outputs["layer"])) == {0, 1, 13}
    path = save_run(result, tmp_path / "run.h5", input_name="rec.npz", input_size=1234, input_sha256="ab" * 32,
                    command_line=["speksim", "run", "a b.npz"])
    back = load_run(path)
    assert back.equals(result)
    assert np.array_equal(back.input_t_ns, result.input_t_ns)
    assert back.bin_ns == result.bin_ns == 500_000 and back.t_end_ns == result.t_end_ns
    assert back.stats.dtype == STATS_DTYPE and list(back.stats["block"]) == list(result.stats["block"])
    assert back.outputs.dtype == speksim.OUTPUT_EVENT
    assert sorted(back.states) == [0, 1] and back.states[0].dtype == np.int16
    for key, value in result.metadata.items():
        assert back.metadata[key] == json.loads(json.dumps(value)), key
    assert back.metadata["input_file"] == {"name": "rec.npz", "size_bytes": 1234, "sha256": "ab" * 32}
    assert back.metadata["command_line"] == "speksim run 'a b.npz'"
    assert back.summary() == result.summary()


def test_file_holds_the_documented_layout(result, tmp_path):
    path = save_run(result, tmp_path / "run.h5")
    with h5py.File(path, "r") as f:
        assert f.attrs["format"] == "speksim-run" and int(f.attrs["schema_version"]) == runfile.SCHEMA_VERSION
        assert bool(f.attrs["complete"]) and list(f.attrs)[-1] == "complete"
        assert {"outputs", "stats", "input", "series", "states", "metadata"} <= set(f)
        assert f["input/t_ns"].attrs["unit"] == "ns" and f["series/fifo_area"].attrs["unit"] == "slot*ns"
        assert f["series"].attrs["blocks"].split(",")[-1] == "host_out"
        config = json.loads(f["metadata/config"][()])
        chip = json.loads(f["metadata/chip"][()])
    assert speksim.config.configs_equal(speksim.config.config_from_dict(config), small_config())
    assert chip["parameters"]["synop_ns"]["source"] in ("doc", "code", "est", "unk")


def test_empty_result_round_trips(tmp_path):
    cfg = small_config()
    res = speksim.simulate(cfg, np.zeros(0, DVS_EVENT))
    back = load_run(save_run(res, tmp_path / "empty.h5"))
    assert back.equals(res) and len(back.outputs) == 0 and len(back.input_t_ns) == 0


# ------------------------------------------------------------------------------------- determinism

def test_same_result_gives_identical_bytes(result, tmp_path):
    a = save_run(result, tmp_path / "a.h5", input_name="x.npz", command_line="speksim run x.npz")
    time.sleep(1.1)  # object timestamps, if any were written, would now differ
    (tmp_path / "sub").mkdir()
    b = save_run(result, tmp_path / "sub" / "b.h5", input_name="x.npz", command_line="speksim run x.npz")
    assert a.read_bytes() == b.read_bytes()


def test_csv_summary_is_deterministic_and_lists_used_blocks(result, tmp_path):
    a = export_csv_summary(result, tmp_path / "a.csv")
    b = export_csv_summary(result, tmp_path / "b.csv")
    assert a.read_bytes() == b.read_bytes()
    rows = list(csv.DictReader(a.open()))
    assert [r["block"] for r in rows] == ["core0", "core1", "dvs", "host_out"]
    assert list(rows[0]) == ["block"] + list(runfile.CSV_COLUMNS)
    assert int(rows[0]["synops"]) == int(result.stats[0]["synops"])
    assert float(rows[0]["utilisation"]) == pytest.approx(result.stats[0]["busy_ns"] / result.t_end_ns, abs=1e-6)


# ------------------------------------------------------------------------------------------ atomicity

@pytest.mark.parametrize("exc", [RuntimeError("disk on fire"), KeyboardInterrupt()])
def test_failure_mid_write_leaves_no_file(result, tmp_path, monkeypatch, exc):
    real = runfile._write_tail

    def broken(f, res, metadata):
        real(f, res, metadata)   # most of the file is written ...
        f.flush()
        raise exc                # ... then the write fails before `complete`

    monkeypatch.setattr(runfile, "_write_tail", broken)
    with pytest.raises(type(exc)):
        save_run(result, tmp_path / "run.h5")
    assert list(tmp_path.iterdir()) == []


def test_failure_while_a_streamed_run_file_is_written_leaves_no_file(tmp_path, monkeypatch):
    """RunWriter.finish writes through the same atomic path as save_run."""
    def broken(f, res, metadata):
        raise OSError("no space left")

    monkeypatch.setattr(runfile, "_write_tail", broken)
    with pytest.raises(OSError):
        _streamed(tmp_path / "run.h5", chunk=500)
    assert list(tmp_path.iterdir()) == []


def test_failure_keeps_the_previous_file(result, tmp_path, monkeypatch):
    path = save_run(result, tmp_path / "run.h5")
    before = path.read_bytes()

    def broken(f, res, metadata):
        raise OSError("no space left")

    monkeypatch.setattr(runfile, "_write_tail", broken)
    with pytest.raises(OSError):
        save_run(result, path)
    assert path.read_bytes() == before and _tmp_files(tmp_path) == []


# ----------------------------------------------------------------------------------------- interrupts

class _Freed:
    pass


def _sigint_in_a_weakref_callback():
    """Deliver a real SIGINT so that its Python handler runs inside a weakref callback.

    This is where h5py loses Ctrl-C: its registry of HDF5 identifiers is a WeakValueDictionary
    whose removal callback runs whenever an identifier is freed, and a KeyboardInterrupt raised
    inside a callback is only reported ("Exception ignored"), never propagated. A signal that
    arrives while HDF5 writes is handled at the first Python instruction after the write, often
    that callback; here the signal is sent from the callback itself, so it is handled there
    every time.
    """
    def send(_ref):
        signal.raise_signal(signal.SIGINT)
        for _ in range(3):  # a backward jump: pending signal handlers run here at the latest
            pass
    obj = _Freed()
    ref = weakref.ref(obj, send)
    del obj
    return ref


# the first dataset, one in a group, the time series, the last dataset, the last text
@pytest.mark.parametrize("at", ["outputs", "lag_ns", "fifo_area", "core1", "command_line"])
def test_ctrl_c_while_writing_is_raised_and_leaves_nothing(result, tmp_path, monkeypatch, at):
    real_dataset, real_text = runfile._dataset, runfile._text

    def dataset(parent, name, *args, **kw):
        out = real_dataset(parent, name, *args, **kw)
        if name == at:
            _sigint_in_a_weakref_callback()
        return out

    def text(parent, name, *args, **kw):
        out = real_text(parent, name, *args, **kw)
        if name == at:
            _sigint_in_a_weakref_callback()
        return out

    monkeypatch.setattr(runfile, "_dataset", dataset)
    monkeypatch.setattr(runfile, "_text", text)
    with pytest.raises(KeyboardInterrupt):
        save_run(result, tmp_path / "run.h5", command_line=["speksim", "run"])
    assert list(tmp_path.iterdir()) == []
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # Ctrl-C works as before afterwards


@pytest.mark.parametrize("where", ["flush", "fsync", "replace"])
def test_ctrl_c_after_the_last_dataset_leaves_nothing(result, tmp_path, monkeypatch, where):
    """Interrupts between the last dataset and the rename: a signal during the final flush, and a
    KeyboardInterrupt raised by the sync or by the rename itself."""
    if where == "flush":
        real_flush = h5py.File.flush

        def flush(self):
            real_flush(self)
            _sigint_in_a_weakref_callback()
        monkeypatch.setattr(h5py.File, "flush", flush)
    else:
        def interrupted(*args):
            raise KeyboardInterrupt
        monkeypatch.setattr(_files.os, where, interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_run(result, tmp_path / "run.h5")
    assert list(tmp_path.iterdir()) == []


def test_own_sigint_handler_is_called_once_and_restored(result, tmp_path, monkeypatch):
    """A program's own SIGINT handler (one that does not raise) still hears the interrupt, once,
    after the dataset being written; the file is then written in full."""
    calls = []

    def handler(signum, frame):
        calls.append(signum)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        real_dataset = runfile._dataset

        def dataset(parent, name, *args, **kw):
            out = real_dataset(parent, name, *args, **kw)
            if name == "lag_ns":
                _sigint_in_a_weakref_callback()
            return out

        monkeypatch.setattr(runfile, "_dataset", dataset)
        path = save_run(result, tmp_path / "run.h5")
        assert signal.getsignal(signal.SIGINT) is handler
    finally:
        signal.signal(signal.SIGINT, previous)
    assert calls == [signal.SIGINT]
    assert load_run(path).equals(result) and _tmp_files(tmp_path) == []


def _child_env():
    env = dict(os.environ)
    # the child imports this checkout, whatever speksim is installed
    env["PYTHONPATH"] = os.pathsep.join([str(CHECKOUT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep)
                                                           if p])
    return env


_CLI_INTERRUPTED_WHILE_WRITING = """
import signal, sys, weakref
signal.signal(signal.SIGINT, signal.default_int_handler)   # as in a terminal, whatever started the tests
from speksim import runfile
from speksim.cli import main

real = runfile._write_tail

class Freed:
    pass

def send(_ref):
    signal.raise_signal(signal.SIGINT)
    for _ in range(3):
        pass

def write_tail(f, result, metadata):
    obj = Freed()        # the run file is half written: outputs, statistics and inputs, not the rest
    ref = weakref.ref(obj, send)
    del obj
    real(f, result, metadata)

runfile._write_tail = write_tail
sys.exit(main(sys.argv[1:]))
"""


def test_ctrl_c_while_the_command_writes_the_run_file_exits_130(tmp_path):
    """End to end: `speksim run` receives SIGINT while it writes the run file (delivered the way
    h5py would swallow it, see `_sigint_in_a_weakref_callback`)."""
    from speksim.config import save_config
    config = tmp_path / "net.json"
    save_config(small_config(), config)
    rec = tmp_path / "rec.npz"
    ev = dvs_events(n=500)
    np.savez(rec, t=ev["t"], x=ev["x"], y=ev["y"], p=ev["p"])
    proc = subprocess.run([sys.executable, "-c", _CLI_INTERRUPTED_WHILE_WRITING, "run", "--config", str(config),
                           str(rec), "-o", "out.h5", "--quiet"], cwd=tmp_path, env=_child_env(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 130, proc.stderr
    assert "speksim: interrupted" in proc.stderr
    assert "Exception ignored" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.json", "rec.npz"]


# ------------------------------------------------------------------------------- killed mid-write

def _dead_pid() -> int:
    """The id of a process that has ended and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


posix_only = pytest.mark.skipif(os.name != "posix", reason="liveness of other processes is probed on POSIX only; "
                                                          "elsewhere every temporary file is kept")


@posix_only
def test_next_write_removes_temporaries_of_dead_writers_only(result, tmp_path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        dead = f"run.h5.tmp-{_dead_pid()}-0123abcd"
        live = f"run.h5.tmp-{sleeper.pid}-89abcdef"
        mine = f"run.h5.tmp-{os.getpid()}-deadbeef"  # another thread of this process may be writing it
        other = f"other.h5.tmp-{_dead_pid()}-0123abcd"  # leftover of another path: left to its own writes
        unrelated = "run.h5.tmp-notes"
        for name in (dead, live, mine, other, unrelated):
            (tmp_path / name).write_bytes(b"partial")
        save_run(result, tmp_path / "run.h5")
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["run.h5", live, mine, other, unrelated])
    finally:
        sleeper.kill()
        sleeper.wait()


_KILLED_WHILE_WRITING = """
import sys, time
from speksim import runfile

real = runfile._dataset

def dataset(parent, name, *args, **kw):
    out = real(parent, name, *args, **kw)
    if name == "lag_ns":
        parent.file.flush()
        print("writing", flush=True)
        time.sleep(600)  # killed here, the run file half written
    return out

runfile._dataset = dataset
runfile.save_run(runfile.load_run(sys.argv[1]), sys.argv[2])
"""


@posix_only
def test_kill_9_mid_write_leftover_is_explained_then_removed(result, tmp_path):
    src = save_run(result, tmp_path / "src.h5")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    child = subprocess.Popen([sys.executable, "-c", _KILLED_WHILE_WRITING, str(src), str(out_dir / "run.h5")],
                             env=_child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = child.stdout.readline()
        assert line == "writing\n", child.stderr.read() if child.poll() is not None else line
    finally:
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=60)
    (leftover,) = out_dir.iterdir()
    assert leftover.name.startswith(f"run.h5.tmp-{child.pid}-")

    note = temporary_file_note(leftover)
    assert note == (f"a temporary file of a run that was interrupted before it finished (process {child.pid}, "
                    "no longer running): delete it")
    with pytest.raises(RunFileError) as err:
        load_run(leftover)
    assert str(err.value) == f"{leftover}: {note}"

    # the command line says the same, as an input error
    from speksim.cli import main
    with contextlib.redirect_stderr(io.StringIO()) as err_text:
        assert main(["info", str(leftover)]) == 3
    assert err_text.getvalue() == f"speksim: error: {leftover}: {note}\n"

    save_run(result, out_dir / "run.h5")
    assert [p.name for p in out_dir.iterdir()] == ["run.h5"]
    assert load_run(out_dir / "run.h5").equals(result)


def test_temporary_file_note(tmp_path):
    assert temporary_file_note(tmp_path / "run.h5") is None
    assert temporary_file_note(tmp_path / "run.h5.tmp-12-xyz") is None  # not 8 hex digits: not ours
    tmp = _files.temporary_name(tmp_path / "run.h5")
    assert _files.parse_temporary(tmp) == (tmp_path / "run.h5", os.getpid())
    note = temporary_file_note(tmp)  # this process is alive: the file may still be written
    assert f"process {os.getpid()} is writing" in note and "becomes run.h5" in note


def test_save_into_a_folder_path_is_refused(result, tmp_path):
    with pytest.raises(RunFileError, match="is a folder"):
        save_run(result, tmp_path)


# ------------------------------------------------------------------------------------------- refusals

def test_missing_file(tmp_path):
    with pytest.raises(RunFileError, match="no such file"):
        load_run(tmp_path / "nope.h5")


def test_not_hdf5(tmp_path):
    p = tmp_path / "notes.h5"
    p.write_text("hello")
    with pytest.raises(RunFileError, match="not an HDF5 file"):
        load_run(p)
    assert not is_run_file(p)


def test_other_hdf5_file(tmp_path):
    p = tmp_path / "events.h5"
    with h5py.File(p, "w") as f:
        f["t"] = np.arange(3)
    with pytest.raises(RunFileError, match="not a speksim run file"):
        load_run(p)
    assert not is_run_file(p)


def test_truncated_file(result, tmp_path):
    p = save_run(result, tmp_path / "run.h5")
    p.write_bytes(p.read_bytes()[:4000])
    with pytest.raises(RunFileError):
        load_run(p)


def _edit(path, fn):
    with h5py.File(path, "a") as f:
        fn(f)


def test_incomplete_file(result, tmp_path):
    p = save_run(result, tmp_path / "run.h5")
    _edit(p, lambda f: f.attrs.__delitem__("complete"))
    assert is_run_file(p)
    with pytest.raises(RunFileError, match="incomplete"):
        load_run(p)


def test_newer_schema(result, tmp_path):
    p = save_run(result, tmp_path / "run.h5")
    _edit(p, lambda f: f.attrs.__setitem__("schema_version", np.int64(runfile.SCHEMA_VERSION + 1)))
    with pytest.raises(RunFileError, match="newer speksim"):
        load_run(p)


def test_damaged_file(result, tmp_path):
    p = save_run(result, tmp_path / "run.h5")
    _edit(p, lambda f: f.__delitem__("outputs"))
    with pytest.raises(RunFileError, match="lacks"):
        load_run(p)


# --------------------------------------------------------------------------------------------- replay

def test_outputs_as_spikes_default_and_mapped(result, tmp_path):
    path = save_run(result, tmp_path / "run.h5")
    spikes = run_outputs_as_spikes(path)
    core_out = result.outputs[result.outputs["layer"] < 9]
    assert spikes.dtype == SPIKE_EVENT and len(spikes) == len(core_out)
    assert np.array_equal(spikes["t"], core_out["t_ns"] // 1000)
    assert np.array_equal(spikes["layer"], core_out["layer"])
    assert np.all(np.diff(spikes["t"]) >= 0)
    mapped = run_outputs_as_spikes(result, {0: 1})
    sel = result.outputs[result.outputs["layer"] == 0]
    assert len(mapped) == len(sel) and set(mapped["layer"]) == {1}
    assert np.array_equal(mapped["feature"], sel["feature"]) and np.array_equal(mapped["x"], sel["x"])
    dvs_as_core = run_outputs_as_spikes(result, {13: 0})
    assert len(dvs_as_core) == int(np.sum(result.outputs["layer"] == 13))


def test_replayed_spikes_run(result):
    # core 0's outputs (4 features, 32x32) become the input of a core taking 4 features at 32x32
    cfg = ChipConfig()
    cfg.cnn_layers[0] = CnnLayerConfig.conv(np.ones((2, 4, 3, 3), np.int8), (32, 32), padding=1, threshold_high=6,
                                            monitor_enable=True)
    res = speksim.simulate(cfg, run_outputs_as_spikes(result, {0: 0}))
    assert res.stats[0]["events_in"] == np.sum(result.outputs["layer"] == 0)


def test_outputs_as_dvs(result):
    dvs = run_outputs_as_dvs(result)
    sel = result.outputs[result.outputs["layer"] == 13]
    assert dvs.dtype == DVS_EVENT and len(dvs) == len(sel) > 0
    assert np.array_equal(dvs["p"], sel["feature"]) and np.array_equal(dvs["x"], sel["x"])
    assert dvs["x"].max() < 32  # the DVS layer's output space (pooled 4x4)


@pytest.mark.parametrize("layer_map, match", [({12: 0}, "readout"), ({5: 9}, "core 0..8"), ({11: 0}, "source")])
def test_bad_layer_maps(result, layer_map, match):
    with pytest.raises(EventError, match=match):
        run_outputs_as_spikes(result, layer_map)


def test_read_events_replays_the_dvs_layer_output_of_a_run_file(tmp_path):
    """A run file is a recording too: its layer-13 (DVS layer) monitor output comes back as camera
    events. With no pooling, crop or mirror, F6 keeps every address and polarity."""
    import speksim
    from speksim.io import detect_format, read_events
    cfg = speksim.ChipConfig()
    w = np.ones((1, 2, 1, 1), np.int8)
    cfg.cnn_layers[0] = speksim.CnnLayerConfig.conv(w, (128, 128), stride=2, threshold_high=1, threshold_low=-1)
    cfg.dvs_layer.monitor_enable = True
    cfg.dvs_layer.destinations[0].layer, cfg.dvs_layer.destinations[0].enable = 0, True
    ev = speksim.make_events("dvs", t=[0, 3, 9], x=[5, 100, 127], y=[7, 0, 64], p=[1, 0, 1])
    res = speksim.simulate(cfg, ev)
    path = speksim.save_run(res, tmp_path / "r.h5")
    assert detect_format(path) == "run"
    back = read_events(path)
    assert back[["x", "y", "p"]].tolist() == ev[["x", "y", "p"]].tolist()
    assert np.all(back["t"] >= ev["t"])  # host arrival times, later than the camera's


def test_read_events_on_a_run_without_dvs_output_says_what_to_use(tmp_path):
    import speksim
    from speksim.errors import ReaderError
    from speksim.io import read_events
    cfg = speksim.ChipConfig()
    w = np.zeros((1, 1, 3, 3), np.int8)
    w[0, 0, 1, 1] = 1
    cfg.cnn_layers[0] = speksim.CnnLayerConfig.conv(w, (8, 8), padding=1, threshold_high=1, threshold_low=-1,
                                                    monitor_enable=True)
    ev = speksim.make_events("spike", t=[0], layer=[0], feature=[0], x=[3], y=[3])
    path = speksim.save_run(speksim.simulate(cfg, ev), tmp_path / "r.h5")
    with pytest.raises(ReaderError, match="run_outputs_as_spikes"):
        read_events(path)


# ------------------------------------------------------------------------------------- written as it goes

def _streamed(path, chunk, keep_outputs=False):
    from speksim.runfile import RunWriter
    ev = dvs_events()
    with RunWriter(path) as writer:
        sim = speksim.Simulation(small_config(), options=speksim.RunOptions(bin_ns=500_000),
                                 keep_outputs=keep_outputs, sink=writer)
        for i in range(0, len(ev), chunk):
            sim.feed(ev[i:i + chunk])
        res = sim.finish()
        writer.finish(res, input_name="rec.npz")
    return res


def test_run_written_as_it_goes_reads_back_as_the_whole_run(result, tmp_path):
    streamed = _streamed(tmp_path / "s.h5", chunk=100)
    assert len(streamed.outputs) == 0 and streamed.n_outputs() == len(result.outputs)  # nothing kept in memory
    back = load_run(tmp_path / "s.h5")
    assert back.equals(result)
    assert np.array_equal(back.input_t_ns, result.input_t_ns)
    assert back.metadata["input_file"]["name"] == "rec.npz"


def test_run_written_as_it_goes_has_the_same_bytes_whatever_the_chunks(tmp_path):
    _streamed(tmp_path / "a.h5", chunk=37)
    _streamed(tmp_path / "b.h5", chunk=1000)
    assert (tmp_path / "a.h5").read_bytes() == (tmp_path / "b.h5").read_bytes()


def test_run_written_as_it_goes_has_the_bytes_save_run_writes(tmp_path):
    """The same run kept in memory too: save_run of its Result writes the very same file."""
    res = _streamed(tmp_path / "streamed.h5", chunk=333, keep_outputs=True)
    save_run(res, tmp_path / "saved.h5", input_name="rec.npz")
    assert (tmp_path / "streamed.h5").read_bytes() == (tmp_path / "saved.h5").read_bytes()


@pytest.mark.parametrize("n", [runfile._COMPRESS_FROM, runfile._CHUNK - 1, runfile._CHUNK, runfile._CHUNK + 1,
                               3 * runfile._CHUNK])
def test_chunks_compressed_as_they_come_are_the_chunks_of_the_whole_array(n, tmp_path):
    """A RunWriter compresses a dataset's chunks while the run goes; they must be the chunks
    save_run makes of the whole array, at every length around a chunk's, and read back as the
    array through HDF5's own filters."""
    rng = np.random.default_rng(n)
    data = np.zeros(n, speksim.events.OUTPUT_EVENT)
    data["t_ns"] = np.sort(rng.integers(0, 10**9, n))
    data["x"] = rng.integers(0, 128, n)
    data["root"] = np.arange(n)
    with ThreadPoolExecutor(1) as pool:
        part = runfile._Chunks(data.dtype, tmp_path, pool)
        cuts = np.sort(rng.integers(0, n, 20))
        for block in np.split(data, cuts):
            part.put(block)
        got = list(part.chunks())
        part.close()
    assert got == list(runfile._compressed_chunks(data))
    assert len(got) == -(-n // runfile._CHUNK)
    with h5py.File(tmp_path / "c.h5", "w") as f:
        runfile._chunked(f, "d", n, data.dtype, got)
    with h5py.File(tmp_path / "c.h5", "r") as f:
        assert f["d"].compression == "gzip" and f["d"].shuffle
        assert np.array_equal(f["d"][()], data)


def _compressing() -> list:
    import threading
    return [t.name for t in threading.enumerate() if t.name.startswith("speksim-compress")]


def test_run_abandoned_midway_leaves_nothing(tmp_path):
    """Ctrl-C while the outputs are being compressed beside the run (5000 inputs give 310 k
    outputs, ten chunks): no file, no temporary file, no thread left behind."""
    from speksim.runfile import RunWriter
    ev = dvs_events()
    with pytest.raises(KeyboardInterrupt):
        with RunWriter(tmp_path / "run.h5") as writer:
            sim = speksim.Simulation(small_config(), keep_outputs=False, sink=writer)
            sim.feed(ev)
            assert writer.n_outputs > 4 * runfile._CHUNK
            assert not (tmp_path / "run.h5").exists()    # nothing at the final name while the run goes
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []
    assert _compressing() == []


def test_a_chunk_that_cannot_be_compressed_fails_the_run_file_and_leaves_nothing(tmp_path, monkeypatch):
    """An error while compressing, in the thread beside the run or at the end, is the writer's
    error: raised, and neither the run file nor a temporary file nor a thread is left."""
    from speksim.runfile import RunWriter
    real, calls = runfile._compress, []

    def failing(rows, length):
        calls.append(length)
        if len(calls) == 3:
            raise MemoryError("out of memory while compressing")
        return real(rows, length)

    monkeypatch.setattr(runfile, "_compress", failing)
    ev = dvs_events()
    with pytest.raises(MemoryError):
        with RunWriter(tmp_path / "run.h5") as writer:
            sim = speksim.Simulation(small_config(), keep_outputs=False, sink=writer)
            for i in range(0, len(ev), 500):
                sim.feed(ev[i:i + 500])
            writer.finish(sim.finish())
    assert list(tmp_path.iterdir()) == [] and _compressing() == []
    # save_run compresses on every core: the same
    res = speksim.simulate(small_config(), ev)
    calls.clear()
    with pytest.raises(MemoryError):
        save_run(res, tmp_path / "saved.h5")
    assert list(tmp_path.iterdir()) == [] and _compressing() == []
    # and Ctrl-C while it writes the compressed chunks stops the compressing at once
    monkeypatch.setattr(runfile, "_compress", real)
    checks = []

    def interrupt_at_the_third_chunk():
        checks.append(1)
        if len(checks) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(runfile, "check_interrupt", interrupt_at_the_third_chunk)
    with pytest.raises(KeyboardInterrupt) as caught:
        save_run(res, tmp_path / "saved.h5")
    # even while the traceback is kept (as an interactive session keeps the last one)
    assert caught.tb is not None and list(tmp_path.iterdir()) == [] and _compressing() == []


def test_how_a_run_ended_is_kept_in_the_run_file(tmp_path):
    """SPEC T12: a run stopped at end_ns with work left keeps `active`, `unsent` and `pending`."""
    ev = dvs_events()
    res = speksim.simulate(small_config(), ev, options=speksim.RunOptions(end_ns=int(ev["t"][len(ev) // 2]) * 1000))
    assert res.active and res.unsent > 0 and int(res.stats["pending"].sum()) > 0
    back = load_run(save_run(res, tmp_path / "run.h5"))
    assert back.equals(res)
    assert (back.cut, back.active, back.unsent) == (res.cut, res.active, res.unsent)


def test_version_1_run_file_reads_with_nothing_pending(result, tmp_path):
    path = save_run(result, tmp_path / "v1.h5")
    with h5py.File(path, "r+") as f:           # what version 1 wrote: no pending column, no T12 attributes
        stats = f["stats"][()]
        names = [n for n in stats.dtype.names if n != "pending"]
        old = np.zeros(len(stats), [(n, stats.dtype[n]) for n in names])
        for n in names:
            old[n] = stats[n]
        del f["stats"]
        f.create_dataset("stats", data=old)
        for key in ("cut", "active", "unsent"):
            del f.attrs[key]
        f.attrs["schema_version"] = np.int64(1)
    back = load_run(path)
    assert back.equals(result) and not back.cut and back.unsent == 0
    assert int(back.stats["pending"].sum()) == 0
