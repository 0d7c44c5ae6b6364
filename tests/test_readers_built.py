"""Tests of the recording readers (speksim.io) on files built byte by byte in tmp_path: empty,
random and mislabelled files, numpy and HDF5 layouts, hand-built binary recordings of every
format, and the command-line wording of reader messages. The real recordings: test_readers.py."""

from __future__ import annotations

import struct
import zipfile

import h5py
import numpy as np
import pytest

import speksim.io as sio
from speksim.errors import EventError, ReaderError
from speksim.events import DVS_EVENT
from speksim.io import prophesee

from recording_files import (AEDAT2_HEADER, AEDAT3_HEADER, AEDAT4_XML, aedat2_address, aedat3_packet,
                             aedat3_polarity, aedat4_event_packet, aedat4_file, aedat4_io_header, evt2_cd,
                             evt2_word, evt3_word, messages_name, patched_run_copy, sample_events)


# -------------------------------------------------------------------- bad files without traces

@pytest.mark.parametrize("name", ["empty", "empty.aedat4", "empty.aedat", "empty.raw", "empty.dat", "empty.bin",
                                  "empty.npy", "empty.npz", "empty.h5"])
def test_empty_file(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"")
    with pytest.raises(ReaderError) as exc:
        sio.read_events(path)
    messages_name(exc, path)
    assert "empty" in str(exc.value)
    with pytest.raises(ReaderError):
        sio.iter_events(path)


@pytest.mark.parametrize("ext", ["", ".aedat4", ".aedat", ".raw", ".dat", ".bin", ".npy", ".npz", ".h5", ".txt"])
@pytest.mark.parametrize("size", [4096, 4095])
def test_random_bytes(tmp_path, ext, size):
    rng = np.random.default_rng(size)
    data = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
    if data[:1] in (b"#", b"%", b"\x93", b"P", b"\x89"):
        data = b"\x00" + data[1:]
    path = tmp_path / f"random{ext}"
    path.write_bytes(data)
    with pytest.raises(ReaderError) as exc:
        sio.read_events(path)
    messages_name(exc, path)


@pytest.mark.parametrize("fmt", ["evt2", "evt3", "nmnist", "dat", "aedat2", "aedat31", "aedat4", "npy", "npz",
                                 "hdf5"])
def test_random_bytes_with_forced_format(tmp_path, fmt):
    data = np.random.default_rng(7).integers(0, 256, 6000, dtype=np.uint8).tobytes()
    path = tmp_path / "random.bin"
    path.write_bytes(b"\x01" + data[1:])
    with pytest.raises(ReaderError) as exc:
        sio.read_events(path, format=fmt)
    messages_name(exc, path)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ReaderError) as exc:
        sio.read_events(tmp_path / "nope.aedat4")
    assert "nope.aedat4" in str(exc.value)
    with pytest.raises(ReaderError):
        sio.read_events(tmp_path)
    with pytest.raises(ReaderError):
        sio.sensor_size(tmp_path / "nope.raw")


def test_bad_arguments(tmp_path):
    path = tmp_path / "ev.npy"
    np.save(path, np.zeros(3, dtype=DVS_EVENT))
    for bad in (0, -5, 2.5, True, "10"):
        with pytest.raises(EventError):
            sio.iter_events(path, chunk_events=bad)
    with pytest.raises(EventError):
        sio.read_events(path, t_start_us=10, t_end_us=5)
    with pytest.raises(ReaderError):
        sio.read_events(path, format=3)


# ------------------------------------------------------------------------- numpy and HDF5 files

def _sample(n=1000, seed=0) -> np.ndarray:
    return sample_events(n, 640, 480, 10**7, seed)


def test_npy_round_trip_canonical_and_tonic_layouts(tmp_path):
    ev = _sample()
    path = tmp_path / "a.npy"
    np.save(path, ev)
    np.testing.assert_array_equal(sio.read_events(path), ev)
    np.testing.assert_array_equal(np.concatenate(list(sio.iter_events(path, chunk_events=128))), ev)
    assert sio.sensor_size(path) is None
    # tonic's order and types: x, y int16, t int64, p bool
    tonic = np.empty(len(ev), dtype=[("x", "<i2"), ("y", "<i2"), ("t", "<i8"), ("p", "?")])
    for f in "xytp":
        tonic[f] = ev[f]
    np.save(tmp_path / "b.npy", tonic)
    np.testing.assert_array_equal(sio.read_events(tmp_path / "b.npy"), ev)
    # polarity as -1/+1, unsigned times, extra fields ignored
    pm = np.empty(len(ev), dtype=[("t", "<u4"), ("x", "<u2"), ("y", "<u2"), ("p", "i1"), ("extra", "f4")])
    for f in "txy":
        pm[f] = ev[f]
    pm["p"] = np.where(ev["p"] == 1, 1, -1)
    np.save(tmp_path / "c.npy", pm)
    np.testing.assert_array_equal(sio.read_events(tmp_path / "c.npy"), ev)


def test_npy_bad_values_are_named(tmp_path):
    ev = _sample(50)
    bad_p = ev.astype([("t", "<i8"), ("x", "<u2"), ("y", "<u2"), ("p", "i1")])
    bad_p["p"][17] = 2
    np.save(tmp_path / "p.npy", bad_p)
    with pytest.raises(ReaderError) as exc:
        sio.read_events(tmp_path / "p.npy")
    assert "'p'" in str(exc.value) and "17" in str(exc.value) and "p.npy" in str(exc.value)
    neg = ev.astype([("t", "<i8"), ("x", "<i4"), ("y", "<i4"), ("p", "u1")])
    neg["x"][3] = -1
    np.save(tmp_path / "x.npy", neg)
    with pytest.raises(ReaderError) as exc:
        sio.read_events(tmp_path / "x.npy")
    assert "'x'" in str(exc.value) and "index 3" in str(exc.value)
    sec = ev.astype([("t", "<f8"), ("x", "<u2"), ("y", "<u2"), ("p", "u1")])
    sec["t"] = sec["t"] / 1e6
    np.save(tmp_path / "s.npy", sec)
    with pytest.raises(ReaderError) as exc:
        sio.read_events(tmp_path / "s.npy")
    assert "µs" in str(exc.value)
    np.save(tmp_path / "plain.npy", np.zeros((10, 4), dtype=np.int64))
    with pytest.raises(ReaderError) as exc:
        sio.read_events(tmp_path / "plain.npy")
    assert "structured" in str(exc.value)
    np.save(tmp_path / "nofields.npy", np.zeros(3, dtype=[("a", "i4")]))
    with pytest.raises(ReaderError) as exc:
        sio.read_events(tmp_path / "nofields.npy")
    messages_name(exc, tmp_path / "nofields.npy")
    np.save(tmp_path / "obj.npy", np.array([{"t": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ReaderError) as exc:
        sio.read_events(tmp_path / "obj.npy")
    messages_name(exc, tmp_path / "obj.npy")


def test_npy_empty_array(tmp_path):
    np.save(tmp_path / "e.npy", np.empty(0, dtype=DVS_EVENT))
    out = sio.read_events(tmp_path / "e.npy")
    assert out.dtype == DVS_EVENT and len(out) == 0
    assert list(sio.iter_events(tmp_path / "e.npy")) == []


def test_npz_round_trips(tmp_path):
    ev = _sample()
    np.savez(tmp_path / "cols.npz", t=ev["t"], x=ev["x"].astype(np.int32), y=ev["y"], p=ev["p"].astype(bool))
    np.savez_compressed(tmp_path / "one.npz", ev)
    np.savez(tmp_path / "named.npz", events=ev, meta=np.arange(3))
    np.savez(tmp_path / "alias.npz", ts=ev["t"], xs=ev["x"], ys=ev["y"], ps=np.where(ev["p"] == 1, 1, -1))
    for name in ("cols.npz", "one.npz", "named.npz", "alias.npz"):
        np.testing.assert_array_equal(sio.read_events(tmp_path / name), ev, err_msg=name)
        chunks = list(sio.iter_events(tmp_path / name, chunk_events=300))
        assert [len(c) for c in chunks] == [300, 300, 300, 100]
    np.savez(tmp_path / "two.npz", a=np.arange(3), b=np.arange(3))
    with pytest.raises(ReaderError) as exc:
        sio.read_events(tmp_path / "two.npz")
    assert "two.npz" in str(exc.value)
    np.savez(tmp_path / "partial.npz", t=ev["t"], x=ev["x"])
    with pytest.raises(ReaderError) as exc:
        sio.read_events(tmp_path / "partial.npz")
    assert "lacks" in str(exc.value)
    data = (tmp_path / "cols.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ReaderError) as exc:
        sio.read_events(tmp_path / "cut.npz")
    messages_name(exc, tmp_path / "cut.npz")


def test_hdf5_layouts(tmp_path):
    ev = _sample()
    with h5py.File(tmp_path / "group.h5", "w") as f:
        g = f.create_group("events")
        for k in "txyp":
            g.create_dataset(k, data=ev[k], chunks=True, compression="gzip")
    with h5py.File(tmp_path / "e2vid.hdf5", "w") as f:
        g = f.create_group("events")
        g["ts"], g["xs"], g["ys"] = ev["t"], ev["x"].astype(np.int16), ev["y"].astype(np.int16)
        g["ps"] = np.where(ev["p"] == 1, 1, -1).astype(np.int8)
    with h5py.File(tmp_path / "top.h5", "w") as f:
        for k in "txyp":
            f[k] = ev[k]
        f["p"].attrs["unit"] = "bool"
    with h5py.File(tmp_path / "compound.h5", "w") as f:
        f["events"] = ev
    for name in ("group.h5", "e2vid.hdf5", "top.h5", "compound.h5"):
        np.testing.assert_array_equal(sio.read_events(tmp_path / name), ev, err_msg=name)
        np.testing.assert_array_equal(np.concatenate(list(sio.iter_events(tmp_path / name, chunk_events=333))),
                                      ev, err_msg=name)
        assert sio.sensor_size(tmp_path / name) is None
    with h5py.File(tmp_path / "uneven.h5", "w") as f:
        f["t"], f["x"], f["y"], f["p"] = ev["t"], ev["x"][:-1], ev["y"], ev["p"]
    with pytest.raises(ReaderError) as exc:
        sio.read_events(tmp_path / "uneven.h5")
    assert "uneven.h5" in str(exc.value)
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["images"] = np.zeros((2, 3))
    with pytest.raises(ReaderError) as exc:
        sio.read_events(tmp_path / "other.h5")
    assert "images" in str(exc.value)
    data = (tmp_path / "group.h5").read_bytes()
    (tmp_path / "cut.h5").write_bytes(data[: len(data) // 3])
    with pytest.raises(ReaderError) as exc:
        sio.read_events(tmp_path / "cut.h5")
    messages_name(exc, tmp_path / "cut.h5")


# ------------------------------------------------------------------ hand-built binary recordings

def test_aedat31_by_hand(tmp_path):
    data = AEDAT3_HEADER
    data += aedat3_packet(0, [(0x12345678, 3)])  # a special-event packet: skipped
    data += aedat3_packet(1, [(aedat3_polarity(5, 7, True), 10), (aedat3_polarity(127, 0, False), 11),
                               (aedat3_polarity(1, 1, True, valid=0), 12), (aedat3_polarity(0, 127, False), 13)])
    data += aedat3_packet(1, [(aedat3_polarity(64, 65, True), 4)], ts_overflow=1, capacity=3)
    path = tmp_path / "gesture.aedat"
    path.write_bytes(data)
    assert sio.detect_format(path) == "aedat31"
    ev = sio.read_events(path)
    expected = [(10, 5, 7, 1), (11, 127, 0, 0), (13, 0, 127, 0), ((1 << 31) + 4, 64, 65, 1)]
    assert ev.tolist() == expected
    assert sio.sensor_size(path) == (128, 128)
    assert np.concatenate(list(sio.iter_events(path, chunk_events=1))).tolist() == expected
    # truncated inside the last packet
    cut = tmp_path / "cut.aedat"
    cut.write_bytes(data[:-5])
    with pytest.raises(ReaderError) as exc:
        sio.read_events(cut)
    messages_name(exc, cut, offset=True)
    # truncated inside a packet header
    cut.write_bytes(data[:len(AEDAT3_HEADER) + 10])
    with pytest.raises(ReaderError) as exc:
        sio.read_events(cut)
    messages_name(exc, cut, offset=True)
    # corrupt event size in the first packet header
    bad = bytearray(data)
    struct.pack_into("<i", bad, len(AEDAT3_HEADER) + 4, -8)
    path.write_bytes(bytes(bad))
    with pytest.raises(ReaderError) as exc:
        sio.read_events(path)
    messages_name(exc, path, offset=True)
    # header without its end line
    path.write_bytes(AEDAT3_HEADER.replace(b"#!END-HEADER\r\n", b""))
    with pytest.raises(ReaderError) as exc:
        sio.read_events(path)
    messages_name(exc, path)


def test_aedat2_by_hand(tmp_path):
    addr = aedat2_address
    pairs = [(addr(10, 20, True), 100), (addr(127, 0, False), 101), (0x8000, 102), (addr(0, 127, True), 103)]
    path = tmp_path / "dvs.aedat"
    path.write_bytes(AEDAT2_HEADER + b"".join(struct.pack(">ii", a, t) for a, t in pairs))
    assert sio.read_events(path).tolist() == [(100, 10, 20, 1), (101, 127, 0, 0), (103, 0, 127, 1)]
    assert sio.sensor_size(path) == (128, 128)


def test_evt2_by_hand(tmp_path):
    words = [evt2_cd(True, 1, 2, 3),             # before any TIME_HIGH: dropped
             evt2_word(8, 5), evt2_cd(True, 7, 639, 479), evt2_word(0xA, 0x123), evt2_cd(False, 63, 0, 1),
             evt2_word(8, 6), evt2_cd(False, 0, 5, 6), evt2_word(0xE, 1)]
    path = tmp_path / "cam.raw"
    path.write_bytes(b"% camera test\n% evt 2.0\n% geometry 640x480\n% end\n" + b"".join(words))
    assert sio.detect_format(path) == "evt2"
    assert sio.read_events(path).tolist() == [(5 * 64 + 7, 639, 479, 1), (5 * 64 + 63, 0, 1, 0), (6 * 64, 5, 6, 0)]
    assert sio.sensor_size(path) == (640, 480)
    reserved = tmp_path / "reserved.raw"
    reserved.write_bytes(b"% evt 2.0\n" + b"".join(words[:3]) + evt2_word(3, 0))
    with pytest.raises(ReaderError) as exc:
        sio.read_events(reserved)
    messages_name(exc, reserved, offset=True)
    assert f"offset {len(b'% evt 2.0') + 1 + 12}" in str(exc.value)


EVT3_WORDS = [
    evt3_word(0, 10), evt3_word(2, 0x800 | 3),              # before TIME_HIGH: dropped
    evt3_word(8, 1), evt3_word(6, 5), evt3_word(0, 10),           # t = 4096 + 5, y = 10
    evt3_word(2, 0x800 | 100),                        # single ON event at x = 100
    evt3_word(3, 200),                                # vector base x = 200, OFF
    evt3_word(4, 0b100000000101),                     # x = 200, 202, 211; base -> 212
    evt3_word(5, 0x81),                               # x = 212, 219; base -> 220
    evt3_word(7, 0x3), evt3_word(0xA, 0x1), evt3_word(0xE, 0x7),  # continued / trigger / others: ignored
    evt3_word(6, 9), evt3_word(0, 11),                      # t = 4096 + 9, y = 11
    evt3_word(4, 1),                                  # x = 220
    evt3_word(3, 0x800 | 5), evt3_word(5, 0b11),            # ON at x = 5, 6
    evt3_word(8, 2), evt3_word(6, 0), evt3_word(2, 7),            # t = 8192, x = 7 OFF
]
EVT3_EXPECTED = [(4101, 100, 10, 1), (4101, 200, 10, 0), (4101, 202, 10, 0), (4101, 211, 10, 0),
                 (4101, 212, 10, 0), (4101, 219, 10, 0), (4105, 220, 11, 0), (4105, 5, 11, 1), (4105, 6, 11, 1),
                 (8192, 7, 11, 0)]


def test_evt3_by_hand(tmp_path):
    path = tmp_path / "cam.raw"
    path.write_bytes(b"% format EVT3;height=720;width=1280\n% end\n" + b"".join(EVT3_WORDS))
    assert sio.detect_format(path) == "evt3"
    assert sio.read_events(path).tolist() == EVT3_EXPECTED
    assert sio.sensor_size(path) == (1280, 720)
    # the decoder state carries across blocks of any size
    for block in range(1, 8):
        assert np.concatenate(list(prophesee.iter_evt3(path, block))).tolist() == EVT3_EXPECTED
    assert np.concatenate(list(sio.iter_events(path, chunk_events=3))).tolist() == EVT3_EXPECTED
    # no header at all: needs format=
    bare = tmp_path / "bare.raw"
    bare.write_bytes(b"".join(EVT3_WORDS))
    with pytest.raises(ReaderError) as exc:
        sio.read_events(bare)
    assert "format='evt3'" in str(exc.value)
    assert sio.read_events(bare, format="evt3").tolist() == EVT3_EXPECTED
    reserved = tmp_path / "reserved.raw"
    reserved.write_bytes(b"% evt 3.0\n" + b"".join(EVT3_WORDS[:4]) + evt3_word(0xC, 0))
    with pytest.raises(ReaderError) as exc:
        sio.read_events(reserved)
    assert f"offset {10 + 8}" in str(exc.value)


def test_evt3_time_high_wrap(tmp_path):
    words = [evt3_word(8, 4095), evt3_word(6, 4095), evt3_word(0, 1), evt3_word(2, 1), evt3_word(8, 0),
             evt3_word(6, 1), evt3_word(2, 2)]
    path = tmp_path / "wrap.raw"
    path.write_bytes(b"% evt 3.0\n" + b"".join(words))
    assert sio.read_events(path)["t"].tolist() == [(1 << 24) - 1, (1 << 24) + 1]


def test_dat_by_hand(tmp_path):
    header = b"% Data file containing CD events.\n% Version 2\n% Width 304\n% Height 240\n"
    events = [(5, 303, 239, 1), (6, 0, 0, 0), (6, 17, 4, 1)]
    body = b"".join(struct.pack("<II", t, x | (y << 14) | (p << 28)) for t, x, y, p in events)
    path = tmp_path / "cars.dat"
    path.write_bytes(header + bytes([0, 8]) + body)
    assert sio.detect_format(path) == "dat"
    assert sio.read_events(path).tolist() == events
    assert sio.sensor_size(path) == (304, 240)
    bad = tmp_path / "badp.dat"
    bad.write_bytes(header + bytes([0, 8]) + body + struct.pack("<II", 7, 1 | (3 << 28)))
    with pytest.raises(ReaderError) as exc:
        sio.read_events(bad)
    messages_name(exc, bad, offset=True)
    assert f"offset {len(header) + 2 + 24}" in str(exc.value)


def test_nmnist_by_hand(tmp_path):
    def rec(x, y, p, t):
        return bytes([x, y, (p << 7) | (t >> 16), (t >> 8) & 0xFF, t & 0xFF])

    data = rec(1, 2, 1, 100) + rec(33, 33, 0, 0x7FFFFF) + rec(0, 240, 0, 0) + rec(3, 4, 1, 0x7FFFFF)
    path = tmp_path / "digit.bin"
    path.write_bytes(data)
    # y == 240 marks a timestamp overflow (+2**13 µs for what follows, as in the dataset's reader)
    assert sio.read_events(path).tolist() == [(100, 1, 2, 1), (0x7FFFFF, 33, 33, 0), (0x7FFFFF + 8192, 3, 4, 1)]
    assert sio.sensor_size(path) is None
    back = tmp_path / "back.bin"
    back.write_bytes(rec(1, 2, 1, 100) + rec(1, 2, 1, 99))
    with pytest.raises(ReaderError) as exc:
        sio.read_events(back)
    messages_name(exc, back, offset=True)


@pytest.mark.parametrize("compression", [0, 1, 3])
def test_aedat4_by_hand(tmp_path, compression):
    first = [(1000, 0, 0, 1), (1001, 239, 179, 0)]
    second = [(1002, 17, 42, 1)]
    packets = [(0, aedat4_event_packet(first)), (1, b"imu samples, never decoded"), (0, aedat4_event_packet([])),
               (0, aedat4_event_packet(second))]
    path = tmp_path / "hand.aedat4"
    path.write_bytes(aedat4_file(compression, packets))
    assert sio.read_events(path).tolist() == first + second
    assert sio.sensor_size(path) == (240, 180)
    assert np.concatenate(list(sio.iter_events(path, chunk_events=2))).tolist() == first + second
    # an event outside the declared sensor is corruption
    path.write_bytes(aedat4_file(compression, [(0, aedat4_event_packet([(1, 240, 0, 1)]))]))
    with pytest.raises(ReaderError) as exc:
        sio.read_events(path)
    messages_name(exc, path, offset=True)
    # a stream id the header does not declare
    path.write_bytes(aedat4_file(compression, [(5, aedat4_event_packet(first))]))
    with pytest.raises(ReaderError) as exc:
        sio.read_events(path)
    messages_name(exc, path, offset=True)


def test_aedat4_without_event_stream(tmp_path):
    header = aedat4_io_header(0, -1, AEDAT4_XML.replace("EVTS", "FRME"))
    path = tmp_path / "frames.aedat4"
    path.write_bytes(b"#!AER-DAT4.0\r\n" + struct.pack("<i", len(header)) + header)
    with pytest.raises(ReaderError) as exc:
        sio.read_events(path)
    assert "no event stream" in str(exc.value)


def test_npz_is_a_zip_not_mistaken(tmp_path):
    path = tmp_path / "notes.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("readme.txt", "not an array")
    with pytest.raises(ReaderError) as exc:
        sio.read_events(path)
    messages_name(exc, path)


# ------------------------------------------------------------ command-line wording of the messages

def _cli_names_flags(exc_info, *flags):
    """The error's command-line twin names `flags` and none of the Python API's argument names."""
    cli = exc_info.value.cli
    assert cli, str(exc_info.value)
    for flag in flags:
        assert flag in cli, cli
    assert "format=" not in cli and "_us" not in cli and "chunk_events" not in cli, cli
    return cli


def test_cli_wording_of_format_advice(tmp_path):
    bare = tmp_path / "bare.raw"
    bare.write_bytes(b"".join(EVT3_WORDS))
    with pytest.raises(ReaderError) as exc:
        sio.read_events(bare)
    assert "format='evt3'" in str(exc.value)
    assert "pass --format evt2 or --format evt3" in _cli_names_flags(exc, "--format")

    unknown = tmp_path / "rec.xyz"
    unknown.write_bytes(b"\x01\x02\x03")
    with pytest.raises(ReaderError) as exc:
        sio.read_events(unknown)
    assert "pass --format with one of aedat4, aedat2, " in _cli_names_flags(exc, "--format")

    with pytest.raises(ReaderError) as exc:
        sio.read_events(unknown, format="mp4")
    assert _cli_names_flags(exc, "--format").startswith("unknown --format 'mp4'")

    dvs = tmp_path / "dvs.aedat"
    dvs.write_bytes(AEDAT2_HEADER + struct.pack(">ii", aedat2_address(1, 2, True), 5))
    with pytest.raises(ReaderError) as exc:
        sio.read_events(dvs, format="evt3")
    cli = _cli_names_flags(exc, "--format evt3 was given", "use --format aedat2, or leave --format out")
    assert cli.startswith("dvs.aedat: ") and str(dvs) in cli  # the same file and offset as the message

    for fmt in ("aedat2", "aedat31", "aedat4", "npy", "npz", "dat"):
        with pytest.raises(ReaderError) as exc:
            sio.read_events(unknown, format=fmt)
        messages_name(exc, unknown)
        assert "pass the right --format" in _cli_names_flags(exc, "--format"), fmt

    reserved = tmp_path / "reserved.raw"
    reserved.write_bytes(b"% evt 2.0\n" + evt2_word(8, 5) + evt2_word(3, 0))
    with pytest.raises(ReaderError) as exc:
        sio.read_events(reserved)
    assert "(wrong --format, misaligned or corrupt data)" in _cli_names_flags(exc)

    back = tmp_path / "back.bin"
    back.write_bytes(bytes([1, 2, 0x80, 0, 100]) + bytes([1, 2, 0x80, 0, 99]))
    with pytest.raises(ReaderError) as exc:
        sio.read_events(back)
    assert "pass the right --format" in _cli_names_flags(exc)


def test_cli_wording_of_argument_errors(tmp_path):
    path = tmp_path / "ev.npy"
    np.save(path, np.zeros(3, dtype=DVS_EVENT))
    with pytest.raises(EventError) as exc:
        sio.iter_events(path, chunk_events=0)
    assert _cli_names_flags(exc) == "--chunk-events must be at least 1, got 0"
    with pytest.raises(EventError) as exc:
        sio.read_events(path, t_start_us=10, t_end_us=5)
    assert _cli_names_flags(exc).startswith("--t-end-us (5) is before --t-start-us (10)")


def test_cli_wording_of_a_run_file_without_dvs_output(run_file, tmp_path):
    def only_core0(out):
        out["layer"] = 0  # as if only core 0 had been monitored

    path = patched_run_copy(run_file, tmp_path / "cores.h5", only_core0)
    with pytest.raises(ReaderError) as exc:
        sio.read_events(path)
    assert "run_outputs_as_spikes" in str(exc.value)
    cli = _cli_names_flags(exc, "'speksim run' on the run file", "--layer-map")
    assert "speksim.runfile" not in cli


def test_messages_without_python_terms_have_no_twin(tmp_path):
    path = tmp_path / "cut.aedat"
    path.write_bytes(AEDAT2_HEADER + b"\x00" * 7)
    with pytest.raises(ReaderError) as exc:
        sio.read_events(path)
    assert exc.value.cli is None  # nothing to re-word: the command line prints the message
