"""Numba kernels: pure functions over arrays, no validation (callers validate).

Layouts (see `speksim.engine.compiled`): a core's weights are `[c_in][ky][kx][c_out]` starting at
`woff`, its neuron state `[oy][ox][c_out]` starting at `noff`, so the loop over output features
of SPEC F2 reads and writes contiguous memory.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from . import _jit  # noqa: F401  (before any @njit: where numba caches this package's code)

INT16_MIN = -32768
INT16_MAX = 32767


@njit(cache=True, inline="always", _nrt=False)
def _overflow(v, wrap):
    if wrap:
        return ((v + 32768) & 0xFFFF) - 32768
    if v > INT16_MAX:
        return INT16_MAX
    if v < INT16_MIN:
        return INT16_MIN
    return v


@njit(cache=True, inline="always", _nrt=False)
def _first_tap(pos, pad, stride):
    """Along one axis, for an input at `pos`: the first kernel tap aligned to the stride, and the
    output it reaches. At stride 1 (most layers) that is tap 0 and no division at all."""
    if stride == 1:
        return 0, pos + pad
    k0 = (pos + pad) % stride
    return k0, (pos + pad - k0) // stride


@njit(cache=True, _nrt=False)
def scatter_event(state, noff, weights, woff, c, x, y, cout, hout, wout, k, sy, sx, py, px,
                  th_hi, th_lo, rtz, wrap, fired, spk_j, spk_f, spk_x, spk_y):
    """Apply one input event (c, x, y) to a core: every SynOp of SPEC F2 with the update of F3.

    Spikes are written in F2 order to spk_* (SynOp index j, feature, ox, oy); `fired` is a
    scratch uint8 array of at least `cout` entries. Returns (number of SynOps, number of spikes).
    """
    nsyn = 0
    nspk = 0
    hi = np.int16(th_hi)
    lo = np.int16(th_lo)
    # the kernel rows and columns that reach an output (F2), in order, without a division per row:
    # ky steps by the stride from the first one aligned to it, and oy steps down by one
    ky0, oy = _first_tap(y, py, sy)
    kx0, ox0 = _first_tap(x, px, sx)
    for ky in range(ky0, k, sy):
        if oy < 0:
            break
        if oy >= hout:
            oy -= 1
            continue
        ox = ox0
        for kx in range(kx0, k, sx):
            if ox < 0:
                break
            if ox >= wout:
                ox -= 1
                continue
            wb = woff + ((c * k + ky) * k + kx) * cout
            nb = noff + (oy * wout + ox) * cout
            # local row views and branch-free arithmetic let the compiler vectorise this loop
            vrow = state[nb:nb + cout]
            wrow = weights[wb:wb + cout]
            # int16 lanes (each result cast back to int16, which the compiler keeps narrow): the
            # widest vectors for the loop every SynOp runs. v - hi fits int16 as hi >= 1 (validated).
            count = False
            for f in range(cout):
                t = np.int32(vrow[f]) + np.int32(wrow[f])
                v = np.int16(t) if wrap else np.int16(min(max(t, INT16_MIN), INT16_MAX))
                fire = v >= hi
                r = np.int16(0) if rtz else np.int16(np.int32(v) - np.int32(hi))
                v = r if fire else v
                v = v if v >= lo else lo
                vrow[f] = v
                fired[f] = np.uint8(fire)
                count |= fire
            if count:
                for f in range(cout):
                    if fired[f]:
                        spk_j[nspk] = nsyn + f
                        spk_f[nspk] = f
                        spk_x[nspk] = ox
                        spk_y[nspk] = oy
                        nspk += 1
            nsyn += cout
            ox -= 1
        oy -= 1
    return nsyn, nspk


@njit(cache=True, _nrt=False)
def leak_job(state, noff, biases, boff, cout, hout, wout, th_hi, th_lo, rtz, wrap, can_fire,
             spk_j, spk_f, spk_x, spk_y):
    """One leak step of a core (SPEC F4): add bias[f] to every neuron in (f, y, x) order.

    With `can_fire`, F3's spike and reset apply and spikes are written to spk_* with j the
    neuron's position in F4 order. Returns (number of neurons, number of spikes).
    """
    nspk = 0
    i = 0
    for f in range(cout):
        b = np.int32(biases[boff + f])
        for oy in range(hout):
            for ox in range(wout):
                idx = noff + (oy * wout + ox) * cout + f
                v = _overflow(np.int32(state[idx]) + b, wrap)
                if can_fire and v >= th_hi:
                    v = 0 if rtz else v - th_hi
                    spk_j[nspk] = i
                    spk_f[nspk] = f
                    spk_x[nspk] = ox
                    spk_y[nspk] = oy
                    nspk += 1
                if v < th_lo:
                    v = th_lo
                state[idx] = v
                i += 1
    return i, nspk


@njit(cache=True, _nrt=False)
def dvs_map(on, off, merge, pool_x, pool_y, origin_x, origin_y, cut_x, cut_y, mirror_x, mirror_y,
            diagonal, x, y, p):
    """The DVS pre-processing layer on one event (SPEC F6).

    Returns (keep, feature, x, y); keep is 0 for events dropped by polarity selection or crop.
    """
    if (p == 1 and not on) or (p == 0 and not off):
        return 0, 0, 0, 0
    f = 0 if merge else p
    x = x // pool_x
    y = y // pool_y
    if x < origin_x or y < origin_y or x > cut_x or y > cut_y:
        return 0, 0, 0, 0
    x -= origin_x
    y -= origin_y
    if mirror_x:
        x = cut_x - origin_x - x
    if mirror_y:
        y = cut_y - origin_y - y
    if diagonal:
        x, y = y, x
    return 1, f, x, y
