"""The readout block's arithmetic (SPEC F7), shared by both engines: the class a spike counts
for, and what a slow-clock tick makes of the counts.

The state of one readout is one int64 array (`new_state`), so the fast engine keeps it with its
other arrays and the reference engine holds the same array: per-class counts of the current
tick, the moving-window sums, the ring of the last ticks' counts, and the events of the last
tick that are still to be sent to the host (T11).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .. import _jit  # noqa: F401  (before any @njit: where numba caches this package's code)

#: Readout classes 1..15; class 0 is the idle class, reported when every average is 0.
N_CLASSES = 16
#: The longest moving window, in ticks (`low_pass_filter32_not16`).
MAX_WINDOW = 32
#: A per-tick class counter is 16 bits wide and saturates.
COUNT_MAX = 65535

#: Neurons the readout reads per `readout_configuration_sel` 0..3: (x, y, features) as
#: 2x·2y·4f, 2x·4y·2f, 4x·4y·1f, 1x·1y·16f [doc].
SEL_X = (2, 2, 4, 1)
SEL_Y = (2, 4, 4, 1)
SEL_F = (4, 2, 1, 16)

#: `kind` of a readout output event (its x address): a ReadoutValue, a ReadoutPinValue.
VALUE, PIN = 0, 1

# Layout of the state array: counts, window sums and the ring of counts per class, then scalars.
RS_COUNT = 0
RS_SUM = RS_COUNT + N_CLASSES
RS_RING = RS_SUM + N_CLASSES
_SCALARS = RS_RING + MAX_WINDOW * N_CLASSES
# RS_POS: the ring slot of the next tick; RS_NEXT, RS_END: the kinds still to send, [NEXT, END);
# RS_CLASS, RS_AVG: what they report; RS_FREE: when the readout's sender is free again (T11);
# RS_BLOCKED: it waits for a slot of the host-output FIFO (T0)
RS_POS, RS_NEXT, RS_END, RS_CLASS, RS_AVG, RS_FREE, RS_BLOCKED = range(_SCALARS, _SCALARS + 7)
N_RS = RS_BLOCKED + 1


def new_state() -> np.ndarray:
    """The state of a readout at the start of a run: int64 [N_RS], all zero (F8: no counts)."""
    return np.zeros(N_RS, np.int64)


@njit(cache=True, forceinline=True, _nrt=False)
def readout_class(sel, errata, f, x, y):
    """The class 1..15 that a spike arriving at the readout as (feature f, x, y) counts for, or
    -1 when no class reads it (SPEC F7).

    The readout reads 16 neurons, numbered n = (y·X + x)·F + f for the (X, Y, F) of mode `sel`
    [unk: the numbering is not published]; class i reads neuron i - 1, so neuron 15 is read by
    none. With `errata` (Speck2e/2f) the readout reads feature 4·f' where it should read f', so
    a feature that is not a multiple of 4 is read by no class [doc for 1x·1y·16f, the rest unk].
    """
    if sel == 0:
        nx, ny, nf = 2, 2, 4
    elif sel == 1:
        nx, ny, nf = 2, 4, 2
    elif sel == 2:
        nx, ny, nf = 4, 4, 1
    else:
        nx, ny, nf = 1, 1, 16
    if errata:
        if f % 4:
            return -1
        f //= 4
    if f >= nf or x >= nx or y >= ny:
        return -1
    n = (y * nx + x) * nf + f
    if n >= N_CLASSES - 1:
        return -1
    return n + 1


@njit(cache=True, forceinline=True, _nrt=False)
def readout_count(rs, cls):
    """One spike served for class `cls` (1..15): its 16-bit counter goes up, and stays at its
    maximum once there (F7)."""
    if rs[RS_COUNT + cls] < COUNT_MAX:
        rs[RS_COUNT + cls] += 1


@njit(cache=True, forceinline=True, _nrt=False)
def readout_tick(rs, window, threshold, monitor, pin_monitor):
    """A slow-clock tick (F7): the tick's counts enter the moving window of `window` (1, 16 or
    32) ticks and the counters restart from 0; the class with the largest average (window sum
    // window; the lowest class on a tie; class 0 with average 0 when every average is 0) is
    reported by a ReadoutValue when `monitor`, and by a pin event too when its average is above
    `threshold` and `pin_monitor`.

    The events become the ones to send, unless the previous tick's are still waiting: then the
    new ones are lost (T11). Returns how many were lost."""
    pos = rs[RS_POS]
    ring = RS_RING + pos * N_CLASSES
    best = 0
    best_avg = 0
    for c in range(1, N_CLASSES):
        new = rs[RS_COUNT + c]
        s = rs[RS_SUM + c] + new - rs[ring + c]
        rs[RS_SUM + c] = s
        rs[ring + c] = new
        rs[RS_COUNT + c] = 0
        avg = s // window
        if avg > best_avg:
            best = c
            best_avg = avg
    rs[RS_POS] = 0 if pos + 1 >= window else pos + 1
    first = VALUE if monitor else PIN
    end = PIN + 1 if pin_monitor and best_avg > threshold else PIN
    if end == first:
        return 0
    if rs[RS_END] > rs[RS_NEXT]:
        return end - first
    rs[RS_NEXT] = first
    rs[RS_END] = end
    rs[RS_CLASS] = best
    rs[RS_AVG] = best_avg
    return 0
