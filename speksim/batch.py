"""Batch replay: one configuration over many recordings, one run file each, resumable.

    rows = batch(config, "speck2f", ["gestures/*.aedat"], "runs/", fit=FitPlan(fit="crop"))
    print(table(rows))

Every recording (a path, or a glob pattern that speksim expands) is read, fitted to the chip's
input and simulated as `speksim run` does it, streaming, and written to its own run file in the
output folder (`run_file_names`); `summary.csv` there gets one row per recording (`COLUMNS`).

With a what-if grid (`grid`, as `speksim sweep` takes it), every point of the grid runs over every
recording, point K into `pointK/` of the output folder.

Resuming: a run file that is already there, complete, and made from the same configuration, chip,
run options, engine, speksim version, input reading and recording bytes (its SHA-256) is kept and
not simulated again (status `kept`); any other file of that name is simulated again (the row's
`detail` says why). Recordings run in worker processes (`jobs`, default one per CPU), or on a Dask
cluster (`dask`, the `dask` extra), the largest first; the rows come back in the order of the
recordings whatever the pool does.

A run file holds nothing that depends on how the batch ran: no command line, no wall time, no
path but the recording's file name. The same recording and settings give the same bytes with one
job or many, locally or on Dask (the `versions` metadata records the Python and platform of the
machine that ran it, so files made on different machines differ there). A recording that fails
(unreadable, a sensor the chip's input cannot take without `fit`, a deadlock) does not stop the
batch: its row has status `failed` and the error in `detail`.
"""

from __future__ import annotations

import glob
import json
import os
import re
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence, Union


from ._resources import usable_cores
from .chip import Chip, load_chip
from .config.model import ChipConfig
from .config.options import RunOptions
from .errors import ConfigError, MissingExtraError, ReaderError, SpeksimError
from .result import CAPTURE_SOURCE

#: The columns of a row. `events`: input events simulated (after fitting); `realtime_factor`: the
#: recording's span (first to last input event) over the wall time of its simulation, empty for a
#: kept file; `t_end_ns`: the chip time the run ended; `lag_max_ns`: the largest input lag
#: (SPEC T1) of the events not dropped; `stall_ns`: stall time (T4) of the cores and the DVS layer
#: together; `dropped`: congestion_dropped + decimated + dropped_out_of_range over every block (as
#: in `speksim sweep`); `status`: `ok` (simulated now), `kept` (a verified run file was already
#: there) or `failed`; `detail`: why a file was simulated again, or why a recording failed.
COLUMNS = ("recording", "run_file", "events", "outputs", "realtime_factor", "t_end_ns", "lag_max_ns", "stall_ns",
           "dropped", "status", "detail")

SUMMARY = "summary.csv"
_SUFFIX = ".run.h5"
_MAGIC = "*?["
_POINT = re.compile(r"point[0-9]+")
#: What a batch reads in a recording, with the meaning of FitPlan; recorded in each run file
#: (metadata `input_transform`, with the time shift and sensor size the reading found).
_READING = ("format", "t_start_us", "t_end_us", "rezero", "fit", "crop", "downscale", "flip_x", "flip_y",
            "polarity")


# --------------------------------------------------------------------------------------------
# recordings and run-file names
# --------------------------------------------------------------------------------------------

def expand(recordings: Union[str, os.PathLike, Sequence], out_dir=None) -> list[Path]:
    """The recordings of a batch, in order: each item a path, or a glob pattern (`*`, `?`, `[`;
    `**` spans folders) expanded to its files in sorted order. A path given twice (or matched by
    two patterns) counts once. Files a pattern matches among the batch's own output (run files
    and the summary in `out_dir`) are left out. Raises ReaderError for a pattern that matches no
    file; a plain path that does not exist is kept (its row fails)."""
    if isinstance(recordings, (str, os.PathLike)):
        recordings = [recordings]
    out = Path(out_dir).resolve() if out_dir is not None else None
    paths, seen = [], set()
    for item in recordings:
        text = os.fspath(item)
        if any(c in text for c in _MAGIC) and not Path(text).exists():
            found = [Path(p) for p in sorted(glob.glob(text, recursive=True)) if Path(p).is_file()]
            if out is not None:
                found = [p for p in found if not _own_output(p, out)]
            if not found:
                raise ReaderError(f"{text}: no file matches this pattern; check it (quote it so that speksim, "
                                  "not the shell, expands it)")
        else:
            found = [Path(text)]
        for p in found:
            key = os.path.normcase(os.path.abspath(p))
            if key not in seen:
                seen.add(key)
                paths.append(p)
    if not paths:
        raise ReaderError("the batch has no recording: give at least one file or pattern")
    return paths


def _own_output(path: Path, out: Path) -> bool:
    folder = path.resolve().parent
    if folder.parent == out and _POINT.fullmatch(folder.name):
        folder = out                   # a grid point's folder
    return folder == out and (path.name.endswith(_SUFFIX) or path.name == SUMMARY)


def run_file_names(paths: Sequence[Path]) -> list[str]:
    """The run-file name of each recording: `<stem>.run.h5`. Recordings whose stems are equal
    (ignoring case, for case-insensitive file systems) are named after their path from the folder
    they share instead, folders joined with `+`: `a/walk.aedat4` and `b/walk.aedat4` give
    `a+walk.aedat4.run.h5` and `b+walk.aedat4.run.h5`. A name still taken gets `-2`, `-3`, ...
    in the order given. The names depend on the set of recordings, not on the order of work."""
    paths = [Path(os.path.abspath(p)) for p in paths]
    groups: dict[str, list[int]] = {}
    for i, p in enumerate(paths):
        groups.setdefault(p.stem.casefold(), []).append(i)
    names = [p.stem for p in paths]
    for members in groups.values():
        if len(members) < 2:
            continue
        common = Path(os.path.commonpath([paths[i].parent for i in members]))
        for i in members:
            names[i] = "+".join(paths[i].relative_to(common).parts)
    out, taken = [], set()
    for name in names:
        final, n = name, 1
        while final.casefold() in taken:
            n += 1
            final = f"{name}-{n}"
        taken.add(final.casefold())
        out.append(final + _SUFFIX)
    return out


# --------------------------------------------------------------------------------------------
# one recording
# --------------------------------------------------------------------------------------------

@dataclass
class _Task:
    index: int
    recording: str                # as given (rows and messages)
    path: str                     # absolute: what the worker opens, wherever it runs
    run_file: str                 # absolute
    run_name: str                 # relative to the output folder (the row's run_file)
    config: ChipConfig
    chip: Chip
    options: RunOptions
    engine: str
    plan: object                  # an unprepared FitPlan
    reading: dict                 # format, t_start_us, t_end_us, sensor_size, chunk_events
    expected: dict                # metadata texts a kept file must have
    resume: bool
    cli: bool
    labels: dict                  # {"point": K, axis key: value} of a grid point; {} without a grid


def _message(exc: BaseException, cli: bool) -> str:
    if isinstance(exc, SpeksimError):
        text = (exc.cli if cli else None) or str(exc)
    elif isinstance(exc, OSError):
        text = f"{exc.filename + ': ' if exc.filename else ''}{exc.strerror or exc}"
    else:
        text = f"internal error: {type(exc).__name__}: {exc}"
    return " ".join(text.split())          # one line in a table cell


def _run_one(task: _Task) -> dict:
    """Simulate one recording into its run file (or keep a verified one); returns its row."""
    row = {"recording": task.recording, **task.labels, **dict.fromkeys(COLUMNS[1:])}
    row.update(run_file=task.run_name, detail="")
    try:
        from .runfile import file_sha256
        path = Path(task.path)
        if not path.is_file():
            where = task.recording
            raise ReaderError(f"{where}: no such file" if not path.exists() else f"{where}: is not a file")
        sha = file_sha256(path)
        out = Path(task.run_file)
        if out.exists() and task.resume:
            why = _mismatch(out, task, sha)
            if why is None:
                row.update(_figures(out), status="kept")
                row.pop("_span_ns")
                return row
            row["detail"] = f"simulated again: the run file there {why}"
        wall = _simulate(task, path, sha)
        row.update(_figures(out), status="ok")
        span_s = row.pop("_span_ns") / 1e9
        row["realtime_factor"] = span_s / wall if wall > 0 and span_s > 0 else None
    except (SpeksimError, OSError, ValueError, RuntimeError) as exc:
        # one recording's problem, reported in its row; the batch goes on
        stale = "; the run file there is an earlier one that does not match" if row["detail"] else ""
        row.update(status="failed", detail=_message(exc, task.cli) + stale)
    row.pop("_span_ns", None)
    return row


def _simulate(task: _Task, path: Path, sha: str) -> float:
    """Run the recording through the chip into the run file, as `speksim run` does; returns the
    wall time in seconds."""
    from .io import iter_events
    from .result import metadata_except
    from .runfile import RunWriter
    from .simulation import Simulation
    r = task.reading
    plan = task.plan.prepare(_sensor(path, task), task.chip.dvs_size)
    t0 = time.perf_counter()
    with RunWriter(task.run_file) as writer:
        sim = Simulation(task.config, task.chip, task.options, engine=task.engine, keep_outputs=False, sink=writer)
        for chunk in iter_events(path, r["format"], chunk_events=r["chunk_events"], t_start_us=r["t_start_us"],
                                 t_end_us=r["t_end_us"]):
            sim.feed(plan(chunk))
        result = sim.finish()
        # the keys of `speksim run`'s input_transform, and what else a batch reads by
        transform = {"time_shift_us": int(plan.offset_us or 0)}
        transform.update({k: _plain(getattr(plan, k)) for k in ("rezero", "fit", "crop", "downscale", "flip_x",
                                                                  "flip_y", "polarity")})
        transform.update(sensor_size=_plain(plan.sensor), format=r["format"], t_start_us=r["t_start_us"],
                         t_end_us=r["t_end_us"])
        # the configuration's text is the one made once for the whole batch (task.expected), not
        # made again for every run file (the entry stays unbuilt): for the DVS Gesture network that
        # took a fifth of a replay
        metadata_except(result, ("config",))["input_transform"] = transform
        writer.finish(result, input_name=path.name, input_size=path.stat().st_size, input_sha256=sha,
                      metadata_texts={"config": task.expected["texts"]["config"]})
    return time.perf_counter() - t0


def _sensor(path: Path, task: _Task) -> Optional[tuple]:
    """The sensor size as `speksim run` finds it: given, else recorded in the file, else guessed
    from the events when fitting or flipping needs it."""
    from . import io as sio
    from .io.sensors import guess_sensor
    r = task.reading
    if r["sensor_size"] is not None:
        return tuple(r["sensor_size"])
    sensor = sio.sensor_size(path, r["format"])
    if sensor is None and (task.plan.fit or task.plan.flip_x or task.plan.flip_y):
        mx = my = 0
        for ev in sio.iter_events(path, r["format"], chunk_events=1 << 20, t_start_us=r["t_start_us"],
                                  t_end_us=r["t_end_us"]):
            if len(ev):
                mx, my = max(mx, int(ev["x"].max())), max(my, int(ev["y"].max()))
        w, h, _ = guess_sensor(mx, my)
        sensor = (w, h)
    return sensor


def _plain(v):
    from ._text import plain
    return plain(list(v) if isinstance(v, tuple) else v)


# --------------------------------------------------------------------------------------------
# verifying a run file that is already there, and the figures of a row
# --------------------------------------------------------------------------------------------

def _expected(config: ChipConfig, chip: Chip, options: RunOptions, engine: str, plan, reading: dict) -> dict:
    """The metadata texts (as the run file stores them) that a kept run file must have."""
    from ._version import __version__
    from .config import config_to_dict
    from .runfile import _json
    wanted = {k: _plain(getattr(plan, k)) for k in _READING if hasattr(plan, k)}
    wanted.update({k: reading[k] for k in ("format", "t_start_us", "t_end_us")})
    if reading["sensor_size"] is not None:
        wanted["sensor_size"] = list(reading["sensor_size"])
    return {"texts": {"config": _json(config_to_dict(config)), "chip": _json(chip.to_dict()),
                      "options": _json(asdict(options)), "engine": _json(engine)},
            "reading": wanted, "version": __version__}


_WHAT = {"config": "was made with another configuration",
         "chip": "was made for another chip (or other overrides of it)",
         "options": "was made with other run options", "engine": "was made by another engine"}


def _mismatch(path: Path, task: _Task, sha: str) -> Optional[str]:
    """None when the run file at `path` is complete and is what this batch would write for the
    recording (hash `sha`); else why not, worded to follow "the run file there"."""
    import json

    import h5py

    from .runfile import is_run_file
    if not is_run_file(path):
        return "is not a speksim run file"
    try:
        with h5py.File(path, "r") as f:
            if not bool(f.attrs.get("complete", False)):
                return "is incomplete (its writing did not finish)"
            meta = f["metadata"]

            def text(key):
                v = meta[key][()] if key in meta else b""
                return v.decode("utf-8") if isinstance(v, bytes) else str(v)
            exp = task.expected
            version = json.loads(text("versions") or "{}").get("speksim")
            if version != exp["version"]:
                return f"was made by speksim {version}, this is {exp['version']}"
            for key, what in _WHAT.items():
                if text(key) != exp["texts"][key]:
                    return what
            source = json.loads(text("input_file") or "{}")
            if source.get("sha256") != sha:
                return "was made from another recording (the SHA-256 of the bytes differs)"
            got = json.loads(text("input_transform") or "{}")
            for k, v in exp["reading"].items():
                if got.get(k) != v:
                    return f"was made with another reading of the input ({k} = {got.get(k)!r}, now {v!r})"
    except (OSError, ValueError, KeyError, RuntimeError, AttributeError) as exc:
        return f"cannot be read ({exc})"
    return None


def _figures(path: Path, block: int = 1 << 20) -> dict:
    """The figures of a row, read from a complete run file (so that a kept file and a fresh one
    give the same row). The per-input lags are read `block` at a time: memory stays flat however
    long the recording."""
    import h5py
    with h5py.File(path, "r") as f:
        lags, t = f["input/lag_ns"], f["input/t_ns"]
        lag_max = None
        for i in range(0, len(lags), block):
            part = lags[i:i + block]
            part = part[part >= 0]              # -1: dropped, no lag
            if len(part):
                lag_max = max(lag_max or 0, int(part.max()))
        stats = f["stats"][()]
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in stats["block"]]
        chip_blocks = [i for i, n in enumerate(names) if n.startswith("core") or n == "dvs"]
        row = {"events": int(len(lags)), "outputs": int(f["outputs"].shape[0]), "t_end_ns": int(f.attrs["t_end_ns"]),
               "lag_max_ns": lag_max, "stall_ns": int(stats["stall_ns"][chip_blocks].sum()),
               "dropped": int(sum(stats[c].sum() for c in ("congestion_dropped", "decimated",
                                                            "dropped_out_of_range"))),
               "_span_ns": int(t[-1] - t[0]) if len(t) else 0}
        if "source" in f["metadata"] and json.loads(f["metadata/source"][()]) == CAPTURE_SOURCE:
            row.update(stall_ns=None, dropped=None)      # a devkit capture: not measured, not zero
        return row


# --------------------------------------------------------------------------------------------
# the batch
# --------------------------------------------------------------------------------------------

def batch(config: ChipConfig, chip: Union[Chip, str], recordings, out_dir, *, options: Optional[RunOptions] = None,
          engine: str = "fast", jobs: Optional[int] = None, fit=None, format: Optional[str] = None,
          t_start_us: Optional[int] = None, t_end_us: Optional[int] = None, sensor_size: Optional[tuple] = None,
          chunk_events: int = 200_000, resume: bool = True, summary: Optional[str] = SUMMARY,
          progress: Optional[Callable[[dict, int, int], None]] = None, grid=None, dask=None,
          cli_messages: bool = False) -> list[dict]:
    """Simulate `config` on `chip` over every recording, one run file each in `out_dir`.

    recordings: a path or glob pattern, or a list of them (see `expand`). out_dir: the folder of
    the run files (made if missing; names from `run_file_names`). fit: a `speksim.io.fitplan.FitPlan`
    (unprepared: it is prepared per recording from its sensor size; default: the events as read,
    time-shifted to 0 only when they are wall-clock). format, t_start_us, t_end_us (µs, as in
    the file), sensor_size (width, height) and chunk_events read the recordings as
    `speksim.io.iter_events` does. jobs: worker processes (default one per CPU; 1 runs in this
    process). dask: run on a Dask cluster instead of local processes (the `dask` extra): a
    scheduler address ("tcp://host:port"), a `distributed.Client`, or a number of workers for a
    local cluster on 127.0.0.1; every worker must see the recordings and `out_dir` under the same
    absolute paths (a shared file system). resume: keep verified run files (see the module
    docstring); False simulates every recording again. summary: the summary CSV's name in
    `out_dir` (None: none is written). progress(row, done, total) is called as each recording
    ends. grid: run every point of a what-if grid (as `speksim.analysis.sweep.parse_grid` takes it:
    `["core.2.synop_ns=10,15"]`), point 0 being the configuration and chip as given; point K's run
    files go to `out_dir/pointK/`, and each row has the columns `point` and one per axis after
    `recording`. cli_messages: word the errors of failed rows for the command line.

    Returns one row (dict, keys `COLUMNS`) per recording, in the order of `expand(recordings)`
    (with a grid: per recording and point, points in grid order).
    Raises ConfigError (the configuration or options do not suit the chip) or ReaderError (a
    pattern matches nothing) before anything runs; errors of single recordings go in their rows.
    """
    from .analysis.sweep import write_csv
    from .config.rules import validate
    from .io.fitplan import FitPlan
    chip = load_chip(chip)
    options = options or RunOptions()
    validate(config, chip, options)
    grid_points = None
    if grid:
        from .analysis.sweep import parse_grid, points
        grid_points = points(config, chip, parse_grid(grid, config, chip), options)   # every point checked
    if dask is not None:
        _distributed()                 # a missing extra is said before any work
    out_dir = Path(os.fspath(out_dir))
    paths = expand(recordings, out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plan = fit if fit is not None else FitPlan()
    reading = {"format": format, "t_start_us": t_start_us, "t_end_us": t_end_us, "chunk_events": int(chunk_events),
               "sensor_size": None if sensor_size is None else tuple(int(v) for v in sensor_size)}
    # without a grid one "point": the configuration and chip as given, written into out_dir itself
    combos = [({}, config, chip, "")]
    if grid_points is not None:
        combos = [({"point": p.index, **p.values}, p.config, p.chip, f"point{p.index}/") for p in grid_points]
    expected = [_expected(c, k, options, engine, plan, reading) for _, c, k, _ in combos]
    tasks = []
    for p, name in zip(paths, run_file_names(paths)):
        for (labels, p_config, p_chip, folder), exp in zip(combos, expected):
            (out_dir / folder).mkdir(exist_ok=True)
            tasks.append(_Task(len(tasks), str(p), os.path.abspath(p), os.path.abspath(out_dir / folder / name),
                               folder + name, p_config, p_chip, options, engine, plan, reading, exp, bool(resume),
                               bool(cli_messages), labels))
    if dask is not None:
        with _dask_client(dask) as client:
            rows = _execute_dask(tasks, client, progress)
    else:
        rows = _execute(tasks, jobs, progress)
    if summary:
        write_csv(rows, out_dir / summary)
    return rows


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _collector(tasks: list, progress):
    """(rows, done): `done(task, row)` files a row in the order of the recordings and reports it."""
    rows: list = [None] * len(tasks)

    def done(task, row):
        rows[task.index] = row
        if progress:
            progress(row, sum(r is not None for r in rows), len(tasks))
    return rows, done


def _largest_first(tasks: list) -> list:
    # the pool's last minutes then run short recordings side by side, not one long one alone
    return sorted(tasks, key=lambda t: (-_size(t.path), t.index))


def _execute(tasks: list, jobs: Optional[int], progress) -> list[dict]:
    jobs = max(1, min(int(jobs or usable_cores()), len(tasks)))
    rows, done = _collector(tasks, progress)
    if jobs == 1:
        for t in tasks:
            done(t, _run_one(t))
        return rows
    from concurrent.futures import ProcessPoolExecutor, as_completed
    pool = ProcessPoolExecutor(max_workers=jobs)
    try:
        futures = {pool.submit(_run_one, t): t for t in _largest_first(tasks)}
        for fut in as_completed(futures):
            done(futures[fut], fut.result())
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return rows


def _distributed():
    try:
        import distributed
    except ImportError:
        raise MissingExtraError("running a batch on Dask needs dask.distributed: pip install 'speksim[dask]'") from None
    return distributed


@contextmanager
def _dask_client(dask):
    """A Client for `dask` (see `batch`): the one given, or one made (and closed) here."""
    distributed = _distributed()
    if isinstance(dask, distributed.Client):
        yield dask
        return
    if isinstance(dask, bool) or not isinstance(dask, (int, str)):
        raise ConfigError(f"dask={dask!r}: give a scheduler address ('tcp://host:port'), a distributed.Client, or "
                          "a number of local workers")
    if isinstance(dask, int):
        if dask < 1:
            raise ConfigError(f"dask={dask}: a local cluster needs at least one worker",
                              cli=f"--dask-local {dask}: give at least one worker")
        # one single-threaded worker process per job: the engine holds the GIL while it runs
        # dashboard on a free port: never in the way of a cluster already serving one on 8787
        with distributed.LocalCluster(n_workers=dask, threads_per_worker=1, processes=True, host="127.0.0.1",
                                      dashboard_address="127.0.0.1:0") as cluster:
            with distributed.Client(cluster) as client:
                yield client
        return
    try:
        client = distributed.Client(dask, timeout=10)
    except OSError as exc:
        raise ConfigError(f"cannot reach the Dask scheduler at {dask}: {exc}; check the address and that the "
                          "scheduler is running") from None
    with client:
        yield client


def _execute_dask(tasks: list, client, progress) -> list[dict]:
    distributed = _distributed()
    rows, done = _collector(tasks, progress)
    order = _largest_first(tasks)
    # pure=False: a task's result is a file written as a side effect, never one to share by key;
    # a task whose worker died is run again elsewhere (its run file is written atomically)
    futures = {client.submit(_run_one, t, pure=False, priority=len(order) - i, retries=1): t
               for i, t in enumerate(order)}
    try:
        for fut in distributed.as_completed(list(futures)):
            done(futures[fut], fut.result())
    except BaseException:
        client.cancel(list(futures))
        raise
    return rows


# --------------------------------------------------------------------------------------------
# the rows as a table
# --------------------------------------------------------------------------------------------

def table(rows: Sequence[dict]) -> str:
    """A fixed-width table of the rows: recording, input events, outputs, real-time factor, chip
    time, max input lag, stall time, drops, status (and the detail of rows that have one)."""
    labels = list(rows[0])[1:list(rows[0]).index("run_file")] if rows else []     # point and axes
    head = ["recording", *labels, "events", "outputs", "x real time", "t_end ms", "lag max µs", "stall ms",
            "dropped", "status"]
    lines = []
    for r in rows:
        first = [r["recording"], *(str(r[k]) for k in labels)]
        if r["status"] == "failed":
            lines.append(first + ["-"] * 7 + ["failed"])
            continue
        rtf = r["realtime_factor"]
        lines.append(first + [f"{r['events']:,}", f"{r['outputs']:,}", "-" if rtf is None else f"{rtf:.3g}",
                      f"{r['t_end_ns'] / 1e6:.3f}", "-" if r["lag_max_ns"] is None else f"{r['lag_max_ns'] / 1e3:,.2f}",
                      f"{r['stall_ns'] / 1e6:.3f}", f"{r['dropped']:,}", r["status"]])
    widths = [max([len(h)] + [len(line[i]) for line in lines]) for i, h in enumerate(head)]
    out = []
    for cells in [head] + lines:
        out.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))))
    n_failed = sum(r["status"] == "failed" for r in rows)
    n_kept = sum(r["status"] == "kept" for r in rows)
    what = "runs" if labels else "recordings"
    out.append(f"{len(rows)} {what}: {len(rows) - n_failed - n_kept} simulated, {n_kept} kept (already done), "
               f"{n_failed} failed")
    return "\n".join(out)


__all__ = ["batch", "expand", "run_file_names", "table", "COLUMNS", "SUMMARY"]
