"""Helpers shared by the format readers: errors that name the file, header scanning, event assembly.

Every format has two functions, registered in `speksim.io._READERS`:

* a generator ``iter_<format>(path, block)`` that yields DVS_EVENT arrays in file order; `block` is
  how many records (words, events, or packets' worth of events) to decode at a time, which bounds
  the memory used;
* ``sensor_size_<format>(path)`` (``sensor_size`` in prophesee.py) returning ``(width, height)``
  when the file records it, else ``None``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import ReaderError
from ..events import DVS_EVENT

#: Most header bytes any reader scans before giving up on finding the end of a text header.
MAX_HEADER_BYTES = 16 * 1024 * 1024


#: The advice to name the format, in the Python API's words and in the command line's.
RIGHT_FORMAT = "pass the right format= or check the file"
CLI_RIGHT_FORMAT = "pass the right --format or check the file"


def fail(path, message: str, offset: int | None = None, hint: str | None = None, *,
         cli_message: str | None = None, cli_hint: str | None = None) -> ReaderError:
    """Build a ReaderError that names the file, the byte offset (when known) and a fix (when known).

    `cli_message` / `cli_hint` word the message or the fix for the command line (flags instead of
    Python arguments); when either is given the error's `cli` holds that wording.
    """
    where = f"{Path(path).name}" + (f" at byte offset {offset}" if offset is not None else "")

    def text(message, hint):
        return f"{where}: {message}" + (f"; {hint}" if hint else "") + f" [file: {os.fspath(path)}]"

    cli = None
    if cli_message is not None or cli_hint is not None:
        cli = text(cli_message if cli_message is not None else message, cli_hint if cli_hint is not None else hint)
    return ReaderError(text(message, hint), cli=cli)


def assemble(t, x, y, p) -> np.ndarray:
    """Pack equal-length columns into a new DVS_EVENT array (values must already fit the fields)."""
    out = np.empty(len(t), dtype=DVS_EVENT)
    out["t"] = t
    out["x"] = x
    out["y"] = y
    out["p"] = p
    return out


def file_size(path) -> int:
    return os.stat(path).st_size


def read_exact(f, n: int, path, what: str) -> bytes:
    """Read exactly n bytes at the current position or raise a truncation error naming `what`."""
    pos = f.tell()
    data = f.read(n)
    if len(data) != n:
        raise fail(path, f"file ends after {len(data)} of the {n} bytes of {what} (starting at offset {pos})",
                   offset=pos + len(data),
                   hint="the file is truncated; re-copy or re-export the recording")
    return data


def scan_text_header(f, path, marker: bytes, *, stop_line: bytes | None = None) -> tuple[list[str], int]:
    """Read the lines at the start of `f` that begin with `marker` (b"%" or b"#").

    A line must start with `marker`, end with b"\\n" and decode as text; the first line that does
    not qualify marks the start of the binary data. `stop_line` (e.g. b"% end") ends the header
    after that line. Returns the decoded lines (without line ends) and the data offset.
    """
    f.seek(0)
    lines: list[str] = []
    offset = 0
    while True:
        first = f.read(1)
        if first != marker:
            break
        rest = f.readline(64 * 1024)
        line = first + rest
        if not line.endswith(b"\n"):
            break
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            try:
                text = line.decode("latin-1")
            except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes any byte
                break
        if any(ord(c) < 32 and c not in "\r\n\t" for c in text):
            break
        lines.append(text.rstrip("\r\n"))
        offset += len(line)
        if stop_line is not None and line.rstrip(b"\r\n") == stop_line:
            break
        if offset > MAX_HEADER_BYTES:
            raise fail(path, f"text header longer than {MAX_HEADER_BYTES} bytes", offset=offset,
                       hint="this is not a recording header; check the file format")
    f.seek(offset)
    return lines, offset


def check_record_tail(path, data_start: int, size: int, record: int, what: str) -> None:
    """Raise when the data after the header is not a whole number of `record`-byte records."""
    extra = (size - data_start) % record
    if extra:
        cut = size - extra
        raise fail(path, f"the last {what} is incomplete: {extra} of {record} bytes present", offset=cut,
                   hint="the file is truncated; re-copy the recording, or cut it at a whole record")


#: Accepted names of each field in array-based files (numpy, HDF5), in order of preference.
FIELD_ALIASES = {"t": ("t", "ts", "timestamp", "timestamps"), "x": ("x", "xs"), "y": ("y", "ys"),
                 "p": ("p", "ps", "polarity", "polarities")}


def pick_fields(names, path, where: str) -> dict | None:
    """Map t, x, y, p to the names present in `names` (None when none of them is present)."""
    names = list(names)
    found = {}
    for field, aliases in FIELD_ALIASES.items():
        for alias in aliases:
            if alias in names:
                found[field] = alias
                break
    if not found:
        return None
    missing = [k for k in FIELD_ALIASES if k not in found]
    if missing:
        raise fail(path, f"{where} has the event field(s) {sorted(found.values())} but lacks {missing} "
                         f"(it holds {names})",
                   hint="an event file needs t (µs), x, y and p")
    return found


def columns_to_events(path, t, x, y, p, where: str, first_index: int = 0) -> np.ndarray:
    """Convert columns of any integer/bool type to DVS_EVENT, checking every value.

    t: integers (floats only when they hold whole numbers) in µs, not negative; x, y: 0..65535; p:
    bool, 0/1, or -1/+1 (-1 becomes 0). Errors name `where`, the field and the index of the first bad value.
    """
    cols = {"t": np.asarray(t), "x": np.asarray(x), "y": np.asarray(y), "p": np.asarray(p)}
    n = len(cols["t"])
    for name, col in cols.items():
        if col.ndim != 1 or len(col) != n:
            raise fail(path, f"{where}: field '{name}' has shape {col.shape}, expected ({n},) like 't'",
                       hint="all event fields must be 1-D and of equal length")
        if col.dtype.kind not in "iubf":
            raise fail(path, f"{where}: field '{name}' has dtype {col.dtype}, which is not numeric")
    out = np.empty(n, dtype=DVS_EVENT)
    if n == 0:
        return out

    def bad(name, mask, rule, hint=None):
        i = int(np.flatnonzero(mask)[0])
        # .item(): a plain number in the message, not numpy's repr (np.int8(2))
        raise fail(path, f"{where}: field '{name}' at index {first_index + i} is {cols[name][i].item()!r}; {rule}",
                   hint=hint)

    t = cols["t"]
    if t.dtype.kind == "f":
        mask = ~np.isfinite(t) | (t != np.floor(t))
        if mask.any():
            bad("t", mask, "timestamps must be whole microseconds",
                "convert the times to integer µs first (e.g. seconds * 1e6, rounded)")
        if np.abs(t).max() > 2.0 ** 62:
            bad("t", np.abs(t) > 2.0 ** 62, "timestamp out of the int64 range")
    elif t.dtype.kind == "u" and t.dtype.itemsize == 8 and t.max() > np.iinfo(np.int64).max:
        bad("t", t > np.iinfo(np.int64).max, "timestamp out of the int64 range")
    out["t"] = t.astype(np.int64)
    if out["t"].min() < 0:
        bad("t", out["t"] < 0, "timestamps must not be negative",
            "shift the times to start at 0 or later (e.g. t - t.min()) before saving")
    for name in ("x", "y"):
        col = cols[name]
        if col.dtype.kind == "f":
            mask = ~np.isfinite(col) | (col != np.floor(col))
            if mask.any():
                bad(name, mask, "pixel coordinates must be whole numbers")
        if col.dtype.kind != "b":
            mask = (col < 0) | (col > 65535)
            if mask.any():
                bad(name, mask, "pixel coordinates must lie in 0..65535")
        out[name] = col.astype(np.uint16)
    pol = cols["p"]
    if pol.dtype.kind == "b":
        out["p"] = pol
    else:
        mask = (pol != 0) & (pol != 1) & (pol != -1)
        if mask.any():
            bad("p", mask, "polarity must be a bool, 0/1 or -1/+1")
        out["p"] = pol > 0
    return out
