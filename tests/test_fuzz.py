"""Seeded fuzz pass over every reader: damaged, mislabelled and random files must give a typed error
or valid events, never another exception, and never unbounded memory or time.

Base files: one small file per format (written by recording_files.py), the bundled traces/*.npz,
and the real recordings in ../shared/traces when that folder is present. Each is damaged in seeded
ways: cut at a random offset, a few bytes flipped (anywhere, and within the first 512 bytes where
the headers are), saved under another format's extension, and read with another format forced.
Empty files and random bytes (bare and behind each format's signature) complete the set.

For every case, `read_events` and `describe_recording` must each either raise ReaderError or
EventError from a specific check (not the readers' catch-all "cannot be decoded as ...", which
hides the cause), with a command-line twin when the message names a Python argument, or succeed;
events must pass `validate_events` once sorted by time (readers return file order), and the
statistics must agree with the events. No case may trace more than MEMORY_LIMIT bytes (numpy
reports its buffers to tracemalloc) or run longer than CASE_TIMEOUT_S, a guard against hangs, not
a speed requirement.

The case counts keep the whole pass to a few seconds per format; SPEKSIM_FUZZ_SCALE=10 runs ten
times as many cases for a deeper search. Each kind of damage it found a reader mishandling is kept
at the end as an explicit case built on purpose.
"""

from __future__ import annotations

import os
import re
import signal
import struct
import threading
import tracemalloc
import zipfile
import zlib
from contextlib import contextmanager
from pathlib import Path

import h5py
import numpy as np
import pytest

import speksim.io as sio
from speksim.errors import EventError, ReaderError
from speksim.events import DVS_EVENT, validate_events

from recording_files import (AEDAT2_HEADER, aedat2_address, aedat4_event_packet, aedat4_file, messages_name,
                             patched_run_copy, sample_events, write_samples)

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "traces"
SHARED_NAMES = sorted(p.name for p in SHARED.iterdir() if p.suffix not in (".md", "") and p.is_file()) \
    if SHARED.is_dir() else []

MEMORY_LIMIT = 256 * 2**20
CASE_TIMEOUT_S = 20
SCALE = max(1, int(os.environ.get("SPEKSIM_FUZZ_SCALE", "1")))

#: Extensions a recording may carry (the readers' own, plus none and an unrelated one).
EXTENSIONS = (".aedat4", ".aedat", ".raw", ".dat", ".bin", ".npy", ".npz", ".h5", "", ".txt")

#: The first bytes by which each format is recognised, for random data that looks like it.
SIGNATURES = {
    "aedat4": b"#!AER-DAT4.0\r\n",
    "aedat2": b"#!AER-DAT2.0\r\n",
    "aedat31": b"#!AER-DAT3.1\r\n#!END-HEADER\r\n",
    "evt2": b"% evt 2.0\n",
    "evt3": b"% evt 3.0\n",
    "dat": b"% Data file containing CD events.\n% Version 2\n",
    "npy": b"\x93NUMPY\x01\x00",
    "npz": b"PK\x03\x04",
    "hdf5": b"\x89HDF\r\n\x1a\n",
}

#: Python API terms a message may name; the command line must get a twin (`cli`) without them.
API_TERMS = re.compile(r"format=|chunk_events|t_start_us|t_end_us|run_outputs_as_spikes")

SAMPLE_LABELS = ("aedat4-none", "aedat4-lz4", "aedat4-zstd", "aedat2", "aedat31", "evt2", "evt3", "dat", "nmnist",
                 "npy", "npz", "npz-compressed", "hdf5", "hdf5-compound", "run")


class _Hang(BaseException):
    """Raised by the alarm; a BaseException so that no reader's own `except Exception` takes it."""


@contextmanager
def _time_limit(seconds: int):
    if not hasattr(signal, "SIGALRM") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(signum, frame):
        raise _Hang(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def compiled_readers(samples):
    """Every reader run once on its good sample, before any case is traced or timed: the first
    use of a reader compiles its numba code, which under tracemalloc can take longer than a case
    may, and an alarm must never land inside a compiler."""
    for path, _ in samples.values():
        sio.read_events(path)


@pytest.fixture(scope="module")
def memory(compiled_readers):
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    yield
    if started:
        tracemalloc.stop()


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    return write_samples(tmp_path_factory.mktemp("samples"))


def _call(fn):
    """(value, None) or (None, the typed error); anything else is raised to the caller."""
    tracemalloc.reset_peak()
    with _time_limit(CASE_TIMEOUT_S):
        try:
            value = fn()
        except (ReaderError, EventError) as exc:
            value = exc
    peak = tracemalloc.get_traced_memory()[1]
    return value, peak


def _problems(path: Path, fmt, chunk: int) -> list:
    """What is wrong with reading `path` (an empty list when the outcome is acceptable)."""
    found = []
    outcomes = {}
    for name, fn in (("read_events", lambda: sio.read_events(path, format=fmt)),
                     ("describe_recording", lambda: _describe(path, fmt, chunk))):
        try:
            value, peak = _call(fn)
        except _Hang as exc:
            found.append(f"{name}: {exc}")
            continue
        except Exception as exc:  # the point of the test: report it rather than stop at the first
            found.append(f"{name}: raised {type(exc).__name__}: {exc}")
            continue
        if peak > MEMORY_LIMIT:
            found.append(f"{name}: traced {peak / 2**20:.0f} MiB")
        if isinstance(value, (ReaderError, EventError)):
            if "cannot be decoded as" in str(value):
                cause = value.__cause__
                found.append(f"{name}: only the catch-all caught {type(cause).__name__}: {cause}")
            if API_TERMS.search(str(value)) and (not value.cli or API_TERMS.search(value.cli)):
                found.append(f"{name}: no command-line wording of: {value}")
        outcomes[name] = value
    ev, stats = outcomes.get("read_events"), outcomes.get("describe_recording")
    if isinstance(ev, np.ndarray):
        if ev.dtype != DVS_EVENT:
            found.append(f"read_events: dtype {ev.dtype}")
        else:
            try:
                validate_events(ev[np.argsort(ev["t"], kind="stable")], "dvs")
            except EventError as exc:
                found.append(f"read_events: invalid events: {exc}")
    if len(outcomes) == 2 and isinstance(ev, np.ndarray) != isinstance(stats, sio.RecordingStats):
        found.append(f"read_events gave {_outcome(ev)} but describe_recording {_outcome(stats)}")
    elif isinstance(ev, np.ndarray) and isinstance(stats, sio.RecordingStats):
        found.extend(_disagreements(ev, stats))
    return found


def _describe(path, fmt, chunk):
    stats = sio.describe_recording(path, format=fmt, chunk_events=chunk)
    stats.lines()
    return stats


def _outcome(value) -> str:
    return f"{type(value).__name__}: {value}" if isinstance(value, Exception) else type(value).__name__


def _disagreements(ev: np.ndarray, stats) -> list:
    n = len(ev)
    t = ev["t"].astype(np.int64)
    want = {"events": n, "on": int(np.count_nonzero(ev["p"])),
            "t_first": int(t[0]) if n else None, "t_last": int(t[-1]) if n else None,
            "t_min": int(t.min()) if n else None, "t_max": int(t.max()) if n else None,
            "x_max": int(ev["x"].max()) if n else None, "y_max": int(ev["y"].max()) if n else None,
            "backward_steps": int(np.count_nonzero(np.diff(t) < 0))}
    return [f"describe_recording: {k} = {getattr(stats, k)}, the events say {v}"
            for k, v in want.items() if getattr(stats, k) != v]


# ------------------------------------------------------------------------------------- cases

def _cases(label: str, data: bytes, ext: str, count: int):
    """Seeded damaged versions of `data`: (description, bytes, extension, forced format or None)."""
    rng = np.random.default_rng(zlib.crc32(label.encode()))
    size = len(data)
    formats = list(sio.FORMATS)
    for i in range(count * SCALE):
        kind = ("cut", "flip", "head-flip", "extension", "forced")[i % 5]
        if kind == "cut":
            at = int(rng.integers(0, size))
            yield f"cut at {at}", data[:at], ext, None
        elif kind in ("flip", "head-flip"):
            buf = bytearray(data)
            where = rng.integers(0, size if kind == "flip" else min(size, 512), int(rng.integers(1, 5)))
            for at in where:
                buf[at] ^= int(rng.integers(1, 256))
            yield f"{kind} at {sorted(int(w) for w in where)}", bytes(buf), ext, None
        elif kind == "extension":
            other = EXTENSIONS[int(rng.integers(len(EXTENSIONS)))]
            yield f"saved as '{other}'", data, other, None
        else:
            fmt = formats[int(rng.integers(len(formats)))]
            yield f"read as {fmt}", data, ext, fmt


def _run_cases(label: str, source: Path, folder: Path, count: int):
    data = source.read_bytes()
    rng = np.random.default_rng(zlib.crc32(label.encode()) + 1)
    failures = []
    for i, (what, content, ext, fmt) in enumerate(_cases(label, data, source.suffix, count)):
        path = folder / f"case{i}{ext}"
        path.write_bytes(content)
        chunk = int(rng.choice([1000, 4096, 1 << 20]))
        failures += [f"{label}, {what}: {p}" for p in _problems(path, fmt, chunk)]
        path.unlink()
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("label", SAMPLE_LABELS)
def test_fuzz_samples(samples, label, tmp_path, memory):
    path, _ = samples[label]
    # the undamaged file reads back, so the damaged ones start from a valid file
    assert not _problems(path, None, 1000)
    _run_cases(label, path, tmp_path, count=80)


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "traces").glob("*.npz")))
def test_fuzz_bundled_traces(name, tmp_path, memory):
    _run_cases(f"traces/{name}", ROOT / "traces" / name, tmp_path, count=30)


@pytest.mark.parametrize("name", SHARED_NAMES or ["(none)"])
def test_fuzz_shared_traces(name, tmp_path, memory):
    if not SHARED_NAMES:
        pytest.skip(f"../shared/traces not found ({SHARED}): the real recordings sit next to the project "
                    "checkout; the fuzz pass over them is skipped")
    _run_cases(f"shared/{name}", SHARED / name, tmp_path, count=10)


def test_samples_cover_every_format(samples):
    assert {sio.detect_format(path) for path, _ in samples.values()} == set(sio.FORMATS)
    for label, (path, events) in samples.items():
        if events is not None:
            np.testing.assert_array_equal(sio.read_events(path), events, err_msg=label)


def test_fuzz_empty_and_random_files(tmp_path, memory):
    rng = np.random.default_rng(20240611)
    failures = []

    def check(what, content, ext, fmt=None):
        path = tmp_path / f"case{ext}"
        path.write_bytes(content)
        failures.extend(f"{what}: {p}" for p in _problems(path, fmt, 4096))

    for ext in EXTENSIONS:
        check(f"empty '{ext}'", b"", ext)
    for size in (1, 7, 100, 4097, 65_536):
        for k in range(SCALE):
            noise = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
            check(f"{size} random bytes ({k}) as '.raw' (evt3 forced)", noise, ".raw", "evt3")
            check(f"{size} random bytes ({k}) as '.raw' (evt2 forced)", noise, ".raw", "evt2")
            check(f"{size} random bytes ({k}) as '.bin'", noise, ".bin")
            check(f"{size} random bytes ({k}) as '.dat'", noise, ".dat")
            check(f"{size} random bytes ({k}), no extension", noise, "")
            for fmt, magic in SIGNATURES.items():
                check(f"{fmt} signature and {size} random bytes ({k})", magic + noise, ".x")
        for fmt in sio.FORMATS:  # every decoder on data that is not its format
            check(f"{size} random bytes read as {fmt}", noise, ".x", fmt)
    assert not failures, "\n".join(failures)


# ------------------------------------------------------- what the fuzz pass found, kept as cases

def _sample(n: int) -> np.ndarray:
    return sample_events(n, 640, 480, 10_000_000, seed=0)


def _zip_patched(data: bytes, method=None, flag=None) -> bytes:
    """Set the compression method and/or OR a flag bit into every local and central zip header."""
    buf = bytearray(data)
    for sig, flag_at, method_at in ((b"PK\x03\x04", 6, 8), (b"PK\x01\x02", 8, 10)):
        at = buf.find(sig)
        while at >= 0:
            if flag is not None:
                struct.pack_into("<H", buf, at + flag_at, struct.unpack_from("<H", buf, at + flag_at)[0] | flag)
            if method is not None:
                struct.pack_into("<H", buf, at + method_at, method)
            at = buf.find(sig, at + 4)
    return bytes(buf)


@pytest.mark.parametrize("damage", ["unknown method", "strong encryption", "encrypted", "bad deflate block"])
def test_npz_damaged_zip_headers_and_data(tmp_path, damage):
    ev = _sample(50)
    src = tmp_path / "src.npz"
    if damage == "bad deflate block":
        np.savez_compressed(src, t=ev["t"], x=ev["x"], y=ev["y"], p=ev["p"])
        data = bytearray(src.read_bytes())
        with zipfile.ZipFile(src) as z:
            info = z.infolist()[0]
        name_len, extra_len = struct.unpack_from("<HH", data, info.header_offset + 26)
        # deflate block header bits: BFINAL = 1, BTYPE = 11, a type that does not exist
        data[info.header_offset + 30 + name_len + extra_len] = 0b111
        data = bytes(data)
    else:
        np.savez(src, t=ev["t"], x=ev["x"], y=ev["y"], p=ev["p"])
        patch = {"unknown method": dict(method=99), "strong encryption": dict(flag=1 << 6),
                 "encrypted": dict(flag=1)}[damage]
        data = _zip_patched(src.read_bytes(), **patch)
    path = tmp_path / "damaged.npz"
    path.write_bytes(data)
    with pytest.raises(ReaderError) as exc:
        sio.read_events(path)
    messages_name(exc, path)


@pytest.mark.parametrize("damage", [(b"}", b" "), (b"'descr':", b"'descr'!")])
def test_npy_damaged_header_text(tmp_path, damage):
    np.save(tmp_path / "ok.npy", _sample(10))
    path = tmp_path / "damaged.npy"
    path.write_bytes((tmp_path / "ok.npy").read_bytes().replace(*damage, 1))
    with pytest.raises(ReaderError) as exc:
        sio.read_events(path)
    messages_name(exc, path)


def test_npz_bad_value_is_reported_as_such(tmp_path):
    ev = _sample(10)
    p = ev["p"].astype(np.int8)
    p[4] = 2
    np.savez(tmp_path / "p.npz", t=ev["t"], x=ev["x"], y=ev["y"], p=p)
    with pytest.raises(ReaderError) as exc:
        sio.read_events(tmp_path / "p.npz")
    assert "field 'p' at index 4 is 2" in str(exc.value)
    assert "cannot read the archive" not in str(exc.value)  # a bad value, not a damaged archive


def _flip_in(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))


def test_hdf5_damaged_group_header(tmp_path):
    ev = _sample(20)
    path = tmp_path / "damaged.h5"
    with h5py.File(path, "w", libver="latest") as f:  # object headers with checksums
        g = f.create_group("events")
        for k in "txyp":
            g[k] = ev[k]
        address = h5py.h5o.get_info(g.id).addr
    _flip_in(path, address + 10)
    with pytest.raises(ReaderError) as exc:
        sio.read_events(path)
    messages_name(exc, path)


def test_run_file_with_damaged_root_header(run_file, tmp_path):
    path = tmp_path / "damaged.h5"
    path.write_bytes(run_file.read_bytes())
    _flip_in(path, path.read_bytes().index(b"OHDR") + 10)  # the first object header is the root group's
    assert sio.detect_format(path) == "hdf5"  # its root attributes cannot say it is a run file
    for fmt in (None, "run"):
        with pytest.raises(ReaderError) as exc:
            sio.read_events(path, format=fmt)
        messages_name(exc, path)


def test_run_file_with_dangling_member(run_file, tmp_path):
    path = tmp_path / "dangling.h5"
    path.write_bytes(run_file.read_bytes())
    with h5py.File(path, "r+") as f:
        f["states"]["lost"] = h5py.SoftLink("/nowhere")
    with pytest.raises(ReaderError) as exc:
        sio.read_events(path)
    messages_name(exc, path)


# ------------------------------------------------------------------------------- negative times

def test_aedat2_timestamps_are_an_unsigned_counter(tmp_path):
    """jAER stores the 32-bit µs counter as int32: past 2**31 µs it reads negative as signed."""
    addr = aedat2_address(5, 6, True)
    stamps = [2**31 - 2, 2**31 + 5, 2**32 - 1, 3]  # the last wraps the 32-bit counter
    path = tmp_path / "late.aedat"
    path.write_bytes(AEDAT2_HEADER + b"".join(struct.pack(">iI", addr, t) for t in stamps))
    assert sio.read_events(path)["t"].tolist() == [2**31 - 2, 2**31 + 5, 2**32 - 1, 2**32 + 3]
    # a recording that starts after the counter passed 2**31
    path.write_bytes(AEDAT2_HEADER + struct.pack(">iI", addr, 2**31 + 7))
    assert sio.read_events(path)["t"].tolist() == [2**31 + 7]


def test_aedat4_negative_timestamp_is_corruption(tmp_path):
    path = tmp_path / "neg.aedat4"
    path.write_bytes(aedat4_file(0, [(0, aedat4_event_packet([(5, 1, 1, 1), (-3, 2, 2, 0)]))]))
    with pytest.raises(ReaderError) as exc:
        sio.read_events(path)
    messages_name(exc, path, offset=True)
    assert "negative" in str(exc.value)


@pytest.mark.parametrize("ext", [".npy", ".npz", ".h5"])
def test_array_files_with_negative_times(tmp_path, ext):
    ev = _sample(10).astype([("t", "<i8"), ("x", "<u2"), ("y", "<u2"), ("p", "u1")])
    ev["t"][6] = -1
    path = tmp_path / f"neg{ext}"
    if ext == ".npy":
        np.save(path, ev)
    elif ext == ".npz":
        np.savez(path, events=ev)
    else:
        with h5py.File(path, "w") as f:
            f["events"] = ev
    with pytest.raises(ReaderError) as exc:
        sio.read_events(path)
    messages_name(exc, path)
    assert "field 't' at index 6 is -1" in str(exc.value)


def test_run_file_with_negative_output_time(run_file, tmp_path):
    def negative(out):
        out["t_ns"][out["layer"] == 13] = -5_000

    path = patched_run_copy(run_file, tmp_path / "neg.h5", negative)
    with pytest.raises(ReaderError) as exc:
        sio.read_events(path)
    messages_name(exc, path)
    assert "negative" in str(exc.value)
