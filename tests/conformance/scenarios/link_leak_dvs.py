"""Scenarios of the input link and balancer, leak, the DVS layer and readout, determinism and
deadlock: T1, T6, F4, T5, F6, T11, T8, T9 (notation: base.py)."""

from __future__ import annotations

import numpy as np

from speksim.config import RunOptions, Vec2
from speksim.engine.compiled import DVS

from .base import (anchor_chain, CHIP, chip_config, conv, dvs_in, dvs_layer, Expected, eye, host_output, ones, OPTS,
                   Scenario, spike_in, timing, to, _scenarios)


# ----------------------------------------------------------------------------------------------
# T1, T6: input link and congestion balancer
# ----------------------------------------------------------------------------------------------

@_scenarios
def input_lag():
    """T1: inputs closer than LINK are spaced by it; lag = s_i + LAT - t_i."""
    p = timing(CHIP)
    cfg = chip_config({0: conv(ones(1, 1), (1, 1), threshold_high=100)})
    ts = [0, 10, 20, 1000]
    starts, prev = [], None
    for t in ts:
        prev = t if prev is None else max(t, prev + p.LINK)
        starts.append(prev)
    serve, end = [], 0
    for s in starts:
        end = max(end, s + p.LAT) + p.EV + p.SY
        serve.append(end)
    exp = Expected(outputs=[], lag_ns=[s + p.LAT - t for s, t in zip(starts, ts)], t_end_ns=serve[-1],
                   stats={(0, "busy_ns"): 4 * (p.EV + p.SY)})
    assert exp.lag_ns == [640, 710, 780, 640]
    return Scenario("input_lag", ("T1",), cfg, CHIP, OPTS, spike_in(*[(t, 0, 0, 0, 0) for t in ts]), exp)


@_scenarios
def no_input():
    """End of a run (docs/chip-model.md): with no input the run ends at 0, or at end_ns if given."""
    cfg = chip_config({0: conv(ones(1, 1), (1, 1), monitor_enable=True)})
    return [Scenario("no_input", ("T1",), cfg, CHIP, OPTS, spike_in(), Expected(outputs=[], lag_ns=[], t_end_ns=0)),
            Scenario("no_input_until_end_ns", ("T1",), cfg, CHIP, RunOptions(bin_ns=1000, end_ns=5000), spike_in(),
                     Expected(outputs=[], lag_ns=[], t_end_ns=5000, series={("busy_ns", 0): {5: 0}}))]


@_scenarios
def balancer_input_link():
    """T6 at the input link: core 0's one-slot FIFO is taken; inputs 1 and 2 are dropped at once
    (lag -1) and do not count as the link's previous start; input 3 goes when the slot is free."""
    chip = CHIP.replace(fifo_depth={0: 1})
    p = timing(chip)
    cfg = chip_config({0: conv(ones(1, 1), (1, 1), monitor_enable=True, input_congestion_balancer_enable=True)})
    inp = spike_in((0, 0, 0, 0, 0), (0, 0, 0, 0, 0), (0, 0, 0, 0, 0), (700, 0, 0, 0, 0))
    # input 0 starts at 0 (slot until LAT); 1 and 2 are due at LINK, find the FIFO full: dropped;
    # input 3: max(700, 0 + LINK) = 700 > LAT, the slot is free again
    outs = host_output([p.LAT + p.EV + p.SY + p.RT, 700 + p.LAT + p.EV + p.SY + p.RT], chip)
    exp = Expected(outputs=[(outs[0], 0, 0, 0, 0, 0), (outs[1], 0, 0, 0, 0, 3)],
                   lag_ns=[p.LAT, -1, -1, p.LAT],
                   stats={(0, "congestion_dropped"): 2, (0, "events_in"): 2},
                   series={("dropped", 0): {0: 2}})
    return Scenario("balancer_input_link", ("T6", "T1"), cfg, chip, OPTS, inp, exp)


@_scenarios
def balancer_output_stage():
    """T6 at an output stage: core 1 (balancer, one-slot FIFO) is busy, so core 0's third copy is
    dropped and costs the stage no time."""
    chip = CHIP.replace(fifo_depth={1: 1})
    p = timing(chip)
    cfg = chip_config({0: conv(ones(3, 1), (1, 1), destinations=[to(1)]),
                       1: conv(eye(3, 3), (1, 1), monitor_enable=True, input_congestion_balancer_enable=True)})
    T = p.LAT + p.EV
    c0 = T + p.SY                 # -> core 1 at c0 + RT, served at once (3 SynOps)
    s_a = c0 + p.RT
    c1 = c0 + p.RT                # the slot was freed at s_a = c1: copy 1 goes
    c2 = c1 + p.RT                # core 1 still serves a, copy 1 holds the slot: dropped
    assert s_a + p.EV + 3 * p.SY > c2
    spike_a = s_a + p.EV + p.SY                       # feature 0 = SynOp 0
    s_b = max(s_a + p.EV + 3 * p.SY, c1 + p.RT)
    spike_b = s_b + p.EV + 2 * p.SY                   # feature 1 = SynOp 1
    outs = host_output([spike_a + p.RT, spike_b + p.RT], chip)
    exp = Expected(outputs=[(outs[0], 1, 0, 0, 0, 0), (outs[1], 1, 1, 0, 0, 0)],
                   stats={(1, "congestion_dropped"): 1, (0, "copies"): 2, (1, "events_in"): 2},
                   series={("dropped", 1): {c2 // OPTS.bin_ns: 1}})
    return Scenario("balancer_output_stage", ("T6", "T4"), cfg, chip, OPTS, spike_in((0, 0, 0, 0, 0)), exp)


@_scenarios
def balancer_drop_then_next_input():
    """T6 + T1 + T0: a dropped input costs the link no time and is not its previous start, so the
    next input starts in the same nanosecond and, by rank (link 0 < core 1's stage 3), takes core
    0's only slot before core 1's spike. T8: fed in chunks, the dropped input may end a chunk; the
    next chunk's first input must still compete in that nanosecond (the chunked runs of every
    scenario check it). Every duration is 10 ns and HL = 0, so the instants are easy to follow."""
    chip = CHIP.replace(event_ns=10, synop_ns=10, route_ns=10, host_in_ns=10, host_in_latency_ns=10,
                        host_out_ns=10, host_out_latency_ns=0, fifo_depth={0: 1, 2: 1})
    p = timing(chip)
    cfg = chip_config({0: conv(ones(1, 1), (1, 1), monitor_enable=True),
                       1: conv(ones(1, 1), (1, 1), destinations=[to(0)]),
                       2: conv(np.zeros((3, 1, 1, 1), np.int8), (1, 1), input_congestion_balancer_enable=True)})
    inp = spike_in((0, 1, 0, 0, 0), (0, 2, 0, 0, 0), (0, 2, 0, 0, 0), (0, 2, 0, 0, 0), (0, 0, 0, 0, 0))
    # link starts (T1): input 0 (core 1) at 0; input 1 (core 2) at LINK, served from LINK + LAT;
    # input 2 (core 2) at 2 LINK = LINK + LAT, when core 2 frees its slot by starting input 1
    s = [0, p.LINK, 2 * p.LINK]
    assert s[2] == s[1] + p.LAT
    core2_busy = s[1] + p.LAT + p.EV + 3 * p.SY     # input 2 holds core 2's only slot until then
    # input 3 (core 2) at 3 LINK finds that slot taken: dropped (T6); input 4 (core 0) is due at
    # max(0, s[2] + LINK) = 3 LINK too, and core 1's spike completes in that same nanosecond
    t_drop = 3 * p.LINK
    spike1 = s[0] + p.LAT + p.EV + p.SY
    assert t_drop < core2_busy and spike1 == t_drop
    s4 = t_drop                                     # the link (rank 0) takes core 0's slot
    a4 = s4 + p.LAT                                 # core 0 serves input 4, freeing the slot ...
    copy1 = a4                                      # ... for core 1's copy
    spike_a = a4 + p.EV + p.SY
    s_b = max(a4 + p.EV + p.SY, copy1 + p.RT)       # core 0 serves core 1's event after input 4
    spike_b = s_b + p.EV + p.SY
    outs = host_output([spike_a + p.RT, spike_b + p.RT], chip)
    exp = Expected(outputs=[(outs[0], 0, 0, 0, 0, 4), (outs[1], 0, 0, 0, 0, 0)],
                   lag_ns=[s[0] + p.LAT, s[1] + p.LAT, s[2] + p.LAT, -1, s4 + p.LAT],
                   stats={(2, "congestion_dropped"): 1, (0, "events_in"): 2, (0, "fifo_max"): 1})
    assert exp.lag_ns == [10, 20, 30, -1, 40] and outs == [80, 100]
    return Scenario("balancer_drop_then_next_input", ("T6", "T1", "T0", "T8"), cfg, chip, OPTS, inp, exp)


@_scenarios
def balancer_drop_then_next_copy():
    """T6 + T0: core 0's copy to core 1 (balancer, full) is dropped and its next copy, to core 2,
    is tried at once, within core 0's turn (docs/chip-model.md: "tries its next copy at once"), so it
    takes core 2's only slot before core 3 (rank 5), whose spike completes in the same ns."""
    chip = CHIP.replace(fifo_depth={1: 1, 2: 1})
    p = timing(chip)
    w3 = np.zeros((4, 1, 3, 3), np.int8)
    w3[3, 0, 2, 2] = 1                       # SynOp 35 of 36: offset (2, 2), feature 3
    cfg = chip_config({
        0: conv(ones(1, 1), (3, 3), destinations=[to(1), to(2)]),
        1: conv(np.zeros((64, 1, 1, 1), np.int8), (3, 3), input_congestion_balancer_enable=True),
        2: conv(eye(4, 4), (3, 3), monitor_enable=True),
        3: conv(w3, (3, 3), padding=1, destinations=[to(2)])})
    inp = spike_in((0, 1, 0, 0, 0), (0, 3, 0, 1, 1), (700, 1, 0, 0, 0), (700, 0, 0, 2, 1))
    s_link = [0, p.LINK, 700, 700 + p.LINK]             # T1: 700 >= 2*LINK; input 3 waits LINK
    core1_job = p.EV + 64 * p.SY                         # keeps input 2 in core 1's FIFO ...
    spike3 = s_link[1] + p.LAT + p.EV + 36 * p.SY        # core 3: SynOp 35
    spike0 = s_link[3] + p.LAT + p.EV + p.SY             # core 0: SynOp 0
    assert spike0 == spike3 and s_link[2] < p.LAT + core1_job and spike0 < p.LAT + core1_job   # ... until then
    s_a = spike0 + p.RT                                  # core 2 serves core 0's copy, freeing the slot
    spike_a = s_a + p.EV + p.SY                          # feature 0 = SynOp 0 of 4
    s_b = max(s_a + p.EV + 4 * p.SY, s_a + p.RT)         # core 3's copy started at s_a
    spike_b = s_b + p.EV + 4 * p.SY                      # feature 3 = SynOp 3
    outs = host_output([spike_a + p.RT, spike_b + p.RT], chip)
    exp = Expected(outputs=[(outs[0], 2, 0, 2, 1, 3), (outs[1], 2, 3, 0, 0, 1)],
                   stats={(1, "congestion_dropped"): 1, (0, "copies"): 1, (2, "events_in"): 2})
    return Scenario("balancer_drop_then_next_copy", ("T6", "T0", "T4"), cfg, chip, OPTS, inp, exp)


# ----------------------------------------------------------------------------------------------
# F4, T5: leak
# ----------------------------------------------------------------------------------------------

@_scenarios
def leak_without_firing():
    """F4/T5: two ticks (period 10 us, end_ns 25 us) add the biases; with leak_can_fire false a
    neuron above threshold does not spike; threshold_low clamps feature 1."""
    p = timing(CHIP)
    init = np.zeros((2, 2, 2), np.int16)
    init[0] = [[1, 2], [-1, 0]]
    cfg = chip_config({0: conv(ones(2, 1), (2, 2), threshold_high=3, threshold_low=-7, leak_enable=True,
                               biases=np.array([2, -5], np.int16), neurons_initial_value=init)})
    opts = RunOptions(slow_clock_hz=100_000, end_ns=25_000)
    period = 10_000
    job = p.EV + 8 * p.LK                      # 8 neurons
    final = init.astype(np.int64)
    final[0] += 4                              # two ticks of +2, no spike
    final[1] = -7                              # 0, -5, -10 -> -7
    exp = Expected(outputs=[], t_end_ns=25_000, states={0: final},
                   stats={(0, "leak_jobs"): 2, (0, "busy_ns"): 2 * job, (0, "spikes"): 0},
                   series={("busy_ns", 0): {0: 2 * job}})
    assert period + job < 2 * period
    return Scenario("leak_without_firing", ("F4", "T5", "F8"), cfg, CHIP, opts, spike_in(), exp)


@_scenarios
def leak_can_fire():
    """F4/T5 with leak_can_fire: the second tick brings every neuron to 4 >= 3; spikes complete
    at s + EV + (i+1)*LK in (f, y, x) order and carry root -1."""
    chip = CHIP.replace(leak_can_fire=True)
    p = timing(chip)
    cfg = chip_config({0: conv(ones(1, 1), (2, 2), threshold_high=3, leak_enable=True,
                               biases=np.array([2], np.int16), monitor_enable=True)})
    opts = RunOptions(slow_clock_hz=100_000, end_ns=25_000)
    s = 20_000
    copies, free = [], 0
    for i in range(4):                         # the stage copies each when it is free again
        c = max(s + p.EV + (i + 1) * p.LK, free)
        copies.append(c)
        free = c + p.RT
    outs = host_output([c + p.RT for c in copies], chip)
    rows = [(outs[i], 0, 0, i % 2, i // 2, -1) for i in range(4)]
    exp = Expected(outputs=rows, t_end_ns=25_000, states={0: np.ones((1, 2, 2), np.int64)},
                   stats={(0, "leak_jobs"): 2, (0, "spikes"): 4})
    return Scenario("leak_can_fire", ("F4", "T5", "F5"), cfg, chip, opts, spike_in(), exp)


@_scenarios
def leak_tick_merge():
    """T5: ticks every 500 ns while a long event job (SY = 200 on core 0) runs: the first one
    queues a leak job, the next six find it still waiting (merged); the leak job goes before
    nothing else and runs when the event job ends; the run ends when the chip is idle."""
    chip = CHIP.replace(synop_ns={0: 200})
    p = timing(chip)
    cfg = chip_config({0: conv(ones(16, 1), (1, 1), threshold_high=100, leak_enable=True,
                               biases=np.ones(16, np.int16))})
    opts = RunOptions(slow_clock_hz=2_000_000)          # period 500 ns
    period = 500
    leak = p.EV + 16 * p.LK                             # 16 neurons
    event = p.EV + 16 * p.SY
    l1 = period                                          # idle at the first tick
    e = max(l1 + leak, p.LAT)                            # the input waits for the leak job
    l2 = e + event                                       # pending since tick 2
    merged = [t for t in range(2 * period, l2, period) if t > 2 * period]
    l3_tick = next(t for t in range(period, 10 * event, period) if t > l2)
    assert l3_tick < l2 + leak                           # ... finds L2 in service: a new job
    l3 = l2 + leak
    t_end = l3 + leak
    assert (e, l2, len(merged), t_end) == (903, 4186, 6, 4992)
    exp = Expected(outputs=[], t_end_ns=t_end, states={0: np.full((16, 1, 1), 4, np.int64)},
                   stats={(0, "leak_jobs"): 3, (0, "leak_ticks_merged"): len(merged),
                          (0, "busy_ns"): 3 * leak + event})
    return Scenario("leak_tick_merge", ("T5", "F4"), cfg, chip, opts, spike_in((0, 0, 0, 0, 0)), exp)


# ----------------------------------------------------------------------------------------------
# F6, T11: the DVS layer, sensor path, readout
# ----------------------------------------------------------------------------------------------

def _dvs_scenario(name, rules, dvs, events, mapped, chip=CHIP, opts=OPTS, core=None):
    """DVS layer monitored (layer 13); `mapped[i]` is event i's (feature, x, y) or None (dropped).
    A core must be in use for the configuration to be valid; by default core 0, unconnected."""
    p = timing(chip)
    cfg = chip_config({0: core or conv(ones(1, 1), (1, 1))}, dvs=dvs)
    sensor = opts.input_path == "sensor"
    link, lat = (p.SLINK, p.SLAT) if sensor else (p.LINK, p.LAT)
    copies, end, free, prev = [], 0, 0, None
    for (t, _x, _y, _p), m in zip(events, mapped):
        start = t if prev is None else max(t, prev + link)      # T1 (no back-pressure here)
        prev = start
        s = max(end, start + lat)
        end = s + p.DEV                                          # T11
        if m is not None:
            c = max(end, free)
            copies.append((c, m))
            free = c + p.DRT
    outs = host_output([c + p.DRT for c, _ in copies], chip)
    root = [i for i, m in enumerate(mapped) if m is not None]
    rows = [(o, chip.dvs_layer_id, *m, r) for o, (_, m), r in zip(outs, copies, root)]
    n_drop = sum(m is None for m in mapped)
    exp = Expected(outputs=rows, stats={(DVS, "dvs_filtered"): n_drop, (DVS, "spikes"): len(rows),
                                        (DVS, "served"): len(events)})
    return Scenario(name, rules, cfg, chip, opts, dvs_in(*events), exp)


@_scenarios
def dvs_layer_mapping():
    out = []
    # F6 polarity: OFF events dropped, ON events keep feature 1 (no merge)
    out.append(_dvs_scenario("dvs_polarity", ("F6", "T11"),
                             dvs_layer(off_channel=False, cut=Vec2(15, 15), monitor_enable=True),
                             [(0, 3, 4, 1), (0, 5, 6, 0), (0, 7, 8, 1)], [(1, 3, 4), None, (1, 7, 8)]))
    # F6 merge then pooling 2 x 4: feature 0, (9, 13) -> (4, 3)
    out.append(_dvs_scenario("dvs_merge_pooling", ("F6",),
                             dvs_layer(merge=True, pooling=Vec2(2, 4), cut=Vec2(15, 15), monitor_enable=True),
                             [(0, 9, 13, 0), (0, 9, 13, 1), (0, 31, 63, 1)], [(0, 4, 3), (0, 4, 3), (0, 15, 15)]))
    # F6 crop: origin (10, 20), cut (25, 30) inclusive, then subtract the origin
    out.append(_dvs_scenario("dvs_crop", ("F6",),
                             dvs_layer(origin=Vec2(10, 20), cut=Vec2(25, 30), monitor_enable=True),
                             [(0, 9, 25, 1), (0, 10, 20, 1), (0, 25, 30, 0), (0, 26, 25, 1), (0, 12, 31, 0)],
                             [None, (1, 0, 0), (0, 15, 10), None, None]))
    # F6 order pool -> crop -> mirror -> diagonal: (9, 11) // 2 = (4, 5); - origin (2, 3) = (2, 2);
    # mirror x: 9 - 2 - 2 = 5, mirror y: 7 - 3 - 2 = 2; diagonal: (2, 5)
    out.append(_dvs_scenario("dvs_mirror_diagonal", ("F6",),
                             dvs_layer(pooling=Vec2(2, 2), origin=Vec2(2, 3), cut=Vec2(9, 7), mirror=Vec2(1, 1),
                                       mirror_diagonal=True, monitor_enable=True),
                             [(0, 9, 11, 1), (0, 4, 6, 0)], [(1, 2, 5), (0, 4, 7)]))
    # second event: (4, 6) // 2 = (2, 3); - (2, 3) = (0, 0); mirror: (7, 4); diagonal: (4, 7)
    # T1 sensor path: sensor_ns spacing, sensor_latency_ns; the DVS stage (DRT) paces the copies
    out.append(_dvs_scenario("dvs_sensor_path", ("T1", "T11", "F6"),
                             dvs_layer(cut=Vec2(15, 15), monitor_enable=True),
                             [(0, 1, 1, 1), (5, 2, 2, 0), (10, 3, 3, 1)], [(1, 1, 1), (0, 2, 2), (1, 3, 3)],
                             opts=RunOptions(input_path="sensor")))
    # pass_sensor_events = False: on-chip pixel events do not enter the layer; they are dropped
    # like filtered events (the chip model does not say; both engines count them in dvs_filtered)
    out.append(_dvs_scenario("dvs_sensor_not_passed", ("F6", "T11"),
                             dvs_layer(cut=Vec2(15, 15), monitor_enable=True, pass_sensor_events=False),
                             [(0, 1, 1, 1), (5, 2, 2, 0)], [None, None], opts=RunOptions(input_path="sensor")))
    return out


@_scenarios
def dvs_to_core():
    """F6 + F5 order at the DVS stage: monitor copy (layer 13) first, then the copy to core 0
    (no pooling or shift on DVS destinations); core 0 passes feature 1 through (SynOp 1)."""
    p = timing(CHIP)
    cfg = chip_config({0: conv(eye(2, 2), (8, 8), monitor_enable=True)},
                      dvs=dvs_layer(cut=Vec2(7, 7), monitor_enable=True, destinations=[0]))
    s = p.LAT
    ready = s + p.DEV
    core_s = ready + p.DRT + p.DRT          # second copy, after the monitor copy's DRT
    spike = core_s + p.EV + 2 * p.SY
    outs = host_output([ready + p.DRT, spike + p.RT], CHIP)
    exp = Expected(outputs=[(outs[0], 13, 1, 3, 2, 0), (outs[1], 0, 1, 3, 2, 0)],
                   stats={(DVS, "copies"): 2, (0, "events_in"): 1})
    return Scenario("dvs_to_core", ("F6", "F5", "T11", "T4"), cfg, CHIP, OPTS, dvs_in((0, 3, 2, 1)), exp)


@_scenarios
def readout_counts():
    """T11: the readout serves the events sent to layer 12, one per readout_event_ns (neither of
    its monitors is enabled, so it has nothing to send at slow-clock ticks, F7: the run ends when
    it has served them)."""
    p = timing(CHIP)
    cfg = chip_config({0: conv(ones(3, 1), (1, 1), destinations=[to(12)])}, readout=True)
    T = p.LAT + p.EV
    copies = [T + p.SY + i * p.RT for i in range(3)]      # RT > SY: the stage sets the pace
    starts, end = [], 0
    for c in copies:
        end = max(end, c + p.RT) + p.RO
        starts.append(end - p.RO)
    exp = Expected(outputs=[], t_end_ns=end,
                   stats={(10, "events_in"): 3, (10, "served"): 3, (10, "busy_ns"): 3 * p.RO})
    return Scenario("readout_counts", ("T11", "F5"), cfg, CHIP, OPTS, spike_in((0, 0, 0, 0, 0)), exp)


# ----------------------------------------------------------------------------------------------
# T8, T9, reporting
# ----------------------------------------------------------------------------------------------

@_scenarios
def deadlock_cycle():
    """T9: cores 0 -> 1 -> 0 with one-slot FIFOs and queues; every event of core 0 makes two
    spikes, so the loop fills and deadlocks."""
    chip = CHIP.replace(fifo_depth={0: 1, 1: 1}, out_depth={0: 1, 1: 1})
    cfg = chip_config({0: conv(ones(2, 1), (1, 1), destinations=[to(1)]),
                       1: conv(ones(1, 2), (1, 1), destinations=[to(0)])})
    return Scenario("deadlock_cycle", ("T9",), cfg, chip, OPTS, spike_in((0, 0, 0, 0, 0)),
                    Expected(deadlock_cycle={0, 1}))


@_scenarios
def determinism():
    """T8: a busy chip (merge, fan-out, back-pressure, decimator, both resets) run twice and on
    both engines gives the same bytes (the test runs it twice)."""
    chip = CHIP.replace(fifo_depth=2, out_depth=2, host_out_fifo_depth=4)
    rng = np.random.default_rng(8)
    w = lambda o, i, k: rng.integers(-2, 4, (o, i, k, k)).astype(np.int8)  # noqa: E731
    cfg = chip_config({
        0: conv(w(2, 2, 3), (8, 8), padding=1, threshold_high=3, destinations=[to(1, 1), to(2, 2)],
                monitor_enable=True),
        1: conv(w(2, 2, 3), (8, 8), padding=1, threshold_high=4, return_to_zero=True, destinations=[to(3, 2, 0)]),
        2: conv(w(2, 2, 1), (4, 4), threshold_high=2, destinations=[to(3, 1, 2)], output_decimator_enable=True),
        3: conv(w(3, 4, 3), (4, 4), padding=1, threshold_high=3, monitor_enable=True),
    })
    n = 300
    t = np.cumsum(rng.integers(0, 400, n))
    rows = [(int(t[i]), 0, int(rng.integers(0, 2)), int(rng.integers(0, 8)), int(rng.integers(0, 8)))
            for i in range(n)]
    return Scenario("determinism", ("T8",), cfg, chip, RunOptions(bin_ns=50_000), spike_in(*rows), None)


@_scenarios
def series_bins():
    """SPEC §4 series with bin_ns = 100 on the one-core anchor: busy [LAT, LAT + EV + 9SY) spread
    over bins, the input's FIFO wait [0, LAT), SynOps in the bin of the service start."""
    p = timing(CHIP)
    s, end = p.LAT, p.LAT + p.EV + 9 * p.SY                  # 640 .. 903
    copy = s + p.EV + 5 * p.SY                               # monitor copy start 823
    h = copy + p.RT                                          # host output 863 .. 943
    w = 100

    def spread(t0, t1):
        return {b: min(t1, (b + 1) * w) - max(t0, b * w) for b in range(t0 // w, (t1 - 1) // w + 1)}

    exp = Expected(t_end_ns=h + p.HO, series={
        ("busy_ns", 0): spread(s, end), ("fifo_area", 0): spread(0, s), ("synops", 0): {s // w: 9},
        ("busy_ns", 11): spread(h, h + p.HO), ("fifo_area", 11): spread(copy, h)})
    assert exp.series[("busy_ns", 0)] == {6: 60, 7: 100, 8: 100, 9: 3}
    return Scenario("series_bins", ("T3", "T2", "T7"), anchor_chain(1), CHIP, RunOptions(bin_ns=w),
                    spike_in((0, 0, 0, 8, 8)), exp)
