"""AEDAT 2.0 (jAER, DVS128) and AEDAT 3.1 (cAER / DVS Gesture) readers.

AEDAT 2.0: ``#`` text header (first line ``#!AER-DAT2.0``), then big-endian pairs of 32-bit
address and 32-bit timestamp (µs). Only the DVS128 (and Tmpdiff128) address map is implemented:
``x = 127 - ((addr >> 1) & 0x7F)``, ``y = (addr >> 8) & 0x7F``, bit 0 is the polarity with
**0 = ON**. Addresses with bit 15 set are jAER special (sync) events and are skipped.
jAER writes the camera's 32-bit µs counter as a signed int32, which turns negative after 2**31 µs
(36 minutes); it is read unsigned, and a drop of more than 2**31 µs is taken as the counter wrapping
around, so times never go negative.

AEDAT 3.1: ``#`` text header ending with ``#!END-HEADER``, then packets of a 28-byte little-endian
header (int16 type, int16 source, int32 event size, int32 timestamp offset, int32 timestamp
overflow, int32 capacity, int32 number, int32 valid) followed by capacity × size bytes. Polarity
packets (type 1) hold 8-byte events: uint32 data (bit 0 valid, bit 1 polarity 1 = ON, bits 2-16 y,
bits 17-31 x) and int32 timestamp; the full time is ``(overflow << 31) | timestamp``. Other packet
types (special, frame, IMU, ...) are skipped, as are events whose valid bit is 0.
"""

from __future__ import annotations

import re
import struct

import numpy as np

from ._base import (CLI_RIGHT_FORMAT, RIGHT_FORMAT, assemble, check_record_tail, fail, file_size, read_exact,
                    scan_text_header)

AEDAT2_MAGIC = b"#!AER-DAT2.0"
AEDAT3_MAGICS = (b"#!AER-DAT3.1", b"#!AER-DAT3.0")

_DVS128_CHIPS = ("dvs128", "tmpdiff128")

#: Sensor sizes of the cameras whose name appears in an AEDAT 3.1 "#Source" header line.
_AEDAT3_SOURCES = (("dvs128", (128, 128)), ("davis240", (240, 180)), ("davis346", (346, 260)),
                   ("davis640", (640, 480)), ("dvxplorer", (640, 480)))


# ----------------------------------------------------------------------------------- AEDAT 2.0

def _aedat2_header(f, path):
    lines, start = scan_text_header(f, path, b"#")
    if not lines or not lines[0].startswith(AEDAT2_MAGIC.decode()):
        found = lines[0][:20] if lines else "no '#' header"
        raise fail(path, f"not an AEDAT 2.0 file: the first line must be '#!AER-DAT2.0', found {found!r}",
                   offset=0, hint=RIGHT_FORMAT, cli_hint=CLI_RIGHT_FORMAT)
    chip = None
    for line in lines:
        m = re.match(r"#\s*AEChip:\s*(\S+)", line)
        if m:
            chip = m.group(1)
    if chip is not None and not any(name in chip.lower() for name in _DVS128_CHIPS):
        raise fail(path, f"AEDAT 2.0 recorded by chip class {chip!r}; only the DVS128 address map is implemented",
                   hint="convert the recording to AEDAT 4 (DV) or to a .npy/.h5 event file first")
    return start


def iter_aedat2(path, block: int):
    size = file_size(path)
    with open(path, "rb") as f:
        start = _aedat2_header(f, path)
        check_record_tail(path, start, size, 8, "event (8 bytes: int32 address, int32 timestamp)")
        offset, wraps, last_t = start, 0, None
        block = max(int(block), 1)
        while True:
            data = f.read(8 * block)
            if not data:
                break
            raw = np.frombuffer(data, dtype=">u4").reshape(-1, 2)
            addr = raw[:, 0].astype(np.int64)
            t = raw[:, 1].astype(np.int64)
            bad = np.flatnonzero(addr > 0xFFFF)
            if bad.size:
                i = int(bad[0])
                raise fail(path, f"address 0x{int(addr[i]):08x} is not a DVS128 address",
                           offset=offset + 8 * i, hint="the file is corrupt or was not recorded by a DVS128")
            # a drop of more than 2**31 µs is a wrap of the 32-bit counter
            prev = np.concatenate(([last_t if last_t is not None else t[0]], t[:-1]))
            step = np.cumsum(t - prev < -(1 << 31)) + wraps
            last_t, wraps = int(t[-1]), int(step[-1])
            t = t + (step << 32)
            keep = (addr & 0x8000) == 0
            addr, t = addr[keep], t[keep]
            x = 127 - ((addr >> 1) & 0x7F)
            y = (addr >> 8) & 0x7F
            p = 1 - (addr & 1)  # 0 = ON in the file
            offset += len(data)
            yield assemble(t, x, y, p)


def sensor_size_aedat2(path):
    with open(path, "rb") as f:
        _aedat2_header(f, path)
    return (128, 128)


# ----------------------------------------------------------------------------------- AEDAT 3.1

_PKT = struct.Struct("<hhiiiiii")
_POLARITY = 1


def _aedat3_header(f, path):
    lines, start = scan_text_header(f, path, b"#", stop_line=b"#!END-HEADER")
    if not lines or not any(lines[0].startswith(m.decode()) for m in AEDAT3_MAGICS):
        found = lines[0][:20] if lines else "no '#' header"
        raise fail(path, f"not an AEDAT 3.1 file: the first line must be '#!AER-DAT3.1', found {found!r}",
                   offset=0, hint=RIGHT_FORMAT, cli_hint=CLI_RIGHT_FORMAT)
    if lines[-1] != "#!END-HEADER":
        raise fail(path, "the AEDAT 3.1 header has no '#!END-HEADER' line", offset=start,
                   hint="the file is truncated or its header is corrupt")
    return lines, start


def iter_aedat31(path, block: int):
    size = file_size(path)
    with open(path, "rb") as f:
        _, pos = _aedat3_header(f, path)
        pending, pending_n = [], 0
        while pos < size:
            head = read_exact(f, _PKT.size, path, "an AEDAT 3.1 packet header")
            etype, _src, esize, tsoff, tsover, cap, num, _valid = _PKT.unpack(head)
            if esize <= 0 or cap < 0 or num < 0 or num > cap or tsoff < 0 or tsoff + 4 > esize or tsover < 0:
                raise fail(path, f"corrupt packet header (type {etype}, eventSize {esize}, tsOffset {tsoff}, "
                                 f"tsOverflow {tsover}, eventCapacity {cap}, eventNumber {num})",
                           offset=pos, hint="the file is corrupt")
            nbytes = cap * esize
            if pos + _PKT.size + nbytes > size:
                raise fail(path, f"packet of {nbytes} bytes extends past the end of the file ({size} bytes)",
                           offset=pos, hint="the file is truncated; re-copy the recording")
            if etype == _POLARITY:
                if esize != 8 or tsoff != 4:
                    raise fail(path, f"polarity packet with eventSize {esize} and tsOffset {tsoff} "
                                     "(expected 8 and 4)", offset=pos, hint="the file is corrupt")
                data = read_exact(f, nbytes, path, "a polarity packet")
                raw = np.frombuffer(data, dtype="<u4", count=2 * num).reshape(-1, 2)
                word = raw[:, 0]
                keep = (word & 1) == 1
                word = word[keep]
                t = (raw[keep, 1] & 0x7FFFFFFF).astype(np.int64) | (np.int64(tsover) << 31)
                ev = assemble(t, (word >> 17) & 0x7FFF, (word >> 2) & 0x7FFF, (word >> 1) & 1)
                pending.append(ev)
                pending_n += len(ev)
                if pending_n >= block:
                    yield np.concatenate(pending)
                    pending, pending_n = [], 0
            else:
                f.seek(nbytes, 1)
            pos += _PKT.size + nbytes
        if pending:
            yield np.concatenate(pending)


def sensor_size_aedat31(path):
    with open(path, "rb") as f:
        lines, _ = _aedat3_header(f, path)
    for line in lines:
        m = re.match(r"#Source\s+\d+:\s*(.+)", line)
        if m:
            name = m.group(1).strip().lower()
            for key, dims in _AEDAT3_SOURCES:
                if key in name:
                    return dims
    return None


__all__ = ["iter_aedat2", "iter_aedat31", "sensor_size_aedat2", "sensor_size_aedat31"]
