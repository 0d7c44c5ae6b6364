"""Tests of the recording readers (speksim.io).

The real recordings live outside the project, in ../shared/traces next to the checkout (see its
SOURCES.md for where each comes from and the facts checked here); the tests that need them skip
when that folder is absent. Files built byte by byte are tested in test_readers_built.py.
"""

from __future__ import annotations

import functools
import struct
from pathlib import Path

import numpy as np
import pytest

import speksim.io as sio
from speksim.errors import ReaderError
from speksim.events import DVS_EVENT

from recording_files import (messages_name)

TRACES = Path(__file__).resolve().parents[1].parent / "shared" / "traces"


@pytest.fixture(scope="module")
def traces() -> Path:
    if not TRACES.is_dir():
        pytest.skip(f"../shared/traces not found: {TRACES} (the real recordings sit next to the "
                    "project checkout; see the project README)")
    return TRACES


# Facts from ../shared/traces/SOURCES.md. `bounds` is the sensor the events must fit in; `sensor`
# is what sensor_size() must report (None when the file does not say it).
TRACE_FACTS = {
    "dvs128_gesture.aedat4": dict(format="aedat4", count=296_957, duration=5.450, first=1718924406700478,
                                  last=1718924412150443, bounds=(128, 128), sensor=(128, 128)),
    "dvs128_lowrate.aedat4": dict(format="aedat4", count=18_342, duration=5.460, bounds=(128, 128),
                                  sensor=(128, 128)),
    "dvs128_walking.aedat": dict(format="aedat2", count=70_304, duration=9.244, bounds=(128, 128),
                                 sensor=(128, 128)),
    "dvxplorer_320x240.aedat4": dict(format="aedat4", count=111_954, duration=0.590, bounds=(320, 240),
                                     sensor=(320, 240)),
    "davis346_flicker.aedat4": dict(format="aedat4", count=117_667, duration=0.130, bounds=(346, 260),
                                    sensor=(346, 260)),
    "prophesee_gen3_evt2.raw": dict(format="evt2", count=539_481, duration=0.050, first=1317888, last=1367888,
                                    off=171_626, on=367_855, bounds=(640, 480), sensor=(640, 480)),
    "prophesee_gen41_evt3.raw": dict(format="evt3", count=219_596, duration=0.0088, first=11718656,
                                     last=11727457, bounds=(1280, 720), sensor=(1280, 720)),
    "ncars_atis.dat": dict(format="dat", count=2_009, duration=0.100, bounds=(78, 42), sensor=None),
    "nmnist_atis.bin": dict(format="nmnist", count=4_325, duration=0.311, bounds=(34, 34), sensor=None),
    "prophesee_gen41_evt3.reference.npy": dict(format="npy", count=219_596, duration=0.0088, first=11718656,
                                               last=11727457, bounds=(1280, 720), sensor=None),
}

# Streaming chunk sizes: small and odd, so chunks and decoder blocks split packets and words.
CHUNKS = {"prophesee_gen41_evt3.raw": 777, "prophesee_gen3_evt2.raw": 10_007}


@functools.cache
def _read(path: Path) -> np.ndarray:
    return sio.read_events(path)


# ----------------------------------------------------------------------------- real recordings

@pytest.mark.parametrize("name", sorted(TRACE_FACTS))
def test_trace_facts(traces, name):
    facts = TRACE_FACTS[name]
    path = traces / name
    assert sio.detect_format(path) == facts["format"]
    ev = _read(path)
    assert ev.dtype == DVS_EVENT
    assert len(ev) == facts["count"]
    t = ev["t"]
    if "first" in facts:
        assert t[0] == facts["first"] and t[-1] == facts["last"]
    # SOURCES.md rounds durations to the digits it prints (and 5.4595 s is printed 5.460)
    decimals = len(str(facts["duration"]).split(".")[1])
    assert abs((int(t[-1]) - int(t[0])) / 1e6 - facts["duration"]) <= 10.0 ** -decimals
    if "on" in facts:
        assert int((ev["p"] == 1).sum()) == facts["on"]
        assert int((ev["p"] == 0).sum()) == facts["off"]
    assert set(np.unique(ev["p"])) <= {0, 1}
    w, h = facts["bounds"]
    assert int(ev["x"].max()) < w and int(ev["y"].max()) < h
    assert sio.sensor_size(path) == facts["sensor"]


def test_evt3_matches_reference_decode(traces):
    ev = _read(traces / "prophesee_gen41_evt3.raw")
    ref = np.load(traces / "prophesee_gen41_evt3.reference.npy")
    assert len(ev) == len(ref)
    for field in "txyp":
        np.testing.assert_array_equal(ev[field].astype(np.int64), ref[field].astype(np.int64), err_msg=field)
    # the literal decode keeps the small steps back of TIME_LOW (not stretched into 4096 µs wraps)
    assert int(ev["t"].max() - ev["t"].min()) == 11727457 - 11718656


def test_aedat2_polarity_zero_is_on(traces):
    """SOURCES.md: in DVS128 AEDAT 2.0 addresses, polarity bit 0 = 0 means ON."""
    path = traces / "dvs128_walking.aedat"
    raw = path.read_bytes()
    start = len(raw) - 8 * 70_304
    addr = np.frombuffer(raw[start:], dtype=">i4")[0::2]
    ev = _read(path)
    np.testing.assert_array_equal(ev["p"], 1 - (addr & 1))
    np.testing.assert_array_equal(ev["x"], 127 - ((addr >> 1) & 0x7F))
    np.testing.assert_array_equal(ev["y"], (addr >> 8) & 0x7F)


@pytest.mark.parametrize("name", sorted(TRACE_FACTS))
def test_iter_events_concatenates_to_read_events(traces, name):
    path = traces / name
    chunk = CHUNKS.get(name, 5_000)
    chunks = list(sio.iter_events(path, chunk_events=chunk))
    assert chunks and all(c.dtype == DVS_EVENT for c in chunks)
    assert all(len(c) == chunk for c in chunks[:-1]) and 0 < len(chunks[-1]) <= chunk
    np.testing.assert_array_equal(np.concatenate(chunks), _read(path))


@pytest.mark.parametrize("name", ["dvs128_gesture.aedat4", "prophesee_gen3_evt2.raw", "ncars_atis.dat"])
def test_time_window_on_read(traces, name):
    path = traces / name
    ev = _read(path)
    t0 = int(ev["t"][0]) + 10_000
    t1 = t0 + 20_000
    part = sio.read_events(path, t_start_us=t0, t_end_us=t1)
    np.testing.assert_array_equal(part, ev[(ev["t"] >= t0) & (ev["t"] < t1)])
    streamed = np.concatenate(list(sio.iter_events(path, chunk_events=999, t_start_us=t0, t_end_us=t1)))
    np.testing.assert_array_equal(streamed, part)


def test_format_override_and_aliases(traces):
    path = traces / "dvs128_walking.aedat"
    np.testing.assert_array_equal(sio.read_events(path, format="AEDAT"), _read(path))
    with pytest.raises(ReaderError) as exc:
        sio.read_events(path, format="evt3")  # the magic says AEDAT 2.0
    messages_name(exc, path)
    assert "aedat2" in str(exc.value)


def test_unknown_format_name_lists_supported(traces):
    with pytest.raises(ReaderError) as exc:
        sio.read_events(traces / "nmnist_atis.bin", format="mp4")
    for name in sio.FORMATS:
        assert name in str(exc.value)


def test_formats_table():
    assert set(sio.FORMATS) == {"aedat4", "aedat2", "aedat31", "evt2", "evt3", "dat", "nmnist", "npy", "npz",
                                "hdf5", "run"}
    assert all(isinstance(v, str) and v for v in sio.FORMATS.values())


# ----------------------------------------------------------------------- damaged real recordings

@pytest.mark.parametrize("name", sorted(TRACE_FACTS))
def test_truncated_by_one_byte(traces, name, tmp_path):
    data = (traces / name).read_bytes()
    path = tmp_path / name
    path.write_bytes(data[:-1])
    with pytest.raises(ReaderError) as exc:
        sio.read_events(path)
    messages_name(exc, path, offset=not name.endswith(".npy"))
    with pytest.raises(ReaderError):
        list(sio.iter_events(path, chunk_events=10_000))


@pytest.mark.parametrize("name,cut", [("dvs128_gesture.aedat4", 1_178_139), ("davis346_flicker.aedat4", 595_735),
                                      ("dvxplorer_320x240.aedat4", 474_626), ("dvs128_walking.aedat", 283_521),
                                      ("prophesee_gen3_evt2.raw", 1_085_297), ("prophesee_gen41_evt3.raw", 309_027),
                                      ("ncars_atis.dat", 8_082), ("nmnist_atis.bin", 10_812)])
def test_truncated_in_the_middle(traces, name, cut, tmp_path):
    path = tmp_path / name
    path.write_bytes((traces / name).read_bytes()[:cut])
    with pytest.raises(ReaderError) as exc:
        sio.read_events(path)
    messages_name(exc, path, offset=True)


@pytest.mark.parametrize("name", ["dvs128_gesture.aedat4", "dvs128_walking.aedat", "prophesee_gen3_evt2.raw",
                                  "prophesee_gen41_evt3.raw", "ncars_atis.dat",
                                  "prophesee_gen41_evt3.reference.npy"])
def test_truncated_inside_the_header(traces, name, tmp_path):
    path = tmp_path / name
    path.write_bytes((traces / name).read_bytes()[:20])
    with pytest.raises(ReaderError) as exc:
        sio.read_events(path)
    messages_name(exc, path)


def _patched(src: Path, dst: Path, offset: int, new: bytes) -> Path:
    data = bytearray(src.read_bytes())
    data[offset:offset + len(new)] = new
    dst.write_bytes(bytes(data))
    return dst


def test_aedat4_corrupt_headers(traces, tmp_path):
    src = traces / "dvs128_lowrate.aedat4"
    cases = {
        "magic": (0, b"#!AER-DAT4.9"),                 # unsupported version
        "size": (14, struct.pack("<i", 1 << 30)),      # IOHeader size beyond the file
        "negsize": (14, struct.pack("<i", -5)),
        "root": (18, struct.pack("<I", 0xFFFFFF)),     # flatbuffer root offset outside the header
    }
    for label, (offset, new) in cases.items():
        path = _patched(src, tmp_path / f"{label}.aedat4", offset, new)
        with pytest.raises(ReaderError) as exc:
            sio.read_events(path)
        messages_name(exc, path)


def test_aedat4_corrupt_compression_field_and_packet(traces, tmp_path):
    src = traces / "dvs128_lowrate.aedat4"
    data = src.read_bytes()
    hsize = struct.unpack_from("<i", data, 14)[0]
    header = data[18:18 + hsize]
    root = struct.unpack_from("<I", header, 0)[0]
    vtable = root - struct.unpack_from("<i", header, root)[0]
    comp_at = 18 + root + struct.unpack_from("<H", header, vtable + 4)[0]
    path = _patched(src, tmp_path / "comp.aedat4", comp_at, struct.pack("<i", 77))
    with pytest.raises(ReaderError) as exc:
        sio.read_events(path)
    messages_name(exc, path, offset=True)
    assert "compression" in str(exc.value)
    # damage the LZ4 payload of the first event packet (stream 0 in this file)
    first = pos = 18 + hsize
    while struct.unpack_from("<i", data, pos)[0] != 0:
        pos += 8 + struct.unpack_from("<i", data, pos + 4)[0]
    path = _patched(src, tmp_path / "payload.aedat4", pos + 8, b"\x00" * 16)
    with pytest.raises(ReaderError) as exc:
        sio.read_events(path)
    messages_name(exc, path, offset=True)
    # a packet header whose size runs past the end
    path = _patched(src, tmp_path / "psize.aedat4", first + 4, struct.pack("<i", 1 << 30))
    with pytest.raises(ReaderError) as exc:
        sio.read_events(path)
    messages_name(exc, path, offset=True)


def test_prophesee_corrupt_headers(traces, tmp_path):
    raw = (traces / "prophesee_gen41_evt3.raw").read_bytes()
    path = tmp_path / "evt9.raw"
    path.write_bytes(raw.replace(b"% evt 3.0", b"% evt 9.9", 1))
    with pytest.raises(ReaderError) as exc:
        sio.read_events(path)
    messages_name(exc, path)
    path = tmp_path / "mislabelled.raw"
    path.write_bytes(raw.replace(b"% evt 3.0", b"% evt 2.0", 1))  # EVT3 words read as EVT2
    with pytest.raises(ReaderError) as exc:
        sio.read_events(path)
    messages_name(exc, path, offset=True)
    dat = (traces / "ncars_atis.dat").read_bytes()
    start = dat.index(b"% Date") + dat[dat.index(b"% Date"):].index(b"\n") + 1
    path = tmp_path / "size.dat"
    path.write_bytes(dat[:start] + bytes([0, 7]) + dat[start + 2:])  # event size 7
    with pytest.raises(ReaderError) as exc:
        sio.read_events(path)
    messages_name(exc, path, offset=True)


def test_aedat2_unsupported_chip_and_version(traces, tmp_path):
    raw = (traces / "dvs128_walking.aedat").read_bytes()
    path = tmp_path / "davis.aedat"
    path.write_bytes(raw.replace(b"retina.DVS128", b"retina.DAVIS9", 1))
    with pytest.raises(ReaderError) as exc:
        sio.read_events(path)
    messages_name(exc, path)
    path = tmp_path / "v1.aedat"
    path.write_bytes(raw.replace(b"#!AER-DAT2.0", b"#!AER-DAT1.0", 1))
    with pytest.raises(ReaderError) as exc:
        sio.read_events(path)
    messages_name(exc, path)


@pytest.mark.parametrize("name,wrong", [("prophesee_gen41_evt3.raw", "x.aedat4"), ("dvs128_gesture.aedat4", "x.raw"),
                                        ("dvs128_walking.aedat", "x.dat"), ("ncars_atis.dat", "x.raw"),
                                        ("prophesee_gen41_evt3.reference.npy", "x.h5")])
def test_wrong_extension_detected_by_content(traces, name, wrong, tmp_path):
    path = tmp_path / wrong
    path.write_bytes((traces / name).read_bytes())
    assert sio.detect_format(path) == TRACE_FACTS[name]["format"]
    np.testing.assert_array_equal(sio.read_events(path), _read(traces / name))
