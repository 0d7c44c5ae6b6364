"""AEDAT 4.0 reader (iniVation DV), with a small hand-written flatbuffer parser.

Layout: ``#!AER-DAT4.0\\r\\n``, an int32 size and the IOHeader flatbuffer (field 0 compression
enum: 0 none, 1 LZ4, 2 LZ4 high, 3 zstd, 4 zstd high; field 1 int64 position of the file data
table, -1 when absent; field 2 the infoNode XML string that lists the streams). Then packets up to
the data table: int32 stream id, int32 size, and `size` bytes of one (compressed) size-prefixed
flatbuffer. Event packets (identifier ``EVTS``) hold a vector of 16-byte structs: int64 timestamp
(µs since the Unix epoch, so a negative one is corruption), int16 x, int16 y, bool polarity
(true = ON), 3 bytes padding. Frame, IMU, trigger and any other streams are skipped without
decompressing them.

When a file has several event streams, the one with the lowest stream id is read.
"""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET

import numpy as np

from ._base import CLI_RIGHT_FORMAT, RIGHT_FORMAT, assemble, fail, file_size, read_exact

MAGIC = b"#!AER-DAT4.0\r\n"
_COMPRESSION = {0: "none", 1: "lz4", 2: "lz4", 3: "zstd", 4: "zstd"}
_EVENT_STRUCT = np.dtype({"names": ["t", "x", "y", "p"], "formats": ["<i8", "<i2", "<i2", "u1"],
                          "offsets": [0, 8, 10, 12], "itemsize": 16})
_MAX_HEADER = 64 * 1024 * 1024


class _Flat:
    """Bounds-checked access to one flatbuffer held in `buf`; errors name `what` and the file offset."""

    def __init__(self, buf, path, file_offset: int, what: str):
        self.buf = memoryview(buf)
        self.path, self.file_offset, self.what = path, file_offset, what

    def _bad(self, message):
        return fail(self.path, f"{self.what}: {message}", offset=self.file_offset,
                    hint="the file is corrupt or truncated")

    def _get(self, fmt: str, pos: int):
        size = struct.calcsize(fmt)
        if pos < 0 or pos + size > len(self.buf):
            raise self._bad(f"reference to byte {pos} outside the {len(self.buf)}-byte flatbuffer")
        return struct.unpack_from(fmt, self.buf, pos)[0]

    def root(self) -> int:
        return self._get("<I", 0)

    def field(self, table: int, index: int):
        """Absolute position of field `index` of the table at `table`, or None when absent."""
        vtable = table - self._get("<i", table)
        vsize = self._get("<H", vtable)
        if vsize < 4 or vsize % 2:
            raise self._bad(f"vtable at byte {vtable} has impossible size {vsize}")
        if 4 + 2 * index >= vsize:
            return None
        off = self._get("<H", vtable + 4 + 2 * index)
        return table + off if off else None

    def scalar(self, table: int, index: int, fmt: str, default):
        pos = self.field(table, index)
        return default if pos is None else self._get(fmt, pos)

    def vector(self, table: int, index: int, elem_size: int):
        """(start, count) of the vector in field `index`; (0, 0) when the field is absent."""
        pos = self.field(table, index)
        if pos is None:
            return 0, 0
        start = pos + self._get("<I", pos)
        count = self._get("<I", start)
        if start + 4 + count * elem_size > len(self.buf):
            raise self._bad(f"vector of {count} elements at byte {start} runs past the buffer end")
        return start + 4, count

    def string(self, table: int, index: int) -> str:
        start, count = self.vector(table, index, 1)
        return bytes(self.buf[start:start + count]).decode("utf-8", errors="replace")


class _Header:
    def __init__(self, compression, data_table, streams, event_stream, data_start):
        self.compression = compression
        self.data_table = data_table
        self.streams = streams
        self.event_stream = event_stream
        self.data_start = data_start


def _parse_streams(xml_text: str, path) -> dict:
    """Map stream id -> {'type': 'EVTS', 'sizeX': .., 'sizeY': .., ...} from the infoNode XML."""
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError as exc:
        raise fail(path, f"the stream description (infoNode XML) in the IOHeader does not parse: {exc}",
                   hint="the file header is corrupt") from None
    out_info = None
    for node in root.iter("node"):
        if node.get("name") == "outInfo":
            out_info = node
            break
    if out_info is None:
        raise fail(path, "the IOHeader's infoNode XML has no 'outInfo' node describing the streams",
                   hint="the file header is corrupt or was not written by DV")
    streams = {}
    for node in out_info.findall("node"):
        try:
            sid = int(node.get("name", ""))
        except ValueError:
            continue
        info = {a.get("key"): (a.text or "") for a in node.findall("attr")}
        for sub in node.findall("node"):
            if sub.get("name") == "info":
                info.update({a.get("key"): (a.text or "") for a in sub.findall("attr")})
        streams[sid] = info
    return streams


def _read_header(f, path, size) -> _Header:
    magic = f.read(len(MAGIC))
    if magic != MAGIC:
        raise fail(path, f"not an AEDAT 4.0 file: it starts with {magic[:14]!r}, not {MAGIC!r}", offset=0,
                   hint=RIGHT_FORMAT, cli_hint=CLI_RIGHT_FORMAT)
    (hsize,) = struct.unpack("<i", read_exact(f, 4, path, "the IOHeader size"))
    if hsize <= 8 or hsize > min(size - len(MAGIC) - 4, _MAX_HEADER):
        raise fail(path, f"IOHeader size {hsize} is impossible for a file of {size} bytes", offset=len(MAGIC),
                   hint="the file header is corrupt or the file is truncated")
    buf = read_exact(f, hsize, path, "the IOHeader")
    flat = _Flat(buf, path, len(MAGIC) + 4, "IOHeader")
    table = flat.root()
    compression = flat.scalar(table, 0, "<i", 0)
    if compression not in _COMPRESSION:
        raise fail(path, f"IOHeader field 'compression' has unknown value {compression} "
                         f"(known: {sorted(_COMPRESSION)})", offset=len(MAGIC) + 4,
                   hint="the file header is corrupt")
    data_table = flat.scalar(table, 1, "<q", -1)
    data_start = len(MAGIC) + 4 + hsize
    if data_table != -1 and (data_table < data_start):
        raise fail(path, f"IOHeader field 'dataTablePosition' is {data_table}, before the first packet "
                         f"at {data_start}", offset=len(MAGIC) + 4, hint="the file header is corrupt")
    xml_text = flat.string(table, 2)
    if not xml_text:
        raise fail(path, "the IOHeader has no infoNode stream description", offset=len(MAGIC) + 4,
                   hint="the file header is corrupt or was not written by DV")
    streams = _parse_streams(xml_text, path)
    events = sorted(sid for sid, info in streams.items() if info.get("typeIdentifier") == "EVTS")
    if not events:
        kinds = {sid: info.get("typeIdentifier") for sid, info in streams.items()}
        raise fail(path, f"no event stream (typeIdentifier EVTS) in the file; its streams are {kinds}",
                   hint="this recording holds no DVS events")
    return _Header(_COMPRESSION[compression], data_table, streams, events[0], data_start)


def _decompress(data: bytes, kind: str, path, offset: int, what: str) -> bytes:
    try:
        if kind == "lz4":
            import lz4.frame
            return lz4.frame.decompress(data)
        if kind == "zstd":
            import zstandard
            obj = zstandard.ZstdDecompressor().decompressobj()
            out = obj.decompress(data)
            if not obj.eof:
                raise ValueError("zstd frame incomplete")
            return out
        return data
    except ImportError as exc:  # pragma: no cover - both are project dependencies
        raise fail(path, f"decompressing {what} needs the '{exc.name}' package",
                   hint=f"pip install {'lz4' if kind == 'lz4' else 'zstandard'}") from None
    except Exception as exc:  # lz4 raises RuntimeError, zstandard ZstdError
        raise fail(path, f"{what} does not decompress as {kind.upper()} ({exc})", offset=offset,
                   hint="the file is corrupt or truncated") from None


def _sensor(header: _Header):
    info = header.streams[header.event_stream]
    try:
        w, h = int(info["sizeX"]), int(info["sizeY"])
    except (KeyError, ValueError):
        return None
    return (w, h) if w > 0 and h > 0 else None


def _decode_packet(payload: bytes, path, offset: int, sensor):
    flat_bytes = memoryview(payload)
    if len(flat_bytes) >= 8 and struct.unpack_from("<I", flat_bytes, 0)[0] == len(flat_bytes) - 4:
        flat_bytes = flat_bytes[4:]  # size-prefixed flatbuffer, as DV writes them
    flat = _Flat(flat_bytes, path, offset, "event packet")
    ident = bytes(flat_bytes[4:8])
    if ident != b"EVTS":
        raise fail(path, f"packet of the event stream carries flatbuffer identifier {ident!r}, not b'EVTS'",
                   offset=offset, hint="the file is corrupt")
    table = flat.root()
    start, count = flat.vector(table, 0, 16)
    raw = np.frombuffer(flat_bytes, dtype=_EVENT_STRUCT, count=count, offset=start)
    x, y, p = raw["x"], raw["y"], raw["p"]
    if count:
        if raw["t"].min() < 0:
            raise fail(path, f"event packet holds a negative timestamp ({int(raw['t'].min())} µs)", offset=offset,
                       hint="the file is corrupt")
        if x.min() < 0 or y.min() < 0:
            raise fail(path, "event packet holds negative pixel coordinates", offset=offset,
                       hint="the file is corrupt")
        if p.max() > 1:
            raise fail(path, f"event packet holds polarity byte {int(p.max())} (expected 0 or 1)",
                       offset=offset, hint="the file is corrupt")
        if sensor is not None and (x.max() >= sensor[0] or y.max() >= sensor[1]):
            raise fail(path, f"event packet holds x up to {int(x.max())}, y up to {int(y.max())}, outside the "
                             f"{sensor[0]}x{sensor[1]} sensor declared in the header", offset=offset,
                       hint="the file is corrupt")
    return assemble(raw["t"], x, y, p)


def iter_aedat4(path, block: int):
    size = file_size(path)
    with open(path, "rb") as f:
        header = _read_header(f, path, size)
        sensor = _sensor(header)
        end = header.data_table if header.data_table >= 0 else size
        pos = header.data_start
        pending, pending_n = [], 0
        while pos < end:
            if pos + 8 > size:
                raise fail(path, f"file ends inside a packet header ({size - pos} of 8 bytes)", offset=pos,
                           hint="the file is truncated; re-copy the recording")
            sid, psize = struct.unpack("<ii", f.read(8))
            if sid not in header.streams:
                raise fail(path, f"packet for stream id {sid}, which the header does not declare "
                                 f"(streams: {sorted(header.streams)})", offset=pos,
                           hint="the file is corrupt")
            if psize < 0:
                raise fail(path, f"packet for stream {sid} has negative size {psize}", offset=pos,
                           hint="the file is corrupt")
            if pos + 8 + psize > size:
                raise fail(path, f"packet of {psize} bytes for stream {sid} runs past the end of the file "
                                 f"({size} bytes)", offset=pos, hint="the file is truncated; re-copy the recording")
            if pos + 8 + psize > end:
                raise fail(path, f"packet of {psize} bytes for stream {sid} runs into the data table at "
                                 f"offset {end}", offset=pos, hint="the file is corrupt")
            if sid == header.event_stream:
                data = read_exact(f, psize, path, f"packet of stream {sid}")
                payload = _decompress(data, header.compression, path, pos, f"packet of stream {sid}")
                ev = _decode_packet(payload, path, pos, sensor)
                if len(ev):
                    pending.append(ev)
                    pending_n += len(ev)
                if pending_n >= block:
                    yield np.concatenate(pending)
                    pending, pending_n = [], 0
            else:
                f.seek(psize, 1)
            pos += 8 + psize
        if header.data_table >= 0:
            _check_data_table(f, path, header, size)
        if pending:
            yield np.concatenate(pending)


def _check_data_table(f, path, header, size):
    """The data table (file index) closes a complete file; a missing or cut table means truncation."""
    pos = header.data_table
    if size <= pos:
        raise fail(path, f"file ends at {size} bytes, before its data table at offset {pos}", offset=size,
                   hint="the file is truncated; re-copy the recording")
    f.seek(pos)
    table = _decompress(f.read(size - pos), header.compression, path, pos, "data table (file index)")
    if len(table) < 8 or struct.unpack_from("<I", table, 0)[0] != len(table) - 4:
        raise fail(path, "data table (file index) is incomplete", offset=pos,
                   hint="the file is truncated; re-copy the recording")


def sensor_size_aedat4(path):
    size = file_size(path)
    with open(path, "rb") as f:
        return _sensor(_read_header(f, path, size))
