"""The layout of the fast engine's control state: the columns and offsets of the one int64 array
`c` that the loop (`engine.loop`), the steps (`engine.steps`), the wakes (`engine.wakes`) and
`FastEngine` read and write, and the sets of queues kept as bits in rank order (SPEC T0).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .. import _jit  # noqa: F401  (before any @njit: where numba caches this package's code)
from ..kernels import lowest_bit
from .compiled import DVS, N_BLOCKS, N_QUEUED

INF = np.int64(2**62)

# The control state of a run is one flat int64 array `c` at constant offsets: a row of RW columns
# per block (its server, FIFO control and depth, output queue control and depth, output stage),
# then the next instants, the globals and the series' bins. The loop then holds one base pointer
# for all of it, not a descriptor per array that the compiler keeps on the stack and reloads
# (about a tenth of a replay). `FastEngine` sees its parts as the views sv, fc, oc, st (2-D, one
# row per block), wk, g and bn, whose columns are the SV_, FC_, OC_, ST_, G_ constants.

# server columns sv[block, :]
(SV_BUSY, SV_START, SV_SHIFT, SV_NSPK, SV_K, SV_DUR, SV_ROOT, SV_BLOCKED, SV_STALLSINCE, SV_LEAKPEND,
 SV_DECCNT, SV_L, SV_F, SV_X, SV_Y) = range(15)
N_SV = SV_Y + 1
# FIFO control fc[block, :]; FIFO rows fq[slot, :]
FC_BASE, FC_HEAD, FC_CNT, FC_TLAST = range(4)
FQ_LAYER, FQ_F, FQ_X, FQ_Y, FQ_ROOT, FQ_AVAIL = range(6)
# output queue control oc[q, :]; rows oq[slot, :]
OC_BASE, OC_HEAD, OC_CNT = range(3)
OQ_F, OQ_X, OQ_Y, OQ_ROOT = range(4)
# stage st[q, :]
ST_FREE, ST_COPY, ST_BLOCKED = range(3)

# a block's row in c, c[block * RW + column]: the server's columns SV_ first, then the FIFO
# control (F_ for FC_), the FIFO depth, the output queue control (O_ for OC_) and depth, and the
# stage (T_ for ST_); RW, a power of two, makes a row's offset a shift
# (each part's columns in the order of its FC_, OC_ or ST_ constants, so that FastEngine's views
# of them take those constants)
F_BASE, F_HEAD, F_CNT, F_TLAST = (N_SV + col for col in (FC_BASE, FC_HEAD, FC_CNT, FC_TLAST))
F_DEPTH = N_SV + 4
O_BASE, O_HEAD, O_CNT = (F_DEPTH + 1 + col for col in (OC_BASE, OC_HEAD, OC_CNT))
O_DEPTH = F_DEPTH + 4
T_FREE, T_COPY, T_BLOCKED = (O_DEPTH + 1 + col for col in (ST_FREE, ST_COPY, ST_BLOCKED))
# the output stages held or blocked by this block's full FIFO, as rank bits (see _stage_wake)
F_WAITING = T_BLOCKED + 1
RW = 32
assert F_WAITING < RW

# c[WK + :]: the next instant of every server (by block id), then of every output stage (W_STAGE +
# queue id), then the deferred job ends (W_DEFER + queue id) and stalls (W_PEND + queue id), see
# _set_wake
W_STAGE = N_BLOCKS
W_DEFER = N_BLOCKS + N_QUEUED
W_PEND = W_DEFER + N_QUEUED
N_WK = W_PEND + N_QUEUED
WK = N_BLOCKS * RW

# globals c[GL + :]
# G_RESUME: _run stopped inside instant G_TNOW at the input link, which needs the next chunk
# G_QUEUED: the queues that hold spikes (O_CNT > 0), one bit each in rank order (_rank_bit)
# G_VISIT: the stages to visit at the next stages' turn whatever their wake (rank bits): a queue
# that had been empty, and the stages waiting for a FIFO that has just freed a slot (F_WAITING)
# G_TIMED: the stages whose wake is an instant, not INF (rank bits), kept by _set_stage_wake. Few
# are: a stage is mostly visited through G_VISIT or held by a full FIFO, so the loop reads only
# these stages' wakes (_timed_least, _timed_due), not all of them at every instant
(G_POS, G_LAST, G_HASLAST, G_LBLOCKED, G_TLASTIN, G_NOUT, G_NEXTTICK, G_TNOW, G_TEND, G_DEADT,
 G_RESUME, G_QUEUED, G_VISIT, G_TIMED) = range(14)
N_G = G_TIMED + 1
GL = WK + N_WK
# c[BN + :]: the series' bin width, the current bin, the start of the current bin
BN = GL + N_G
N_CTL = BN + 3


@njit(cache=True, forceinline=True, _nrt=False)
def _rank_pos(q):
    """The position of queue q in the rank order of T0: the DVS layer, then the cores by id. A set
    of queues is kept as an int64 with bit _rank_pos(q) for q (_rank_bit); `_rank_queue` inverts it."""
    return 0 if q == DVS else q + 1


@njit(cache=True, forceinline=True, _nrt=False)
def _rank_queue(pos):
    return DVS if pos == 0 else pos - 1


@njit(cache=True, forceinline=True, _nrt=False)
def _rank_bit(q):
    return np.int64(1) << _rank_pos(q)


@njit(cache=True, forceinline=True, _nrt=False)
def _first_queue(queues):
    """The queue of the lowest set bit of a set of queues kept as rank bits."""
    return _rank_queue(lowest_bit(queues))
