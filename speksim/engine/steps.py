"""What each block of the chip does at an instant, for the fast engine's loop (`engine.loop`).

The functions move a run's state (the control array `c`, FIFO rows `fq`, output queue rows `oq`,
laid out as `engine.layout` says) on by one block at one instant (SPEC T1-T7, T11, F1-F6): a FIFO
push or pop, a server starting or ending a job, an output stage sending a copy, the input link,
the readout's sender. When each block next has something to do is `engine.wakes`. All are inlined
into the loop (see the note below) except the one that runs too rarely to be worth the code size.
"""
from __future__ import annotations

from numba import njit

from .. import _jit  # noqa: F401  (before any @njit: where numba caches this package's code)
from ..kernels import N_TAP, dvs_map, floor_div, leak_job, scatter_tabled
from .compiled import (
    C_BAL, C_BOFF, C_CIN, C_COUT, C_DECN, C_EVNS, C_HIN, C_HOUT, C_LEAKNS, C_NCOPY, C_NOFF, C_ROUTENS, C_RTZ,
    C_SPKOFF, C_SSTEP, C_SYNNS, C_TAPX, C_TAPY, C_THI, C_TLO, C_WFEAT, C_WIN, C_WOFF, C_WOUT, C_WSTEPX, C_WSTEPY,
    D_CX, D_CY, D_DIAG, D_EVNS, D_MERGE, D_MX, D_MY, D_NCOPY, D_OFF, D_ON, D_OX, D_OY, D_PASS, D_PX, D_PY,
    D_ROUTENS, DVS, HOST_OUT, K_LAYER, K_POOL, K_SHIFT, K_TARGET, N_CORES, N_QUEUED, P_HOST_IN_LAT, P_HOST_IN_NS,
    P_HOST_OUT_LAT, P_HOST_OUT_NS, P_LEAK_FIRE, P_READOUT_NS, P_RO_ERRATA, P_RO_LAYER, P_RO_SEL, P_WRAP, READOUT,
    R_BUSY, R_DROPPED, R_FIFO, R_STALL, R_SYNOPS, S_BUSY, S_CONGESTION, S_COPIES, S_DECIMATED, S_DVSFILT,
    S_FIFOAREA, S_FIFOMAX, S_IN, S_LEAKJOBS, S_OOR, S_OUTMAX, S_SERVED, S_SPIKES, S_STALL, S_SYNOPS,
)
from .layout import (
    BN, FQ_AVAIL, FQ_F, FQ_LAYER, FQ_ROOT, FQ_X, FQ_Y, F_BASE, F_CNT, F_DEPTH, F_HEAD, F_TLAST, F_WAITING, GL,
    G_HASLAST, G_LAST, G_LBLOCKED, G_NOUT, G_POS, G_QUEUED, G_RESUME, G_TLASTIN, G_VISIT, INF, OQ_F, OQ_ROOT,
    OQ_X, OQ_Y, O_BASE, O_CNT, O_DEPTH, O_HEAD, RW, SV_BLOCKED, SV_BUSY, SV_DECCNT, SV_DUR, SV_F, SV_K, SV_L,
    SV_LEAKPEND, SV_NSPK, SV_ROOT, SV_SHIFT, SV_STALLSINCE, SV_START, SV_X, SV_Y, T_BLOCKED, T_COPY, T_FREE, WK,
    W_DEFER, W_PEND, _rank_bit,
)
from .readout import RS_AVG, RS_BLOCKED, RS_CLASS, RS_END, RS_FREE, RS_NEXT, readout_class, readout_count

# Every function here is compiled with numba's private option _nrt=False: they allocate nothing,
# and with numba's runtime on, the reference counting of the array arguments and views at every
# step makes a replay 13x slower. numba's maintainers declined to make the option public, so
# pyproject.toml caps numba at the newest release tests/test_jit_options.py passed with. Helpers
# are inlined into the loop: a call with this many array arguments costs more than most steps.
# Most are compiled once each and inlined by LLVM (forceinline: its alwaysinline attribute).
# numba's own inlining (inline="always") types a helper's code again wherever it is called: with
# it the engine's first compile took about 43 s on a Zen 3, without it 25 s. The server's path to
# the SynOp kernel (_advance_queued, _start_job, kernels.scatter_tabled) keeps numba's inlining,
# so that the calls of the kernel's rows functions stay in the loop itself, where LLVM weighs
# inlining them against the loop's code (see kernels.ROWS); compiled apart, that path would take
# them in on every processor.

@njit(cache=True, forceinline=True, _nrt=False)
def _spread(series, col, blk, t0, t1, bn, ob, weight):
    """Add weight * |[t0, t1) ∩ bin| to every bin the interval covers.

    bn = [bin width, current bin, start of the current bin]; t1 is never later than the current
    instant, so an interval that starts in the current bin needs no division."""
    if t1 <= t0 or weight == 0:
        return
    if t0 >= bn[ob + 2]:
        series[col, bn[ob + 1], blk] += (t1 - t0) * weight
        return
    binw = bn[ob]
    b0 = t0 // binw
    b1 = (t1 - 1) // binw
    if b0 == b1:
        series[col, b0, blk] += (t1 - t0) * weight
        return
    series[col, b0, blk] += ((b0 + 1) * binw - t0) * weight
    for b in range(b0 + 1, b1):
        series[col, b, blk] += binw * weight
    series[col, b1, blk] += (t1 - b1 * binw) * weight


@njit(cache=True, forceinline=True, _nrt=False)
def _occupancy(c, stats, series, blk, t, delta):
    """FIFO occupancy of blk changes by delta at t: close the area integral up to t first."""
    cnt = c[blk * RW + F_CNT]
    tl = c[blk * RW + F_TLAST]
    if t > tl:
        stats[blk, S_FIFOAREA] += cnt * (t - tl)
        _spread(series, R_FIFO, blk, tl, t, c, BN, cnt)
        c[blk * RW + F_TLAST] = t
    cnt += delta
    c[blk * RW + F_CNT] = cnt
    if cnt > stats[blk, S_FIFOMAX]:
        stats[blk, S_FIFOMAX] = cnt


@njit(cache=True, forceinline=True, _nrt=False)
def _fifo_push(fq, c, stats, series, blk, t, layer, f, x, y, root, avail):
    slot = c[blk * RW + F_HEAD] + c[blk * RW + F_CNT]
    if slot >= c[blk * RW + F_DEPTH]:
        slot -= c[blk * RW + F_DEPTH]
    pos = c[blk * RW + F_BASE] + slot
    fq[pos, FQ_LAYER] = layer
    fq[pos, FQ_F] = f
    fq[pos, FQ_X] = x
    fq[pos, FQ_Y] = y
    fq[pos, FQ_ROOT] = root
    fq[pos, FQ_AVAIL] = avail
    stats[blk, S_IN] += 1
    _occupancy(c, stats, series, blk, t, 1)
    # an idle server's wake is INF while its FIFO is empty; a busy one looks at its FIFO itself
    # when its job ends, and an event behind the head waits for the head. A deferred job end
    # (see _set_wake) is settled here if it is past, or becomes due if it is still to come
    if c[blk * RW + F_CNT] == 1:
        if not c[blk * RW + SV_BUSY]:
            c[WK + blk] = avail
        elif blk < N_QUEUED and c[WK + W_DEFER + blk] < INF:
            end = c[WK + W_DEFER + blk]
            c[WK + W_DEFER + blk] = INF
            if end <= t:
                c[blk * RW + SV_BUSY] = 0
                stats[blk, S_BUSY] += end - c[blk * RW + SV_START]
                _spread(series, R_BUSY, blk, c[blk * RW + SV_START], end, c, BN, 1)
                c[WK + blk] = avail
            else:
                c[WK + blk] = end


@njit(cache=True, forceinline=True, _nrt=False)
def _fifo_pop(c, stats, series, blk, t):
    """Free the head slot (T2); returns the row index of the event just taken."""
    # the stages this FIFO held are visited at this instant's next stages' turn (see _stage_wake)
    c[GL + G_VISIT] |= c[blk * RW + F_WAITING]
    c[blk * RW + F_WAITING] = 0
    pos = c[blk * RW + F_BASE] + c[blk * RW + F_HEAD]
    head = c[blk * RW + F_HEAD] + 1
    c[blk * RW + F_HEAD] = 0 if head == c[blk * RW + F_DEPTH] else head
    stats[blk, S_SERVED] += 1
    _occupancy(c, stats, series, blk, t, -1)
    return pos


# inlined by numba, not forceinline: on the path to the SynOp kernel (see the note at the top)
@njit(cache=True, inline="always", _nrt=False)
def _start_job(q, t, core, dvs, copies, weights, biases, taps, params, state, fq, c,
               spk_o, spk_f, spk_x, spk_y, stats, series):
    """An idle core or DVS layer q starts its next job at t, if it has one (T3, T5, T11)."""
    if q < N_CORES:
        r = core[q]
        base = r[C_SPKOFF]
        ev = r[C_EVNS]
        if c[q * RW + SV_LEAKPEND]:
            c[q * RW + SV_LEAKPEND] = 0
            n, nspk = leak_job(state, r[C_NOFF], biases, r[C_BOFF], r[C_COUT], r[C_HOUT], r[C_WOUT],
                               r[C_THI], r[C_TLO], r[C_RTZ], params[P_WRAP], params[P_LEAK_FIRE],
                               spk_o[base:], spk_f[base:], spk_x[base:], spk_y[base:])
            stats[q, S_LEAKJOBS] += 1
            step = r[C_LEAKNS]
            dur = ev + n * step
            root = -1
        else:
            if c[q * RW + F_CNT] == 0:
                return False
            pos = c[q * RW + F_BASE] + c[q * RW + F_HEAD]
            if fq[pos, FQ_AVAIL] > t:
                return False
            _fifo_pop(c, stats, series, q, t)
            feat, x, y, root = fq[pos, FQ_F], fq[pos, FQ_X], fq[pos, FQ_Y], fq[pos, FQ_ROOT]
            step = r[C_SYNNS]
            if feat >= r[C_CIN] or x >= r[C_WIN] or y >= r[C_HIN]:
                stats[q, S_OOR] += 1
                series[R_DROPPED, c[BN + 1], q] += 1
                n, nspk = 0, 0
            else:
                n, nspk = scatter_tabled(state, r[C_NOFF], weights, r[C_WOFF], feat, r[C_TAPY] + y * N_TAP,
                                         r[C_TAPX] + x * N_TAP, taps, r[C_COUT], r[C_WFEAT], r[C_SSTEP],
                                         r[C_WSTEPY], r[C_WSTEPX], r[C_THI], r[C_TLO], r[C_RTZ], params[P_WRAP],
                                         spk_o, spk_f, spk_x, spk_y, base)
                stats[q, S_SYNOPS] += n
                series[R_SYNOPS, c[BN + 1], q] += n
            dur = ev + n * step
        # F5.1 decimator, and spikes with no copy to make never enter the queue (T3)
        decn = r[C_DECN]
        ncopy = r[C_NCOPY]
        stats[q, S_SPIKES] += nspk
        if not decn and ncopy:
            # every spike goes on (no decimator, copies to make): only its time to compute
            for i in range(base, base + nspk):
                spk_o[i] = ev + (spk_o[i] + 1) * step
        else:
            m = 0
            for i in range(nspk):
                if decn:
                    c[q * RW + SV_DECCNT] += 1
                    if c[q * RW + SV_DECCNT] < decn:
                        stats[q, S_DECIMATED] += 1
                        continue
                    c[q * RW + SV_DECCNT] = 0
                if ncopy == 0:
                    continue
                spk_o[base + m] = ev + (spk_o[base + i] + 1) * step
                spk_f[base + m] = spk_f[base + i]
                spk_x[base + m] = spk_x[base + i]
                spk_y[base + m] = spk_y[base + i]
                m += 1
            nspk = m
    else:
        if c[DVS * RW + F_CNT] == 0:
            return False
        pos = c[DVS * RW + F_BASE] + c[DVS * RW + F_HEAD]
        if fq[pos, FQ_AVAIL] > t:
            return False
        _fifo_pop(c, stats, series, DVS, t)
        root = fq[pos, FQ_ROOT]
        base = spk_o.shape[0] - 1  # the DVS layer's one-entry spike list is the buffers' last slot
        dur = dvs[D_EVNS]
        keep, f, x, y = dvs_map(dvs[D_ON], dvs[D_OFF], dvs[D_MERGE], dvs[D_PX], dvs[D_PY], dvs[D_OX], dvs[D_OY],
                                dvs[D_CX], dvs[D_CY], dvs[D_MX], dvs[D_MY], dvs[D_DIAG],
                                fq[pos, FQ_X], fq[pos, FQ_Y], fq[pos, FQ_F])
        if not dvs[D_PASS]:
            keep = 0
        nspk = 0
        if keep:
            stats[DVS, S_SPIKES] += 1
            if dvs[D_NCOPY] > 0:
                spk_o[base], spk_f[base], spk_x[base], spk_y[base] = dur, f, x, y
                nspk = 1
        else:
            stats[DVS, S_DVSFILT] += 1
            series[R_DROPPED, c[BN + 1], DVS] += 1
    c[q * RW + SV_BUSY] = 1
    c[q * RW + SV_START] = t
    c[q * RW + SV_SHIFT] = 0
    c[q * RW + SV_NSPK] = nspk
    c[q * RW + SV_K] = 0
    c[q * RW + SV_DUR] = dur
    c[q * RW + SV_ROOT] = root
    c[q * RW + SV_BLOCKED] = 0
    # keep the spike list's base in SV_L (cores: their slice of the shared buffers; DVS: slot 0)
    c[q * RW + SV_L] = base
    return True


# inlined by numba, not forceinline: on the path to the SynOp kernel (see the note at the top)
@njit(cache=True, inline="always", _nrt=False)
def _advance_queued(q, t, core, dvs, copies, weights, biases, taps, params, state, fq, c, oq, spk_o, spk_f, spk_x,
                    spk_y, stats, series):
    """Server of a core or the DVS layer at t: spikes into the output queue (T3/T4), job end, next job."""
    changed = False
    while True:
        if c[q * RW + SV_BUSY]:
            k = c[q * RW + SV_K]
            if k < c[q * RW + SV_NSPK]:
                i = c[q * RW + SV_L] + k
                if not c[q * RW + SV_BLOCKED] and c[q * RW + SV_START] + spk_o[i] + c[q * RW + SV_SHIFT] > t:
                    return changed
                if c[q * RW + O_CNT] >= c[q * RW + O_DEPTH]:
                    if not c[q * RW + SV_BLOCKED]:
                        # T3: stalled from the spike's own time (a deferred stall, see _set_wake,
                        # is seen at a later instant)
                        c[q * RW + SV_BLOCKED] = 1
                        c[q * RW + SV_STALLSINCE] = c[q * RW + SV_START] + spk_o[i] + c[q * RW + SV_SHIFT]
                    return changed
                if c[q * RW + SV_BLOCKED]:
                    since = c[q * RW + SV_STALLSINCE]
                    c[q * RW + SV_SHIFT] += t - since
                    stats[q, S_STALL] += t - since
                    _spread(series, R_STALL, q, since, t, c, BN, 1)
                    c[q * RW + SV_BLOCKED] = 0
                slot = c[q * RW + O_HEAD] + c[q * RW + O_CNT]
                if slot >= c[q * RW + O_DEPTH]:
                    slot -= c[q * RW + O_DEPTH]
                pos = c[q * RW + O_BASE] + slot
                oq[pos, OQ_F] = spk_f[i]
                oq[pos, OQ_X] = spk_x[i]
                oq[pos, OQ_Y] = spk_y[i]
                oq[pos, OQ_ROOT] = c[q * RW + SV_ROOT]
                if c[q * RW + O_CNT] == 0:
                    c[GL + G_QUEUED] |= _rank_bit(q)
                    c[GL + G_VISIT] |= _rank_bit(q)
                c[q * RW + O_CNT] += 1
                if c[q * RW + O_CNT] > stats[q, S_OUTMAX]:
                    stats[q, S_OUTMAX] = c[q * RW + O_CNT]
                c[q * RW + SV_K] = k + 1
                changed = True
            else:
                end = c[q * RW + SV_START] + c[q * RW + SV_DUR] + c[q * RW + SV_SHIFT]
                if end > t:
                    return changed
                c[q * RW + SV_BUSY] = 0
                stats[q, S_BUSY] += end - c[q * RW + SV_START]
                _spread(series, R_BUSY, q, c[q * RW + SV_START], end, c, BN, 1)
                changed = True
        else:
            if not _start_job(q, t, core, dvs, copies, weights, biases, taps, params, state, fq, c,
                              spk_o, spk_f, spk_x, spk_y, stats, series):
                return changed
            changed = True


@njit(cache=True, forceinline=True, _nrt=False)
def _advance_plain(b, t, params, fq, c, rs, stats, series, out):
    """Readout (T11) or host output (T7) at t: end of service, next service. The readout counts
    a spike for its class when it starts serving it (F7; functional work at service start)."""
    changed = False
    while True:
        if c[b * RW + SV_BUSY]:
            end = c[b * RW + SV_START] + c[b * RW + SV_DUR]
            if end > t:
                return changed
            c[b * RW + SV_BUSY] = 0
            stats[b, S_BUSY] += end - c[b * RW + SV_START]
            _spread(series, R_BUSY, b, c[b * RW + SV_START], end, c, BN, 1)
            if b == HOST_OUT:
                n = c[GL + G_NOUT]
                out[n, 0] = end + params[P_HOST_OUT_LAT]
                out[n, 1] = c[b * RW + SV_L]
                out[n, 2] = c[b * RW + SV_F]
                out[n, 3] = c[b * RW + SV_X]
                out[n, 4] = c[b * RW + SV_Y]
                out[n, 5] = c[b * RW + SV_ROOT]
                c[GL + G_NOUT] = n + 1
            changed = True
        if c[b * RW + F_CNT] == 0:
            return changed
        pos = c[b * RW + F_BASE] + c[b * RW + F_HEAD]
        if fq[pos, FQ_AVAIL] > t:
            return changed
        _fifo_pop(c, stats, series, b, t)
        c[b * RW + SV_BUSY] = 1
        c[b * RW + SV_START] = t
        c[b * RW + SV_DUR] = params[P_HOST_OUT_NS] if b == HOST_OUT else params[P_READOUT_NS]
        c[b * RW + SV_L] = fq[pos, FQ_LAYER]
        c[b * RW + SV_F] = fq[pos, FQ_F]
        c[b * RW + SV_X] = fq[pos, FQ_X]
        c[b * RW + SV_Y] = fq[pos, FQ_Y]
        c[b * RW + SV_ROOT] = fq[pos, FQ_ROOT]
        if b == READOUT:
            cls = readout_class(params[P_RO_SEL], params[P_RO_ERRATA], c[b * RW + SV_F], c[b * RW + SV_X],
                                c[b * RW + SV_Y])
            if cls < 0:
                stats[b, S_OOR] += 1
                series[R_DROPPED, c[BN + 1], b] += 1
            else:
                readout_count(rs, cls)
        changed = True


@njit(cache=True, forceinline=True, _nrt=False)
def _stage_send(q, t, core, dvs, copies, fq, c, oq, stats, series):
    """Output stage of core or DVS layer q at t: copies in F5 order, one at a time (T4, T0, T6).

    Returns True when it freed an output-queue slot that its stalled server waits for: the only
    effect of a transfer that can enable more work at the same instant (docs/chip-model.md, T0)."""
    unblocked = False
    route = dvs[D_ROUTENS] if q == DVS else core[q, C_ROUTENS]
    ncopy = dvs[D_NCOPY] if q == DVS else core[q, C_NCOPY]
    while c[q * RW + O_CNT] > 0 and c[q * RW + T_FREE] <= t:
        ci = c[q * RW + T_COPY]
        tgt = copies[q, ci, K_TARGET]
        if c[tgt * RW + F_CNT] >= c[tgt * RW + F_DEPTH]:
            if tgt < N_CORES and core[tgt, C_BAL]:
                stats[tgt, S_CONGESTION] += 1
                series[R_DROPPED, c[BN + 1], tgt] += 1
            else:
                c[q * RW + T_BLOCKED] = 1
                return unblocked
        else:
            pos = c[q * RW + O_BASE] + c[q * RW + O_HEAD]
            f, x, y = oq[pos, OQ_F], oq[pos, OQ_X], oq[pos, OQ_Y]
            if tgt != HOST_OUT:
                pool = copies[q, ci, K_POOL]
                f += copies[q, ci, K_SHIFT]
                x = floor_div(x, pool)
                y = floor_div(y, pool)
            _fifo_push(fq, c, stats, series, tgt, t, copies[q, ci, K_LAYER], f, x, y,
                       oq[pos, OQ_ROOT], t + route)
            c[q * RW + T_FREE] = t + route
            stats[q, S_COPIES] += 1
        c[q * RW + T_BLOCKED] = 0
        if ci + 1 == ncopy:
            head = c[q * RW + O_HEAD] + 1
            c[q * RW + O_HEAD] = 0 if head == c[q * RW + O_DEPTH] else head
            c[q * RW + O_CNT] -= 1
            if c[q * RW + O_CNT] == 0:
                c[GL + G_QUEUED] &= ~_rank_bit(q)
            c[q * RW + T_COPY] = 0
            if c[q * RW + SV_BLOCKED]:
                unblocked = True
            elif c[WK + W_PEND + q] < INF:
                # the server's deferred stall (see _set_wake): it stalled at its spike's time if
                # that has come, else it now sends that spike on time
                w = c[WK + W_PEND + q]
                c[WK + W_PEND + q] = INF
                if w <= t:
                    c[q * RW + SV_BLOCKED] = 1
                    c[q * RW + SV_STALLSINCE] = w
                    unblocked = True
                else:
                    c[WK + q] = w
        else:
            c[q * RW + T_COPY] = ci + 1
    return unblocked


# not inlined: it runs at most twice a tick, and inlined into _run it slowed every instant by ~15 %
@njit(cache=True, _nrt=False)
def _readout_send(t, params, fq, c, rs, stats, series):
    """The readout's tick events to the host output at t (T11, T0): one transfer at a time, each
    taking the sender and arriving `readout_event_ns` later; a full host-output FIFO holds it."""
    while rs[RS_END] > rs[RS_NEXT] and rs[RS_FREE] <= t:
        if c[HOST_OUT * RW + F_CNT] >= c[HOST_OUT * RW + F_DEPTH]:
            rs[RS_BLOCKED] = 1
            return
        rs[RS_BLOCKED] = 0
        ns = params[P_READOUT_NS]
        _fifo_push(fq, c, stats, series, HOST_OUT, t, params[P_RO_LAYER], rs[RS_CLASS],
                   rs[RS_NEXT], rs[RS_AVG], -1, t + ns)
        stats[READOUT, S_COPIES] += 1
        rs[RS_FREE] = t + ns
        rs[RS_NEXT] += 1


@njit(cache=True, forceinline=True, _nrt=False)
def _horizon(c, period):
    """Once the chunk is used up: the earliest instant at which an input of a later chunk could
    start (T1: it comes no earlier than the chunk's last input, nor than one link period after
    the last start)."""
    h = c[GL + G_TLASTIN]
    if c[GL + G_HASLAST] and c[GL + G_LAST] + period > h:
        h = c[GL + G_LAST] + period
    return h


@njit(cache=True, forceinline=True, _nrt=False)
def _link_send(t, params, core, in_t, in_tgt, in_a, in_x, in_y, n_in, root_base, lag, fq, c,
               stats, series, final):
    """Input link at t (T1): events in recording order, one start per host_in_ns.

    Returns True, and sets G_RESUME, when the chunk is used up and the next chunk's first input
    could still start at t (the last one was dropped, T6, which does not count as a start)."""
    period = params[P_HOST_IN_NS]
    lat = params[P_HOST_IN_LAT]
    while c[GL + G_POS] < n_in:
        p = c[GL + G_POS]
        ready = in_t[p]
        if c[GL + G_HASLAST] and c[GL + G_LAST] + period > ready:
            ready = c[GL + G_LAST] + period
        if ready > t:
            return False
        tgt = in_tgt[p]
        if c[tgt * RW + F_CNT] >= c[tgt * RW + F_DEPTH]:
            if tgt < N_CORES and core[tgt, C_BAL]:
                stats[tgt, S_CONGESTION] += 1
                series[R_DROPPED, c[BN + 1], tgt] += 1
                lag[p] = -1
                c[GL + G_POS] = p + 1
                c[GL + G_LBLOCKED] = 0
                continue
            c[GL + G_LBLOCKED] = 1
            return False
        _fifo_push(fq, c, stats, series, tgt, t, tgt, in_a[p], in_x[p], in_y[p],
                   root_base + p, t + lat)
        lag[p] = t + lat - in_t[p]
        c[GL + G_LAST] = t
        c[GL + G_HASLAST] = 1
        c[GL + G_LBLOCKED] = 0
        c[GL + G_POS] = p + 1
    if not final and t >= _horizon(c, period):
        c[GL + G_RESUME] = 1
        return True
    return False


# Unlike the kernels, these steps (and those of engine.wakes and engine.layout) are still
# compiled for literal argument types where their callers pass constants (see
# speksim._jit.plain_argument_types): compiled for plain types only, they change the loop's
# machine code, and the gesture replay took 1.18x the CPU time with it (20 alternating pairs in
# one process). Those extra compiles take about 4 s of a first replay's compile.
