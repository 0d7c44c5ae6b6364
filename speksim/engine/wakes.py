"""When each block of the chip next has something to do, for the fast engine's loop
(`engine.loop`): the wake of a server or an output stage (c[WK + ...], see `engine.layout`) set
after its visit, the job ends and stalls that are settled late (deferred), and whether anything
waits for a slot when nothing else can happen (SPEC T9). What a block does when its wake comes is
in `engine.steps`.
"""

from __future__ import annotations

from numba import njit

from .. import _jit  # noqa: F401  (before any @njit: where numba caches this package's code)
from .compiled import C_BAL, K_TARGET, N_CORES, N_QUEUED
from .layout import (FQ_AVAIL, F_BASE, F_CNT, F_DEPTH, F_HEAD, F_WAITING, GL, G_LBLOCKED, G_TIMED, INF,
                     O_CNT, O_DEPTH, RW, SV_BLOCKED, SV_BUSY, SV_DUR, SV_K, SV_L, SV_LEAKPEND, SV_NSPK, SV_SHIFT,
                     SV_START, T_BLOCKED, T_FREE, T_COPY, W_DEFER, W_PEND, W_STAGE, WK, _first_queue, _rank_bit)
from .readout import RS_BLOCKED, RS_END, RS_NEXT

# Like the steps, compiled with _nrt=False and inlined into the loop (see the note in engine.steps).


@njit(cache=True, forceinline=True, _nrt=False)
def _set_wake(b, c, fq, spk_o):
    """Set c[WK + b], the next instant at which server b has something to do (INF: nothing until a
    FIFO push, which sets it, or until its output queue frees a slot, which calls another round).

    The end of a core's or the DVS layer's job with nothing after it (FIFO empty, no leak job
    waiting) changes nothing another block can see at that instant, so it is deferred: kept in
    c[WK + W_DEFER + b] and settled when something is pushed into the FIFO (at the later of the two
    times, where the next job starts), or when nothing else is left to do or the run stops. The
    instants and their order stay those of the rules; only these job ends are settled late, and
    that saves an instant (about a fifth of them in a lightly loaded network).

    Likewise a spike due while the output queue is full: only the queue's own stage can free a
    slot, so until it does the server would just stall at the spike's time. That time is kept in
    c[WK + W_PEND + b] and settled by the stage when it frees a slot (_stage_send), or when
    nothing else is left to do or the run stops (_undefer); the stall counts from it."""
    w = INF
    d = INF
    p = INF
    if c[b * RW + SV_BUSY]:
        if not c[b * RW + SV_BLOCKED]:
            k = c[b * RW + SV_K]
            if k < c[b * RW + SV_NSPK]:
                w = c[b * RW + SV_START] + spk_o[c[b * RW + SV_L] + k] + c[b * RW + SV_SHIFT]
                if c[b * RW + O_CNT] >= c[b * RW + O_DEPTH]:
                    p = w
                    w = INF
            else:
                end = c[b * RW + SV_START] + c[b * RW + SV_DUR] + c[b * RW + SV_SHIFT]
                if b < N_QUEUED and c[b * RW + F_CNT] == 0 and not c[b * RW + SV_LEAKPEND]:
                    d = end
                else:
                    w = end
    elif c[b * RW + F_CNT] > 0:
        w = fq[c[b * RW + F_BASE] + c[b * RW + F_HEAD], FQ_AVAIL]
    c[WK + b] = w
    if b < N_QUEUED:
        c[WK + W_DEFER + b] = d
        c[WK + W_PEND + b] = p


@njit(cache=True, forceinline=True, _nrt=False)
def _undefer(c, tnow):
    """Make every deferred job end or stall due (see _set_wake); False if there was none. One
    already past (instants after it came first) is settled at the current instant `tnow`: time
    never goes back, and its bookkeeping covers its own interval whenever it is done."""
    found = False
    for q in range(N_QUEUED):
        d = min(c[WK + W_DEFER + q], c[WK + W_PEND + q])
        if d < INF:
            c[WK + q] = max(d, tnow)
            c[WK + W_DEFER + q] = INF
            c[WK + W_PEND + q] = INF
            found = True
        if c[q * RW + O_CNT] > 0 and not c[q * RW + T_BLOCKED] and c[WK + W_STAGE + q] == INF:
            # a stage held back by _stage_wake: it finds its FIFO full at T_FREE, after now
            _set_stage_wake(q, c, max(c[q * RW + T_FREE], tnow))
            found = True
    return found


@njit(cache=True, forceinline=True, _nrt=False)
def _stage_wake(q, c, core, copies):
    """The next instant at which the output stage of q can send, set after each of its visits (INF:
    nothing queued, or held by a full FIFO).

    A stage is held when the FIFO its next copy goes to is full and would hold it (no balancer),
    whether it has found it so (T_BLOCKED) or would at T_FREE: only that FIFO's server taking an
    event frees a slot, and until then the stage would only find it full. So a stage seen held at
    its visit gets no wake; it is noted in the FIFO's F_WAITING, which the FIFO's next pop moves
    to G_VISIT, and the loop visits it at that instant's next stages' turn. Like the deferred job ends
    (_set_wake), _undefer makes an unblocked held stage due when nothing else is left to do or
    the run stops."""
    if c[q * RW + O_CNT] > 0:
        tgt = copies[q, c[q * RW + T_COPY], K_TARGET]
        if c[q * RW + T_BLOCKED] or (c[tgt * RW + F_CNT] >= c[tgt * RW + F_DEPTH]
                                     and not (tgt < N_CORES and core[tgt, C_BAL])):
            c[tgt * RW + F_WAITING] |= _rank_bit(q)
            return INF
        return c[q * RW + T_FREE]
    return INF


@njit(cache=True, forceinline=True, _nrt=False)
def _set_stage_wake(q, c, w):
    """Set the wake of q's output stage to w (INF: none), keeping G_TIMED."""
    c[WK + W_STAGE + q] = w
    bit = _rank_bit(q)
    c[GL + G_TIMED] = (c[GL + G_TIMED] & ~bit) | (bit if w < INF else 0)


@njit(cache=True, forceinline=True, _nrt=False)
def _timed_least(c):
    """The earliest wake of the stages in G_TIMED (INF: none); one step per stage in it, and it is
    empty at most instants."""
    least = INF
    timed = c[GL + G_TIMED]
    while timed:
        least = min(least, c[WK + W_STAGE + _first_queue(timed)])
        timed &= timed - 1
    return least


@njit(cache=True, forceinline=True, _nrt=False)
def _timed_due(c, t):
    """The stages in G_TIMED due at t (wake <= t), as rank bits."""
    due = 0
    timed = c[GL + G_TIMED]
    while timed:
        q = _first_queue(timed)
        timed &= timed - 1
        if c[WK + W_STAGE + q] <= t:
            due |= _rank_bit(q)
    return due


@njit(cache=True, _nrt=False)
def _waiting(active_q, c, rs, readout):
    """Whether anything waits for a slot (T9): the link, a stalled server, a held output stage or
    the readout's sender. Asked only when nothing else can happen."""
    if c[GL + G_LBLOCKED]:
        return True
    for q in active_q:
        if (c[q * RW + SV_BUSY] and c[q * RW + SV_BLOCKED]) or (c[q * RW + O_CNT] > 0 and c[q * RW + T_BLOCKED]):
            return True
    return readout and rs[RS_END] > rs[RS_NEXT] and rs[RS_BLOCKED] != 0
