"""Run files: one self-describing HDF5 file per run, and a small CSV summary.

    save_run(result, "run.h5", input_name="walk.aedat4", command_line=sys.argv)
    result = load_run("run.h5")

A run file holds everything a `Result` holds (outputs, statistics, input times and lags, time
series, final neuron states) plus the provenance needed to reproduce the run: the resolved
configuration, the chip with every parameter and its source, the run options, the versions and
the input file's name, size and hash. The layout is documented in docs/run-file.md.

Writing is atomic (a temporary file in the same folder, renamed over the target only when it is
complete) and deterministic (the same result gives the same bytes: no timestamps, fixed HDF5
format bounds, creation order tracked). Ctrl-C while writing raises KeyboardInterrupt and leaves
no file; the temporary file of a writer that was killed is removed by the next write to the same
path, and `temporary_file_note` says what such a leftover is.

Replaying a run's monitored output as the input of another run is `speksim.io.runfiles`.
"""

from __future__ import annotations

import csv
import hashlib
import inspect
import io
import json
import os
import shlex
import tempfile
import zlib
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Optional

import numpy as np

from ._files import atomic_path, check_interrupt, parse_temporary, process_alive
from ._gc import gc_paused
from ._resources import usable_cores
from ._version import __version__
from .blocks import BLOCK_NAMES, SERIES_UNITS
from .errors import RunFileError
from .events import DVS_EVENT, OUTPUT_EVENT, SPIKE_EVENT
from .result import STATS_DTYPE, Result, metadata_except

#: Value of the root attribute `format` of every run file.
RUN_FORMAT = "speksim-run"
#: Layout version written by this speksim; files with a larger number are refused. Version 2
#: added the `pending` statistic and the root attributes `cut`, `active` and `unsent` (SPEC T12);
#: version 1 files read with pending 0 and an uncut run.
SCHEMA_VERSION = 2
_ADDED_STATS = ("pending",)


_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_LIBVER = ("v110", "v110")       # fixed bounds: the bytes do not change with the HDF5 library's default
_COMPRESS_FROM = 4096            # arrays with fewer elements are stored contiguous, uncompressed
# A compressed 1-D dataset (outputs, input times and lags) is stored in chunks of this many
# elements, whatever its length (a shorter dataset is one chunk): so a RunWriter can compress
# the chunks while the run goes, which gives the bytes save_run writes (see _Chunks)
_CHUNK = 1 << 15
_GZIP_LEVEL = 4


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------

def save_run(result: Result, path, *, input_name: Optional[str] = None, input_size: Optional[int] = None,
             input_sha256: Optional[str] = None, command_line=None) -> Path:
    """Write `result` to the HDF5 run file `path`, atomically; returns the path.

    input_name: the recording's file name (stored as given; pass a base name to keep folders out
    of the file); input_size: its size in bytes; input_sha256: the hex SHA-256 of its bytes.
    command_line: a string or a list of arguments (joined with shell quoting).
    The same `result` and arguments give a byte-identical file. A failure or an interrupt while
    writing leaves neither a partial file nor the temporary file behind: Ctrl-C raises
    KeyboardInterrupt, at the latest once the current dataset is written. Temporary files of
    `path` left by processes that were killed are removed.
    """
    path = Path(os.fspath(path))
    if path.is_dir():
        raise RunFileError(f"{path}: is a folder; give the run file's name, e.g. {path / 'run.h5'}")
    outputs = np.asarray(result.outputs)
    arrays = {"outputs": outputs if outputs.dtype == OUTPUT_EVENT else outputs.astype(OUTPUT_EVENT),
              "t_ns": np.asarray(result.input_t_ns, np.int64), "lag_ns": np.asarray(result.lag_ns, np.int64)}
    _write_file(path, result, _provenance(result, input_name, input_size, input_sha256, command_line),
                lambda parent, name, **attrs: _dataset(parent, name, arrays[name], **attrs))
    return path


def _file_kwargs() -> dict:
    kw = {"libver": _LIBVER, "track_order": True}
    import h5py
    if "track_times" in inspect.signature(h5py.File.__init__).parameters:
        kw["track_times"] = False
    return kw


def _group(parent, name):
    try:
        return parent.create_group(name, track_order=True, track_times=False)
    except TypeError:  # older h5py: no track_times on groups (they had none by default)
        return parent.create_group(name, track_order=True)


def _storage(n: int, chunks=True) -> dict:
    """How a dataset of `n` elements is stored: small ones contiguous, large ones chunked and
    compressed; never a timestamp (deterministic bytes)."""
    kw = {"track_times": False}
    if n >= _COMPRESS_FROM:
        kw.update(compression="gzip", compression_opts=_GZIP_LEVEL, shuffle=True, chunks=chunks)
    return kw


def _compress(rows: np.ndarray, length: int) -> bytes:
    """One chunk of a 1-D dataset as HDF5's shuffle and deflate filters store it: the elements
    `rows` (at most `length`; the rest of the chunk is zeros), their bytes grouped by position
    within the element, deflated at level 4. zlib lets other threads run meanwhile."""
    size = rows.dtype.itemsize
    grouped = np.zeros((size, length), np.uint8)
    grouped[:, :len(rows)] = np.ascontiguousarray(rows).view(np.uint8).reshape(len(rows), size).T
    return zlib.compress(grouped, _GZIP_LEVEL)


def _chunked(parent, name, n: int, dtype: np.dtype, chunks):
    """The compressed 1-D dataset `name` of `n` elements (n >= _COMPRESS_FROM), written from
    `chunks`, its chunks in order as `_compress` makes them (of min(n, _CHUNK) elements)."""
    blobs = iter(chunks)
    try:
        ds = parent.create_dataset(name, shape=(n,), dtype=dtype, **_storage(n, chunks=(min(n, _CHUNK),)))
        if ds.dtype != dtype:
            raise RunFileError(f"{name}: HDF5 stores {dtype} as {ds.dtype}, whose chunks speksim cannot write "
                               "itself")
        for i, blob in enumerate(blobs):
            check_interrupt()
            ds.id.write_direct_chunk((i * _CHUNK,), blob)
    finally:
        if hasattr(blobs, "close"):     # a generator stops compressing now, not when it is collected
            blobs.close()
    return ds


def _compressed_chunks(data: np.ndarray):
    """The chunks of a 1-D array as `_chunked` takes them, compressed on every core, in order."""
    length = min(len(data), _CHUNK)
    cores = usable_cores()
    pool = ThreadPoolExecutor(max_workers=cores, thread_name_prefix="speksim-compress")
    try:
        ahead = deque()         # chunks being compressed, oldest first: a few per core
        for start in range(0, len(data), length):
            if len(ahead) >= 4 * cores:
                yield ahead.popleft().result()
            ahead.append(pool.submit(_compress, data[start:start + length], length))
        while ahead:
            yield ahead.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _dataset(parent, name, data, **attrs):
    check_interrupt()  # a Ctrl-C held back while the previous dataset was written stops here
    data = np.ascontiguousarray(data)
    if data.ndim == 1 and data.size >= _COMPRESS_FROM:
        return _described(_chunked(parent, name, len(data), data.dtype, _compressed_chunks(data)), attrs)
    return _described(parent.create_dataset(name, data=data, **_storage(data.size)), attrs)


def _described(ds, attrs: dict):
    """`ds` with its attributes, its chunks in the file."""
    for k, v in attrs.items():
        ds.attrs[k] = v
    # the chunks go to the file now, not when the last reference to `ds` goes: a sampling
    # profiler (a Dask worker has one) or a debugger holding this frame would otherwise put them
    # after the next dataset's data, giving other bytes for the same content
    ds.flush()
    return ds


def _text(parent, name, text: str, **attrs):
    import h5py
    check_interrupt()
    ds = parent.create_dataset(name, data=text, dtype=h5py.string_dtype("utf-8"), track_times=False)
    for k, v in attrs.items():
        ds.attrs[k] = v
    return ds


def _storable(dtype: np.dtype) -> np.dtype:
    """`dtype` with unicode fields turned into ASCII bytes (HDF5 has no fixed-width UTF-32)."""
    return np.dtype([(n, f"S{dtype[n].itemsize // 4}" if dtype[n].kind == "U" else dtype[n])
                     for n in dtype.names])


class _Stored(str):
    """A metadata entry given as the JSON text a run file stores for it (RunWriter.finish's
    metadata_texts): `_json` keeps it as it is."""


def _json(obj) -> str:
    if isinstance(obj, _Stored):
        return str(obj)
    return json.dumps(obj, ensure_ascii=False, separators=(", ", ": "), default=_json_default)


def _json_default(v):
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (tuple, set, frozenset)):
        return list(v)
    if isinstance(v, os.PathLike):
        return os.fspath(v)
    raise TypeError(f"metadata value {v!r} ({type(v).__name__}) cannot be stored as JSON")


_OUTPUTS_DESCRIPTION = ("events the host received, in arrival order: t_ns output time (ns); layer: a core 0..8, "
                        "the readout (12) or the DVS layer (13) on the built-in chips; feature, x, y address; root "
                        "index of the input event it descends from (-1: a leak spike)")
_T_DESCRIPTION = "timestamp of every input event (input µs * 1000)"
_LAG_DESCRIPTION = "input lag (SPEC T1): start of transfer + link latency - timestamp; -1 if dropped"


def _write_file(path: Path, result: Result, metadata: dict, put) -> None:
    """The run file at `path`, atomically: root attributes, the outputs, the statistics, the input
    times and lags, the series, states and metadata, and `complete` last. `put(parent, name,
    **attrs)` writes the dataset `name` ("outputs", "t_ns" or "lag_ns"): from the Result for
    `save_run`, from what `RunWriter` put aside for it."""
    import h5py
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w-", **_file_kwargs()) as f:
            f.attrs["format"] = RUN_FORMAT
            f.attrs["schema_version"] = np.int64(SCHEMA_VERSION)
            f.attrs["speksim_version"] = __version__
            f.attrs["h5py_version"] = h5py.__version__
            f.attrs["hdf5_version"] = h5py.version.hdf5_version
            put(f, "outputs", description=_OUTPUTS_DESCRIPTION)
            stats = np.asarray(result.stats)
            _dataset(f, "stats", stats.astype(_storable(stats.dtype)),
                     description="one row per block (core0..core8, dvs, readout, host_out); times in ns, "
                                 "fifo_area in slot*ns, fifo_mean in slots")
            g = _group(f, "input")
            put(g, "t_ns", unit="ns", description=_T_DESCRIPTION)
            put(g, "lag_ns", unit="ns", description=_LAG_DESCRIPTION)
            if result.input_events is not None:
                ev = np.asarray(result.input_events)
                _dataset(g, "events", ev.astype(_storable(ev.dtype)), unit="us",
                         description="the input events themselves (SPIKE_EVENT or DVS_EVENT, t in µs), kept by "
                                     "devkit captures so that the run can be repeated")
            _write_tail(f, result, metadata)
            f.flush()
            # written last: a reader trusts a file only when this attribute is present and true
            f.attrs["complete"] = np.bool_(True)


def _write_tail(f, result: Result, metadata: dict):
    f.attrs["bin_ns"] = np.int64(result.bin_ns)
    f.attrs["t_end_ns"] = np.int64(result.t_end_ns)
    # SPEC T12: how the run ended
    f.attrs["cut"] = np.bool_(result.cut)
    f.attrs["active"] = ",".join(result.active)
    f.attrs["unsent"] = np.int64(result.unsent)
    g = _group(f, "series")
    g.attrs["bin_ns"] = np.int64(result.bin_ns)
    g.attrs["blocks"] = ",".join(BLOCK_NAMES)
    for name, arr in result.series.items():
        _dataset(g, name, np.asarray(arr, np.int64), unit=SERIES_UNITS.get(name, ""),
                 description=f"per-bin {name} of every block, int64 [n_bins, blocks]")

    g = _group(f, "states")
    for core in sorted(result.states):
        _dataset(g, f"core{int(core)}", np.asarray(result.states[core]), core=np.int64(core), unit="membrane",
                 description="final neuron states, int16 [feature, y, x]")

    g = _group(f, "metadata")
    for key, value in metadata.items():
        _text(g, str(key), _json(value), encoding="json")


def _provenance(result: Result, input_name, input_size, input_sha256, command_line, texts=None) -> dict:
    """The metadata a run file stores: the result's, the entries in `texts` ({key: JSON text})
    taken as given and never built, and where the input came from and how the run was asked for."""
    texts = texts or {}
    metadata = dict(metadata_except(result, texts))
    metadata.update({key: _Stored(text) for key, text in texts.items() if key in metadata})
    if input_name is not None or input_size is not None or input_sha256 is not None:
        metadata["input_file"] = {"name": None if input_name is None else str(input_name),
                                  "size_bytes": None if input_size is None else int(input_size),
                                  "sha256": input_sha256}
    if command_line is not None:
        metadata["command_line"] = (command_line if isinstance(command_line, str)
                                    else shlex.join(str(a) for a in command_line))
    return metadata


class _Chunks:
    """A 1-D array put aside as it comes, in the chunks of its dataset (see `_chunked`): each full
    chunk is compressed by `pool` while the run goes on (zlib lets the simulation run meanwhile)
    and appended to an anonymous temporary file in `folder`; the chunk being filled stays in memory."""

    _AHEAD = 4      # chunks compressed or waiting at most, beyond which `put` waits for the oldest

    def __init__(self, dtype: np.dtype, folder: Path, pool: ThreadPoolExecutor):
        self.dtype = dtype
        self.pool = pool
        self.file = tempfile.TemporaryFile(dir=folder, prefix=".speksim-")
        self.sizes = []             # compressed bytes of each full chunk in the file, in order
        self.pending = deque()      # full chunks being compressed, oldest first
        self.buf = np.empty(_CHUNK, dtype)
        self.fill = 0
        self.n = 0

    def put(self, rows: np.ndarray) -> None:
        self.n += len(rows)
        i = 0
        while i < len(rows):
            m = min(len(rows) - i, _CHUNK - self.fill)
            self.buf[self.fill:self.fill + m] = rows[i:i + m]
            self.fill += m
            i += m
            if self.fill == _CHUNK:
                self._store(len(self.pending) >= self._AHEAD)
                self.pending.append(self.pool.submit(_compress, self.buf, _CHUNK))
                self.buf = np.empty(_CHUNK, self.dtype)
                self.fill = 0
        self._store(False)

    def _store(self, wait: bool) -> None:
        """Append the compressed chunks that are ready (with `wait`, at least the oldest) to the
        file; an error while compressing is raised here."""
        while self.pending and (wait or self.pending[0].done()):
            blob = self.pending.popleft().result()
            self.file.write(blob)
            self.sizes.append(len(blob))
            wait = False

    def chunks(self):
        """Every chunk, compressed, in order: those in the file, then the last one."""
        while self.pending:
            self._store(True)
        self.file.seek(0)
        for size in self.sizes:
            yield self.file.read(size)
        if self.fill:
            yield _compress(self.buf[:self.fill], min(self.n, _CHUNK))

    def close(self) -> None:
        for f in self.pending:
            f.cancel()
        self.file.close()


class RunWriter:
    """A run file for a run that is still going: the outputs and the per-input arrays are put aside
    on disk as they come, so a long run keeps none of them in memory.

        with RunWriter("run.h5") as writer:
            sim = Simulation(config, keep_outputs=False, sink=writer)
            ...                                  # sim.feed(chunk) as often as needed
            writer.finish(sim.finish(), input_name="walk.aedat4")

    `finish` writes the run file exactly as `save_run` would write the whole Result (same layout,
    same bytes, whatever the chunking), atomically. What is put aside is compressed as it comes,
    in a thread beside the run, into anonymous temporary files beside the run file, which vanish
    with the writer (or the process); until `finish`, nothing exists at `path`.
    """

    _PARTS = (("outputs", OUTPUT_EVENT), ("t_ns", np.dtype(np.int64)), ("lag_ns", np.dtype(np.int64)))

    def __init__(self, path):
        self.path = Path(os.fspath(path))
        if self.path.is_dir():
            raise RunFileError(f"{self.path}: is a folder; give the run file's name, e.g. {self.path / 'run.h5'}")
        if not self.path.parent.is_dir():
            raise RunFileError(f"{self.path}: the folder {self.path.parent} does not exist")
        # one thread: the simulation keeps the other core busy (and chunks must reach the files in order)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="speksim-compress")
        self._parts = {name: _Chunks(dtype, self.path.parent, self._pool) for name, dtype in self._PARTS}
        self._done = False

    @property
    def n_outputs(self) -> int:
        return self._parts["outputs"].n

    # what a Simulation calls (its `sink`)
    def inputs(self, t_ns: np.ndarray, lag_ns: np.ndarray) -> None:
        """Put aside input timestamps and lags (int64 ns), each continuing the run's input order
        (the lags may come later than their timestamps)."""
        self._put("t_ns", np.asarray(t_ns, np.int64))
        self._put("lag_ns", np.asarray(lag_ns, np.int64))

    def outputs(self, events: np.ndarray) -> None:
        """Put aside output events (OUTPUT_EVENT)."""
        self._put("outputs", np.asarray(events).astype(OUTPUT_EVENT, copy=False))

    def _put(self, name, rows):
        if self._done:
            raise RunFileError(f"{self.path}: this run file was already finished")
        self._parts[name].put(rows)

    def _copy(self, parent, name, **attrs):
        """The dataset `_dataset` makes for the whole array, from what was put aside."""
        check_interrupt()
        part = self._parts[name]
        if part.n < _COMPRESS_FROM:
            return _dataset(parent, name, part.buf[:part.fill], **attrs)
        return _described(_chunked(parent, name, part.n, part.dtype, part.chunks()), attrs)

    def finish(self, result: Result, *, input_name=None, input_size=None, input_sha256=None,
               command_line=None, metadata_texts: Optional[dict] = None) -> Path:
        """Write the run file (see `save_run` for the arguments) and put it in place; returns its
        path. The file holds the outputs and inputs put aside, not the result's own arrays.
        metadata_texts: {key: text} of metadata entries the caller has already as the JSON text a
        run file stores for them (a batch has its configuration's, which for a large network
        takes a fifth of a replay to make): written as given, and those entries are not built."""
        if self._done:
            raise RunFileError(f"{self.path}: this run file was already finished")
        try:
            _write_file(self.path, result,
                        _provenance(result, input_name, input_size, input_sha256, command_line, metadata_texts),
                        self._copy)
        finally:
            self.abort()
        return self.path

    def abort(self) -> None:
        """Give the run file up: what was put aside is dropped."""
        self._done = True
        for part in self._parts.values():
            part.close()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.abort()
        return False


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------

def is_run_file(path) -> bool:
    """True when `path` is an HDF5 file whose root says it is a speksim run file (complete or not)."""
    try:
        with open(path, "rb") as fh:
            if fh.read(8) != _HDF5_MAGIC:
                return False
    except OSError:
        return False
    import h5py
    try:
        with h5py.File(path, "r") as f:
            return _attr_str(f.attrs.get("format")) == RUN_FORMAT
    except (OSError, ValueError, KeyError, RuntimeError):  # what h5py raises for a damaged file
        return False


def temporary_file_note(path) -> Optional[str]:
    """What `path` is when it is named like the temporary file of a write (`NAME.tmp-PID-XXXXXXXX`):
    one sentence saying whose it is and what to do with it; None for any other name."""
    parsed = parse_temporary(path)
    if parsed is None:
        return None
    final, pid = parsed
    if not process_alive(pid):
        return (f"a temporary file of a run that was interrupted before it finished (process {pid}, no longer "
                f"running): delete it")
    return (f"a temporary file that process {pid} is writing; it becomes {final.name} when that run finishes "
            f"(if process {pid} is not a speksim run, the run was interrupted: delete it)")


def _attr_str(v) -> Optional[str]:
    if v is None:
        return None
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return str(v)


def load_run(path) -> Result:
    """Read a run file written by `save_run` back into a `Result`.

    Raises `RunFileError` when the file is missing, is not HDF5, is not a speksim run file, was not
    written to the end, was written by a newer speksim, or lacks a part of the layout; for the
    leftover temporary file of an interrupted write, the message says so (`temporary_file_note`).
    """
    path = Path(os.fspath(path))
    try:
        return _load(path)
    except RunFileError:
        note = temporary_file_note(path) if path.is_file() else None
        if note is None:
            raise
        raise RunFileError(f"{path}: {note}") from None


def _load(path: Path) -> Result:
    import h5py

    if not path.exists():
        raise RunFileError(f"{path}: no such file")
    if not path.is_file():
        raise RunFileError(f"{path}: is not a file")
    try:
        with open(path, "rb") as fh:
            magic = fh.read(8)
    except OSError as exc:
        raise RunFileError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if magic != _HDF5_MAGIC:
        raise RunFileError(f"{path}: not a speksim run file (not an HDF5 file at all)")
    try:
        f = h5py.File(path, "r")
    except (OSError, ValueError) as exc:
        raise RunFileError(f"{path}: cannot be opened as HDF5 ({exc}); the file is truncated or corrupt") from None
    with f:
        try:
            attrs = dict(f.attrs)
        except (OSError, ValueError, KeyError, RuntimeError) as exc:  # h5py on damaged metadata
            raise RunFileError(f"{path}: the run file cannot be read ({exc}); it is damaged") from None
        fmt = _attr_str(attrs.get("format"))
        if fmt != RUN_FORMAT:
            raise RunFileError(f"{path}: an HDF5 file but not a speksim run file (its root has no "
                               f"format = '{RUN_FORMAT}' attribute)")
        version = attrs.get("schema_version")
        try:
            version = int(version)
        except (TypeError, ValueError):
            raise RunFileError(f"{path}: the run file has no valid schema_version attribute") from None
        if version > SCHEMA_VERSION:
            raise RunFileError(f"{path}: written by a newer speksim (run file schema {version}, "
                               f"speksim {_attr_str(attrs.get('speksim_version'))}); this speksim "
                               f"{__version__} reads schema {SCHEMA_VERSION} and older: upgrade speksim")
        if not bool(attrs.get("complete", False)):
            raise RunFileError(f"{path}: the run file is incomplete (writing it did not finish); run the "
                               "simulation again")
        try:
            return _read(f)
        except KeyError as exc:
            raise RunFileError(f"{path}: the run file lacks {exc}; it is damaged") from None
        except (OSError, ValueError, TypeError, RuntimeError, AttributeError) as exc:
            # AttributeError: h5py gives None for a member whose link is damaged
            raise RunFileError(f"{path}: the run file cannot be read ({exc}); it is damaged") from None


def _read(f) -> Result:
    outputs = f["outputs"][()]
    outputs = np.asarray(outputs).astype(OUTPUT_EVENT) if outputs.dtype != OUTPUT_EVENT else outputs
    stats_raw = f["stats"][()]
    stats = np.zeros(len(stats_raw), STATS_DTYPE)
    for name in STATS_DTYPE.names:
        if name not in stats_raw.dtype.names and name in _ADDED_STATS:
            continue          # a run file from before the statistic existed: it stays 0
        col = stats_raw[name]
        stats[name] = np.char.decode(col, "ascii") if col.dtype.kind == "S" else col
    series = {name: ds[()] for name, ds in f["series"].items()}
    states = {int(ds.attrs["core"]): ds[()] for ds in f["states"].values()}
    metadata = {}
    for key, ds in f["metadata"].items():
        text = ds[()]
        text = text.decode("utf-8") if isinstance(text, bytes) else str(text)
        with gc_paused():       # the configuration's weights are many small lists
            metadata[key] = json.loads(text)
    return Result(outputs=outputs, stats=stats, input_t_ns=f["input/t_ns"][()], lag_ns=f["input/lag_ns"][()],
                  series=series, bin_ns=int(f.attrs["bin_ns"]), t_end_ns=int(f.attrs["t_end_ns"]),
                  states=states, metadata=metadata, cut=bool(f.attrs.get("cut", False)),
                  active=tuple(a for a in _attr_str(f.attrs.get("active", "")).split(",") if a),
                  unsent=int(f.attrs.get("unsent", 0)), input_events=_input_events(f))


def _input_events(f) -> Optional[np.ndarray]:
    """The optional /input/events dataset as SPIKE_EVENT or DVS_EVENT (None when absent)."""
    if "events" not in f["input"]:
        return None
    ev = f["input/events"][()]
    for dtype in (SPIKE_EVENT, DVS_EVENT):
        if set(ev.dtype.names or ()) == set(dtype.names):
            return ev.astype(dtype)
    raise RunFileError(f"/input/events has the fields {list(ev.dtype.names or ())}, which are neither "
                       f"{list(SPIKE_EVENT.names)} nor {list(DVS_EVENT.names)}; the file is damaged")


# --------------------------------------------------------------------------------------------
# CSV summary
# --------------------------------------------------------------------------------------------

#: Columns of `export_csv_summary`, after `block`.
CSV_COLUMNS = ("events_in", "served", "synops", "spikes", "copies", "decimated", "dropped_out_of_range",
               "congestion_dropped", "dvs_filtered", "leak_jobs", "leak_ticks_merged", "busy_ns", "stall_ns",
               "utilisation", "fifo_max", "fifo_mean", "out_max")


def summary_blocks(result: Result) -> list[int]:
    """Block indices worth reporting: the used cores, then the DVS layer, readout and host output
    when they received events (`Result.active_blocks`)."""
    return result.active_blocks()


def export_csv_summary(result: Result, path) -> Path:
    """Write a CSV with one row per used block (see `summary_blocks`) and its main statistics.

    Times in ns; utilisation = busy_ns / t_end_ns; fifo_mean in slots (time-weighted).
    Written atomically; the same result gives the same bytes.
    """
    path = Path(os.fspath(path))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(("block",) + CSV_COLUMNS)
    t_end = max(int(result.t_end_ns), 1)
    for b in summary_blocks(result):
        row = result.stats[b]
        cells = [str(row["block"])]
        for c in CSV_COLUMNS:
            if c == "utilisation":
                cells.append(f"{int(row['busy_ns']) / t_end:.6f}")
            elif c == "fifo_mean":
                cells.append(f"{float(row['fifo_mean']):.6f}")
            else:
                cells.append(str(int(row[c])))
        w.writerow(cells)
    with atomic_path(path) as tmp:
        with open(tmp, "x", encoding="utf-8", newline="") as fh:
            fh.write(buf.getvalue())
    return path


def file_sha256(path, block: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes (read in blocks)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(block), b""):
            h.update(chunk)
    return h.hexdigest()


__all__ = ["RUN_FORMAT", "SCHEMA_VERSION", "save_run", "load_run", "is_run_file", "RunWriter", "temporary_file_note",
           "export_csv_summary", "summary_blocks", "file_sha256", "CSV_COLUMNS"]
