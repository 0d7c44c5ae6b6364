"""The fast engine: the numba loop of `speksim.engine.loop` over arrays that `FastEngine` owns.

`FastEngine.feed` runs the loop over a chunk of input and handles its stops (output buffer
full, series full, chunk used up, end of the run, deadlock); `run_fast` runs a whole input.
"""

from __future__ import annotations

import numpy as np

from .base import deadlock_error
from .compiled import (
    C_USED, CompiledNetwork, DVS, EngineInput, HOST_OUT, K_TARGET, N_BLOCKS, N_CORES,
    N_QUEUED, N_SERIES, N_STATS, P_HOST_OUT_LAT, P_TICK_NS, READOUT, R_BUSY, R_FIFO, R_STALL, RawResult, S_BUSY,
    S_FIFOAREA, S_PENDING, S_STALL, aligned_copy, coarsen, series_bin_ns, spike_slots,
)
from .layout import (
    BN, F_BASE, F_DEPTH, F_TLAST, FC_BASE, FC_CNT, FC_TLAST, FQ_F, FQ_X, FQ_Y, G_DEADT, G_LBLOCKED, G_NEXTTICK,
    G_NOUT, G_POS, G_TEND, G_TLASTIN, GL, INF, N_CTL, N_G, N_SV, N_WK, O_BASE, O_CNT, O_DEPTH, OC_BASE, OC_CNT,
    RW, ST_BLOCKED, ST_COPY, SV_BLOCKED, SV_BUSY, SV_LEAKPEND, SV_STALLSINCE, SV_START, T_BLOCKED, T_FREE, WK,
)
from .loop import DEADLOCK, DONE, NEED_INPUT, SERIES_FULL, STOPPED, _run
from .readout import RS_END, RS_NEXT, new_state
from .steps import _spread


class FastEngine:
    """Owns the state of one simulated chip and runs `_run` over chunks of input.

    `feed(inputs, final)` runs until the inputs are used up (and, when `final`, until the run
    ends, SPEC T12); it returns the outputs emitted meanwhile as int64 [n, 6] and the input lags
    of the inputs it has settled, in order. With `emit`, it hands the outputs to `emit` instead,
    a block at a time as the output buffer fills (each a view of that buffer, valid during the
    call only), and returns none: the memory a chunk takes is then bounded by the buffer, however
    many outputs it gives. Inputs the link has not reached when only more input can tell what
    happens next (a link held back past the drain limit) are kept and sent before the next
    chunk's, and their lags come with that chunk's.
    """

    def __init__(self, net: CompiledNetwork, options, out_capacity: int = 1 << 16):
        self.net = net
        self.binw = int(options.bin_ns)
        self.max_bins = int(options.max_series_bins)
        self.end_ns = -1 if options.end_ns is None else int(options.end_ns)
        self.drain_ns = int(options.drain_ns)
        core = net.core
        used = [k for k in range(N_CORES) if core[k, C_USED]]
        # rank order: DVS stage before core stages (T0). Idle blocks are left out of the loop: the
        # DVS layer until camera input arrives, the readout unless a core sends to it.
        self.active_q = np.array(used, np.int64)
        # the plain blocks: the host output, and the readout when a core feeds it
        self.feeds_readout = bool(np.any(net.copies[:N_CORES, :, K_TARGET] == READOUT))
        self.state = aligned_copy(net.initial_state)
        # the loop's control state, one array (see engine.layout), and views of its parts
        self.ctl = np.zeros(N_CTL, np.int64)
        rows = self.ctl[:WK].reshape(N_BLOCKS, RW)
        self.sv = rows[:, :N_SV]
        self.fc = rows[:, F_BASE:F_TLAST + 1]
        self.oc = rows[:N_QUEUED, O_BASE:O_CNT + 1]
        self.st = rows[:N_QUEUED, T_FREE:T_BLOCKED + 1]
        self.wk = self.ctl[WK:WK + N_WK]
        self.g = self.ctl[GL:GL + N_G]
        self.bn = self.ctl[BN:BN + 3]       # bin width, current bin, its start
        self.bn[0] = self.binw
        fifo_depth = net.fifo_depth
        rows[:, F_DEPTH] = fifo_depth
        rows[:N_QUEUED, O_DEPTH] = net.out_depth
        self.fq = np.zeros((int(fifo_depth.sum()), 6), np.int64)
        self.fc[:, FC_BASE] = np.concatenate([[0], np.cumsum(fifo_depth)[:-1]])
        self.oq = np.zeros((int(net.out_depth.sum()), 4), np.int64)
        self.oc[:, OC_BASE] = np.concatenate([[0], np.cumsum(net.out_depth)[:-1]])
        nspk = spike_slots(core)
        self.spk = [np.zeros(nspk, np.int64) for _ in range(4)]
        self.rs = new_state()
        self.wk[:] = INF                            # next instants (see engine.wakes)
        self.stats = np.zeros((N_BLOCKS, N_STATS), np.int64)
        self.series = np.zeros((N_SERIES, min(64, self.max_bins), N_BLOCKS), np.int64)
        self.out = np.zeros((out_capacity, 6), np.int64)
        self.g[G_NEXTTICK] = net.params[P_TICK_NS]
        self.g[G_TLASTIN] = 0
        self.n_fed = 0          # inputs settled (sent, dropped or never to be sent): root of the next one
        self.carry = None       # inputs the link had not reached when the last feed returned
        self.stopped = False    # the run is past its end (T12): later input is never sent
        self.t_stop = 0         # the end of a stopped run: end_ns, or the drain limit
        self.cut = False        # stopped by the drain limit with work left (T12)
        self.late = 0           # outputs of a stopped run timed after its end: not reported (T12)
        self.unsent = 0         # inputs the link never sent because the run stopped first
        self.done = False
        self.failed = False     # handing outputs on failed midway (see _emit)

    def feed(self, inputs: EngineInput, final: bool, emit=None):
        if self.done:
            raise RuntimeError("this run stopped when its outputs could not be handed on (see the error then); "
                               "start a new one" if self.failed else "this run has finished; start a new one")
        if self.carry is not None:
            inputs = EngineInput.concat([self.carry, inputs])
            self.carry = None
        n = len(inputs)
        lag = np.full(n, -1, np.int64)
        if self.stopped:
            self.unsent += n
            self.n_fed += n
            self.done = final
            return np.zeros((0, 6), np.int64), lag
        if n and DVS not in self.active_q and np.any(inputs.target == DVS):
            self.active_q = np.concatenate([[DVS], self.active_q]).astype(np.int64)
        if n:
            self.g[G_TLASTIN] = int(inputs.t_ns[-1])
        self.g[G_POS] = 0
        # T12: the run ends at end_ns, or at the drain limit, drain_ns after the last input's
        # timestamp. While more input may come the drain limit may still move later, so only the
        # instants whose outputs (host_out_latency_ns later) are within its earliest value are settled.
        net = self.net
        if self.end_ns >= 0:
            limit, limit_code = self.end_ns, STOPPED
        elif final:
            limit, limit_code = int(self.g[G_TLASTIN]) + self.drain_ns, STOPPED
        else:
            limit = int(self.g[G_TLASTIN]) + self.drain_ns - int(net.params[P_HOST_OUT_LAT])
            limit_code = NEED_INPUT
        outs = []
        empty = np.zeros(0, np.int64)
        arrays = [np.ascontiguousarray(a, dtype=np.int64) for a in
                  (inputs.t_ns, inputs.target, inputs.a, inputs.x, inputs.y)] if n else [empty] * 5
        state = (net.core, net.dvs, net.copies, net.weights, net.biases, net.taps, self.ctl, net.params, self.active_q,
                 self.feeds_readout, self.state, self.fq, self.oq, self.spk[0], self.spk[1], self.spk[2], self.spk[3],
                 self.rs)
        while True:
            code = _run(*state, self.stats, self.series, self.out, *arrays, n, self.n_fed, lag, final,
                        self.end_ns, limit, limit_code)
            if code != SERIES_FULL:
                k = int(self.g[G_NOUT])
                if k:
                    rows = self.out[:k]
                    self.g[G_NOUT] = 0
                    if emit is not None and not outs:
                        # outputs timed up to `limit` are reported whatever comes next (T12: a run
                        # stopped later stops no earlier than this call's limit); the few after it
                        # wait for the end of the call, and so do all later ones (times ascend)
                        safe = k if rows[-1, 0] <= limit else int(np.searchsorted(rows[:, 0], limit, side="right"))
                        if safe:
                            self._emit(emit, rows[:safe])
                        rows = rows[safe:]
                    if len(rows):
                        outs.append(rows.copy())
            if code == SERIES_FULL:
                self._more_bins()
            elif code == NEED_INPUT:
                used = int(self.g[G_POS])
                if used < n:
                    self.carry = inputs.slice(used, n)
                    lag = lag[:used]
                break
            elif code == DONE or code == STOPPED:
                if code == STOPPED:
                    self.stopped = True
                    self.t_stop = limit
                    self.cut = self.end_ns < 0
                    self.unsent += n - int(self.g[G_POS])
                self.done = final
                break
            elif code == DEADLOCK:
                self.done = True
                pos = int(self.g[G_POS])
                link = (self.n_fed + pos, int(arrays[1][pos])) if self.g[G_LBLOCKED] and pos < n else None
                raise self._deadlock_error(link)
        self.n_fed += len(lag)
        rows = np.concatenate(outs) if outs else np.zeros((0, 6), np.int64)
        # T12: no output after the end of a run that was stopped (a run without end_ns that ends
        # by itself reports every output, also those timed after its last instant)
        bound = self.end_ns if self.end_ns >= 0 else (self.t_stop if self.cut else -1)
        if bound >= 0 and len(rows) and rows[-1, 0] > bound:
            keep = rows[:, 0] <= bound
            self.late += len(rows) - int(keep.sum())
            rows = rows[keep]
        if emit is not None:
            if len(rows):
                self._emit(emit, rows)
            rows = rows[:0]
        return rows, lag

    def _emit(self, emit, rows):
        """Hand output rows to `emit`. If it fails (a full disk, Ctrl-C), the run cannot go on: the
        call stopped midway, and what it settled was neither kept nor counted."""
        try:
            emit(rows)
        except BaseException:
            self.done = self.failed = True
            raise

    def _more_bins(self):
        """Room for the current bin: twice the bins up to max_bins, then twice the bin width (each
        pair of bins summed into one), so the series never hold more than max_bins bins."""
        cap = self.series.shape[1]
        if cap < self.max_bins:
            self._grow(min(2 * cap, self.max_bins))
            return
        half = coarsen(self.series, 2)
        self.series[:, :half.shape[1]] = half
        self.series[:, half.shape[1]:] = 0
        self.binw *= 2
        self.bn[0] = self.binw
        self.bn[1] //= 2
        self.bn[2] = self.bn[1] * self.binw

    def _grow(self, n_bins: int):
        grown = np.zeros((N_SERIES, n_bins, N_BLOCKS), np.int64)
        grown[:, :self.series.shape[1]] = self.series
        self.series = grown

    def result(self, outputs: np.ndarray, lag: np.ndarray) -> RawResult:
        t_end = self.t_stop if self.stopped else max(int(self.g[G_TEND]), self.end_ns)
        width = series_bin_ns(self.binw, t_end, self.max_bins)
        if width > self.binw:   # end_ns beyond the last instant can call for wider bins still
            self.series = coarsen(self.series, width // self.binw)
            self.binw = width
        n_bins = t_end // self.binw + 1
        if n_bins > self.series.shape[1]:
            self._grow(n_bins)
        bn = np.array([self.binw, 0, INF], np.int64)
        sv, stats = self.sv, self.stats
        for b in range(N_BLOCKS):  # close the FIFO area integrals at the end of the run
            tl, cnt = int(self.fc[b, FC_TLAST]), int(self.fc[b, FC_CNT])
            if t_end > tl and cnt:
                stats[b, S_FIFOAREA] += cnt * (t_end - tl)
                _spread(self.series, R_FIFO, b, tl, t_end, bn, 0, cnt)
            if sv[b, SV_BUSY]:     # a job still in service when the run stopped (T12): busy until the end
                s0 = int(sv[b, SV_START])
                stats[b, S_BUSY] += t_end - s0
                _spread(self.series, R_BUSY, b, s0, t_end, bn, 0, 1)
                if b < N_QUEUED and sv[b, SV_BLOCKED]:
                    since = int(sv[b, SV_STALLSINCE])
                    stats[b, S_STALL] += t_end - since
                    _spread(self.series, R_STALL, b, since, t_end, bn, 0, 1)
        # T12 pending: FIFO slots taken (events in flight to the block included), the job in service,
        # a leak job waiting, spikes in the output queue, readout events not sent yet, and host
        # outputs timed after the end
        pending = self.fc[:, FC_CNT] + sv[:, SV_BUSY] + sv[:, SV_LEAKPEND]
        pending[:N_QUEUED] += self.oc[:, OC_CNT]
        pending[READOUT] += self.rs[RS_END] - self.rs[RS_NEXT]
        pending[HOST_OUT] += self.late
        stats[:, S_PENDING] = pending
        return RawResult(outputs=outputs, stats=stats.copy(), lag_ns=lag,
                         series=self.series[:, :n_bins].copy(), state=self.state.copy(), t_end_ns=t_end,
                         cut=self.cut, active=tuple(int(b) for b in np.flatnonzero(pending)), unsent=self.unsent,
                         bin_ns=self.binw)

    def _deadlock_error(self, link) -> Exception:
        """T9, reported by `engine.base.deadlock_error` from the stages that wait in this engine."""
        waits = {}
        for q in self.active_q:
            if self.oc[q, OC_CNT] > 0 and self.st[q, ST_BLOCKED]:
                waits[int(q)] = int(self.net.copies[q, self.st[q, ST_COPY], K_TARGET])
        blocks = set(waits) | set(waits.values())
        return deadlock_error(int(self.g[G_DEADT]), waits, {b: self._fifo_contents(b) for b in blocks},
                              self.net.fifo_depth, {b: int(self.oc[b, OC_CNT]) for b in waits},
                              self.net.out_depth, link)

    def _fifo_contents(self, b):
        base, head, cnt = (int(v) for v in self.fc[b, :3])
        depth = int(self.net.fifo_depth[b])
        rows = [self.fq[base + (head + i) % depth] for i in range(cnt)]
        return [(int(r[FQ_F]), int(r[FQ_X]), int(r[FQ_Y])) for r in rows]


def compiled() -> bool:
    """Whether the fast engine is compiled for this machine already (in this process or in the
    per-user cache); if not, the first run compiles it, which takes about 20-30 s once."""
    from .._jit import is_cached
    return is_cached(_run)


def run_fast(net: CompiledNetwork, inputs: EngineInput, options, chunk_events: int = 1 << 20) -> RawResult:
    """Run a whole input through the fast engine, fed in chunks of `chunk_events`."""
    eng = FastEngine(net, options)
    outs, lags = [], []
    n = len(inputs)
    starts = list(range(0, n, chunk_events)) or [0]
    for i in starts:
        o, lag = eng.feed(inputs.slice(i, min(n, i + chunk_events)), final=(i == starts[-1]))
        outs.append(o)
        lags.append(lag)
    return eng.result(np.concatenate(outs), np.concatenate(lags))
