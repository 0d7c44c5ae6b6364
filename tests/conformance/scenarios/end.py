"""Scenarios of how a run ends: T12 (notation: base.py)."""

from __future__ import annotations

import numpy as np

from speksim.config import RunOptions

from .base import (anchor_chain, CHIP, chip_config, conv, Expected, host_output, ones, Scenario, spike_in, timing, to,
                   _scenarios)


# ----------------------------------------------------------------------------------------------
# T12: the end of a run
# ----------------------------------------------------------------------------------------------

def _through_queue(s, base, step, n, depth, rt, enter, copy, stalls):
    """T3/T4 for a job started at s whose n items (SynOps, or neurons of a leak job) all fire,
    through an output queue of `depth` spikes and a stage that makes one copy per rt, never held
    back by its target. Spike m (counted over the run) completes at s + base + (j+1)*step plus the
    job's stalls; it enters the queue then unless spike m - depth has not left yet (it leaves when
    its copy starts), and then the job stalls until it has. Appends to enter, copy and stalls
    (intervals); returns the job's end."""
    delay = 0
    for j in range(n):
        t = s + base + (j + 1) * step + delay
        m = len(enter)
        if m >= depth and copy[m - depth] > t:
            stalls.append((t, copy[m - depth]))
            delay += copy[m - depth] - t
            t = copy[m - depth]
        enter.append(t)
        copy.append(t if m == 0 else max(t, copy[-1] + rt))
    return s + base + n * step + delay


def _clipped(intervals, end):
    """Total length of the intervals (t0, t1) up to `end` (T12: the run stops there)."""
    return sum(min(t1, end) - t0 for t0, t1 in intervals if t0 <= end)


@_scenarios
def end_ns_cuts_a_busy_chain():
    """T12 with end_ns: the run stops at end_ns with core 0 stalled (T4) on a full output queue
    and an input in its FIFO, an event in flight to core 1 and one in service there, and outputs
    on their way to the host; all of it is pending, no output after end_ns is reported, the busy
    and stall times end at end_ns, and an input after end_ns is never sent (lag -1).
    Core 0 (RT 200) makes 3 spikes per event faster than its stage copies them to core 1."""
    chip = CHIP.replace(route_ns={0: 200})
    p, p1 = timing(chip, 0), timing(chip, 1)
    depth = chip.out_depth[0]
    cfg = chip_config({0: conv(ones(3, 1), (1, 1), destinations=[to(1)]),
                       1: conv(ones(1, 3), (1, 1), monitor_enable=True)})
    n, end_ns = 8, 3000
    inp = spike_in(*[(0, 0, 0, 0, 0)] * n, (5000, 0, 0, 0, 0))
    sent = [i * p.LINK for i in range(n)]             # T1; core 0's FIFO (16) never fills
    enter, copy, stalls, jobs, end = [], [], [], [], 0
    for i in range(n):
        s = max(sent[i] + p.LAT, end)                 # T3: FIFO order
        end = _through_queue(s, p.EV, p.SY, 3, depth, p.RT, enter, copy, stalls)
        jobs.append((s, end))
    # core 1 serves each copy when it arrives (one SynOp, EV + SY < RT apart) and sends its monitor
    # copy at once; the host output serves them in order (T7)
    core1 = [c + p.RT for c in copy]
    assert all(b - a > p1.EV + p1.SY for a, b in zip(core1, core1[1:]))
    to_host = [a + p1.EV + p1.SY for a in core1]
    outs = host_output([h + p1.RT for h in to_host], chip)
    rows = [(t, 1, 0, 0, 0, m // 3) for m, t in enumerate(outs) if t <= end_ns]
    # T12: what each block holds at the end of instant end_ns
    pending0 = (sum(1 for i in range(n) if sent[i] <= end_ns < jobs[i][0])          # FIFO
                + sum(1 for s, e in jobs if s <= end_ns < e)                        # in service
                + sum(1 for m in range(len(enter)) if enter[m] <= end_ns < copy[m]))   # output queue
    pending1 = (sum(1 for c, a in zip(copy, core1) if c <= end_ns < a)
                + sum(1 for a in core1 if a <= end_ns < a + p1.EV + p1.SY))
    pending_host = sum(1 for h in to_host if h <= end_ns) - len(rows)
    assert (pending0, pending1, pending_host) == (1 + 1 + depth, 2, 4)
    assert any(t0 <= end_ns < t1 for t0, t1 in stalls)     # core 0 is stalled at the end
    exp = Expected(outputs=rows, t_end_ns=end_ns, lag_ns=[s + p.LAT for s in sent] + [-1],
                   cut=False, active=(0, 1, 11), unsent=1,
                   stats={(0, "pending"): pending0, (1, "pending"): pending1, (11, "pending"): pending_host,
                          (0, "busy_ns"): _clipped(jobs, end_ns), (0, "stall_ns"): _clipped(stalls, end_ns),
                          (1, "busy_ns"): _clipped([(a, a + p1.EV + p1.SY) for a in core1], end_ns),
                          (0, "copies"): sum(c <= end_ns for c in copy),
                          (0, "served"): sum(s <= end_ns for s, _ in jobs)},
                   series={("stall_ns", 0): {0: _clipped(stalls, end_ns)}})
    return Scenario("end_ns_cuts_a_busy_chain", ("T12", "T4", "T3", "T7", "T1"), cfg, chip,
                    RunOptions(end_ns=end_ns), inp, exp)


@_scenarios
def end_ns_during_a_leak_job():
    """T12 + T5: end_ns falls inside the second tick's leak job: the core is busy from the tick to
    end_ns and the job is pending. Its neuron updates are all made (docs/chip-model.md: functional work
    happens at service start), so the states show both ticks."""
    p = timing(CHIP)
    init = np.zeros((2, 2, 2), np.int16)
    init[0] = [[1, 2], [-1, 0]]
    cfg = chip_config({0: conv(ones(2, 1), (2, 2), threshold_high=3, threshold_low=-7, leak_enable=True,
                               biases=np.array([2, -5], np.int16), neurons_initial_value=init)})
    period = 10_000
    job = p.EV + 8 * p.LK                      # 8 neurons
    end_ns = 2 * period + job // 2
    final = init.astype(np.int64)
    final[0] += 4                              # two ticks of +2 (no spike: leak_can_fire is false)
    final[1] = -7                              # 0, -5, -10 -> threshold_low
    busy = job + (end_ns - 2 * period)
    exp = Expected(outputs=[], t_end_ns=end_ns, states={0: final}, cut=False, active=(0,), unsent=0,
                   stats={(0, "leak_jobs"): 2, (0, "busy_ns"): busy, (0, "pending"): 1},
                   series={("busy_ns", 0): {0: busy}})
    return Scenario("end_ns_during_a_leak_job", ("T12", "T5", "F4"), cfg, CHIP,
                    RunOptions(slow_clock_hz=100_000, end_ns=end_ns), spike_in(), exp)


def _endless_leak(name, n_in=1, **stop):
    """T12: with leak_can_fire, 16 neurons that all fire at every tick and a stage of RT = 200
    behind a one-spike queue, a leak job lasts 16 RT = 3200 ns, longer than the slow-clock period
    (2000 ns): a tick always finds a job in service, so another always waits (T5), and the chip
    never goes idle. The first input, at 1 us, is served before the first tick, and the host
    output is still busy with its output then, so the ticks count (T12). Later inputs (one per us)
    are never served, since a leak job always goes first (T5): they fill core 0's FIFO, then hold
    the link back (T0). The run stops at end_ns, or drain_ns after the last input's timestamp."""
    chip = CHIP.replace(leak_can_fire=True, route_ns={0: 200}, out_depth={0: 1})
    p = timing(chip)
    cfg = chip_config({0: conv(ones(1, 1), (4, 4), threshold_high=1, leak_enable=True,
                               biases=np.array([1], np.int16), monitor_enable=True)})
    t_in, period, n = 1000, 2000, 16
    inputs = [(t_in * (i + 1), 0, 0, 1, 1) for i in range(n_in)]
    opts = RunOptions(slow_clock_hz=1e9 / period, **stop)
    t_stop = opts.end_ns if opts.end_ns is not None else inputs[-1][0] + opts.drain_ns
    depth = chip.out_depth[0]
    # inputs 1.. are sent on time (LINK < 1 us) while core 0's FIFO has a slot, then the link waits
    sent = 1 + min(n_in - 1, chip.fifo_depth[0], sum(1 for t, *_ in inputs[1:] if t <= t_stop))
    enter, copy, stalls = [], [], []
    s_in = t_in + p.LAT
    end_in = _through_queue(s_in, p.EV, p.SY, 1, depth, p.RT, enter, copy, stalls)   # the input fires (F3)
    first_out = host_output([copy[0] + p.RT], chip)[0]
    assert end_in < period < first_out - p.HL               # core 0 idle, host output busy at the first tick
    # T5: the first tick's job starts at once; each later one starts when the previous ends, taken
    # by the first tick in (start, end] (a tick at a job's end comes before the server's turn);
    # the other ticks of that span find it waiting (merged)
    jobs, s, merged = [], period, 0
    while s <= t_stop:
        end = _through_queue(s, p.EV, p.LK, n, depth, p.RT, enter, copy, stalls)
        jobs.append((s, end))
        ticks = [t for t in range(period, t_stop + 1, period) if s < t <= end]
        assert ticks or end > t_stop               # a job always waits when one ends
        merged += max(0, len(ticks) - 1)
        s = end
    s_last = jobs[-1][0]
    leak_waiting = any(s_last < t <= t_stop for t in range(period, t_stop + 1, period))
    outs = host_output([c + p.RT for c in copy], chip)
    addr = [(1, 1, 0)] + [(i % 4, i // 4, -1) for i in range(n)] * len(jobs)    # F4 order (f, y, x)
    rows = [(t, 0, 0, x, y, root) for t, (x, y, root) in zip(outs, addr) if t <= t_stop]
    pending0 = ((sent - 1) + 1 + int(leak_waiting)          # FIFO, the job in service, a waiting job
                + sum(1 for m in range(len(enter)) if enter[m] <= t_stop < copy[m]))
    pending_host = sum(1 for c in copy if c <= t_stop) - len(rows)
    exp = Expected(outputs=rows, lag_ns=[p.LAT] * sent + [-1] * (n_in - sent), t_end_ns=t_stop,
                   cut=opts.end_ns is None, active=(0, 11), unsent=n_in - sent,
                   states={0: np.zeros((1, 4, 4), np.int64)},
                   stats={(0, "leak_jobs"): len(jobs), (0, "leak_ticks_merged"): merged, (0, "served"): 1,
                          (0, "events_in"): sent,
                          (0, "busy_ns"): (end_in - s_in) + _clipped(jobs, t_stop),
                          (0, "stall_ns"): _clipped(stalls, t_stop), (0, "pending"): pending0,
                          (11, "pending"): pending_host})
    assert len(jobs) > 2 and pending_host > 0
    return Scenario(name, ("T12", "T5", "T4", "F4"), cfg, chip, opts, spike_in(*inputs), exp)


@_scenarios
def endless_leak():
    # 20.5 us: the sixth job is in service, and the tick at 18 us left a seventh waiting
    out = [_endless_leak("endless_leak_cut_by_drain_ns", drain_ns=19_500),
           _endless_leak("endless_leak_stopped_by_end_ns", end_ns=20_500),
           # 24 inputs: 16 fill the FIFO, 7 are never sent; the cut is 4 us after the last one
           _endless_leak("endless_leak_holds_the_link", n_in=24, drain_ns=4000)]
    e = out[0].expected
    assert (e.stats[(0, "leak_jobs")], e.stats[(0, "leak_ticks_merged")], e.stats[(0, "pending")]) == (6, 3, 3)
    assert out[2].expected.unsent == 7
    return out


@_scenarios
def drain_limit_at_the_end():
    """T12 without end_ns: a run that ends by itself at the drain limit is not cut (nothing is
    left, and its output, timed HL after its last instant, is reported); with the limit 1 ns
    earlier the host output is still serving that output: the run is cut there and the output,
    which would come after the end, is pending. The one-core anchor chain (T10)."""
    p = timing(CHIP)
    copy = p.LAT + p.EV + 5 * p.SY                 # the monitor copy; core 0 ends at LAT + EV + 9 SY
    t_idle = copy + p.RT + p.HO                    # the host output ends its service: the last instant
    assert t_idle > p.LAT + p.EV + 9 * p.SY
    out = host_output([copy + p.RT], CHIP)[0]
    return [
        Scenario("drain_limit_at_the_natural_end", ("T12", "T7"), anchor_chain(1), CHIP,
                 RunOptions(drain_ns=t_idle), spike_in((0, 0, 0, 8, 8)),
                 Expected(outputs=[(out, 0, 0, 8, 8, 0)], t_end_ns=t_idle, cut=False, active=(), unsent=0,
                          stats={(11, "pending"): 0, (11, "busy_ns"): p.HO})),
        Scenario("drain_limit_1ns_before_the_end", ("T12", "T7"), anchor_chain(1), CHIP,
                 RunOptions(drain_ns=t_idle - 1), spike_in((0, 0, 0, 8, 8)),
                 Expected(outputs=[], t_end_ns=t_idle - 1, cut=True, active=(11,), unsent=0,
                          stats={(11, "pending"): 1, (11, "busy_ns"): p.HO - 1})),
    ]
