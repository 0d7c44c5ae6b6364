"""Write the small synthetic 128x128 DVS recordings bundled with speksim, and the chip
configurations of the stall workloads.

    python traces/make_traces.py [OUT_DIR]      (default: the folder of this script)

Each recording is a ``.npz`` archive with four arrays: t (int64, µs, non-decreasing), x, y
(uint16, 0..127) and p (uint8, 1 = ON, 0 = OFF), which speksim's ``npz`` reader reads. The
script is deterministic: every recording has its own fixed seed, and the archives are written
with fixed zip timestamps, so running it again gives byte-identical files. The recordings need
only numpy; the stall workloads' configurations (``stall_*.json``, written by
``speksim.save_config``) need speksim, the checkout's own when the script runs from one.
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


def _patch(rng, rate_hz: float, t0_us: int, t1_us: int, x0: int, y0: int, side: int, p_on: float):
    """A flickering square: `rate_hz` events per second spread uniformly over [t0, t1) and over
    the side x side pixels from (x0, y0), each ON with probability `p_on`."""
    n = int(round(rate_hz * (t1_us - t0_us) * 1e-6))
    return (rng.integers(t0_us, t1_us, n), rng.integers(x0, x0 + side, n), rng.integers(y0, y0 + side, n),
            (rng.random(n) < p_on).astype(np.int64))


def stall_chain(seed: int = 5) -> dict:
    """The input of the stall workload `stall_chain.json`: 200 ms of background (10 kevents/s
    over the array) with two flickering squares. At 40-45 ms, 150 kevents/s in x, y 10..33, ON
    and OFF alike: core 1 serves it at about half its capacity. At 120-125 ms, 1 Mevents/s in
    x 80..111, y 70..101, 80% ON: about three times what core 1 can serve."""
    rng = np.random.default_rng(seed)
    return _events(*_cat(_noise(rng, 10_000 / SIZE ** 2, 0, 200_000),
                         _patch(rng, 150_000, 40_000, 45_000, 10, 10, 24, 0.5),
                         _patch(rng, 1_000_000, 120_000, 125_000, 80, 70, 32, 0.8)))


def stall_merge(seed: int = 6) -> dict:
    """The input of `stall_merge.json`: 150 ms of background (10 kevents/s) with, at 60-70 ms,
    540 kevents/s in x, y 40..87, ON and OFF alike. Each of cores 0 (ON) and 1 (OFF) alone offers
    core 2 about 80% of what it can serve; together about 160%."""
    rng = np.random.default_rng(seed)
    return _events(*_cat(_noise(rng, 10_000 / SIZE ** 2, 0, 150_000),
                         _patch(rng, 540_000, 60_000, 70_000, 40, 40, 48, 0.5)))


def _speksim():
    """speksim, the checkout's own when this script is in one."""
    root = Path(__file__).resolve().parent.parent
    if (root / "speksim" / "__init__.py").is_file() and str(root) not in sys.path:
        sys.path.insert(0, str(root))
    import speksim
    return speksim


def stall_chain_config():
    """DVS -> core 0 -> core 1 -> core 2, monitored, on speck2f timing (event_ns 83, synop_ns 20).

    Core 0: 2 -> 1 channel, 2x2 kernel, stride 2, weights 1, threshold 1: one spike per camera
    event (1 SynOp, 103 ns). Core 1: 1 -> 16 channels, 3x3, padding 1, on 64x64: 144 SynOps per
    event inside the map, 2.96 us, so about 340 kevents/s at most; threshold 128 keeps its output
    sparse. Core 2 (pooled 2x2): 16 -> 4 channels, 3x3, padding 1, on 32x32: 36 SynOps, 0.8 us."""
    speksim = _speksim()
    from speksim.config import conv_layer
    cfg = speksim.ChipConfig()
    cfg.dvs_layer.destinations[0] = speksim.DvsDestination(layer=0, enable=True)
    cfg.cnn_layers[0] = conv_layer(np.ones((1, 2, 2, 2), np.int8), (128, 128), stride=2, threshold_high=1,
                                   destinations=[(1, 1, 0)])
    cfg.cnn_layers[1] = conv_layer(np.ones((16, 1, 3, 3), np.int8), (64, 64), padding=1, threshold_high=128,
                                   destinations=[(2, 2, 0)])
    cfg.cnn_layers[2] = conv_layer(np.ones((4, 16, 3, 3), np.int8), (32, 32), padding=1, threshold_high=64,
                                   monitor_enable=True)
    return cfg


def stall_merge_config():
    """DVS -> cores 0 and 1 -> core 2 (a merge), on speck2f timing.

    Cores 0 and 1: 2 -> 1 channel, 2x2 kernel, stride 2, threshold 1; core 0 weighs only ON
    events, core 1 only OFF ones, so each spikes once per event of its polarity (1 SynOp each:
    zero weights count, SPEC F2). Both send to core 2, core 1 with feature shift 1. Core 2: 2 -> 16
    channels, 3x3, padding 1, on 64x64: 144 SynOps per event, 2.96 us, about 340 kevents/s."""
    speksim = _speksim()
    from speksim.config import conv_layer
    cfg = speksim.ChipConfig()
    cfg.dvs_layer.destinations[0] = speksim.DvsDestination(layer=0, enable=True)
    cfg.dvs_layer.destinations[1] = speksim.DvsDestination(layer=1, enable=True)
    on, off = np.zeros((1, 2, 2, 2), np.int8), np.zeros((1, 2, 2, 2), np.int8)
    on[0, 1], off[0, 0] = 1, 1
    cfg.cnn_layers[0] = conv_layer(on, (128, 128), stride=2, threshold_high=1, destinations=[(2, 1, 0)])
    cfg.cnn_layers[1] = conv_layer(off, (128, 128), stride=2, threshold_high=1, destinations=[(2, 1, 1)])
    cfg.cnn_layers[2] = conv_layer(np.ones((16, 2, 3, 3), np.int8), (64, 64), padding=1, threshold_high=128,
                                   monitor_enable=True)
    return cfg


#: file name -> generator
TRACES = {"moving_bar.npz": moving_bar, "rotating_dot.npz": rotating_dot, "noise.npz": noise,
          "burst.npz": burst, "stall_chain.npz": stall_chain, "stall_merge.npz": stall_merge}

#: configuration file name -> builder (the stall workloads: each runs the recording of the same name)
CONFIGS = {"stall_chain.json": stall_chain_config, "stall_merge.json": stall_merge_config}


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
    for name, make in CONFIGS.items():
        _speksim().save_config(make(), out / name)
        print(f"{name}: {(out / name).stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
