"""Write the small synthetic 128x128 DVS recordings bundled with speksim.

    python traces/make_traces.py [OUT_DIR]      (default: the folder of this script)

Each recording is a ``.npz`` archive with four arrays: t (int64, µs, non-decreasing), x, y
(uint16, 0..127) and p (uint8, 1 = ON, 0 = OFF), which speksim's ``npz`` reader reads. The
script is deterministic: every recording has its own fixed seed, and the archives are written
with fixed zip timestamps, so running it again gives byte-identical files. It needs only numpy.
"""

from __future__ import annotations

import io
import sys
import zipfile
from pathlib import Path

import numpy as np

SIZE = 128


def _events(t, x, y, p) -> dict:
    """Columns sorted by time (stable, so equal times keep their generation order)."""
    t = np.asarray(t, np.int64)
    order = np.argsort(t, kind="stable")
    return {"t": t[order], "x": np.asarray(x, np.uint16)[order], "y": np.asarray(y, np.uint16)[order],
            "p": np.asarray(p, np.uint8)[order]}


def _noise(rng, rate_hz_per_px: float, t0_us: int, t1_us: int):
    """Uniform background activity: a Poisson process per pixel, random polarity."""
    n = rng.poisson(rate_hz_per_px * SIZE * SIZE * (t1_us - t0_us) * 1e-6)
    return (rng.integers(t0_us, t1_us, n), rng.integers(0, SIZE, n), rng.integers(0, SIZE, n),
            rng.integers(0, 2, n))


def _cat(*parts):
    return tuple(np.concatenate([np.asarray(p[i]) for p in parts]) for i in range(4))


def _edges(rng, inside, step_us: int, p_event: float):
    """Events of a bright shape moving over a dark scene.

    `inside(k)` is the boolean [y, x] mask of the shape at step k. A pixel the shape enters fires
    ON, a pixel it leaves fires OFF, each with probability `p_event`, at a time drawn uniformly
    inside the step.
    """
    ts, xs, ys, ps = [], [], [], []
    prev = inside(0)
    k = 1
    while True:
        cur = inside(k)
        if cur is None:
            break
        for pol, mask in ((1, cur & ~prev), (0, prev & ~cur)):
            yy, xx = np.nonzero(mask)
            keep = rng.random(len(xx)) < p_event
            n = int(keep.sum())
            ts.append((k - 1) * step_us + rng.integers(0, step_us, n))
            xs.append(xx[keep])
            ys.append(yy[keep])
            ps.append(np.full(n, pol))
        prev = cur
        k += 1
    return tuple(np.concatenate(c) for c in (ts, xs, ys, ps))


def moving_bar(seed: int = 1) -> dict:
    """A bright vertical bar, 4 px wide, sweeping left to right at 1 px/ms (about 136 ms),
    over weak background noise (0.5 Hz per pixel)."""
    rng = np.random.default_rng(seed)
    cols = np.arange(SIZE)
    steps = SIZE + 8

    def inside(k):
        if k > steps:
            return None
        left = k - 4
        row = (cols >= left) & (cols < left + 4)
        return np.broadcast_to(row, (SIZE, SIZE))

    bar = _edges(rng, inside, step_us=1000, p_event=0.8)
    return _events(*_cat(bar, _noise(rng, 0.5, 0, steps * 1000)))


def rotating_dot(seed: int = 2) -> dict:
    """A bright dot of radius 4 px circling the centre at radius 40 px, two turns in 400 ms."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    step_us, total_us, radius, orbit = 250, 400_000, 4.0, 40.0
    n_steps = total_us // step_us

    def inside(k):
        if k > n_steps:
            return None
        a = 2 * np.pi * 2 * (k * step_us) / total_us
        cx, cy = 63.5 + orbit * np.cos(a), 63.5 + orbit * np.sin(a)
        return (xx - cx) ** 2 + (yy - cy) ** 2 <= radius ** 2

    dot = _edges(rng, inside, step_us=step_us, p_event=0.9)
    return _events(*_cat(dot, _noise(rng, 0.2, 0, total_us)))


def noise(seed: int = 3) -> dict:
    """One second of background activity: 2 Hz per pixel everywhere, plus three hot pixels
    firing at 500 Hz each."""
    rng = np.random.default_rng(seed)
    total_us = 1_000_000
    parts = [_noise(rng, 2.0, 0, total_us)]
    for hx, hy in ((17, 90), (64, 64), (110, 23)):
        n = rng.poisson(500 * total_us * 1e-6)
        parts.append((rng.integers(0, total_us, n), np.full(n, hx), np.full(n, hy), rng.integers(0, 2, n)))
    return _events(*_cat(*parts))


def burst(seed: int = 4) -> dict:
    """A flash: 10 ms of background (5 Hz per pixel), then a dense 2 ms burst over the whole
    array (every pixel fires ON in the first ms and OFF in the second: 32,768 events in 2 ms,
    about 16 Mevents/s, more than a host link or a core can take), then 10 ms of background."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    xx, yy = xx.ravel(), yy.ravel()
    n = xx.size
    on = (10_000 + rng.integers(0, 1000, n), xx, yy, np.ones(n))
    off = (11_000 + rng.integers(0, 1000, n), xx, yy, np.zeros(n))
    return _events(*_cat(_noise(rng, 5.0, 0, 10_000), on, off, _noise(rng, 5.0, 12_000, 22_000)))


#: file name -> generator
TRACES = {"moving_bar.npz": moving_bar, "rotating_dot.npz": rotating_dot, "noise.npz": noise,
          "burst.npz": burst}


def save_npz(path: Path, arrays: dict) -> None:
    """Like np.savez_compressed, but with fixed zip timestamps so the bytes are reproducible."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, arr in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(arr), allow_pickle=False)
            zf.writestr(info, member.getvalue(), compresslevel=9)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(buf.getvalue())
    tmp.replace(path)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0]) if argv else Path(__file__).resolve().parent
    out.mkdir(parents=True, exist_ok=True)
    for name, make in TRACES.items():
        ev = make()
        save_npz(out / name, ev)
        t = ev["t"]
        print(f"{name}: {len(t)} events, {t[-1] - t[0]} µs, {(out / name).stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
