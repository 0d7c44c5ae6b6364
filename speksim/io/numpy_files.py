"""numpy ``.npy`` and ``.npz`` event files (the tonic layout).

``.npy``: one 1-D structured array with fields t, x, y, p (any order; extra fields are ignored;
the aliases ts/xs/ys/ps are accepted). It is memory-mapped and converted chunk by chunk, so a file
larger than memory streams.

``.npz``: either separate 1-D arrays named t, x, y, p (or ts, xs, ys, ps), or one structured
array as above, stored as ``events`` or as the archive's only member. It is loaded whole.

Field types: any integer or bool type; t in µs (floats only when they hold whole numbers); p may
be bool, 0/1 or -1/+1, with -1 read as 0 (OFF).
"""

from __future__ import annotations

import lzma
import tokenize
import zipfile
import zlib

import numpy as np

from ..errors import SpeksimError
from ._base import CLI_RIGHT_FORMAT, RIGHT_FORMAT, columns_to_events, fail, pick_fields

#: What numpy raises for a damaged .npy header or array data (the header is parsed as a Python
#: literal, so a damaged one can fail as Python syntax), and zipfile/zlib for a damaged archive
#: (damaged flag bits read as encryption or another compression method: NotImplementedError,
#: RuntimeError, LZMAError).
_NPY_ERRORS = (ValueError, OSError, EOFError, SyntaxError, tokenize.TokenError)
_NPZ_ERRORS = _NPY_ERRORS + (zipfile.BadZipFile, zlib.error, lzma.LZMAError, NotImplementedError, RuntimeError)

_HINT = ("save a 1-D structured array with fields t (µs), x, y, p, e.g. "
         "np.save(path, speksim.make_events('dvs', t=..., x=..., y=..., p=...))")


def _magic(path, magic: bytes, what: str):
    with open(path, "rb") as f:
        head = f.read(len(magic))
    if head != magic:
        raise fail(path, f"not a {what}: it does not start with {magic!r}", offset=0,
                   hint=RIGHT_FORMAT, cli_hint=CLI_RIGHT_FORMAT)


def _load_npy(path):
    _magic(path, b"\x93NUMPY", ".npy file")
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except _NPY_ERRORS as exc:
        raise fail(path, f"cannot load as a .npy array ({exc})",
                   hint="the file is truncated, corrupt, or holds Python objects; re-save it") from None


def _structured_fields(arr, path, where):
    if not isinstance(arr, np.ndarray):
        raise fail(path, f"{where} is not a numpy array (a {type(arr).__name__})", hint=_HINT)
    if arr.dtype.names is None:
        raise fail(path, f"{where} is an unstructured array of dtype {arr.dtype} and shape {arr.shape}",
                   hint=_HINT)
    if arr.ndim != 1:
        raise fail(path, f"{where} has shape {arr.shape}; an event array must be 1-D", hint=_HINT)
    fields = pick_fields(arr.dtype.names, path, where)
    if fields is None:
        raise fail(path, f"{where} has the fields {list(arr.dtype.names)}, none of them t, x, y, p", hint=_HINT)
    return fields


def _iter_structured(arr, path, where, block):
    fields = _structured_fields(arr, path, where)
    block = max(int(block), 1)
    for start in range(0, len(arr), block):
        chunk = arr[start:start + block]
        yield columns_to_events(path, chunk[fields["t"]], chunk[fields["x"]], chunk[fields["y"]],
                                chunk[fields["p"]], where, first_index=start)


def iter_npy(path, block: int):
    arr = _load_npy(path)
    try:
        yield from _iter_structured(arr, path, "the array", block)
    finally:
        del arr


def _load_npz(path):
    _magic(path, b"PK", ".npz (zip) archive")
    try:
        return np.load(path, allow_pickle=False)
    except _NPZ_ERRORS as exc:
        raise fail(path, f"cannot open as a .npz archive ({exc})",
                   hint="the file is truncated or corrupt; re-save it") from None


def iter_npz(path, block: int):
    with _load_npz(path) as archive:
        keys = list(archive.files)
        try:
            fields = pick_fields(keys, path, "the archive")
            if fields is not None:
                cols = {k: archive[v] for k, v in fields.items()}
                for k, v in fields.items():
                    if not isinstance(cols[k], np.ndarray):
                        raise fail(path, f"archive member '{v}' is not a numpy array", hint=_HINT)
                yield columns_to_events(path, cols["t"], cols["x"], cols["y"], cols["p"], "the archive")
                return
            if "events" in keys:
                key = "events"
            elif len(keys) == 1:
                key = keys[0]
            else:
                raise fail(path, f"the archive holds {keys}: neither arrays named t, x, y, p nor one "
                                 "structured event array (named 'events' or the only member)", hint=_HINT)
            arr = archive[key]
        except SpeksimError:
            raise
        except _NPZ_ERRORS as exc:
            raise fail(path, f"cannot read the archive's arrays ({exc})",
                       hint="the file is truncated or corrupt; re-save it") from None
    yield from _iter_structured(arr, path, f"member '{key}'", block)


def sensor_size_none(path):
    return None
