"""The fast engine's loop: numba-compiled, over SPEC T0–T12 and F1–F6 (docs/chip-model.md).

`_run` advances the chip from one instant to the next, settling each instant in rounds (see
docs/chip-model.md, T0): tick, servers, then senders by rank. It keeps all state in arrays so it
can stop at any instant boundary and resume: when the output buffer or the time-series buffer
is full, when a chunk of input is used up, when the run is over (SPEC T12), or on a deadlock.
It also stops inside an instant, at the input link, when the chunk's last input was dropped by
a congestion balancer: a drop costs the link no time, so the next chunk's first input may start
in that same instant and must compete there by rank (T0, T8); called with the next chunk, it
goes on with that instant's round where it stopped, so a run fed in chunks settles the very
instants and rounds of one fed at once. `speksim.engine.fast.FastEngine` owns the arrays and
handles those stops.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .. import _jit  # noqa: F401  (before any @njit: where numba caches this package's code)
from ..kernels import due_bits, least_of
from .compiled import (C_LEAK, HOST_OUT, N_CORES, N_QUEUED, P_HOST_IN_NS, P_RO_MON, P_RO_PIN, P_RO_THRESH, P_RO_TICK,
                       P_RO_WINDOW, P_TICK_NS, R_DROPPED, READOUT, S_CONGESTION, S_LEAKMERGED)
from .layout import (BN, G_DEADT, G_HASLAST, G_LAST, G_LBLOCKED, G_NEXTTICK, G_NOUT, G_POS, G_QUEUED, G_RESUME,
                     G_TEND, G_TNOW, G_VISIT, GL, INF, RW, SV_LEAKPEND, W_STAGE, WK, _first_queue, _rank_bit,
                     _rank_pos)
from .readout import RS_BLOCKED, RS_END, RS_FREE, RS_NEXT, readout_tick
from .steps import _advance_plain, _advance_queued, _horizon, _link_send, _readout_send, _stage_send
from .wakes import _set_stage_wake, _set_wake, _stage_wake, _timed_due, _timed_least, _undefer, _waiting

# the earliest next instant of a server, c[WK:WK + W_STAGE] (the stages' are few: layout.G_TIMED)
_earliest = least_of(W_STAGE)
# the queued servers due at t, c[WK + q] <= t, as rank bits (see layout._rank_bit); the positions
# from _rank_pos's Python function (py_func, absent when the JIT is off)
_due = due_bits([getattr(_rank_pos, "py_func", _rank_pos)(q) for q in range(N_QUEUED)])


# _run releases the GIL: other threads (reading the next chunk of a recording, other replays) run
# meanwhile. Like the steps, it is compiled with _nrt=False (see engine.steps).

# return codes of _run; STOPPED: the next instant is past the end of the run (T12)
DONE, NEED_INPUT, OUT_FULL, SERIES_FULL, DEADLOCK, STOPPED = 0, 1, 2, 3, 4, 5


@njit(cache=True, nogil=True, _nrt=False)
def _run(core, dvs, copies, weights, biases, taps, c, params, active_q, fed_readout, state, fq, oq, spk_o, spk_f,
         spk_x, spk_y, rs, stats, series, out, in_t, in_tgt, in_a, in_x, in_y, n_in, root_base, lag, final, end_ns,
         limit, limit_code):
    """Advance the chip until a stop (see module docstring); returns one of the codes above.

    Instants later than `limit` are not settled: the call returns `limit_code` before the first
    of them (STOPPED at the end of the run, NEED_INPUT where only more input can tell, T12)."""
    tick = params[P_TICK_NS]
    # the readout's checks, skipped in runs where it never reports: they also cost every instant
    readout = tick != 0 and params[P_RO_TICK] != 0
    period = params[P_HOST_IN_NS]
    n_bins = series.shape[1]
    # the queued blocks of this run (others never act, see FastEngine), as rank bits
    active = np.int64(0)
    for q in active_q:
        active |= _rank_bit(q)
    # stopped inside an instant at the input link (G_RESUME): that instant goes on from the link
    # with the new input, in the round it stopped in, whose servers have had their turn (T0, T8)
    resume = c[GL + G_RESUME] != 0
    c[GL + G_RESUME] = 0
    t = c[GL + G_TNOW]
    visit = np.int64(0)
    while True:
        if resume:
            # the servers' turn of the round it stopped in is over, and the plain blocks'
            # finds nothing: they had nothing left to do at t and the link feeds none of them
            resume = False
        else:
            # the next instant at which anything can happen: the earliest wake of a server (kept up
            # to date where they change, so this is a minimum over a short array) or of a stage in
            # G_TIMED, the input link, or the readout's sender
            t_work = min(_earliest(c, WK), _timed_least(c))
            if c[GL + G_POS] < n_in and not c[GL + G_LBLOCKED]:
                r = in_t[c[GL + G_POS]]
                if c[GL + G_HASLAST] and c[GL + G_LAST] + period > r:
                    r = c[GL + G_LAST] + period
                t_work = min(t_work, r)
            if readout and rs[RS_END] > rs[RS_NEXT] and not rs[RS_BLOCKED]:
                t_work = min(t_work, rs[RS_FREE])
            if t_work == INF and _undefer(c, c[GL + G_TNOW]):
                continue        # deferred job ends are all that is left: settle them as instants
            if t_work == INF and _waiting(active_q, c, rs, readout):
                # T9: nothing can happen and someone waits; a tick cannot free a slot, so stop here
                c[GL + G_DEADT] = c[GL + G_TNOW]
                return DEADLOCK
            t = t_work
            if tick and c[GL + G_NEXTTICK] < t:
                # ticks matter while work is pending (more input included), or up to end_ns (T12)
                if t_work < INF or c[GL + G_NEXTTICK] <= end_ns:
                    t = c[GL + G_NEXTTICK]
            if c[GL + G_POS] >= n_in and not final and (t >= _horizon(c, period) or t_work == INF):
                # only more input can tell what comes next: whether an idle chip's ticks count (T12:
                # they do only before input), and who wins an instant the next input may start in (T8)
                return NEED_INPUT
            if t > limit:       # limit < INF: one test for both stops
                if _undefer(c, c[GL + G_TNOW]):
                    continue    # job ends before the stop are settled first
                return DONE if t == INF else limit_code
            if t >= c[BN + 2] + c[BN]:
                c[BN + 1] = t // c[BN]
                c[BN + 2] = c[BN + 1] * c[BN]
            if c[BN + 1] >= n_bins:
                return SERIES_FULL
            if c[GL + G_NOUT] >= out.shape[0]:
                return OUT_FULL
            c[GL + G_TNOW] = t
            c[GL + G_TEND] = t
            if tick and t == c[GL + G_NEXTTICK]:
                c[GL + G_NEXTTICK] += tick
                for q in active_q:
                    if q < N_CORES and core[q, C_LEAK]:
                        if c[q * RW + SV_LEAKPEND]:
                            stats[q, S_LEAKMERGED] += 1
                        else:
                            c[q * RW + SV_LEAKPEND] = 1
                            c[WK + q] = t
                if params[P_RO_TICK]:
                    # F7, T11: the tick's result is to be sent from now on, or lost if the last is still waiting
                    lost = readout_tick(rs, params[P_RO_WINDOW], params[P_RO_THRESH], params[P_RO_MON],
                                        params[P_RO_PIN])
                    if lost:
                        stats[READOUT, S_CONGESTION] += lost
                        series[R_DROPPED, c[BN + 1], READOUT] += lost
                    elif rs[RS_FREE] < t:
                        rs[RS_FREE] = t
            # Rounds (docs/chip-model.md, T0). Within a round every slot a server frees is seen by the
            # senders after it, and every spike a server queues by its own stage; so only a transfer
            # that frees an output-queue slot for a stalled server calls for another round.
            # The first round visits the servers due at t; a later round only the stalled servers whose
            # own stage has just freed a slot in their output queue (a stalled server whose queue is
            # still full would do nothing). The queued blocks to visit are kept as sets of rank bits
            # (see _rank_bit), visited lowest first: the instant's cost follows the blocks that have
            # something to do, not the chip.
            visit = _due(c, WK, t) & active
        while True:
            while visit:
                q = _first_queue(visit)
                visit &= visit - 1
                _advance_queued(q, t, core, dvs, copies, weights, biases, taps, params, state, fq, c, oq, spk_o,
                                spk_f, spk_x, spk_y, stats, series)
                _set_wake(q, c, fq, spk_o)
            # the plain blocks, the readout (when a core feeds it) first: each a constant in its own
            # copy of the step, not an entry of a list to loop over (that cost ~4% of a replay)
            if fed_readout and c[WK + READOUT] <= t:
                _advance_plain(READOUT, t, params, fq, c, rs, stats, series, out)
                _set_wake(READOUT, c, fq, spk_o)
            if c[WK + HOST_OUT] <= t:
                _advance_plain(HOST_OUT, t, params, fq, c, rs, stats, series, out)
                _set_wake(HOST_OUT, c, fq, spk_o)
            if _link_send(t, params, core, in_t, in_tgt, in_a, in_x, in_y, n_in, root_base, lag, fq, c, stats, series,
                      final):
                return NEED_INPUT       # the next chunk's first input may still start at t
            # the stages that hold spikes and can send now: those due at t, those whose queue had
            # been empty and those held by a FIFO that has freed a slot (G_VISIT). Any other one
            # would not send: its T_FREE is still to come, or its FIFO is still full. (One whose
            # FIFO has filled since its last visit keeps its wake at T_FREE and finds the FIFO
            # full then, an instant _stage_wake would have saved.) A stage's transfers never add
            # spikes to another queue nor change another stage's wake, so the set is taken once
            stages = (_timed_due(c, t) | c[GL + G_VISIT]) & c[GL + G_QUEUED]
            c[GL + G_VISIT] = 0
            visit = 0       # the next round's servers
            while stages:
                q = _first_queue(stages)
                stages &= stages - 1
                if _stage_send(q, t, core, dvs, copies, fq, c, oq, stats, series):
                    visit |= _rank_bit(q)
                _set_stage_wake(q, c, _stage_wake(q, c, core, copies))
            if readout and rs[RS_END] > rs[RS_NEXT]:
                _readout_send(t, params, fq, c, rs, stats, series)
            if not visit:
                break
