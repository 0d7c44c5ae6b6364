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


@njit(cache=True, _nrt=False)
def scatter_event(state, noff, weights, woff, c, x, y, cout, hout, wout, k, sy, sx, py, px,
                  th_hi, th_lo, rtz, wrap, fired, spk_j, spk_f, spk_x, spk_y):
    """Apply one input event (c, x, y) to a core: every SynOp of SPEC F2 with the update of F3.

    Spikes are written in F2 order to spk_* (SynOp index j, feature, ox, oy); `fired` is a
    scratch uint8 array of at least `cout` entries. Returns (number of SynOps, number of spikes).
    """
    nsyn = 0
    nspk = 0
    for ky in range(k):
        ny = y + py - ky
        if ny < 0 or ny % sy != 0:
            continue
        oy = ny // sy
        if oy >= hout:
            continue
        for kx in range(k):
            nx = x + px - kx
            if nx < 0 or nx % sx != 0:
                continue
            ox = nx // sx
            if ox >= wout:
                continue
            wb = woff + ((c * k + ky) * k + kx) * cout
            nb = noff + (oy * wout + ox) * cout
            # local row views and branch-free arithmetic let the compiler vectorise this loop
            vrow = state[nb:nb + cout]
            wrow = weights[wb:wb + cout]
            count = 0
            for f in range(cout):
                v = _overflow(np.int32(vrow[f]) + np.int32(wrow[f]), wrap)
                s = np.int32(v >= th_hi)
                v = v - s * (v if rtz else th_hi)
                v = max(v, th_lo)
                vrow[f] = np.int16(v)
                fired[f] = np.uint8(s)
                count += s
            if count:
                for f in range(cout):
                    if fired[f]:
                        spk_j[nspk] = nsyn + f
                        spk_f[nspk] = f
                        spk_x[nspk] = ox
                        spk_y[nspk] = oy
                        nspk += 1
            nsyn += cout
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
