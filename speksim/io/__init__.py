"""Readers of event-camera recordings. Every reader returns `speksim.events.DVS_EVENT` arrays.

* `read_events(path)` decodes a whole recording (optionally only ``t_start_us <= t < t_end_us``);
* `iter_events(path, chunk_events=...)` streams it in chunks of at most `chunk_events` events, with
  memory bounded by the chunk size (npz files are loaded whole);
* `sensor_size(path)` gives (width, height) when the file records it, else None;
* `detect_format(path)` names the format; `FORMATS` lists them;
* `describe_recording(path)` gives counts, times, extent, peak rate and timestamp problems
  (`speksim.io.stats`), streaming the file.

The format is detected from the content (magic bytes, text headers) first, then from the file
extension; ``format=`` overrides detection, but not a contradicting magic. Events come in file
order, with times in µs exactly as the file has them (nothing is shifted: see `speksim.io.fit`).
Any problem with a file raises `speksim.errors.ReaderError` naming the file and, where it applies,
the byte offset; bad arguments (time window, chunk size) raise `speksim.errors.EventError`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import EventError, ReaderError, SpeksimError
from ..events import DVS_EVENT
from . import aedat, aedat4, hdf5, nmnist, numpy_files, prophesee, runfiles
from ._base import fail, scan_text_header
from .fit import time_window
from .stats import RecordingStats, describe_recording

#: Supported formats: name -> description.
FORMATS = {
    "aedat4": "AEDAT 4.0 (iniVation DV, .aedat4): LZ4/zstd packets; frame, IMU and trigger streams skipped",
    "aedat2": "AEDAT 2.0 (jAER, .aedat) from a DVS128",
    "aedat31": "AEDAT 3.1 (cAER, .aedat, e.g. DVS Gesture): polarity packets",
    "evt2": "Prophesee RAW EVT 2.0 (.raw)",
    "evt3": "Prophesee RAW EVT 3.0 (.raw)",
    "dat": "Prophesee DAT with CD events (.dat, 8 bytes per event)",
    "nmnist": "N-MNIST / N-Caltech101 binary (.bin, 5 bytes per event)",
    "npy": "numpy .npy structured array with fields t, x, y, p",
    "npz": "numpy .npz archive: arrays t, x, y, p or one structured event array",
    "hdf5": "HDF5 (.h5/.hdf5): events/{t,x,y,p}, events/{ts,xs,ys,ps}, or top-level t, x, y, p",
    "run": "speksim run file (.h5): the DVS layer's monitored output (layer 13) as camera events",
}

_READERS = {
    "aedat4": (aedat4.iter_aedat4, aedat4.sensor_size_aedat4),
    "aedat2": (aedat.iter_aedat2, aedat.sensor_size_aedat2),
    "aedat31": (aedat.iter_aedat31, aedat.sensor_size_aedat31),
    "evt2": (prophesee.iter_evt2, prophesee.sensor_size),
    "evt3": (prophesee.iter_evt3, prophesee.sensor_size),
    "dat": (prophesee.iter_dat, prophesee.sensor_size_dat),
    "nmnist": (nmnist.iter_nmnist, nmnist.sensor_size_nmnist),
    "npy": (numpy_files.iter_npy, numpy_files.sensor_size_none),
    "npz": (numpy_files.iter_npz, numpy_files.sensor_size_none),
    "hdf5": (hdf5.iter_hdf5, hdf5.sensor_size_hdf5),
    "run": (runfiles.iter_run, runfiles.sensor_size_run),
}

_ALIASES = {"aedat": "aedat2", "aedat2.0": "aedat2", "aedat3": "aedat31", "aedat3.1": "aedat31",
            "aedat4.0": "aedat4", "evt2.0": "evt2", "evt3.0": "evt3", "bin": "nmnist", "h5": "hdf5",
            "hdf": "hdf5"}

_EXTENSIONS = {".aedat4": "aedat4", ".aedat": "aedat2", ".dat": "dat", ".bin": "nmnist", ".npy": "npy",
               ".npz": "npz", ".h5": "hdf5", ".hdf5": "hdf5", ".hdf": "hdf5"}

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"

#: Records decoded per block when a whole file is read at once.
_WHOLE_FILE_BLOCK = 1 << 20


def _supported(quote: str = "'") -> str:
    return ", ".join(f"{quote}{name}{quote}" for name in FORMATS)


def _check_file(path) -> Path:
    try:
        p = Path(os.fspath(path))
    except TypeError:
        raise ReaderError(f"path must be a str or os.PathLike, got {path!r}") from None
    if not p.exists():
        raise fail(p, "no such file", hint="check the path")
    if not p.is_file():
        raise fail(p, "is not a regular file", hint="pass the path of a recording file")
    try:
        size = p.stat().st_size
        with open(p, "rb"):
            pass
    except OSError as exc:
        raise fail(p, f"cannot be opened ({exc.strerror or exc})", hint="check the file's permissions") from None
    if size == 0:
        raise fail(p, "the file is empty (0 bytes)", hint="the recording was not written; record or copy it again")
    return p


def _sniff(p: Path) -> str | None:
    """Format from the content alone, or None when the content has no recognisable signature."""
    with open(p, "rb") as f:
        head = f.read(64)
        if head.startswith(b"#!AER-DAT"):
            version = head[9:12]
            found = {b"4.0": "aedat4", b"3.1": "aedat31", b"3.0": "aedat31", b"2.0": "aedat2"}.get(version)
            if found is None:
                raise fail(p, f"AEDAT version {version.decode('latin-1')!r} is not supported", offset=9,
                           hint=f"supported: AEDAT 2.0 (DVS128), 3.1 and 4.0; the formats are {_supported()}")
            return found
        if head.startswith(b"\x93NUMPY"):
            return "npy"
        if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
            return "npz"
        for at in (0, 512, 1024, 2048):
            if at:
                f.seek(at)
                head_at = f.read(8)
            else:
                head_at = head[:8]
            if head_at == _HDF5_MAGIC:
                from ..runfile import is_run_file
                return "run" if is_run_file(p) else "hdf5"
        if head.startswith(b"%"):
            lines, _ = scan_text_header(f, p, b"%", stop_line=b"% end")
            kind = prophesee.sniff(lines)
            if kind in ("evt21", "evt?"):
                info = prophesee.header_info(lines)
                raise fail(p, f"Prophesee RAW with EVT {info['evt']} encoding is not supported",
                           hint="convert it to EVT 3.0 or HDF5 with the Metavision tools")
            return kind
    return None


def detect_format(path) -> str:
    """Name of the format of `path` (a key of FORMATS): content first, then the extension."""
    p = _check_file(path)
    found = _sniff(p)
    if found is not None:
        return found
    ext = p.suffix.lower()
    if ext == ".raw":
        raise fail(p, "this RAW file has no header line giving its encoding ('% evt 2.0' / '% evt 3.0')",
                   hint="pass format='evt2' or format='evt3'", cli_hint="pass --format evt2 or --format evt3")
    if ext in _EXTENSIONS:
        return _EXTENSIONS[ext]
    raise fail(p, "unknown recording format (no known magic bytes or header, unknown extension "
                  f"{ext or '(none)'!r})", hint=f"pass format= one of {_supported()}",
               cli_hint=f"pass --format with one of {_supported('')}")


def _resolve(path, format) -> tuple[Path, str]:
    p = _check_file(path)
    if format is None:
        return p, detect_format(p)
    if not isinstance(format, str):
        raise ReaderError(f"format must be a string or None, got {format!r}; supported: {_supported()}")
    name = format.strip().lower()
    name = _ALIASES.get(name, name)
    if name not in FORMATS:
        raise ReaderError(f"unknown format {format!r}; supported formats: {_supported()}",
                          cli=f"unknown --format {format!r}; supported formats: {_supported('')}")
    found = _sniff(p)
    if found is not None and found != name:
        raise fail(p, f"format={format!r} was given, but the file's content is {FORMATS[found]}",
                   hint=f"use format={found!r} or format=None to detect it",
                   cli_message=f"--format {format} was given, but the file's content is {FORMATS[found]}",
                   cli_hint=f"use --format {found}, or leave --format out to detect it")
    return p, name


def _guarded(p: Path, fmt: str, gen):
    """Re-raise anything unexpected from a reader as a ReaderError naming the file."""
    try:
        yield from gen
    except SpeksimError:
        raise
    except MemoryError:
        raise
    except OSError as exc:
        raise fail(p, f"read error ({exc.strerror or exc})") from exc
    except Exception as exc:  # a decoder bug or a corruption no check caught: never leak other types
        raise fail(p, f"cannot be decoded as {fmt} ({type(exc).__name__}: {exc})",
                   hint="the file is corrupt or not in this format") from exc


def _check_chunk(chunk_events) -> int:
    if isinstance(chunk_events, (bool, np.bool_)) or not isinstance(chunk_events, (int, np.integer)):
        raise EventError(f"chunk_events must be a positive integer, got {chunk_events!r}",
                         cli=f"--chunk-events must be a positive integer, got {chunk_events!r}")
    if chunk_events < 1:
        raise EventError(f"chunk_events must be at least 1, got {chunk_events}",
                         cli=f"--chunk-events must be at least 1, got {chunk_events}")
    return int(chunk_events)


def _windowed(chunks, t_start_us, t_end_us):
    for ev in chunks:
        if t_start_us is not None or t_end_us is not None:
            ev = time_window(ev, t_start_us, t_end_us)
        if len(ev):
            yield ev


def _check_window(t_start_us, t_end_us):
    time_window(np.empty(0, dtype=DVS_EVENT), t_start_us, t_end_us)  # validates the bounds


def read_events(path, format=None, *, t_start_us=None, t_end_us=None) -> np.ndarray:
    """Decode a recording into one DVS_EVENT array, in file order.

    `format`: a key of FORMATS (None: detect). `t_start_us` / `t_end_us`: keep only events with
    ``t_start_us <= t < t_end_us`` (times as in the file).
    """
    _check_window(t_start_us, t_end_us)
    p, fmt = _resolve(path, format)
    gen = _READERS[fmt][0](p, _WHOLE_FILE_BLOCK)
    chunks = list(_windowed(_guarded(p, fmt, gen), t_start_us, t_end_us))
    if not chunks:
        return np.empty(0, dtype=DVS_EVENT)
    return chunks[0] if len(chunks) == 1 else np.concatenate(chunks)


def iter_events(path, format=None, chunk_events=1_000_000, *, t_start_us=None, t_end_us=None):
    """Stream a recording as DVS_EVENT chunks of exactly `chunk_events` events (the last may be
    shorter); concatenated, they equal `read_events(path, format, ...)`.

    Arguments and the format are checked at the call; decoding errors surface while iterating.
    """
    chunk_events = _check_chunk(chunk_events)
    _check_window(t_start_us, t_end_us)
    p, fmt = _resolve(path, format)
    block = min(max(chunk_events, 1024), _WHOLE_FILE_BLOCK)
    gen = _READERS[fmt][0](p, block)
    return _rechunk(_windowed(_guarded(p, fmt, gen), t_start_us, t_end_us), chunk_events)


def _rechunk(chunks, size):
    pending, pending_n = [], 0
    for ev in chunks:
        while len(ev):
            take = min(size - pending_n, len(ev))
            pending.append(ev[:take])
            pending_n += take
            ev = ev[take:]
            if pending_n == size:
                yield pending[0].copy() if len(pending) == 1 else np.concatenate(pending)
                pending, pending_n = [], 0
    if pending_n:
        yield np.concatenate(pending)


def sensor_size(path, format=None):
    """(width, height) of the sensor as the file records it, or None when it does not say.

    AEDAT 4: sizeX/sizeY of the event stream; AEDAT 2.0: 128x128 (DVS128); AEDAT 3.1: from the
    camera named in '#Source'; Prophesee: '% geometry', '% format ...;width=;height=', '% Width' /
    '% Height', else the sensor implied by '% plugin_name'; N-MNIST, numpy and HDF5: None.
    """
    p, fmt = _resolve(path, format)

    def call():
        yield _READERS[fmt][1](p)
    return next(_guarded(p, fmt, call()))


__all__ = ["FORMATS", "read_events", "iter_events", "sensor_size", "detect_format", "describe_recording",
           "RecordingStats"]
