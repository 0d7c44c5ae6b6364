"""Prophesee readers: RAW EVT 2.0, RAW EVT 3.0 and DAT (CD events, 8 bytes per event).

All three start with a text header of lines beginning with ``%`` (optionally closed by ``% end``).

EVT 2.0 — little-endian 32-bit words, type in bits 31-28: CD_OFF (0) / CD_ON (1) carry the 6 low
time bits (27-22), x (21-11) and y (10-0); EVT_TIME_HIGH (8) carries time bits 33-6; EXT_TRIGGER
(10), OTHERS (14) and CONTINUED (15) are skipped.

EVT 3.0 — little-endian 16-bit words, type in bits 15-12: EVT_ADDR_Y (0) sets y; EVT_ADDR_X (2) is
one event at x with polarity bit 11; VECT_BASE_X (3) sets the base x and polarity of the vector
words that follow; VECT_12 (4) and VECT_8 (5) are masks of 12 / 8 pixels from the base x (bit i ->
x = base + i), after which the base advances by 12 / 8; EVT_TIME_LOW (6) and EVT_TIME_HIGH (8)
set the two 12-bit halves of the 24-bit time. The time of an event is literally
``(TIME_HIGH << 12) | TIME_LOW`` (a TIME_LOW that steps back inside one TIME_HIGH is *not* taken as
a wrap); only a TIME_HIGH that drops by more than half its range counts as a 2**24 µs wrap.

Both decoders drop the events whose time or address is not yet known (before the first TIME_HIGH;
for EVT 3.0 also before the first EVT_ADDR_Y, and vectors before the first VECT_BASE_X), and reject
words of reserved types, which never occur in camera output but do in random or misaligned data.

DAT — after the header (and, from version 2 on, one byte event type and one byte event size),
8-byte events: uint32 t (µs), uint32 with x in bits 0-13, y in 14-27, polarity in 28-31.

Sensor size: ``% geometry WxH``, ``% format ...;width=W;height=H``, ``% Width`` / ``% Height``,
or, for RAW files without those lines, the sensor implied by ``% plugin_name`` (gen3: 640x480,
gen4 / gen41 / imx636: 1280x720, genx320: 320x320).
"""

from __future__ import annotations

import re

import numba
import numpy as np

from .. import _jit  # noqa: F401  (before any @njit: where numba caches this package's code)
from ._base import (CLI_RIGHT_FORMAT, RIGHT_FORMAT, assemble, check_record_tail, fail, file_size, read_exact,
                    scan_text_header)

_PLUGIN_SENSORS = ((r"genx320|gx320", (320, 320)), (r"gen4|imx636|imx646", (1280, 720)),
                   (r"gen3", (640, 480)))


# ------------------------------------------------------------------------------------- header

def read_header(f, path):
    """Return (info, data_start). info keys: evt ('2.0', '3.0', '2.1' or None), width, height,
    version (DAT), plugin, is_dat (a DAT-style header)."""
    lines, start = scan_text_header(f, path, b"%", stop_line=b"% end")
    return header_info(lines), start


def header_info(lines) -> dict:
    info = {"evt": None, "width": None, "height": None, "version": None, "plugin": None, "is_dat": False,
            "lines": len(lines)}
    for line in lines:
        body = line[1:].strip()
        low = body.lower()
        m = re.match(r"evt\s+(\d+(?:\.\d+)?)\s*$", low)
        if m:
            info["evt"] = {"2": "2.0", "3": "3.0"}.get(m.group(1), m.group(1))
            continue
        if low.startswith("format "):
            fields = body[7:].split(";")
            enc = fields[0].strip().upper()
            info["evt"] = {"EVT2": "2.0", "EVT3": "3.0", "EVT21": "2.1"}.get(enc, enc)
            for field in fields[1:]:
                key, _, value = field.partition("=")
                if key.strip().lower() in ("width", "height") and value.strip().isdigit():
                    info[key.strip().lower()] = int(value)
            continue
        m = re.match(r"geometry\s+(\d+)\s*x\s*(\d+)", low)
        if m:
            info["width"], info["height"] = int(m.group(1)), int(m.group(2))
            continue
        m = re.match(r"(width|height)\s+(\d+)\s*$", low)
        if m:
            info[m.group(1)] = int(m.group(2))
            info["is_dat"] = True
            continue
        m = re.match(r"version\s+(\d+)", low)
        if m:
            info["version"] = int(m.group(1))
            info["is_dat"] = True
            continue
        if low.startswith("data file containing"):
            info["is_dat"] = True
            continue
        m = re.match(r"plugin_name\s+(\S+)", low)
        if m:
            info["plugin"] = m.group(1)
    return info


def sniff(lines) -> str | None:
    """'evt2', 'evt3', 'evt21', 'evt?' (RAW of another encoding), 'dat' or None from header lines."""
    info = header_info(lines)
    if info["evt"] is not None:
        return {"2.0": "evt2", "3.0": "evt3", "2.1": "evt21"}.get(info["evt"], "evt?")
    if info["is_dat"]:
        return "dat"
    return None


def _sensor_from(info):
    if info["width"] and info["height"]:
        return (info["width"], info["height"])
    if info["plugin"]:
        for pattern, dims in _PLUGIN_SENSORS:
            if re.search(pattern, info["plugin"]):
                return dims
    return None


def sensor_size(path):
    with open(path, "rb") as f:
        info, _ = read_header(f, path)
    return _sensor_from(info)


def _check_raw_header(path, info, want: str):
    evt = info["evt"]
    if evt is None:
        return  # a header without an encoding line (or no header at all): trust format=
    if evt != want:
        raise fail(path, f"the header says the events are encoded as EVT {evt}, but EVT {want} was asked for",
                   hint=("speksim reads EVT 2.0 and EVT 3.0 only; convert other encodings with Metavision"
                         if evt not in ("2.0", "3.0") else f"use format='evt{evt[0]}' or format=None"),
                   cli_hint=(None if evt not in ("2.0", "3.0") else
                             f"use --format evt{evt[0]}, or leave --format out to detect it"))


def _unwrap(raw, last_raw, wraps, half):
    """Unwrap a counter of range 2*half: drops larger than `half` count as wraps. Returns (full, last, wraps)."""
    if raw.size == 0:
        return raw.astype(np.int64), last_raw, wraps
    prev = np.empty_like(raw)
    prev[0] = raw[0] if last_raw < 0 else last_raw
    prev[1:] = raw[:-1]
    count = np.cumsum(raw - prev < -half) + wraps
    return raw + count * (2 * half), int(raw[-1]), int(count[-1])


# -------------------------------------------------------------------------------------- EVT 2.0

@numba.njit(cache=True, nogil=True)
def _evt2_kernel(w, st, t_out, x_out, y_out, p_out):
    """Decode EVT 2.0 words into the output columns (room for one event per word); returns
    (events written, index of the first word of a reserved type or -1). `st` = [last raw
    TIME_HIGH, wraps, unwrapped TIME_HIGH] is updated in place (-1: none seen yet)."""
    last_raw, wraps, th = st[0], st[1], st[2]
    k = 0
    bad = -1
    for i in range(w.size):
        word = np.int64(w[i])
        typ = word >> 28
        if typ <= 1:
            if th >= 0:
                t_out[k] = (th << 6) | ((word >> 22) & 0x3F)
                x_out[k] = (word >> 11) & 0x7FF
                y_out[k] = word & 0x7FF
                p_out[k] = typ
                k += 1
        elif typ == 8:
            raw = word & 0x0FFFFFFF
            if last_raw >= 0 and raw - last_raw < -(1 << 27):
                wraps += 1
            last_raw = raw
            th = raw + (wraps << 28)
        elif typ == 10 or typ == 14 or typ == 15:
            pass
        else:
            bad = i
            break
    st[0], st[1], st[2] = last_raw, wraps, th
    return k, bad


def _reserved(path, fmt, word_value, typ_shift, offset):
    return fail(path, f"{fmt} word of reserved type 0x{int(word_value) >> typ_shift:x}", offset=offset,
                hint=f"the data is not {fmt} (wrong format=, misaligned or corrupt data)",
                cli_hint=f"the data is not {fmt} (wrong --format, misaligned or corrupt data)")


def iter_evt2(path, block: int):
    size = file_size(path)
    with open(path, "rb") as f:
        info, start = read_header(f, path)
        _check_raw_header(path, info, "2.0")
        check_record_tail(path, start, size, 4, "EVT 2.0 word (4 bytes)")
        st = np.array([-1, 0, -1], dtype=np.int64)
        offset = start
        block = max(int(block), 1)
        while True:
            data = f.read(4 * block)
            if not data:
                break
            w = np.frombuffer(data, dtype="<u4")
            n = len(w)
            t = np.empty(n, dtype=np.int64)
            x = np.empty(n, dtype=np.uint16)
            y = np.empty(n, dtype=np.uint16)
            p = np.empty(n, dtype=np.uint8)
            k, bad = _evt2_kernel(w, st, t, x, y, p)
            if bad >= 0:
                raise _reserved(path, "EVT 2.0", w[bad], 28, offset + 4 * bad)
            offset += len(data)
            yield assemble(t[:k], x[:k], y[:k], p[:k])


# -------------------------------------------------------------------------------------- EVT 3.0

def _evt3_state():
    """Decoder state carried between blocks: last raw TIME_HIGH, wraps, TIME_HIGH (unwrapped, -1
    before the first), TIME_LOW, y (-1 before the first), vector x pointer (-1 before the first
    VECT_BASE_X), vector polarity."""
    return np.array([-1, 0, -1, 0, -1, -1, 0], dtype=np.int64)


@numba.njit(cache=True, nogil=True)
def _evt3_upper_bound(w):
    n = 0
    for i in range(w.size):
        typ = w[i] >> 12
        if typ == 2:
            n += 1
        elif typ == 4 or typ == 5:
            v = w[i] & (0xFFF if typ == 4 else 0xFF)
            while v:
                v &= v - 1
                n += 1
    return n


@numba.njit(cache=True, nogil=True)
def _evt3_kernel(w, st, t_out, x_out, y_out, p_out):
    """Decode EVT 3.0 words into the output columns; returns (events written, index of the first
    word of a reserved type or -1). `st` is updated in place."""
    th_raw, wraps, th, tl = st[0], st[1], st[2], st[3]
    y, xptr, vpol = st[4], st[5], st[6]
    k = 0
    bad = -1
    for i in range(w.size):
        word = np.int64(w[i])
        typ = word >> 12
        val = word & 0xFFF
        if typ == 0:
            y = val & 0x7FF
        elif typ == 2:
            if th >= 0 and y >= 0:
                t_out[k] = (th << 12) | tl
                x_out[k] = val & 0x7FF
                y_out[k] = y
                p_out[k] = (val >> 11) & 1
                k += 1
        elif typ == 3:
            xptr = val & 0x7FF
            vpol = (val >> 11) & 1
        elif typ == 4 or typ == 5:
            nbits = 12 if typ == 4 else 8
            if xptr >= 0:
                if th >= 0 and y >= 0:
                    t = (th << 12) | tl
                    for b in range(nbits):
                        if (val >> b) & 1:
                            t_out[k] = t
                            x_out[k] = xptr + b
                            y_out[k] = y
                            p_out[k] = vpol
                            k += 1
                xptr += nbits
        elif typ == 6:
            tl = val
        elif typ == 8:
            if th_raw >= 0 and val - th_raw < -2048:
                wraps += 1
            th_raw = val
            th = val + (wraps << 12)
        elif typ == 7 or typ == 10 or typ == 14 or typ == 15:
            pass
        else:
            bad = i
            break
    st[0], st[1], st[2], st[3] = th_raw, wraps, th, tl
    st[4], st[5], st[6] = y, xptr, vpol
    return k, bad


def _decode_evt3(words, st, path, offset):
    n = _evt3_upper_bound(words)
    t = np.empty(n, dtype=np.int64)
    x = np.empty(n, dtype=np.uint16)
    y = np.empty(n, dtype=np.uint16)
    p = np.empty(n, dtype=np.uint8)
    k, bad = _evt3_kernel(words, st, t, x, y, p)
    if bad >= 0:
        raise _reserved(path, "EVT 3.0", words[bad], 12, offset + 2 * bad)
    return assemble(t[:k], x[:k], y[:k], p[:k])


def iter_evt3(path, block: int):
    size = file_size(path)
    with open(path, "rb") as f:
        info, start = read_header(f, path)
        _check_raw_header(path, info, "3.0")
        check_record_tail(path, start, size, 2, "EVT 3.0 word (2 bytes)")
        st = _evt3_state()
        offset = start
        block = max(int(block), 1)
        while True:
            data = f.read(2 * block)
            if not data:
                break
            ev = _decode_evt3(np.frombuffer(data, dtype="<u2"), st, path, offset)
            offset += len(data)
            yield ev


# ------------------------------------------------------------------------------------------ DAT

def _dat_layout(f, path, size):
    info, start = read_header(f, path)
    if info["lines"] == 0:
        raise fail(path, "no '%' text header: not a Prophesee DAT file", offset=0,
                   hint=RIGHT_FORMAT, cli_hint=CLI_RIGHT_FORMAT)
    if info["evt"] is not None:
        raise fail(path, f"the header says this is a RAW EVT {info['evt']} file, not DAT",
                   hint=f"use format='evt{info['evt'][0]}' or format=None",
                   cli_hint=f"use --format evt{info['evt'][0]}, or leave --format out to detect it")
    ev_size = 8
    if (info["version"] or 0) >= 2:
        ev_type, ev_size = read_exact(f, 2, path, "the DAT event type and size bytes")
        if ev_type not in (0, 12) or ev_size != 8:
            raise fail(path, f"DAT event type {ev_type} with size {ev_size}: only CD events of 8 bytes "
                             "(type 0 or 12) are supported", offset=start,
                       hint="this DAT file does not hold CD (change detection) events")
        start += 2
    return info, start, ev_size


def iter_dat(path, block: int):
    size = file_size(path)
    with open(path, "rb") as f:
        _, start, ev_size = _dat_layout(f, path, size)
        check_record_tail(path, start, size, ev_size, "DAT event (8 bytes)")
        last_raw, wraps = -1, 0
        offset = start
        block = max(int(block), 1)
        while True:
            data = f.read(ev_size * block)
            if not data:
                break
            raw = np.frombuffer(data, dtype="<u4").reshape(-1, 2).astype(np.int64)
            t, last_raw, wraps = _unwrap(raw[:, 0], last_raw, wraps, 1 << 31)
            word = raw[:, 1]
            p = (word >> 28) & 0xF
            bad = np.flatnonzero(p > 1)
            if bad.size:
                i = int(bad[0])
                raise fail(path, f"event {i} of this block has polarity field {int(p[i])} (expected 0 or 1)",
                           offset=offset + ev_size * i, hint="the file is corrupt or not a CD event file")
            offset += len(data)
            yield assemble(t, word & 0x3FFF, (word >> 14) & 0x3FFF, p)


def sensor_size_dat(path):
    with open(path, "rb") as f:
        info, _, _ = _dat_layout(f, path, file_size(path))
    if info["width"] and info["height"]:
        return (info["width"], info["height"])
    return None


__all__ = ["iter_evt2", "iter_evt3", "iter_dat", "sensor_size", "sensor_size_dat", "sniff"]
