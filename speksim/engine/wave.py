"""The "wave" engine: the timing model of a chain of blocks as per-block max-plus recurrences.

The fast engine (`engine.loop`) settles the chip instant by instant, visiting whichever block
is due next. For a chain of blocks (the input into one block, each block sending one copy of
each spike to the next, the last to the host output) the same times follow from recurrences over
each block's own events (SPEC T1-T4, T7, with the tie order of T0):

- the input link sends input p at the latest of its time stamp, one link period after the last
  start, and the moment its FIFO has room: when the FIFO's server took the event `depth` places
  before it (T1);
- a server starts job n at the later of the event's arrival and the end of job n-1 (T2);
- its spike m enters the output queue at its own time, or, if the queue is full then, when the
  stage takes spike m - depth out of it, the job stalling meanwhile (T3);
- the stage sends spike m at the latest of its entry, the end of its last transfer and the
  moment the next FIFO has room (T4); it arrives a route later.

Each value needs only values of earlier events, some of another block's, so each block is
computed as far as the others allow (a wavefront): no search for the next instant, no wakes, and
each block's values in a ring of its own. One block is computed at a time: it moves on to the
next block down the chain when its stage waits for room in that block's FIFO (the pops that free
it are not computed yet), and to the one up the chain when it has done all it has been sent. A
switch so comes at most once per FIFO's depth of events, and a block that receives little is
visited little. The statistics follow: busy and stall times and the FIFO integrals as sums over
jobs, stalls and waits, spread into the series' bins; the highest FIFO and output-queue counts
once the pops or sends up to a push's or an entry's instant are known, ordered within an instant
by the rounds of T0 where they tie (the flags LATE and LATE_POP).

`run_wave` does this for a chain with no ticks, decimator or congestion balancer, run until it
drains (no `end_ns`, nothing left at the drain limit, SPEC T12). It returns None for any other
run, and `WaveBackend` (engine "wave") then runs the fast engine: the results are the fast engine's
either way (tests/test_wavefront.py, and the conformance scenarios). It keeps the whole input
until `finish`, like the reference engine, so a run's memory grows with its input.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
from numba import njit

from .. import _jit  # noqa: F401  (before any @njit: where numba caches this package's code)
from ..kernels import N_TAP, dvs_map, floor_div, scatter_tabled_inlined
from .base import HoldsInput
from .compiled import (
    C_BAL, C_CIN, C_COUT, C_DECN, C_EVNS, C_HIN, C_LEAK, C_NCOPY, C_NOFF, C_ROUTENS, C_RTZ, C_SPKOFF, C_SSTEP,
    C_SYNNS, C_TAPX, C_TAPY, C_THI, C_TLO, C_USED, C_WFEAT, C_WIN, C_WOFF, C_WSTEPX, C_WSTEPY, D_CX, D_CY, D_DIAG,
    D_EVNS, D_MERGE, D_MX, D_MY, D_NCOPY, D_OFF, D_ON, D_OX, D_OY, D_PASS, D_PX, D_PY, D_ROUTENS, DVS, HOST_OUT,
    K_LAYER, K_POOL, K_SHIFT, K_TARGET, N_BLOCKS, N_CORES, N_SERIES, N_STATS, P_HOST_IN_LAT, P_HOST_IN_NS,
    P_HOST_OUT_LAT, P_HOST_OUT_NS, P_RO_TICK, P_WRAP, R_BUSY, R_DROPPED, R_FIFO, R_STALL, R_SYNOPS, S_BUSY, S_COPIES,
    S_DVSFILT, S_FIFOAREA, S_FIFOMAX, S_IN, S_OOR, S_OUTMAX, S_SERVED, S_SPIKES, S_STALL, S_SYNOPS, RawResult,
    aligned_copy, coarsen, series_bin_ns, spike_slots,
)

RING = 1024             # each block's values are kept for its last RING events: more than twice any
                        # FIFO's or output queue's depth, the most that is ever read back
_M = RING - 1
# fields of an entry of a block's ring (one array [block, RING, N_FIELDS]: an event's FIFO fields and a
# spike's entry time share a cache line, the spike's other fields the next)
AVAIL, PUSH, POP, EV_F, EV_X, EV_Y, EV_ROOT, ENTRY, SENT, SP_F, SP_X, SP_Y, SP_ROOT, LATE, LATE_POP = range(15)
N_FIELDS = 16
# rows of the block counters (one array [row, block])
PUSHED, TAKEN, QUEUED, DONE, BUSY_NOW, START, NSPK, K, SHIFT, DUR, END, TFREE, FM, PP, OM, DQ, BIN_IN, BIN_JOB, \
    BIN_STALL, LATE_END = range(20)
N_ROWS = 20
# what _chain returns besides a number of outputs
OUT_SHORT, PAST_LIMIT = -1, -2
#: bins of the base width `run_wave` keeps at most (the drain limit decides how many it needs)
MAX_BINS = 1 << 16


@njit(cache=True, _nrt=False, inline="always")
def _next_bin(k, t, width):
    """The bin of t, from bin k at or before it (a block's times of one kind never go back): no
    division."""
    while (k + 1) * width <= t:
        k += 1
    return k


@njit(cache=True, _nrt=False, inline="always")
def _spread(series, col, blk, t0, t1, width, k):
    """Add |[t0, t1) ∩ bin| to every bin of series[col, :, blk] the interval covers; k: the bin
    of t0."""
    if t1 <= t0:
        return
    end = (k + 1) * width
    if t1 <= end:
        series[col, k, blk] += t1 - t0
        return
    series[col, k, blk] += end - t0
    k += 1
    while t1 > (k + 1) * width:
        series[col, k, blk] += width
        k += 1
    series[col, k, blk] += t1 - k * width


@njit(cache=True, _nrt=False, inline="always")
def _fifo_max(ring, n, stats, b, q, depth):
    """Settle the FIFO occupancy after each push of block b (block id q) whose count is known:
    the pops up to the push's instant, a pop at that instant counting (servers act before
    senders, T0), unless it came in a later round (a job that ended as its stall was released
    then, see LATE_END) and the push did not wait for it: then the push found the event still
    there. Such a push came in the first round. A later round's push at t waits for the pop
    that frees its slot, the one pop at t (every service takes a ns or more); or its sender is
    a stage whose spike entered at t in a later round, which cannot be: that spike waited for
    the stage's copy that freed its queue's slot at t, and that copy keeps the stage busy
    past t (route_ns >= 1)."""
    if stats[q, S_FIFOMAX] == depth:
        return              # it has been full: it cannot hold more
    while n[FM, b] < n[PUSHED, b]:
        k = n[FM, b]
        t = ring[b, k & _M, PUSH]
        while n[PP, b] < n[TAKEN, b] and ring[b, n[PP, b] & _M, POP] <= t:
            n[PP, b] += 1
        if n[PP, b] == n[TAKEN, b] and n[PP, b] < k:
            return          # a pop still to come may be at or before t
        occ = k + 1 - n[PP, b]
        j = n[PP, b] - 1    # the last pop counted: the one at t, if any
        if j >= 0 and j != k - depth and ring[b, j & _M, LATE_POP] and ring[b, j & _M, POP] == t:
            occ += 1        # a pop of a later round that the push, of the first, came before
        if occ > stats[q, S_FIFOMAX]:
            stats[q, S_FIFOMAX] = occ
        n[FM, b] = k + 1


@njit(cache=True, _nrt=False, inline="always")
def _out_max(ring, n, stats, b, q, depth):
    """Settle the output-queue count after each spike's entry whose count is known: the spikes
    sent before its instant, and the one sent at it when the entry waited for that send (T3:
    it came in the next round)."""
    if stats[q, S_OUTMAX] == depth:
        return
    while n[OM, b] < n[QUEUED, b]:
        m = n[OM, b]
        t = ring[b, m & _M, ENTRY]
        late = ring[b, m & _M, LATE]
        while n[DQ, b] < n[DONE, b]:
            d = ring[b, n[DQ, b] & _M, SENT]
            if d < t or (late and d == t):
                n[DQ, b] += 1
            else:
                break
        if n[DQ, b] == n[DONE, b] and n[DQ, b] < m:
            return
        occ = m + 1 - n[DQ, b]
        if occ > stats[q, S_OUTMAX]:
            stats[q, S_OUTMAX] = occ
        n[OM, b] = m + 1


@njit(cache=True, nogil=True, _nrt=False)
def _chain(core, dvs, copies, weights, taps, params, state, chain, fifo_depth, out_depth, in_t, in_a, in_x, in_y,
           spk_o, spk_f, spk_x, spk_y, ring, n, out, lag, stats, series, width, limit):
    """The chain's outputs (rows of `out`: time, layer, feature, x, y, root; their number is
    returned; OUT_SHORT when `out` is too short, PAST_LIMIT when a job starts, stalls or ends
    after `limit`, the run's drain limit, whose bin `series` ends with: nothing later is written),
    the input lags, the statistics (`stats`, laid out as the fast engine's) and the series
    (`series`, bins of `width` ns). chain: the blocks in order, the host output last."""
    last_q = chain.shape[0] - 1
    n_in = in_t.shape[0]
    period, lat = params[P_HOST_IN_NS], params[P_HOST_IN_LAT]
    link, t_last, n_out = 0, -1, 0
    # the position computed next (-1: the input link; last_q: the host output), and the last
    # position that has done all it ever will (-2: none yet; -1: the link has sent every input)
    cur, fin = -1, -2
    while True:
        if cur < 0:
            # the input link, into the first block's FIFO (T1), until the FIFO is full as far as
            # its pops are known
            depth = fifo_depth[chain[0]]
            while link < n_in:
                p = link
                t = in_t[p]
                if t_last >= 0 and t_last + period > t:
                    t = t_last + period
                if p >= depth:
                    if p - depth >= n[TAKEN, 0]:
                        break
                    t = max(t, ring[0, (p - depth) & _M, POP])
                i = p & _M
                ring[0, i, AVAIL] = t + lat
                ring[0, i, PUSH] = t
                ring[0, i, EV_F], ring[0, i, EV_X], ring[0, i, EV_Y], ring[0, i, EV_ROOT] = in_a[p], in_x[p], in_y[p], p
                lag[p] = t + lat - in_t[p]
                t_last = t
                n[PUSHED, 0] = p + 1
                stats[chain[0], S_IN] += 1
                link += 1
            _fifo_max(ring, n, stats, 0, chain[0], depth)
            if link == n_in:
                fin = -1
            cur = 0
            continue
        if cur == last_q:
            # the host output (T7): it serves all it has been sent
            b = last_q
            while n[TAKEN, b] < n[PUSHED, b]:
                if n_out == out.shape[0]:
                    return OUT_SHORT
                j = n[TAKEN, b]
                i = j & _M
                start = max(ring[b, i, AVAIL], n[END, b])
                end = start + params[P_HOST_OUT_NS]
                if end > limit:
                    return PAST_LIMIT
                ring[b, i, POP] = start
                ring[b, i, LATE_POP] = 0       # its jobs never stall
                stats[HOST_OUT, S_FIFOAREA] += start - ring[b, i, PUSH]
                n[BIN_IN, b] = _next_bin(n[BIN_IN, b], ring[b, i, PUSH], width)
                _spread(series, R_FIFO, HOST_OUT, ring[b, i, PUSH], start, width, n[BIN_IN, b])
                n[END, b] = end
                stats[HOST_OUT, S_BUSY] += end - start
                n[BIN_JOB, b] = _next_bin(n[BIN_JOB, b], start, width)
                _spread(series, R_BUSY, HOST_OUT, start, end, width, n[BIN_JOB, b])
                stats[HOST_OUT, S_SERVED] += 1
                out[n_out, 0] = end + params[P_HOST_OUT_LAT]
                out[n_out, 1] = copies[chain[b - 1], 0, K_LAYER]
                out[n_out, 2], out[n_out, 3], out[n_out, 4] = ring[b, i, EV_F], ring[b, i, EV_X], ring[b, i, EV_Y]
                out[n_out, 5] = ring[b, i, EV_ROOT]
                n_out += 1
                n[TAKEN, b] = j + 1
            _fifo_max(ring, n, stats, b, HOST_OUT, fifo_depth[HOST_OUT])
            if fin == last_q - 1:
                return n_out
            cur = last_q - 1
            continue
        # a block: its server and its stage, in turn, until neither can go on. Its counters are
        # kept in local variables meanwhile (stores to the rings, statistics and series cannot
        # then make the compiler reload them) and written back before they are read elsewhere.
        b = cur
        q = chain[b]
        qdepth = out_depth[q]
        base = core[q, C_SPKOFF] if q < N_CORES else spk_o.shape[0] - 1
        c = b + 1
        depth = fifo_depth[chain[c]]
        route = core[q, C_ROUTENS] if q < N_CORES else dvs[D_ROUTENS]
        taken, pushed, busy, start, nspk, kk, shift, dur, end = (n[TAKEN, b], n[PUSHED, b], n[BUSY_NOW, b],
                                                                n[START, b], n[NSPK, b], n[K, b], n[SHIFT, b],
                                                                n[DUR, b], n[END, b])
        queued, done, tfree, pushed_c, taken_c = n[QUEUED, b], n[DONE, b], n[TFREE, b], n[PUSHED, c], n[TAKEN, c]
        bin_in, bin_job, bin_stall, late_end = n[BIN_IN, b], n[BIN_JOB, b], n[BIN_STALL, b], n[LATE_END, b]
        # a spike of SynOp j is due ev + (j + 1) * step after its job's start (T3); the DVS layer's
        # one spike at dvs_event_ns (its j is -1)
        ev, step = (core[q, C_EVNS], core[q, C_SYNNS]) if q < N_CORES else (dvs[D_EVNS], 0)
        # list spikes without a branch on whether a row fired once an eighth of its rows have
        # (kernels._list_spikes): it changes no result, only the time
        dense = q < N_CORES and stats[q, S_SPIKES] * 8 * core[q, C_COUT] > stats[q, S_SYNOPS]
        taken0, area, synops_sum, spikes, stall, busy_ns = taken, 0, 0, 0, 0, 0   # for the statistics
        blocked = False
        while True:
            while True:
                if not busy:
                    if taken >= pushed:
                        break
                    i = taken & _M
                    start = max(ring[b, i, AVAIL], end)         # T2
                    if start > limit:
                        return PAST_LIMIT   # the run is cut there (T12)
                    ring[b, i, POP] = start
                    # a start at the end of a job that ended in a later round of its instant
                    # comes in that round too (T0), after the senders of the first
                    ring[b, i, LATE_POP] = 1 if start == end and late_end else 0
                    pushed_at = ring[b, i, PUSH]
                    area += start - pushed_at
                    bin_in = _next_bin(bin_in, pushed_at, width)
                    _spread(series, R_FIFO, q, pushed_at, start, width, bin_in)
                    taken += 1
                    bin_job = _next_bin(bin_job, start, width)
                    feat, x, y = ring[b, i, EV_F], ring[b, i, EV_X], ring[b, i, EV_Y]
                    if q < N_CORES:
                        r = core[q]
                        if feat >= r[C_CIN] or x >= r[C_WIN] or y >= r[C_HIN]:
                            synops, nspk = 0, 0
                            stats[q, S_OOR] += 1
                            series[R_DROPPED, bin_job, q] += 1
                        else:
                            synops, nspk = scatter_tabled_inlined(
                                state, r[C_NOFF], weights, r[C_WOFF], feat, r[C_TAPY] + y * N_TAP,
                                r[C_TAPX] + x * N_TAP, taps, r[C_COUT], r[C_WFEAT], r[C_SSTEP], r[C_WSTEPY],
                                r[C_WSTEPX], r[C_THI], r[C_TLO], r[C_RTZ], params[P_WRAP], spk_o, spk_f, spk_x,
                                spk_y, base, dense)
                        dur = ev + synops * step
                        synops_sum += synops
                        series[R_SYNOPS, bin_job, q] += synops
                        spikes += nspk
                    else:
                        keep, f, fx, fy = dvs_map(dvs[D_ON], dvs[D_OFF], dvs[D_MERGE], dvs[D_PX], dvs[D_PY],
                                                  dvs[D_OX], dvs[D_OY], dvs[D_CX], dvs[D_CY], dvs[D_MX], dvs[D_MY],
                                                  dvs[D_DIAG], x, y, feat)
                        nspk = 0
                        if keep and dvs[D_PASS]:
                            spk_o[base], spk_f[base], spk_x[base], spk_y[base] = -1, f, fx, fy
                            nspk = 1
                            spikes += 1
                        else:
                            stats[q, S_DVSFILT] += 1
                            series[R_DROPPED, bin_job, q] += 1
                        dur = ev
                    busy, kk, shift = 1, 0, 0
                held = False
                while kk < nspk:                    # T3
                    m = queued
                    s = base + kk
                    t = start + ev + (spk_o[s] + 1) * step + shift
                    late = 0
                    if m >= qdepth:
                        if m - qdepth >= done:
                            held = True             # the stage has yet to take spike m - depth out
                            break
                        d = ring[b, (m - qdepth) & _M, SENT]
                        if d > t:
                            if d > limit:
                                return PAST_LIMIT
                            shift += d - t
                            stall += d - t
                            bin_stall = _next_bin(bin_stall, t, width)
                            _spread(series, R_STALL, q, t, d, width, bin_stall)
                            t = d
                            late = 1
                        elif d == t:
                            late = 1
                    i = m & _M
                    ring[b, i, ENTRY] = t
                    ring[b, i, LATE] = late
                    ring[b, i, SP_F], ring[b, i, SP_X], ring[b, i, SP_Y] = spk_f[s], spk_x[s], spk_y[s]
                    ring[b, i, SP_ROOT] = ring[b, (taken - 1) & _M, EV_ROOT]
                    queued = m + 1
                    kk += 1
                if held:
                    break
                end = start + dur + shift
                if end > limit:
                    return PAST_LIMIT   # the run is cut there (T12)
                # it ends in a later round when its last SynOp's spike entered in one (T3, T4)
                last = (queued - 1) & _M
                late_end = 1 if nspk > 0 and ring[b, last, LATE] and ring[b, last, ENTRY] == end else 0
                busy_ns += end - start
                _spread(series, R_BUSY, q, start, end, width, bin_job)
                busy = 0
            # the stage: one copy of each spike, to the next block (T4)
            sent = done
            while done < queued:
                m = done
                k = pushed_c
                o = m & _M
                t = max(ring[b, o, ENTRY], tfree)
                if k >= depth:
                    if k - depth >= taken_c:
                        blocked = True              # the next FIFO is full until its server takes one
                        break
                    t = max(t, ring[c, (k - depth) & _M, POP])
                tfree = t + route
                ring[b, o, SENT] = t
                i = k & _M
                ring[c, i, AVAIL] = t + route
                ring[c, i, PUSH] = t
                f, x, y = ring[b, o, SP_F], ring[b, o, SP_X], ring[b, o, SP_Y]
                if chain[c] != HOST_OUT:
                    pool = copies[q, 0, K_POOL]
                    f += copies[q, 0, K_SHIFT]
                    x = floor_div(x, pool)
                    y = floor_div(y, pool)
                ring[c, i, EV_F], ring[c, i, EV_X], ring[c, i, EV_Y] = f, x, y
                ring[c, i, EV_ROOT] = ring[b, o, SP_ROOT]
                pushed_c = k + 1
                done = m + 1
            stats[q, S_COPIES] += done - sent
            stats[chain[c], S_IN] += done - sent
            if done == sent:
                break           # the stage sent nothing: the server is where it stopped
        n[TAKEN, b], n[BUSY_NOW, b], n[START, b], n[NSPK, b], n[K, b], n[SHIFT, b], n[DUR, b], n[END, b] = (
            taken, busy, start, nspk, kk, shift, dur, end)
        n[QUEUED, b], n[DONE, b], n[TFREE, b], n[PUSHED, c] = queued, done, tfree, pushed_c
        n[BIN_IN, b], n[BIN_JOB, b], n[BIN_STALL, b], n[LATE_END, b] = bin_in, bin_job, bin_stall, late_end
        stats[q, S_SERVED] += taken - taken0
        stats[q, S_FIFOAREA] += area
        stats[q, S_SYNOPS] += synops_sum
        stats[q, S_SPIKES] += spikes
        stats[q, S_STALL] += stall
        stats[q, S_BUSY] += busy_ns
        # the high-water marks that the pops, entries and sends so far settle
        _fifo_max(ring, n, stats, b, q, fifo_depth[q])
        _fifo_max(ring, n, stats, c, chain[c], depth)
        _out_max(ring, n, stats, b, q, qdepth)
        if blocked:
            cur = c             # the next block's pops free room for the stage
        elif fin == b - 1:
            fin = b             # all it was ever to be sent is done
            cur = c
        else:
            cur = b - 1         # it has done all it has been sent: more comes from upstream


def _chain_of(net, input_targets) -> tuple:
    """(the blocks of the chain, the host output last; None) or (None, why not)."""
    used = [q for q in range(N_CORES) if net.core[q, C_USED]]
    if len(input_targets) != 1:
        return None, "the input goes to more than one block"
    if net.core[:, C_LEAK].any() or net.params[P_RO_TICK]:
        return None, "the network uses leak or readout ticks"
    if any(net.core[q, C_BAL] or net.core[q, C_DECN] for q in used):
        return None, "a core has a congestion balancer or a decimator"
    chain, q = [], int(input_targets[0])
    while q != HOST_OUT:
        if q in chain or (q != DVS and q not in used):
            return None, "the blocks do not form a chain"
        chain.append(q)
        ncopy = int(net.dvs[D_NCOPY]) if q == DVS else int(net.core[q, C_NCOPY])
        if ncopy != 1:
            return None, f"block {q} sends {ncopy} copies of each spike, not one"
        q = int(net.copies[q, 0, K_TARGET])
    if sorted(c for c in chain if c != DVS) != used:
        return None, "some cores are not on the chain"
    if 2 * max(max(int(net.fifo_depth[b]) for b in chain + [HOST_OUT]), int(net.out_depth[chain].max())) >= RING:
        return None, f"a FIFO or output queue holds {RING // 2} events or more"
    return chain + [HOST_OUT], None


def run_wave(net, inputs, options) -> Optional[RawResult]:
    """The RawResult of `inputs` (EngineInput) through `net`, or None when the run is not one this
    engine covers (see the module docstring; `why_not` says why)."""
    chain, why = _plan(net, inputs, options)
    if why:
        return None
    chain = np.array(chain, np.int64)
    n_in = len(inputs)
    limit = int(inputs.t_ns[-1]) + int(options.drain_ns)
    base = int(options.bin_ns)
    n_spk = spike_slots(net.core)
    arrays = [np.ascontiguousarray(a, dtype=np.int64) for a in (inputs.t_ns, inputs.a, inputs.x, inputs.y)]
    rows = 4 * n_in + 1024
    while True:
        spk = [np.zeros(n_spk, np.int64) for _ in range(4)]
        ring = np.zeros((len(chain), RING, N_FIELDS), np.int64)
        n = np.zeros((N_ROWS, len(chain)), np.int64)
        out = np.zeros((rows, 6), np.int64)
        lag = np.full(n_in, -1, np.int64)
        stats = np.zeros((N_BLOCKS, N_STATS), np.int64)
        series = np.zeros((N_SERIES, limit // base + 1, N_BLOCKS), np.int64)
        state = aligned_copy(net.initial_state)
        n_out = _chain(net.core, net.dvs, net.copies, net.weights, net.taps, net.params, state, chain, net.fifo_depth,
                       net.out_depth, *arrays, *spk, ring, n, out, lag, stats, series, base, limit)
        if n_out != OUT_SHORT:
            break
        rows *= 2           # more outputs than room: again, with twice the room
    if n_out < 0:
        return None         # the run is cut at the drain limit (T12): the fast engine's case
    t_end = int(n[END].max())       # the last instant: a job's end (the host output's included)
    width = series_bin_ns(base, t_end, int(options.max_series_bins))
    series = series[:, :t_end // base + 1]
    if width > base:
        series = coarsen(series, width // base)
    return RawResult(outputs=out[:n_out].copy(), stats=stats, lag_ns=lag, series=np.ascontiguousarray(series),
                     state=state, t_end_ns=t_end, bin_ns=width)


def why_not(net, inputs, options) -> Optional[str]:
    """Why `run_wave` does not cover this run, or None when it does."""
    return _plan(net, inputs, options)[1]


def _plan(net, inputs, options) -> tuple:
    """(the chain `run_wave` computes, None), or (None, why it does not cover the run)."""
    if len(inputs) == 0:
        return None, "no input"
    if options.end_ns is not None:
        return None, "the run ends at a given time (end_ns)"
    if (int(inputs.t_ns[-1]) + int(options.drain_ns)) // int(options.bin_ns) + 1 > MAX_BINS:
        return None, f"the run may last more than {MAX_BINS:,} series bins"
    target = inputs.target
    one = target[:1] if target.min() == target.max() else np.unique(target)     # unique() sorts: 10x slower
    return _chain_of(net, one)


class WaveBackend(HoldsInput):
    """engine="wave": `run_wave` at `finish`, or the fast engine where it does not apply."""

    def finish(self) -> RawResult:
        inputs = self.take_inputs()
        raw = run_wave(self.setup.net, inputs, self.setup.options)
        if raw is None:
            from .fast import run_fast
            raw = run_fast(self.setup.net, inputs, self.setup.options)
        return raw
