"""What the reference engine records while it runs, and how it becomes statistics and series
(SPEC §4): counters, plus the intervals and instants the per-bin series are made of."""

from __future__ import annotations

import numpy as np

from .compiled import (N_BLOCKS, N_SERIES, N_STATS, R_BUSY, R_DROPPED, R_FIFO, R_STALL, R_SYNOPS, S_BUSY, S_FIFOAREA,
                       S_STALL, S_SYNOPS, coarsen, series_bin_ns)


class Recorder:
    """Counters plus the intervals and instants the series are made of, folded into per-bin
    arrays every `FOLD` jobs (so memory stays bounded) and at the end: RawResult's
    stats[12, N_STATS] and series[N_SERIES, n_bins, 12].

    The records are flat lists of ints, one record after the other (`busy += (block, t0, t1)`):
    cheap to append and to turn into arrays. The lists are emptied in place by a fold, so a
    block may keep a reference to them."""

    FOLD = 1 << 16

    def __init__(self, bin_ns: int, t_stop: int):
        self.bin_ns = int(bin_ns)
        self.t_stop = int(t_stop)        # the end of the run: intervals are cut there (T12)
        self.stats = [[0] * N_STATS for _ in range(N_BLOCKS)]
        self.busy: list[int] = []        # block, t0, t1: a job from service start to end, stalls included
        self.stalls: list[int] = []      # block, t0, t1: a completion waiting for the output queue (T4)
        self.waits: list[int] = []       # block, t0, t1: a FIFO slot taken at t0 (T0), freed at t1 (T2)
        self.synops: list[int] = []      # block, t, n: n SynOps of a job whose service started at t
        self.drops: list[int] = []       # block, t: a congestion, out-of-range or DVS-filter drop
        self.t_last = 0                  # last instant something happened (besides job ends)
        self._totals = np.zeros((N_BLOCKS, N_STATS), np.int64)
        self._series = np.zeros((N_SERIES, 1, N_BLOCKS), np.int64)

    def dropped(self, block: int, stat: int, t: int) -> None:
        """A congestion drop (T6), an out-of-range event (F1) or a DVS filter drop (F6) at t."""
        self.stats[block][stat] += 1
        self.drops += (block, t)

    def fold(self) -> None:
        """Add the records to the totals and per-bin series, and empty them."""
        w = self.bin_ns
        ivs = [np.array(x, np.int64).reshape(-1, 3) for x in (self.busy, self.stalls, self.waits)]
        for iv in ivs:                   # a job still in service at the end is busy until then
            np.minimum(iv[:, 2], self.t_stop, out=iv[:, 2])
        syn = np.array(self.synops, np.int64).reshape(-1, 3)
        drop = np.array(self.drops, np.int64).reshape(-1, 2)
        last = max([0] + [int(iv[:, 2].max()) for iv in ivs if len(iv)] +
                   [int(a[:, 1].max()) for a in (syn, drop) if len(a)])
        if last // w >= self._series.shape[1]:
            grown = np.zeros((N_SERIES, max(last // w + 1, 2 * self._series.shape[1]), N_BLOCKS), np.int64)
            grown[:, :self._series.shape[1]] = self._series
            self._series = grown
        series, totals = self._series, self._totals
        for col, stat, iv in zip((R_BUSY, R_STALL, R_FIFO), (S_BUSY, S_STALL, S_FIFOAREA), ivs):
            np.add.at(totals[:, stat], iv[:, 0], iv[:, 2] - iv[:, 1])
            if len(iv):
                first, overlap = _spread(iv, w)
                series[col, first:first + len(overlap)] += overlap
        np.add.at(totals[:, S_SYNOPS], syn[:, 0], syn[:, 2])
        np.add.at(series[R_SYNOPS], (syn[:, 1] // w, syn[:, 0]), syn[:, 2])
        np.add.at(series[R_DROPPED], (drop[:, 1] // w, drop[:, 0]), 1)
        for records in (self.busy, self.stalls, self.waits, self.synops, self.drops):
            records.clear()

    def finish(self, t_end: int, max_bins: int):
        """(stats, series, bin width) of a run that ended at t_end: bins of bin_ns, summed into
        wider ones when there would be more than max_bins (`series_bin_ns`)."""
        self.fold()
        n_bins = t_end // self.bin_ns + 1
        series = np.zeros((N_SERIES, n_bins, N_BLOCKS), np.int64)
        m = min(n_bins, self._series.shape[1])
        assert not self._series[:, m:].any(), "something happened after the end of the run"
        series[:, :m] = self._series[:, :m]
        width = series_bin_ns(self.bin_ns, t_end, max_bins)
        return np.array(self.stats, np.int64) + self._totals, coarsen(series, width // self.bin_ns), width


def _spread(iv: np.ndarray, w: int):
    """The overlaps of intervals iv[:, (block, t0, t1)] with bins of width w: (first bin,
    int64 [n_bins, 12]) for the bins from the first interval's to the last one's.

    The overlap of [t0, t1) with bin j is h_j(t1) - h_j(t0), h_j(t) = clamp(t, jw, (j+1)w) - jw:
    w for a point in a later bin, t - jw for a point in bin j, 0 for one before."""
    first = int(iv[:, 1].min()) // w
    n = int(iv[:, 2].max()) // w - first + 1
    out = np.zeros((n, N_BLOCKS), np.int64)
    for col, sign in ((2, 1), (1, -1)):
        block, t = iv[:, 0], iv[:, col]
        b = t // w
        np.add.at(out, (b - first, block), sign * (t - b * w))
        count = np.zeros((n + 1, N_BLOCKS), np.int64)
        np.add.at(count, (b - first, block), 1)
        later = count[::-1].cumsum(axis=0)[::-1]      # later[j] = points in bins >= j
        out += sign * w * later[1:]
    return first, out


