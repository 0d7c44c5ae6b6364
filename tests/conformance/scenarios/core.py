"""Scenarios of what a core computes and when: T10, F1-F3, F5, T0-T4 (notation: base.py)."""

from __future__ import annotations

import numpy as np

from .base import (anchor_chain, CHIP, chip_config, conv, Expected, eye, host_output, ones, OPTS, Scenario, spike_in,
                   timing, to, _scenarios)


# ----------------------------------------------------------------------------------------------
# T10: the calibration anchor
# ----------------------------------------------------------------------------------------------

@_scenarios
def t10_anchors():
    out = []
    for n, published in ((1, 1580), (9, 3360)):
        p = timing(CHIP)
        # centre weight = SynOp 5 of 9 in F2 order: the spike completes at s + EV + 5*SY; its copy
        # starts then and arrives RT later, where the next core starts at once (T0, T3, T4)
        t_spike_last = p.LAT + n * (p.EV + 5 * p.SY + p.RT) - p.RT
        t_out = host_output([t_spike_last + p.RT], CHIP)[0]
        assert t_out == p.LAT + n * (p.EV + 5 * p.SY + p.RT) + p.HO + p.HL      # the SPEC T10 formula
        assert abs(t_out - published) <= 0.05 * published                      # within 5 % of [doc]
        stats = {(k, "synops"): 9 for k in range(n)}
        stats.update({(k, "busy_ns"): p.EV + 9 * p.SY for k in range(n)})
        out.append(Scenario(
            f"t10_anchor_{n}_core{'s' if n > 1 else ''}", ("T10", "T1", "T3", "T4", "T7", "F2", "F3", "F5"),
            anchor_chain(n), CHIP, OPTS, spike_in((0, 0, 0, 8, 8)),
            Expected(outputs=[(t_out, n - 1, 0, 8, 8, 0)], lag_ns=[p.LAT], stats=stats),
            f"published latency {published} ns"))
    return out


# ----------------------------------------------------------------------------------------------
# F1-F3: what a core computes
# ----------------------------------------------------------------------------------------------

@_scenarios
def scatter_order():
    """F2: SynOps in (ky, kx) row-major order, output features inner; every SynOp fires (weights
    1, threshold 1) so the monitored spikes show the order. RT = 10 < SY so the stage never holds
    a spike back; the host output (HO each) sets the output times."""
    chip = CHIP.replace(route_ns=10)
    p = timing(chip)
    cfg = chip_config({0: conv(ones(2, 1, 3), (5, 5), padding=1, monitor_enable=True)})
    rows, arrivals = [], []
    # event 0 at (2, 2): all 9 offsets valid (18 SynOps); event 1 at (0, 0) at 10 us: ky, kx in {0, 1}
    for t_in, (x, y), root in ((0, (2, 2), 0), (10_000, (0, 0), 1)):
        s = t_in + p.LAT
        j = 0
        for ky in range(3):
            for kx in range(3):
                oy, ox = y + 1 - ky, x + 1 - kx
                if not (0 <= oy < 5 and 0 <= ox < 5):
                    continue
                for f in range(2):
                    arrivals.append(s + p.EV + (j + 1) * p.SY + p.RT)
                    rows.append([None, 0, f, ox, oy, root])
                    j += 1
    for row, t in zip(rows, host_output(arrivals, chip)):
        row[0] = t
    exp = Expected(outputs=[tuple(r) for r in rows],
                   stats={(0, "synops"): 18 + 8, (0, "spikes"): 26, (0, "busy_ns"): 2 * p.EV + 26 * p.SY})
    return Scenario("scatter_order", ("F2", "F3", "T3", "T7"), cfg, chip, OPTS,
                    spike_in((0, 0, 0, 2, 2), (10_000, 0, 0, 0, 0)), exp)


@_scenarios
def scatter_stride_padding():
    """F2 validity with stride 2 and padding 1 (6x6 input, 3x3 kernel -> 3x3 output)."""
    p = timing(CHIP)
    cfg = chip_config({0: conv(ones(1, 1, 3), (6, 6), stride=2, padding=1, monitor_enable=True)})
    # event (x=3, y=2): ny = 3 - ky is even only for ky = 1 (oy = 1); nx = 4 - kx even for kx = 0
    # (ox = 2) and kx = 2 (ox = 1): SynOps j=0 -> (1, 2), j=1 -> (1, 1). Spikes at T+SY, T+2SY;
    # the stage copies the first at once and the second when free again (RT > SY).
    T = p.LAT + p.EV
    c0 = T + p.SY
    c1 = max(T + 2 * p.SY, c0 + p.RT)
    # event (x=0, y=0) at 5 us: only ky = kx = 1 is valid -> neuron (0, 0)
    T2 = 5_000 + p.LAT + p.EV
    outs = host_output([c0 + p.RT, c1 + p.RT, T2 + p.SY + p.RT], CHIP)
    exp = Expected(outputs=[(outs[0], 0, 0, 2, 1, 0), (outs[1], 0, 0, 1, 1, 0), (outs[2], 0, 0, 0, 0, 1)],
                   stats={(0, "synops"): 3, (0, "busy_ns"): 2 * p.EV + 3 * p.SY})
    return Scenario("scatter_stride_padding", ("F2", "T3", "T4"), cfg, CHIP, OPTS,
                    spike_in((0, 0, 0, 3, 2), (5_000, 0, 0, 0, 0)), exp)


@_scenarios
def out_of_range_input():
    """F1: events outside the input space are served like events without a valid offset (EV)
    and counted; the valid one after them is processed."""
    p = timing(CHIP)
    cfg = chip_config({0: conv(ones(1, 1), (4, 4), monitor_enable=True)})
    inp = spike_in((0, 0, 1, 0, 0),     # feature 1 >= C_in
                   (0, 0, 0, 4, 0),     # x = 4 >= W_in
                   (0, 0, 0, 2, 3))     # valid
    # the link starts them at 0, LINK, 2*LINK (T1); they are available LAT later
    s0 = p.LAT
    s1 = max(s0 + p.EV, p.LINK + p.LAT)
    s2 = max(s1 + p.EV, 2 * p.LINK + p.LAT)
    t_out = host_output([s2 + p.EV + p.SY + p.RT], CHIP)[0]
    exp = Expected(outputs=[(t_out, 0, 0, 2, 3, 2)],
                   stats={(0, "dropped_out_of_range"): 2, (0, "served"): 3, (0, "synops"): 1,
                          (0, "busy_ns"): 3 * p.EV + p.SY},
                   series={("dropped", 0): {s0 // OPTS.bin_ns: 2}})
    return Scenario("out_of_range_input", ("F1", "T3"), cfg, CHIP, OPTS, inp, exp)


def _single_neuron(name, rules, weights, n_inputs, fires, final, chip=CHIP, **kw):
    """One 1x1 core on a 1x1 map fed n_inputs events 1 us apart (no timing interaction).
    `fires` lists the inputs that make a spike, as i (feature 0) or (i, feature); `final` the
    final state per feature."""
    p = timing(chip)
    cfg = chip_config({0: conv(weights, (1, 1), monitor_enable=True, **kw)})
    rows = []
    for fire in fires:
        i, f = fire if isinstance(fire, tuple) else (fire, 0)
        # T3: SynOp f of the event completes at s + EV + (f+1)*SY
        rows.append((host_output([i * 1000 + p.LAT + p.EV + (f + 1) * p.SY + p.RT], chip)[0], 0, f, 0, 0, i))
    inp = spike_in(*[(i * 1000, 0, 0, 0, 0) for i in range(n_inputs)])
    exp = Expected(outputs=rows, states={0: np.array(final, np.int64).reshape(-1, 1, 1)})
    return Scenario(name, rules, cfg, chip, OPTS, inp, exp)


@_scenarios
def neuron_updates():
    return [
        # F3 subtract (default), threshold 5, +3 per input: 3; 6 fires -> 1; 4; 7 fires -> 2;
        # 5 fires (at exactly the threshold) -> 0
        _single_neuron("reset_subtract", ("F3",), ones(1, 1, value=3), 5, [1, 3, 4], [0], threshold_high=5),
        # F3 return_to_zero: 3, 0*, 3, 0*, 3
        _single_neuron("reset_to_zero", ("F3",), ones(1, 1, value=3), 5, [1, 3], [3], threshold_high=5,
                       return_to_zero=True),
        # F3 threshold_low: -5, -10 -> -7, -12 -> -7
        _single_neuron("threshold_low_clamp", ("F3",), ones(1, 1, value=-5), 3, [], [-7], threshold_high=5,
                       threshold_low=-7),
        # F3 + SPEC §0 sat16, F8 initial state: f0 = 32700 + 100 saturates to 32767 >= 32700, fires,
        # 32767 - 32700 = 67; f1 = -32700 - 100 saturates to -32768 (threshold_low -32768)
        _single_neuron("saturation", ("F3", "F8"), np.array([[[[100]]], [[[-100]]]]), 1, [(0, 0)], [67, -32768],
                       threshold_high=32700, threshold_low=-32768,
                       neurons_initial_value=np.array([32700, -32700], np.int16).reshape(2, 1, 1)),
        # state_overflow = "wrap": f0 = 32800 wraps to -32736 (no spike); f1 = -32800 wraps to
        # 32736 >= 32700, fires (SynOp 1), 32736 - 32700 = 36
        _single_neuron("wrap", ("F3", "F8"), np.array([[[[100]]], [[[-100]]]]), 1, [(0, 1)], [-32736, 36],
                       chip=CHIP.replace(state_overflow="wrap"), threshold_high=32700, threshold_low=-32768,
                       neurons_initial_value=np.array([32700, -32700], np.int16).reshape(2, 1, 1)),
    ]


@_scenarios
def initial_state():
    """F8: neurons start from neurons_initial_value: the neuron at (1, 1) starts at 4 and fires
    on its first +1 (threshold 5); (0, 0) starts at 0 and does not."""
    p = timing(CHIP)
    init = np.zeros((1, 3, 3), np.int16)
    init[0, 1, 1] = 4
    cfg = chip_config({0: conv(ones(1, 1), (3, 3), threshold_high=5, monitor_enable=True,
                               neurons_initial_value=init)})
    t_out = host_output([1000 + p.LAT + p.EV + p.SY + p.RT], CHIP)[0]
    final = init.astype(np.int64).copy()
    final[0, 0, 0] = 1
    final[0, 1, 1] = 0
    exp = Expected(outputs=[(t_out, 0, 0, 1, 1, 1)], states={0: final})
    return Scenario("initial_state", ("F8", "F3"), cfg, CHIP, OPTS, spike_in((0, 0, 0, 0, 0), (1000, 0, 0, 1, 1)),
                    exp)


# ----------------------------------------------------------------------------------------------
# F5: the output path
# ----------------------------------------------------------------------------------------------

@_scenarios
def decimators():
    """F5.1 for every interval code: of 2N spikes only the N-th and 2N-th go on."""
    out = []
    p = timing(CHIP)
    for code, n in enumerate(CHIP.decimator_ratios):
        cfg = chip_config({0: conv(ones(1, 1), (1, 1), monitor_enable=True, output_decimator_enable=True,
                                   output_decimator_interval=code)})
        m = 2 * n
        gap = 200       # > EV + SY and > LINK: every input is served alone
        inp = spike_in(*[(i * gap, 0, 0, 0, 0) for i in range(m)])
        rows = [(host_output([i * gap + p.LAT + p.EV + p.SY + p.RT], CHIP)[0], 0, 0, 0, 0, i) for i in (n - 1, m - 1)]
        exp = Expected(outputs=rows, stats={(0, "spikes"): m, (0, "decimated"): m - 2, (0, "copies"): 2})
        out.append(Scenario(f"decimator_code_{code}", ("F5",), cfg, CHIP, OPTS, inp, exp, f"1 of {n} spikes"))
    return out


@_scenarios
def feature_shift():
    """F5.3: core 0's features 0, 1 arrive at core 1 as 2, 3 (feature_shift 2)."""
    p = timing(CHIP)
    cfg = chip_config({0: conv(ones(2, 1), (2, 2), destinations=[to(1, 1, 2)]),
                       1: conv(eye(4, 4), (2, 2), monitor_enable=True)})
    T = p.LAT + p.EV
    copy_a, copy_b = T + p.SY, T + p.SY + p.RT       # f0 at T+SY; f1 (T+2SY) waits for the stage
    # core 1: event (2, 1, 0) from copy_a; 4 SynOps (C_out 4), feature 2 fires at SynOp 2
    s_a = copy_a + p.RT
    spike_a = s_a + p.EV + 3 * p.SY
    s_b = max(s_a + p.EV + 4 * p.SY, copy_b + p.RT)
    spike_b = s_b + p.EV + 4 * p.SY                  # feature 3 = SynOp 3
    outs = host_output([spike_a + p.RT, spike_b + p.RT], CHIP)
    exp = Expected(outputs=[(outs[0], 1, 2, 1, 0, 0), (outs[1], 1, 3, 1, 0, 0)])
    return Scenario("feature_shift", ("F5", "T4"), cfg, CHIP, OPTS, spike_in((0, 0, 0, 1, 0)), exp)


@_scenarios
def two_destinations_pooling():
    """F5.3, T4: destination 0 pools by 2, destination 1 by 4; copies one RT apart."""
    p = timing(CHIP)
    cfg = chip_config({0: conv(ones(1, 1), (8, 8), destinations=[to(1, 2), to(2, 4)]),
                       1: conv(eye(1, 1), (4, 4), monitor_enable=True),
                       2: conv(eye(1, 1), (2, 2), monitor_enable=True)})
    spike = p.LAT + p.EV + p.SY
    s1 = spike + p.RT                 # (7, 5) // 2 = (3, 2) at core 1
    s2 = spike + 2 * p.RT             # (7, 5) // 4 = (1, 1) at core 2: second copy
    arr = [s1 + p.EV + p.SY + p.RT, s2 + p.EV + p.SY + p.RT]
    outs = host_output(arr, CHIP)
    exp = Expected(outputs=[(outs[0], 1, 0, 3, 2, 0), (outs[1], 2, 0, 1, 1, 0)],
                   stats={(0, "copies"): 2, (1, "events_in"): 1, (2, "events_in"): 1})
    return Scenario("two_destinations_pooling", ("F5", "T4"), cfg, CHIP, OPTS, spike_in((0, 0, 0, 7, 5)), exp)


@_scenarios
def monitor_then_destination():
    """F5.2/F5.3 order: the monitor copy (raw address) first, then the pooled destination copy."""
    p = timing(CHIP)
    cfg = chip_config({0: conv(ones(1, 1), (8, 8), monitor_enable=True, destinations=[to(1, 2)]),
                       1: conv(eye(1, 1), (4, 4), monitor_enable=True)})
    spike = p.LAT + p.EV + p.SY
    s1 = spike + p.RT + p.RT          # destination copy starts when the monitor copy's RT is over
    outs = host_output([spike + p.RT, s1 + p.EV + p.SY + p.RT], CHIP)
    exp = Expected(outputs=[(outs[0], 0, 0, 5, 3, 0), (outs[1], 1, 0, 2, 1, 0)])
    return Scenario("monitor_then_destination", ("F5", "T4", "T7"), cfg, CHIP, OPTS, spike_in((0, 0, 0, 5, 3)),
                    exp)


@_scenarios
def merge_two_cores():
    """Two cores feed one (merge): its FIFO serves in transfer-start order (T2)."""
    p = timing(CHIP)
    cfg = chip_config({0: conv(ones(1, 1), (4, 4), destinations=[to(2, 1, 0)]),
                       1: conv(ones(1, 1), (4, 4), destinations=[to(2, 1, 1)]),
                       2: conv(eye(2, 2), (4, 4), monitor_enable=True)})
    inp = spike_in((0, 0, 0, 1, 2), (0, 1, 0, 3, 0))
    a = p.LAT + p.EV + p.SY + p.RT                 # core 0's copy arrives at core 2
    b = p.LINK + p.LAT + p.EV + p.SY + p.RT        # core 1's (its input started LINK later)
    s_a = a                                        # core 2: 2 SynOps per event
    spike_a = s_a + p.EV + p.SY                    # feature 0 = SynOp 0
    s_b = max(s_a + p.EV + 2 * p.SY, b)
    spike_b = s_b + p.EV + 2 * p.SY                # feature 1 = SynOp 1
    outs = host_output([spike_a + p.RT, spike_b + p.RT], CHIP)
    exp = Expected(outputs=[(outs[0], 2, 0, 1, 2, 0), (outs[1], 2, 1, 3, 0, 1)], stats={(2, "events_in"): 2})
    return Scenario("merge_two_cores", ("F5", "T2", "T3"), cfg, CHIP, OPTS, inp, exp)


# ----------------------------------------------------------------------------------------------
# T0-T4: credits, FIFOs, service, output stage
# ----------------------------------------------------------------------------------------------

@_scenarios
def same_ns_arbitration():
    """T0: cores 0 and 1 finish a spike in the same nanosecond, both for core 2 whose FIFO has one
    slot. Core 0 (rank 2) goes first although core 1's input came first; core 1's copy starts
    when core 2 starts serving (the freed slot is free at that very nanosecond)."""
    chip = CHIP.replace(fifo_depth={2: 1})
    p = timing(chip)
    w1 = np.zeros((1, 1, 3, 3), np.int8)
    w1[0, 0, 1, 1] = 1
    cfg = chip_config({0: conv(ones(1, 1), (3, 3), destinations=[to(2)]),
                       1: conv(w1, (3, 3), padding=1, destinations=[to(2)]),
                       2: conv(eye(1, 1), (3, 3), monitor_enable=True)})
    inp = spike_in((0, 1, 0, 1, 1), (0, 0, 0, 0, 0))    # input 0 -> core 1, input 1 -> core 0
    spike1 = p.LAT + p.EV + 5 * p.SY                     # core 1: centre = SynOp 4
    spike0 = p.LINK + p.LAT + p.EV + p.SY                # core 0: started LINK later, SynOp 0
    assert spike0 == spike1                              # the same nanosecond
    s_a = spike0 + p.RT                                  # core 2 serves core 0's event ...
    copy1 = s_a                                          # ... and so frees the slot for core 1
    spike_a = s_a + p.EV + p.SY
    s_b = max(spike_a, copy1 + p.RT)
    spike_b = s_b + p.EV + p.SY
    outs = host_output([spike_a + p.RT, spike_b + p.RT], chip)
    exp = Expected(outputs=[(outs[0], 2, 0, 0, 0, 1), (outs[1], 2, 0, 1, 1, 0)],
                   stats={(2, "fifo_max"): 1, (2, "fifo_area"): (s_a - spike0) + (s_b - copy1)})
    return Scenario("same_ns_arbitration", ("T0", "T2", "T4"), cfg, chip, OPTS, inp, exp)


@_scenarios
def backpressure_tiny_fifo():
    """T0/T1/T2: a one-slot FIFO holds the input link: input i starts only when core 0 starts
    serving input i-1, so s_i = i * LAT and the input lag is (i+1) * LAT."""
    chip = CHIP.replace(fifo_depth={0: 1})
    p = timing(chip)
    cfg = chip_config({0: conv(ones(1, 1), (1, 1), monitor_enable=True)})
    n = 4
    inp = spike_in(*[(0, 0, 0, 0, 0)] * n)
    starts = [i * p.LAT for i in range(n)]               # link starts (T1 + T0)
    serve = [s + p.LAT for s in starts]                  # core 0 starts (frees the slot)
    outs = host_output([s + p.EV + p.SY + p.RT for s in serve], chip)
    exp = Expected(outputs=[(outs[i], 0, 0, 0, 0, i) for i in range(n)],
                   lag_ns=[s + p.LAT for s in starts],
                   stats={(0, "fifo_max"): 1, (0, "fifo_area"): n * p.LAT, (0, "busy_ns"): n * (p.EV + p.SY)})
    return Scenario("backpressure_tiny_fifo", ("T0", "T1", "T2"), cfg, chip, OPTS, inp, exp)


@_scenarios
def fifo_service_order():
    """T2/T3: three events wait in core 0's FIFO and are served in order, each at the later of
    the previous end and its arrival; fifo_area = sum of each event's wait from transfer start."""
    p = timing(CHIP)
    w = np.zeros((1, 1, 3, 3), np.int8)
    w[0, 0, 1, 1] = 1
    cfg = chip_config({0: conv(w, (5, 5), padding=1, monitor_enable=True)})
    inp = spike_in((0, 0, 0, 2, 2), (0, 0, 0, 2, 2), (0, 0, 0, 2, 2))
    job = p.EV + 9 * p.SY
    starts, s = [], None
    for i in range(3):
        avail = i * p.LINK + p.LAT
        s = avail if s is None else max(s + job, avail)
        starts.append(s)
    outs = host_output([s + p.EV + 5 * p.SY + p.RT for s in starts], CHIP)
    exp = Expected(outputs=[(outs[i], 0, 0, 2, 2, i) for i in range(3)],
                   stats={(0, "fifo_max"): 3, (0, "fifo_area"): sum(starts[i] - i * p.LINK for i in range(3)),
                          (0, "busy_ns"): 3 * job, (0, "served"): 3},
                   t_end_ns=max(starts[-1] + job, outs[-1] - p.HL))
    return Scenario("fifo_service_order", ("T2", "T3"), cfg, CHIP, OPTS, inp, exp)


@_scenarios
def output_queue_stall():
    """T4: one-spike output queue and RT = 100: a spike that finds the queue full stalls the core
    and shifts every later SynOp; a second queued event starts when the stalled job ends (T3)."""
    chip = CHIP.replace(route_ns={0: 100}, out_depth={0: 1})
    p = timing(chip)
    cfg = chip_config({0: conv(ones(3, 1), (1, 1), monitor_enable=True)})
    inp = spike_in((0, 0, 0, 0, 0), (0, 0, 0, 0, 0))
    RT = p.RT
    # job 0 (s = LAT): SynOps complete at T+SY, T+2SY, T+3SY, T = LAT + EV
    T = p.LAT + p.EV
    copy0 = T + p.SY                     # spike 0 enters, copied at once; the stage is busy until copy0 + RT
    enter1 = T + 2 * p.SY                # spike 1 enters the empty queue
    copy1 = copy0 + RT                   # spike 1 leaves when copied ...
    stall_a = copy1 - (T + 3 * p.SY)     # ... so spike 2 (due T+3SY) waits until then
    end0 = T + 3 * p.SY + stall_a        # = copy1, when spike 2 enters
    copy2 = copy1 + RT
    # job 1 starts at end0 (its event has been waiting): SynOps at T1 + SY, + 2SY, + 3SY (+ stalls)
    T1 = end0 + p.EV
    enter_a = T1 + p.SY                  # spike 2 left at copy2 <= enter_a: queue empty
    assert copy2 <= enter_a and enter1 < copy1
    copy_a = copy2 + RT                  # the stage is busy with spike 2's copy until then
    stall_b = copy_a - (T1 + 2 * p.SY)   # spike b waits for spike a to leave
    copy_b = copy_a + RT
    stall_c = copy_b - (T1 + 3 * p.SY + stall_b)
    end1 = T1 + 3 * p.SY + stall_b + stall_c
    copy_c = copy_b + RT
    copies = [copy0, copy1, copy2, copy_a, copy_b, copy_c]
    outs = host_output([c + RT for c in copies], chip)
    rows = [(outs[i], 0, i % 3, 0, 0, i // 3) for i in range(6)]
    exp = Expected(outputs=rows,
                   stats={(0, "stall_ns"): stall_a + stall_b + stall_c, (0, "busy_ns"): (end0 - p.LAT) + (end1 - end0),
                          (0, "out_max"): 1, (0, "copies"): 6},
                   series={("stall_ns", 0): {0: stall_a + stall_b + stall_c}})
    assert (stall_a, stall_b, stall_c) == (60, 77, 80)   # with the Speck2f EV, SY
    return Scenario("output_queue_stall", ("T4", "T3"), cfg, chip, OPTS, inp, exp)


@_scenarios
def pop_in_a_later_round():
    """T0/T2/T4: a job whose last spike waits for its output-queue slot until the stage's copy at
    t (the senders' turn) ends in a later round of t, and so does the start of the next event:
    an input the link sends at t, in the first round, finds that event still in the FIFO.
    One SynOp a job, RT = 3 > EV + SY = 2, a one-spike queue, inputs at 0 (six) and 6, 7, 8, 9."""
    chip = CHIP.replace(event_ns={0: 1}, synop_ns={0: 1}, route_ns={0: 3}, out_depth={0: 1}, fifo_depth={0: 8},
                        host_in_ns=1, host_in_latency_ns=1)
    p = timing(chip)
    cfg = chip_config({0: conv(ones(1, 1), (1, 1), monitor_enable=True)})
    t_in = [0] * 6 + [6, 7, 8, 9]
    sent = []
    for t in t_in:                                      # T1: no wait for a slot (checked below)
        sent.append(t if not sent else max(t, sent[-1] + p.LINK))
    starts, ends, copies, late_end = [], [], [], []
    for s in sent:
        start = s + p.LAT if not ends else max(s + p.LAT, ends[-1])
        due = start + p.EV + p.SY                       # the job's one SynOp, which fires
        # one-spike queue: the spike enters once the last one's copy has started; when that copy
        # starts at `due` or later (senders' turn), the spike enters, and the job ends, a round later
        entry = due if not copies else max(due, copies[-1])
        late_end.append(bool(copies) and copies[-1] >= due)
        starts.append(start)
        ends.append(entry)
        copies.append(entry if len(copies) == 0 else max(entry, copies[-1] + p.RT))
    # a start at the end of a job that ended in a later round is in that later round too
    late_start = [i > 0 and starts[i] == ends[i - 1] and late_end[i - 1] for i in range(len(sent))]
    occupancy = []
    for k, s in enumerate(sent):
        # the link sends in the first round: before a start of a later round at the same ns
        popped = sum(1 for j in range(len(sent)) if starts[j] < s or (starts[j] == s and not late_start[j]))
        occupancy.append(k + 1 - popped)
    assert max(occupancy) <= chip.fifo_depth[0]         # the link never waited for a slot
    ties = [k for k, s in enumerate(sent) if any(late_start[j] and starts[j] == s for j in range(len(sent)))]
    assert ties and occupancy[ties[0]] == max(occupancy)     # the tie sets the high-water mark
    outs = host_output([c + p.RT for c in copies], chip)
    exp = Expected(outputs=[(outs[i], 0, 0, 0, 0, i) for i in range(len(sent))],
                   lag_ns=[s + p.LAT - t for s, t in zip(sent, t_in)],
                   stats={(0, "fifo_max"): max(occupancy), (0, "out_max"): 1,
                          (0, "stall_ns"): sum(e - (s + p.EV + p.SY) for s, e in zip(starts, ends)),
                          (0, "busy_ns"): sum(e - s for s, e in zip(starts, ends))})
    return Scenario("pop_in_a_later_round", ("T0", "T2", "T4"), cfg, chip, OPTS,
                    spike_in(*[(t, 0, 0, 0, 0) for t in t_in]), exp)


@_scenarios
def host_output_backpressure():
    """T7/T0: a one-slot host-output FIFO holds core 0's stage (RT = 10 < HO), which holds its
    one-spike output queue, which stalls the core (T4)."""
    chip = CHIP.replace(route_ns={0: 10}, out_depth={0: 1}, host_out_fifo_depth=1)
    p = timing(chip)
    cfg = chip_config({0: conv(ones(4, 1), (1, 1), monitor_enable=True)})
    T = p.LAT + p.EV
    c0 = T + p.SY                        # host output serves it from c0 + RT to c0 + RT + HO
    c1 = T + 2 * p.SY                    # the host FIFO slot was freed at c0 + RT: free
    h0_end = c0 + p.RT + p.HO            # the host starts c1's event then, freeing its slot
    c2 = h0_end                          # spike 2 (T+3SY) entered, its copy waits for that slot
    stall = c2 - (T + 4 * p.SY)          # spike 3 waits in the SynOp until spike 2 leaves
    h1_end = h0_end + p.HO
    c3 = h1_end                          # and its copy waits for the next slot
    assert c1 >= c0 + p.RT and T + 3 * p.SY >= c1 + p.RT and stall == 30
    outs = host_output([c0 + p.RT, c1 + p.RT, c2 + p.RT, c3 + p.RT], chip)
    exp = Expected(outputs=[(outs[i], 0, i, 0, 0, 0) for i in range(4)],
                   stats={(0, "stall_ns"): stall, (0, "busy_ns"): p.EV + 4 * p.SY + stall, (11, "fifo_max"): 1})
    return Scenario("host_output_backpressure", ("T7", "T0", "T4"), cfg, chip, OPTS, spike_in((0, 0, 0, 0, 0)), exp)
