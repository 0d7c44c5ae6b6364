"""The least time a replay can take with speksim's SynOp kernel: a bound for the speed targets.

    python -m benchmarks.floor               # the DVS Gesture network on its recording

A replay must do each event's SynOps (`kernels.scatter_tabled`, the same kernel as the fast
engine's) and move each event and spike on: take it from its block's FIFO, list the job's spikes
with their times, make each spike's copies (pooled and shifted) and put them into the target
FIFOs, and count it all. This module does exactly that work and nothing else: no timing model
(no instants, no wakes, no stalls, no busy or FIFO-occupancy integrals, no time series), one
input event at a time, serving the most downstream block that holds an event (so that no FIFO
grows beyond a few dozen rows). It times

- kernel: the SynOps alone, the events each core serves in the order they come, one after
  another in a tight loop;
- floor: the SynOps with that bookkeeping.

It runs where each core serves the same events in the same order whatever their timing: a
network whose blocks feed each other in one chain or tree (no core fed by two blocks, or by a
block and the input; no cycle), with no leak ticks and no congestion balancer. It checks that it did the same work as
the fast engine (SynOps, spikes and served events of every block) and says so.
"""

from __future__ import annotations

import statistics
import sys
import time

import numpy as np
from numba import njit

from speksim.engine.compiled import (
    C_BAL, C_CIN, C_DECN, C_EVNS, C_HIN, C_LEAK, C_NCOPY, C_NOFF, C_RTZ, C_SPKOFF, C_SSTEP, C_SYNNS, C_TAPX,
    C_TAPY, C_THI, C_TLO, C_USED, C_WFEAT, C_WIN, C_WOFF, C_WSTEPX, C_WSTEPY, C_COUT, D_CX, D_CY, D_DIAG, D_EVNS,
    D_MERGE, D_MX, D_MY, D_NCOPY, D_OFF, D_ON, D_OX, D_OY, D_PASS, D_PX, D_PY, DVS, HOST_OUT, K_LAYER, K_POOL,
    K_SHIFT, K_TARGET, N_BLOCKS, N_CORES, N_QUEUED, P_RO_TICK, P_WRAP, aligned_copy, spike_slots,
)
from speksim.kernels import N_TAP, dvs_map, floor_div, lowest_bit, scatter_tabled

RING = 1 << 10          # rows of each block's FIFO here (a few dozen are used at most)
FIELDS = 6              # a FIFO row: layer, feature, x, y, root, time (as the fast engine's)
# stats columns of this module's counts, per block
F_IN, F_SERVED, F_SYNOPS, F_SPIKES, F_COPIES, F_DECIMATOR = range(6)


@njit(_nrt=False)
def _dataflow(core, dvs, copies, weights, taps, params, state, order, bit, in_tgt, in_a, in_x, in_y, in_t,
              spk_o, spk_f, spk_x, spk_y, ring, head, cnt, counts, log):
    """Every input event through the network, each to the end before the next; returns the
    number of core jobs logged (`log` rows: core, feature, x, y; when log has rows), or -1 when
    a FIFO outgrew RING. bit[b]: block b's bit in the set of blocks holding events, the lowest
    for the most downstream; order[i]: the block of bit i."""
    n_log = 0
    holding = np.int64(0)
    for p in range(in_a.shape[0]):
        tgt = in_tgt[p]
        s = (head[tgt] + cnt[tgt]) & (RING - 1)
        ring[tgt, s, 0] = tgt
        ring[tgt, s, 1] = in_a[p]
        ring[tgt, s, 2] = in_x[p]
        ring[tgt, s, 3] = in_y[p]
        ring[tgt, s, 4] = p
        ring[tgt, s, 5] = in_t[p]
        cnt[tgt] += 1
        counts[tgt, F_IN] += 1
        holding |= bit[tgt]
        while holding:
            q = order[lowest_bit(holding)]
            h = head[q]
            feat, x, y, root, t = ring[q, h, 1], ring[q, h, 2], ring[q, h, 3], ring[q, h, 4], ring[q, h, 5]
            head[q] = (h + 1) & (RING - 1)
            cnt[q] -= 1
            if cnt[q] == 0:
                holding &= ~bit[q]
            counts[q, F_SERVED] += 1
            if q >= N_QUEUED:
                continue        # the readout and the host output: taken, nothing sent on
            if q < N_CORES:
                r = core[q]
                base = r[C_SPKOFF]
                if feat >= r[C_CIN] or x >= r[C_WIN] or y >= r[C_HIN]:
                    continue
                if log.shape[0]:
                    log[n_log, 0] = q
                    log[n_log, 1] = feat
                    log[n_log, 2] = x
                    log[n_log, 3] = y
                    n_log += 1
                n, nspk = scatter_tabled(state, r[C_NOFF], weights, r[C_WOFF], feat, r[C_TAPY] + y * N_TAP,
                                         r[C_TAPX] + x * N_TAP, taps, r[C_COUT], r[C_WFEAT], r[C_SSTEP],
                                         r[C_WSTEPY], r[C_WSTEPX], r[C_THI], r[C_TLO], r[C_RTZ], params[P_WRAP],
                                         spk_o, spk_f, spk_x, spk_y, base)
                counts[q, F_SYNOPS] += n
                counts[q, F_SPIKES] += nspk
                ev, step, decn, ncopy = r[C_EVNS], r[C_SYNNS], r[C_DECN], r[C_NCOPY]
            else:
                base = spk_o.shape[0] - 1
                keep, f, fx, fy = dvs_map(dvs[D_ON], dvs[D_OFF], dvs[D_MERGE], dvs[D_PX], dvs[D_PY], dvs[D_OX],
                                          dvs[D_OY], dvs[D_CX], dvs[D_CY], dvs[D_MX], dvs[D_MY], dvs[D_DIAG],
                                          x, y, feat)
                nspk = 0
                if keep and dvs[D_PASS]:
                    counts[q, F_SPIKES] += 1
                    spk_o[base], spk_f[base], spk_x[base], spk_y[base] = 0, f, fx, fy
                    nspk = 1
                ev, step, decn, ncopy = dvs[D_EVNS], 0, 0, dvs[D_NCOPY]
            for i in range(base, base + nspk):
                if decn:
                    counts[q, F_DECIMATOR] += 1
                    if counts[q, F_DECIMATOR] < decn:
                        continue
                    counts[q, F_DECIMATOR] = 0
                ts = t + ev + (spk_o[i] + 1) * step
                for ci in range(ncopy):
                    tg = copies[q, ci, K_TARGET]
                    f, fx, fy = spk_f[i], spk_x[i], spk_y[i]
                    if tg != HOST_OUT:
                        pool = copies[q, ci, K_POOL]
                        f += copies[q, ci, K_SHIFT]
                        fx = floor_div(fx, pool)
                        fy = floor_div(fy, pool)
                    if cnt[tg] == RING:
                        return -1
                    s = (head[tg] + cnt[tg]) & (RING - 1)
                    ring[tg, s, 0] = copies[q, ci, K_LAYER]
                    ring[tg, s, 1] = f
                    ring[tg, s, 2] = fx
                    ring[tg, s, 3] = fy
                    ring[tg, s, 4] = root
                    ring[tg, s, 5] = ts
                    cnt[tg] += 1
                    holding |= bit[tg]
                    counts[tg, F_IN] += 1
                    counts[q, F_COPIES] += 1
    return n_log


@njit(_nrt=False)
def _kernel(core, weights, taps, params, state, log, n_log, spk_o, spk_f, spk_x, spk_y):
    """The SynOps of the logged core jobs, in order; returns the spikes they made."""
    total = 0
    for i in range(n_log):
        q, feat, x, y = log[i, 0], log[i, 1], log[i, 2], log[i, 3]
        r = core[q]
        _, nspk = scatter_tabled(state, r[C_NOFF], weights, r[C_WOFF], feat, r[C_TAPY] + y * N_TAP,
                                 r[C_TAPX] + x * N_TAP, taps, r[C_COUT], r[C_WFEAT], r[C_SSTEP],
                                 r[C_WSTEPY], r[C_WSTEPX], r[C_THI], r[C_TLO], r[C_RTZ], params[P_WRAP],
                                 spk_o, spk_f, spk_x, spk_y, r[C_SPKOFF])
        total += nspk
    return total


def _order(net, input_targets) -> list:
    """The blocks in data-flow order (each before those it sends to), or None when the network
    is not a chain or tree: a cycle, or a core or the DVS layer fed by two blocks, or by a block
    and the input (whose blocks are `input_targets`)."""
    # the DVS layer sends only what the camera gives it
    used = [DVS] * (DVS in input_targets) + [q for q in range(N_CORES) if net.core[q, C_USED]]
    feeds = {q: [int(net.copies[q, ci, K_TARGET]) for ci in range(_ncopy(net, q))] for q in used}
    fed_by = {int(q): {"input"} for q in input_targets}
    for q, targets in feeds.items():
        for tg in targets:
            fed_by.setdefault(tg, set()).add(q)
    # the readout and the host output send nothing on: the order they take events in is no
    # core's business
    if any(len(src) > 1 for tg, src in fed_by.items() if tg < N_QUEUED):
        return None
    roots = [q for q in used if fed_by.get(q, {"input"}) == {"input"}]
    order, todo = [], list(roots)
    while todo:
        q = todo.pop(0)
        order.append(q)
        todo += [tg for tg in feeds.get(q, []) if tg not in order and tg not in todo]
    if len(set(order)) != len(order) or any(q in fed_by and q not in order for q in used):
        return None
    return order + [b for b in range(N_QUEUED, N_BLOCKS) if b not in order]


def _ncopy(net, q: int) -> int:
    return int(net.dvs[D_NCOPY]) if q == DVS else int(net.core[q, C_NCOPY])


def _inputs(events):
    """(target, a, x, y, t_ns) of camera events (to the DVS layer) or spike events (to their core)."""
    names = events.dtype.names
    if "p" in names:
        return (np.full(len(events), DVS, np.int64), events["p"].astype(np.int64), events["x"].astype(np.int64),
                events["y"].astype(np.int64), events["t"].astype(np.int64) * 1000)
    return (events["layer"].astype(np.int64), events["feature"].astype(np.int64), events["x"].astype(np.int64),
            events["y"].astype(np.int64), events["t"].astype(np.int64) * 1000)


class Floor:
    """The floor of one recording through one network: set up (and compiled) once, timed by
    `time()` as often as wanted. `skipped` says why there is none (then nothing else is set);
    `work` is what it did, with whether that is the fast engine's work (`same_work`)."""

    def __init__(self, config, events, chip: str = "speck2f"):
        import speksim
        self.skipped = None
        net = self.net = speksim.Simulation(config, chip).net
        self.inputs = _inputs(events)
        order = _order(net, np.unique(self.inputs[0]))
        if order is None:
            self.skipped = ("the network is not a chain or tree of blocks (a core fed by two blocks, or by a block "
                            "and the input, or a cycle): the events a core serves, and their order, then depend "
                            "on the timing")
        elif net.core[:, C_LEAK].any() or net.params[P_RO_TICK]:
            self.skipped = "the network uses leak or readout ticks, which this bound does not model"
        elif (net.core[:, C_BAL] & net.core[:, C_USED]).any():
            self.skipped = "a core drops events by congestion, which depends on the timing"
        if self.skipped:
            return
        engine = speksim.simulate(config, events, chip=chip)
        n_spk = spike_slots(net.core)
        self.spk = [np.zeros(n_spk, np.int64) for _ in range(4)]
        self.order = np.array(order[::-1], np.int64)     # bit i: the i-th block from the most downstream
        self.bit = np.zeros(N_BLOCKS, np.int64)
        for i, b in enumerate(self.order):
            self.bit[b] = 1 << i
        self.log = np.zeros((int(engine.stats["served"][:N_CORES].sum()), 4), np.int64)
        _, self.n_log, counts = self._dataflow(self.log)    # compiles it, and logs the core jobs
        if self.n_log < 0:
            self.skipped = f"a FIFO outgrew {RING} rows (a burst this bound does not hold)"
            return
        same = {k: bool(np.array_equal(counts[:, col], engine.stats[k]))
                for k, col in (("served", F_SERVED), ("synops", F_SYNOPS), ("spikes", F_SPIKES), ("copies", F_COPIES))}
        self.work = {"served": int(counts[:, F_SERVED].sum()), "synops": int(counts[:, F_SYNOPS].sum()),
                     "core_jobs": int(self.n_log), "same_work": all(same.values()), "same_work_by_count": same}
        # the kernel alone over the logged jobs (compiled here) makes the cores' spikes again
        self.work["kernel_spikes"] = self._kernel()[1]

    def _dataflow(self, log):
        net, spk = self.net, self.spk
        state = aligned_copy(net.initial_state)
        ring = np.zeros((N_BLOCKS, RING, FIELDS), np.int64)
        head, cnt = np.zeros(N_BLOCKS, np.int64), np.zeros(N_BLOCKS, np.int64)
        counts = np.zeros((N_BLOCKS, 6), np.int64)
        t0 = time.perf_counter()
        n_log = _dataflow(net.core, net.dvs, net.copies, net.weights, net.taps, net.params, state, self.order,
                          self.bit, *self.inputs, spk[0], spk[1], spk[2], spk[3], ring, head, cnt, counts, log)
        return time.perf_counter() - t0, n_log, counts

    def _kernel(self):
        net, spk = self.net, self.spk
        state = aligned_copy(net.initial_state)
        t0 = time.perf_counter()
        spikes = _kernel(net.core, net.weights, net.taps, net.params, state, self.log, self.n_log, spk[0], spk[1],
                         spk[2], spk[3])
        return time.perf_counter() - t0, int(spikes)

    def time(self) -> dict:
        """One timing of each: {"floor_s", "kernel_s"} (wall time, as the harness times the replay)."""
        return {"floor_s": self._dataflow(np.zeros((0, 4), np.int64))[0], "kernel_s": self._kernel()[0]}


def measure(config, events, repeats: int = 5, chip: str = "speck2f") -> dict:
    """The kernel and floor times of `events` through `config` (medians of `repeats`, after a
    warm-up that compiles them), with the work done and whether it is the fast engine's; or
    {"skipped": reason} where there is no floor."""
    fl = Floor(config, events, chip)
    if fl.skipped:
        return {"skipped": fl.skipped}
    return figures(fl, [fl.time() for _ in range(repeats)])


def figures(fl: Floor, samples: list) -> dict:
    """The medians of `samples` (of `Floor.time`), with their lists and the work done."""
    out = dict(fl.work)
    for k in ("floor_s", "kernel_s"):
        values = [s[k] for s in samples]
        out[k], out[k + "_all"] = statistics.median(values), values
    return out


def main(argv=None) -> int:
    from .common import on_gesture
    return on_gesture(argv, "python -m benchmarks.floor", __doc__, measure, lambda r: [
        f"{r['served']:,} events served, {r['synops']:,} SynOps; the fast engine's work: {r['same_work']}",
        f"kernel: {r['kernel_s']:.4f} s; floor (kernel and bookkeeping, no timing): {r['floor_s']:.4f} s"])


if __name__ == "__main__":
    sys.exit(main())
