"""HDF5 event files (read with h5py).

Looked up in this order: a group ``events`` with datasets t, x, y, p (or ts, xs, ys, ps); a
compound dataset ``events`` (or ``CD/events``, the Prophesee layout) with those fields; datasets
t, x, y, p (or ts, xs, ys, ps) at the top level. Datasets are read by slices, so large files
stream. Times must be whole microseconds; floating-point times in seconds are rejected with a hint
rather than guessed at.
"""

from __future__ import annotations

import numpy as np

from ..errors import SpeksimError
from ._base import columns_to_events, fail, pick_fields

_HINT = "store 1-D datasets events/t (µs), events/x, events/y, events/p"

#: What h5py raises for a file whose internal structure is damaged (checksums, heaps, addresses).
_H5_ERRORS = (OSError, ValueError, KeyError, RuntimeError, TypeError)


def _open(path):
    try:
        import h5py
    except ImportError:  # pragma: no cover - h5py is a project dependency
        raise fail(path, "reading HDF5 files needs the 'h5py' package", hint="pip install h5py") from None
    try:
        return h5py.File(path, "r")
    except _H5_ERRORS as exc:
        raise fail(path, f"cannot open as an HDF5 file ({exc})",
                   hint="the file is truncated or corrupt") from None


def _locate(h5, path):
    """Return (where, reader) where reader(start, stop) gives the four columns of those rows."""
    import h5py

    def columns(group, prefix):
        names = [k for k in group.keys() if isinstance(group[k], h5py.Dataset)]
        fields = pick_fields(names, path, f"HDF5 group '{prefix or '/'}'")
        if fields is None:
            return None
        dsets = {k: group[v] for k, v in fields.items()}
        shapes = {k: d.shape for k, d in dsets.items()}
        n = shapes["t"][0] if len(shapes["t"]) == 1 else None
        if n is None or any(s != (n,) for s in shapes.values()):
            raise fail(path, f"HDF5 datasets in '{prefix or '/'}' have shapes {shapes}; they must be 1-D "
                             "and of equal length", hint=_HINT)
        return f"HDF5 group '{prefix or '/'}'", n, lambda a, b: tuple(dsets[k][a:b] for k in "txyp")

    def compound(dset, name):
        names = dset.dtype.names
        fields = pick_fields(names or (), path, f"HDF5 dataset '{name}'")
        if fields is None:
            return None
        if len(dset.shape) != 1:
            raise fail(path, f"HDF5 dataset '{name}' has shape {dset.shape}; it must be 1-D", hint=_HINT)

        def read(a, b):
            rows = dset[a:b]
            return tuple(rows[fields[k]] for k in "txyp")
        return f"HDF5 dataset '{name}'", dset.shape[0], read

    for name in ("events", "CD/events"):
        obj = h5.get(name)
        if isinstance(obj, h5py.Group):
            found = columns(obj, name)
            if found:
                return found
        elif isinstance(obj, h5py.Dataset):
            found = compound(obj, name)
            if found:
                return found
    found = columns(h5, "")
    if found:
        return found
    raise fail(path, f"no event datasets found (top-level keys: {sorted(h5.keys())})", hint=_HINT)


def iter_hdf5(path, block: int):
    block = max(int(block), 1)
    with _open(path) as h5:
        try:
            where, n, read = _locate(h5, path)
        except SpeksimError:
            raise
        except _H5_ERRORS as exc:
            raise fail(path, f"the HDF5 file's groups and datasets cannot be read ({exc})",
                       hint="the file is truncated or corrupt") from None
        for start in range(0, n, block):
            try:
                t, x, y, p = read(start, start + block)
            except _H5_ERRORS as exc:
                raise fail(path, f"cannot read rows {start}..{min(n, start + block)} of {where} ({exc})",
                           hint="the file is corrupt, or compressed with a filter h5py does not have "
                                "(Prophesee files need the ECF codec plugin)") from None
            yield columns_to_events(path, np.asarray(t), np.asarray(x), np.asarray(y), np.asarray(p), where,
                                    first_index=start)


def sensor_size_hdf5(path):
    return None
