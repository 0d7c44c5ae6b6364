"""Byte-level writers of small recordings in every format speksim reads, for the reader tests.

Each ``<format>_bytes(events, ...)`` encodes a DVS_EVENT array (time-sorted) the way a camera's
software would, so that reading the bytes back must give the same events; `sample_events` draws
such an array and `write_samples` writes one small file per format. The encoders stay within what
each format can hold (the limits are in their docstrings) and are deliberately plain.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from speksim.events import DVS_EVENT

# ----------------------------------------------------------------------------------- samples


def sample_events(n: int, width: int, height: int, span_us: int, seed: int, t0: int = 0) -> np.ndarray:
    """`n` random DVS events, time-sorted in [t0, t0 + span_us), x < width, y < height."""
    rng = np.random.default_rng(seed)
    ev = np.empty(n, dtype=DVS_EVENT)
    ev["t"] = np.sort(rng.integers(t0, t0 + span_us, n))
    ev["x"] = rng.integers(0, width, n)
    ev["y"] = rng.integers(0, height, n)
    ev["p"] = rng.integers(0, 2, n)
    return ev


# --------------------------------------------------------------------------------- AEDAT 2.0

AEDAT2_HEADER = (b"#!AER-DAT2.0\r\n# This is a raw AE data file\r\n"
                 b"# AEChip: ch.unizh.ini.jaer.chip.retina.DVS128\r\n")


def aedat2_address(x, y, on) -> int:
    """Inverse of the DVS128 address map; polarity bit 0 = 0 means ON in the file."""
    return (int(y) << 8) | ((127 - int(x)) << 1) | (0 if on else 1)


def aedat2_bytes(events) -> bytes:
    """AEDAT 2.0 of a DVS128: x, y < 128, 0 <= t < 2**31."""
    return AEDAT2_HEADER + b"".join(struct.pack(">ii", aedat2_address(x, y, p), t) for t, x, y, p in events.tolist())


# --------------------------------------------------------------------------------- AEDAT 3.1

AEDAT3_HEADER = (b"#!AER-DAT3.1\r\n#Format: RAW\r\n#Source 1: DVS128\r\n"
                 b"#Start-Time: 2024-01-02 03:04:05 (TZ+0000)\r\n#!END-HEADER\r\n")


def aedat3_packet(etype, events, ts_overflow=0, size=8, capacity=None) -> bytes:
    """One AEDAT 3.1 packet; `events` are (data word, timestamp) pairs."""
    body = b"".join(struct.pack("<Ii", d, t) for d, t in events)
    n = len(events)
    cap = n if capacity is None else capacity
    body += b"\x00" * (size * cap - len(body))
    return struct.pack("<hhiiiiii", etype, 1, size, 4, ts_overflow, cap, n, n) + body


def aedat3_polarity(x, y, on, valid=1) -> int:
    return (int(x) << 17) | (int(y) << 2) | (int(on) << 1) | valid


def aedat31_bytes(events, per_packet: int = 64) -> bytes:
    """AEDAT 3.1 from a DVS128 (x, y < 128), polarity packets of `per_packet` events at most."""
    out = AEDAT3_HEADER
    rows = events.tolist()
    for i in range(0, len(rows), per_packet):
        part = rows[i:i + per_packet]
        # one packet holds one timestamp overflow value: split where it changes
        groups: dict[int, list] = {}
        for t, x, y, p in part:
            groups.setdefault(t >> 31, []).append((aedat3_polarity(x, y, p), t & 0x7FFFFFFF))
        for overflow, words in groups.items():
            out += aedat3_packet(1, words, ts_overflow=overflow)
    return out


# --------------------------------------------------------------------------------- AEDAT 4.0
# Flatbuffers written field by field (unaligned layouts are valid input for the reader, which only
# follows offsets).

def _table(fields: list[bytes]) -> tuple[bytes, list[int]]:
    """A vtable followed by its table of inline `fields`; returns bytes and the field positions."""
    vsize = 4 + 2 * len(fields)
    offs, pos = [], 4
    for f in fields:
        offs.append(pos)
        pos += len(f)
    vtable = struct.pack(f"<HH{len(fields)}H", vsize, pos, *offs)
    table = struct.pack("<i", vsize) + b"".join(fields)
    return vtable + table, [len(vtable) + o for o in offs]


def aedat4_io_header(compression: int, data_table: int, xml: str) -> bytes:
    body, pos = _table([struct.pack("<i", compression), struct.pack("<q", data_table), b"\0\0\0\0"])
    root = 8 + 4 + 2 * 3  # the table follows its vtable
    buf = bytearray(struct.pack("<I", root) + b"IOHE" + body)
    string_at = len(buf)
    text = xml.encode()
    buf += struct.pack("<I", len(text)) + text + b"\0"
    ref = 8 + pos[2]
    struct.pack_into("<I", buf, ref, string_at - ref)
    return bytes(buf)


def aedat4_event_packet(events) -> bytes:
    """A size-prefixed EVTS flatbuffer of (t, x, y, p) rows."""
    body, pos = _table([b"\0\0\0\0"])
    root = 8 + 4 + 2 * 1
    buf = bytearray(struct.pack("<I", root) + b"EVTS" + body)
    vec = len(buf)
    buf += struct.pack("<I", len(events))
    for t, x, y, p in events:
        buf += struct.pack("<qhh?3x", t, x, y, bool(p))
    ref = 8 + pos[0]
    struct.pack_into("<I", buf, ref, vec - ref)
    return struct.pack("<I", len(buf)) + bytes(buf)


def aedat4_xml(width: int = 240, height: int = 180) -> str:
    return f"""<dv version="2.0"><node name="outInfo" path="/mainloop/Recorder/outInfo/">
<node name="0" path="/0/"><attr key="typeIdentifier" type="string">EVTS</attr>
<node name="info" path="/0/info/"><attr key="sizeX" type="int">{width}</attr>
<attr key="sizeY" type="int">{height}</attr></node></node>
<node name="1" path="/1/"><attr key="typeIdentifier" type="string">IMUS</attr></node>
</node></dv>"""


AEDAT4_XML = aedat4_xml()


def aedat4_compress(payload: bytes, compression: int) -> bytes:
    if compression in (3, 4):
        import zstandard
        return zstandard.ZstdCompressor(write_content_size=False).compress(payload)
    if compression in (1, 2):
        import lz4.frame
        return lz4.frame.compress(payload)
    return payload


def aedat4_file(compression: int, packets, xml: str = AEDAT4_XML) -> bytes:
    """AEDAT 4.0 from (stream id, uncompressed payload) packets; stream 0 holds the events."""
    header = aedat4_io_header(compression, -1, xml)
    out = b"#!AER-DAT4.0\r\n" + struct.pack("<i", len(header)) + header
    for sid, payload in packets:
        data = aedat4_compress(payload, compression)
        out += struct.pack("<ii", sid, len(data)) + data
    return out


def aedat4_bytes(events, compression: int = 1, width: int = 240, height: int = 180, per_packet: int = 50) -> bytes:
    """AEDAT 4.0 of `events` in packets of `per_packet` events, with an IMU packet between them."""
    rows = events.tolist()
    packets = []
    for i in range(0, len(rows), per_packet):
        packets.append((0, aedat4_event_packet(rows[i:i + per_packet])))
        packets.append((1, b"imu samples, never decoded"))
    return aedat4_file(compression, packets, aedat4_xml(width, height))


# ------------------------------------------------------------------------------ Prophesee RAW

def evt2_word(typ, payload) -> bytes:
    return struct.pack("<I", (typ << 28) | payload)


def evt2_cd(on, t_low, x, y) -> bytes:
    return evt2_word(1 if on else 0, (t_low << 22) | (x << 11) | y)


def evt2_bytes(events, width: int = 640, height: int = 480) -> bytes:
    """EVT 2.0 with a header: x, y < 2048, 0 <= t < 2**34."""
    out = [f"% camera test\n% evt 2.0\n% geometry {width}x{height}\n% end\n".encode()]
    high = None
    for t, x, y, p in events.tolist():
        if t >> 6 != high:
            high = t >> 6
            out.append(evt2_word(8, high))
        out.append(evt2_cd(p, t & 0x3F, x, y))
    return b"".join(out)


def evt3_word(typ, val) -> bytes:
    return struct.pack("<H", (typ << 12) | val)


def evt3_bytes(events, width: int = 1280, height: int = 720) -> bytes:
    """EVT 3.0 with a header, one EVT_ADDR_X word per event, and runs of neighbours on one row
    as a VECT_12 word: x, y < 2048, 0 <= t < 2**24."""
    out = [f"% format EVT3;height={height};width={width}\n% end\n".encode()]
    high = low = y_now = None
    rows = events.tolist()
    i = 0
    while i < len(rows):
        t, x, y, p = rows[i]
        if t >> 12 != high:
            high = t >> 12
            out.append(evt3_word(8, high))
        if t & 0xFFF != low:
            low = t & 0xFFF
            out.append(evt3_word(6, low))
        if y != y_now:
            y_now = y
            out.append(evt3_word(0, y))
        # following events at the same time, row and polarity, at increasing x less than 12
        # pixels from this one: one vector word (the decoder gives its bits in increasing x)
        j, mask = i + 1, 1
        while (j < len(rows) and rows[j][0] == t and rows[j][2] == y and rows[j][3] == p
               and rows[j - 1][1] < rows[j][1] < x + 12):
            mask |= 1 << (rows[j][1] - x)
            j += 1
        if j > i + 1:
            out.append(evt3_word(3, (p << 11) | x))
            out.append(evt3_word(4, mask))
            i = j
            continue
        out.append(evt3_word(2, (p << 11) | x))
        i += 1
    return b"".join(out)


# ------------------------------------------------------------------------ Prophesee DAT, N-MNIST

DAT_HEADER = b"% Data file containing CD events.\n% Version 2\n% Width 304\n% Height 240\n"


def dat_bytes(events, header: bytes = DAT_HEADER) -> bytes:
    """DAT version 2 with CD events: x, y < 16384, 0 <= t < 2**32."""
    body = b"".join(struct.pack("<II", t, x | (y << 14) | (p << 28)) for t, x, y, p in events.tolist())
    return header + bytes([0, 8]) + body


def nmnist_record(x, y, p, t) -> bytes:
    return bytes([x, y, (p << 7) | (t >> 16), (t >> 8) & 0xFF, t & 0xFF])


def nmnist_bytes(events) -> bytes:
    """N-MNIST .bin: x, y < 240, 0 <= t < 2**23."""
    return b"".join(nmnist_record(x, y, p, t) for t, x, y, p in events.tolist())


# ------------------------------------------------------------------------- one file per format

def write_run_file(path: Path, events) -> Path:
    """A speksim run file whose DVS-layer output (layer 13) replays `events` pooled 4x4.

    The run file reader returns what the chip's DVS layer passed on, not `events` themselves.
    """
    import speksim
    from speksim.config import DvsDestination, Vec2

    cfg = speksim.ChipConfig()
    cfg.dvs_layer.monitor_enable = True
    cfg.dvs_layer.pooling = Vec2(4, 4)
    cfg.dvs_layer.destinations[0] = DvsDestination(layer=0, enable=True)
    cfg.cnn_layers[0] = speksim.CnnLayerConfig.conv(np.ones((1, 2, 1, 1), np.int8), (32, 32),
                                                   threshold_high=100, threshold_low=-8)
    result = speksim.simulate(cfg, events)
    return speksim.save_run(result, path)


def write_samples(folder: Path, n: int = 300, seed: int = 0) -> dict:
    """Write one small recording per format into `folder`.

    Returns {label: (path, events or None)}: the events reading the file must give, or None for
    the run file (whose events went through the DVS layer).
    """
    import h5py

    folder = Path(folder)
    dvs128 = sample_events(n, 128, 128, 50_000, seed, t0=1_000)
    big = sample_events(n, 640, 480, 50_000, seed + 1, t0=2_000_000)
    # few distinct times and rows, sorted by row and x within a time: the EVT 3.0 encoder then
    # writes vector words too
    gen4 = sample_events(n, 1280, 720, 20_000, seed + 2, t0=3_000_000)
    gen4["t"] -= gen4["t"] % 1000
    gen4["y"] %= 3
    gen4["x"] %= 40
    gen4 = np.sort(gen4, order=["t", "y", "p", "x"])
    atis = sample_events(n, 34, 34, 300_000, seed + 3)
    out = {}

    def put(label, name, data, events):
        path = folder / name
        path.write_bytes(data)
        out[label] = (path, events)

    dv = sample_events(n, 240, 180, 30_000, seed + 4, t0=1_700_000_000_000_000)  # Unix-time µs, as DV
    for comp, label in ((0, "aedat4-none"), (1, "aedat4-lz4"), (3, "aedat4-zstd")):
        put(label, f"{label}.aedat4", aedat4_bytes(dv, comp), dv)
    put("aedat2", "dvs128.aedat", aedat2_bytes(dvs128), dvs128)
    put("aedat31", "gesture.aedat", aedat31_bytes(dvs128), dvs128)
    put("evt2", "gen3.raw", evt2_bytes(big), big)
    put("evt3", "gen4.raw", evt3_bytes(gen4), gen4)
    cd = sample_events(n, 304, 240, 100_000, seed + 5)
    put("dat", "cars.dat", dat_bytes(cd), cd)
    put("nmnist", "digit.bin", nmnist_bytes(atis), atis)
    np.save(folder / "events.npy", big)
    out["npy"] = (folder / "events.npy", big)
    np.savez(folder / "columns.npz", t=big["t"], x=big["x"].astype(np.int32), y=big["y"], p=big["p"].astype(bool))
    out["npz"] = (folder / "columns.npz", big)
    np.savez_compressed(folder / "structured.npz", events=big)
    out["npz-compressed"] = (folder / "structured.npz", big)
    with h5py.File(folder / "group.h5", "w") as f:
        g = f.create_group("events")
        for k in "txyp":
            g.create_dataset(k, data=big[k], chunks=(64,), compression="gzip")
    out["hdf5"] = (folder / "group.h5", big)
    with h5py.File(folder / "compound.h5", "w") as f:
        f["CD/events"] = big
    out["hdf5-compound"] = (folder / "compound.h5", big)
    out["run"] = (write_run_file(folder / "run.h5", dvs128), None)
    return out


def messages_name(exc_info, path: Path, offset: bool = False):
    """A specific check raised the error: it names the file (and the offset) and is not the
    readers' catch-all."""
    text = str(exc_info.value)
    assert path.name in text, text
    assert "cannot be decoded as" not in text, text  # a specific check caught it, not the safety net
    if offset:
        assert "offset" in text, text


def patched_run_copy(src: Path, dst: Path, patch) -> Path:
    """A copy of the run file `src` at `dst` whose outputs went through `patch(outputs)` (in place)."""
    import h5py
    dst.write_bytes(src.read_bytes())
    with h5py.File(dst, "r+") as f:
        out = f["outputs"][()]
        patch(out)
        f["outputs"][...] = out
    return dst
