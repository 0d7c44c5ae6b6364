"""N-MNIST / N-Caltech101 ``.bin`` reader (ATIS saccade datasets).

No header; 5 bytes per event: x (8 bits), y (8 bits), then 24 big-endian bits holding the
polarity (bit 23, 1 = ON) and the timestamp (bits 22-0, µs).

Records with y == 240 are timestamp-overflow markers, as in the dataset authors' reader: they are
not events, and every later event gets 2**13 µs added per marker seen (the increment that reader
uses). The format has no magic bytes, so the decoded times must not decrease; a file whose times go
back is reported as not being N-MNIST data rather than returned as garbage.
"""

from __future__ import annotations

import numpy as np

from ._base import assemble, check_record_tail, fail, file_size

_OVERFLOW_Y = 240
_OVERFLOW_STEP = 1 << 13


def iter_nmnist(path, block: int):
    size = file_size(path)
    check_record_tail(path, 0, size, 5, "N-MNIST event (5 bytes)")
    overflows, last_t, offset = 0, -1, 0
    block = max(int(block), 1)
    with open(path, "rb") as f:
        while True:
            data = f.read(5 * block)
            if not data:
                break
            raw = np.frombuffer(data, dtype=np.uint8).reshape(-1, 5)
            x = raw[:, 0]
            y = raw[:, 1]
            p = raw[:, 2] >> 7
            t = ((raw[:, 2].astype(np.int64) & 0x7F) << 16) | (raw[:, 3].astype(np.int64) << 8) | raw[:, 4]
            marker = y == _OVERFLOW_Y
            count = np.cumsum(marker) + overflows
            overflows = int(count[-1])
            t = t + count * _OVERFLOW_STEP
            keep = ~marker
            t, x, y, p = t[keep], x[keep], y[keep], p[keep]
            if t.size:
                prev = np.empty_like(t)
                prev[0] = max(last_t, t[0])
                prev[1:] = t[:-1]
                back = np.flatnonzero(t < prev)
                if back.size:
                    i = int(np.flatnonzero(keep)[back[0]])
                    raise fail(path, f"timestamp goes back from {int(prev[back[0]])} to {int(t[back[0]])} µs",
                               offset=offset + 5 * i,
                               hint="this does not look like an N-MNIST .bin file; pass the right format=",
                               cli_hint="this does not look like an N-MNIST .bin file; pass the right --format")
                last_t = int(t[-1])
            offset += len(data)
            yield assemble(t, x, y, p)


def sensor_size_nmnist(path):
    return None
