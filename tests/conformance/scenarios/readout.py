"""Scenarios of the readout: its classes in every mode, the erratum, the moving average, threshold
and pin events, ties, and how its tick events reach the host and end with the run: F7, T11, T7,
T0, T12 (notation: base.py; RO readout_event_ns, P the slow-clock period).

Core 0 feeds the readout in most of them: 1x1 identity weights and threshold 1, so an input
event (c, x, y) fires neuron (c, y, x) once, at SynOp c, and the readout receives (c, x, y).
The readout's events to the host are rows (t_ns, 12, class, kind, average, -1): kind 0 a
ReadoutValue, kind 1 a pin event; root -1, as they descend from no input.
"""

from __future__ import annotations

from speksim.config import ReadoutConfig, RunOptions
from speksim.engine.compiled import READOUT

from .base import (CHIP, chip_config, conv, Expected, eye, host_output, Scenario, spike_in, timing, to,
                   _scenarios)

P = 10_000                          # slow-clock period of most scenarios: 100 kHz, ticks at 10 us, 20 us, ...
OPTS_P = dict(slow_clock_hz=1e9 / P)


def _feeder(c_in: int, readout: ReadoutConfig, size=(4, 4), **core):
    """Core 0 passes its inputs (c, x, y) to the readout unchanged (see the module docstring)."""
    cfg = chip_config({0: conv(eye(c_in, c_in), size, destinations=[to(12)], **core)})
    cfg.readout = readout
    return cfg


def _all_served_before(chip, c_in: int, n: int, tick: int, start: int = 0) -> None:
    """The n inputs written from `start` reach the readout's service before `tick`: the core (EV +
    c_in SY per event, slower than the link's LINK, the stage's RT and the readout's RO) sets the
    pace, so the last one is served by start + LAT + n (EV + c_in SY) + RT."""
    p = timing(chip)
    assert p.EV + c_in * p.SY >= max(p.LINK, p.RT, p.RO)
    assert start + p.LAT + n * (p.EV + c_in * p.SY) + p.RT < tick


def _tick_rows(chip, ticks, reports, monitor=True, pins=True, threshold=0):
    """T11, T7: at tick T the readout sends its ReadoutValue at T (monitor) and its pin event RO
    later (pins, when the average is above threshold), each arriving RO after it starts, to an
    idle host output. reports[i] = (class, average) of tick ticks[i]. Rows in emission order."""
    p = timing(chip)
    rows = []
    for t, (cls, avg) in zip(ticks, reports):
        kinds = ([0] if monitor else []) + ([1] if pins and avg > threshold else [])
        outs = host_output([t + (i + 1) * p.RO for i in range(len(kinds))], chip)
        rows += [(o, chip.readout_layer, cls, kind, avg, -1) for o, kind in zip(outs, kinds)]
    return rows


def _one_tick_scenario(name, rules, cfg, chip, events, report, dropped, period=P):
    """`events` (c, x, y) written at 0 reach the readout before the first tick, which reports
    `report` = (class, average); the second reports the idle class. Stops at end_ns = 2.5 periods."""
    c_in = cfg.cnn_layers[0].dimensions.input_shape.feature_count
    _all_served_before(chip, c_in, len(events), period)
    rows = _tick_rows(chip, [period, 2 * period], [report, (0, 0)], pins=False)
    end_ns = period * 5 // 2
    exp = Expected(outputs=rows, t_end_ns=end_ns,
                   stats={(READOUT, "events_in"): len(events), (READOUT, "dropped_out_of_range"): dropped,
                          (READOUT, "copies"): len(rows)})
    return Scenario(name, rules, cfg, chip, RunOptions(end_ns=end_ns, slow_clock_hz=1e9 / period),
                    spike_in(*[(0, 0, c, x, y) for c, x, y in events]), exp)


# ----------------------------------------------------------------------------------------------
# F7: classes per readout_configuration_sel, the erratum, ties
# ----------------------------------------------------------------------------------------------

@_scenarios
def readout_modes():
    """F7: the class of a spike (f, x, y) is neuron n + 1, n = (y X + x) F + f for the mode's
    (X, Y, F); neuron 15 and addresses outside the mode are read by no class (dropped out of
    range). One tick over a window of one tick (low_pass_filter_disable), errata off."""
    chip = CHIP.replace(readout_errata=False)
    out = []
    # mode 0, 2x 2y 4f: (3, 1, 0) -> (0*2 + 1)*4 + 3 = 7 -> class 8, twice; (1, 0, 1) -> (1*2 + 0)*4 + 1
    # = 9 -> class 10; x 2 >= X, f 4 >= F: no class; (3, 1, 1) -> (1*2 + 1)*4 + 3 = 15: no class
    events = [(3, 1, 0), (1, 0, 1), (3, 1, 0), (0, 2, 0), (4, 0, 0), (3, 1, 1)]
    out.append((0, events, (8, 2), 3))
    # mode 1, 2x 4y 2f: (0, 1, 3) -> (3*2 + 1)*2 + 0 = 14 -> class 15, twice; (1, 0, 2) -> (2*2)*2 + 1
    # = 9 -> class 10; (1, 1, 3) -> 15: no class; f 2 >= F, y 4 >= Y: no class
    events = [(0, 1, 3), (1, 0, 2), (1, 1, 3), (2, 0, 0), (0, 0, 4), (0, 1, 3)]
    out.append((1, events, (15, 2), 3))
    # mode 2, 4x 4y 1f: (0, 3, 2) -> 2*4 + 3 = 11 -> class 12; (0, 1, 0) -> 1 -> class 2: a tie at 1,
    # the lower class wins; f 1 >= F, (0, 3, 3) -> 15: no class
    events = [(0, 3, 2), (0, 1, 0), (1, 0, 0), (0, 3, 3)]
    out.append((2, events, (2, 1), 2))
    # mode 3, 1x 1y 16f: (14, 0, 0) -> class 15; (0, 0, 0) -> class 1, twice; f 15 -> neuron 15 and
    # x 1 >= X: no class
    events = [(14, 0, 0), (0, 0, 0), (15, 0, 0), (0, 0, 0), (2, 1, 0)]
    out.append((3, events, (1, 2), 2))
    return [_one_tick_scenario(f"readout_mode_{sel}", ("F7", "T11"),
                               _feeder(16, ReadoutConfig(enable=True, readout_configuration_sel=sel,
                                                         low_pass_filter_disable=True, monitor_enable=True),
                                       (5, 5)),
                               chip, events, report, dropped)
            for sel, events, report, dropped in out]


@_scenarios
def readout_errata():
    """F7 with the Speck2e/2f erratum (readout_errata, the speck2f default): class i reads feature
    4 (i - 1), so in mode 3 features 0, 4, 56 are classes 1, 2, 15; feature 5 is no multiple of 4
    and feature 60 reads neuron 15: no class. Without it the same spikes: 0 -> class 1, 4 ->
    class 5, 5 -> class 6, and 56, 60 are beyond the mode's 16 features."""
    events = [(0, 0, 0), (4, 0, 0), (56, 0, 0), (5, 0, 0), (4, 0, 0), (56, 0, 0), (60, 0, 0), (56, 0, 0)]
    ro = ReadoutConfig(enable=True, readout_configuration_sel=3, low_pass_filter_disable=True, monitor_enable=True)
    assert CHIP.readout_errata
    # with: class 1 once, class 2 twice, class 15 three times; features 5, 60 dropped
    # without: class 1 once, class 5 twice, class 6 once; 56 three times and 60 dropped
    # (64 SynOps per event: a slow clock of 20 us leaves the core time to serve them all)
    return [_one_tick_scenario("readout_errata_on", ("F7",), _feeder(64, ro, (1, 1)), CHIP, events, (15, 3), 2,
                               period=2 * P),
            _one_tick_scenario("readout_errata_off", ("F7",), _feeder(64, ro, (1, 1)),
                               CHIP.replace(readout_errata=False), events, (5, 2), 4, period=2 * P)]


@_scenarios
def readout_tie():
    """F7: classes 3 and 5 both count 2 (mode 3, errata off): the lower one is reported."""
    ro = ReadoutConfig(enable=True, readout_configuration_sel=3, low_pass_filter_disable=True, monitor_enable=True)
    # features 4 and 2 -> classes 5 and 3, two each, class 5's spikes first
    events = [(4, 0, 0), (4, 0, 0), (2, 0, 0), (2, 0, 0)]
    return _one_tick_scenario("readout_tie", ("F7",), _feeder(8, ro, (1, 1)), CHIP.replace(readout_errata=False),
                              events, (3, 2), 0)


# ----------------------------------------------------------------------------------------------
# F7: the moving average, threshold and pin events
# ----------------------------------------------------------------------------------------------

def _window_scenario(name, window, flags):
    """F7: 20 spikes of class 1 before the first tick and 12 before the second, then none, over
    35 ticks: the average at tick k is the sum of the counts of ticks k - window + 1 .. k (ticks
    before the first count 0) // window."""
    chip = CHIP
    counts = [20, 12] + [0] * 33
    n_ticks = len(counts)
    _all_served_before(chip, 1, 20, P)
    _all_served_before(chip, 1, 12, 2 * P, start=P + 1000)
    reports = []
    for k in range(n_ticks):
        avg = sum(counts[max(0, k - window + 1):k + 1]) // window
        reports.append((1 if avg else 0, avg))
    # window 16: tick 1 20 // 16 = 1, ticks 2..16 (20 + 12) // 16 = 2, tick 17 12 // 16 = 0 (idle)
    # window 32: tick 1 20 // 32 = 0 (idle), ticks 2..32 32 // 32 = 1, tick 33 12 // 32 = 0
    expect = {16: [1] + [2] * 15 + [0] * 19, 32: [0] + [1] * 31 + [0] * 3}[window]
    assert [avg for _, avg in reports] == expect
    ro = ReadoutConfig(enable=True, monitor_enable=True, **flags)
    end_ns = n_ticks * P + P // 2
    rows = _tick_rows(chip, [(k + 1) * P for k in range(n_ticks)], reports, pins=False)
    inputs = spike_in(*([(0, 0, 0, 0, 0)] * 20 + [(P + 1000, 0, 0, 0, 0)] * 12))
    return Scenario(name, ("F7", "T11"), _feeder(1, ro, (1, 1)), chip, RunOptions(end_ns=end_ns, **OPTS_P), inputs,
                    Expected(outputs=rows, t_end_ns=end_ns, stats={(READOUT, "copies"): n_ticks}))


@_scenarios
def readout_windows():
    return [_window_scenario("readout_window_16", 16, {}),
            _window_scenario("readout_window_32", 32, dict(low_pass_filter32_not16=True))]


@_scenarios
def readout_threshold_and_pins():
    """F7: threshold 2 over a window of one tick: 3 spikes of class 1 give average 3 > 2, a
    ReadoutValue and a pin event; 2 spikes, average 2, only the ReadoutValue; then the idle
    class. With readout_pin_monitor_enable alone, only the pin event reaches the host."""
    chip = CHIP
    counts = [3, 2, 0]
    inputs, t0 = [], 0
    for k, n in enumerate(counts):
        _all_served_before(chip, 1, n, (k + 1) * P, start=t0)
        inputs += [(t0, 0, 0, 0, 0)] * n
        t0 = (k + 1) * P + 1000
    ticks = [P, 2 * P, 3 * P]
    reports = [(1, 3), (1, 2), (0, 0)]
    end_ns = 3 * P + P // 2
    out = []
    for name, monitor in (("readout_threshold_and_pins", True), ("readout_pins_only", False)):
        ro = ReadoutConfig(enable=True, low_pass_filter_disable=True, threshold=2, monitor_enable=monitor,
                           readout_pin_monitor_enable=True)
        rows = _tick_rows(chip, ticks, reports, monitor=monitor, threshold=2)
        assert [r[3] for r in rows] == ([0, 1, 0, 0] if monitor else [1])
        out.append(Scenario(name, ("F7", "T11", "T7"), _feeder(1, ro, (1, 1)), chip,
                            RunOptions(end_ns=end_ns, **OPTS_P), spike_in(*inputs),
                            Expected(outputs=rows, t_end_ns=end_ns, stats={(READOUT, "copies"): len(rows)})))
    return out


# ----------------------------------------------------------------------------------------------
# T11, T0, T7: the readout's events on their way to the host
# ----------------------------------------------------------------------------------------------

@_scenarios
def readout_ranks_after_cores():
    """T0, T11: at the first tick core 0's monitor copy and the readout's ReadoutValue both want
    the host output's only FIFO slot; core 0's stage (rank 2) goes before the readout (rank 12),
    which sends when the host output starts serving the copy and frees the slot (T2). Core 0's
    spike also goes to the readout (after its monitor copy, F5): it counts at the second tick."""
    chip = CHIP.replace(host_out_fifo_depth=1)
    p = timing(chip)
    cfg = _feeder(1, ReadoutConfig(enable=True, low_pass_filter_disable=True, monitor_enable=True), (1, 1),
                  monitor_enable=True)
    t_in = P - (p.LAT + p.EV + p.SY)            # the spike completes at P, the first tick
    copy = P                                    # monitor copy: at the host at P + RT, served at once
    ro_start = copy + p.RT                      # the host output starts the copy: the slot is free
    outs = host_output([copy + p.RT, ro_start + p.RO], chip)
    assert outs[1] == outs[0] + p.HO            # the host serves the ReadoutValue right after the copy
    # the readout serves the spike's copy (sent at P + RT, arriving P + 2 RT) before the second tick:
    # (f 0, x 0, y 0) is class 1 in mode 0
    t2 = 2 * P
    rows = [(outs[0], 0, 0, 0, 0, 0), (outs[1], 12, 0, 0, 0, -1)] + _tick_rows(chip, [t2], [(1, 1)], pins=False)
    end_ns = 2 * P + P // 2
    return Scenario("readout_ranks_after_cores", ("T0", "T11", "T7", "F7"), cfg, chip,
                    RunOptions(end_ns=end_ns, **OPTS_P), spike_in((t_in, 0, 0, 0, 0)),
                    Expected(outputs=rows, t_end_ns=end_ns, stats={(READOUT, "copies"): 2, (0, "copies"): 2}))


@_scenarios
def readout_events_lost_behind_a_busy_host():
    """T11, T7: ticks every 50 ns, each with one ReadoutValue (the idle class), into a host output
    of one FIFO slot that takes HO = 80 ns per event: the readout sends one event at a time, each
    when the slot is free; a tick that finds the last tick's event still unsent loses its own,
    counted in the readout's congestion_dropped (and the dropped series). end_ns stops it."""
    period, end_ns = 50, 1000
    chip = CHIP.replace(host_out_fifo_depth=1)
    p = timing(chip)
    assert p.HO > period > p.RO
    cfg = _feeder(1, ReadoutConfig(enable=True, monitor_enable=True), (1, 1))
    # the host output, one slot: an event is taken at its transfer's start and leaves the slot when
    # the host starts serving it, at the later of its arrival (start + RO) and the previous end
    host_free = 0           # end of the host output's last service
    slot_free = 0           # when the slot is free again (the host starts the event in it)
    unsent = None           # the tick whose event waits for the slot
    starts, lost = [], 0
    for tick in range(period, end_ns + 1, period):
        # the transfer of a waiting event starts when the slot frees (a slot freed at t serves t);
        # one freed at this tick's instant comes too late for it: the tick is that instant's first act
        if unsent is not None and slot_free < tick:
            starts.append(slot_free)
            host_free = max(slot_free + p.RO, host_free) + p.HO
            slot_free = host_free - p.HO
            unsent = None
        if unsent is not None:
            lost += 1           # this tick's event is lost: the last one has not been sent yet
            continue
        if slot_free <= tick:
            starts.append(tick)
            host_free = max(tick + p.RO, host_free) + p.HO
            slot_free = host_free - p.HO
        else:
            unsent = tick
    if unsent is not None and slot_free <= end_ns:
        starts.append(slot_free)
        host_free = max(slot_free + p.RO, host_free) + p.HO
        unsent = None
    outs = host_output([s + p.RO for s in starts], chip)
    rows = [(o, 12, 0, 0, 0, -1) for o in outs if o <= end_ns]
    pending_host = len(outs) - len(rows)        # T12: every event sent whose output comes after end_ns
    assert lost > 0 and len(starts) > 3
    return Scenario("readout_events_lost_behind_a_busy_host", ("T11", "T7", "T0", "T12"), cfg, chip,
                    RunOptions(slow_clock_hz=1e9 / period, end_ns=end_ns, bin_ns=2 * end_ns), spike_in(),
                    Expected(outputs=rows, t_end_ns=end_ns,
                             stats={(READOUT, "copies"): len(starts), (READOUT, "congestion_dropped"): lost,
                                    (READOUT, "pending"): int(unsent is not None), (11, "pending"): pending_host,
                                    (11, "events_in"): len(starts)},
                             series={("dropped", READOUT): {0: lost}}))


# ----------------------------------------------------------------------------------------------
# T12: ticks and the end of a run
# ----------------------------------------------------------------------------------------------

@_scenarios
def readout_end_of_run():
    """T12: with end_ns the readout reports at every tick up to end_ns, the idle class once its
    window is empty. Without it, a tick while input is still to come counts even though the chip
    is idle then (the first, at P: the second input comes at 1.5 P), but a tick after the last
    activity does not: the second input's spike (class 2) is never reported and the run ends when
    the readout has served it."""
    p = timing(CHIP)
    ro = ReadoutConfig(enable=True, low_pass_filter_disable=True, monitor_enable=True)
    cfg = _feeder(2, ro, (1, 1))
    until = Scenario("readout_idle_ticks_until_end_ns", ("T12", "F7", "T11"), cfg, CHIP,
                     RunOptions(end_ns=3 * P + P // 2, **OPTS_P), spike_in((0, 0, 0, 0, 0)),
                     Expected(outputs=_tick_rows(CHIP, [P, 2 * P, 3 * P], [(1, 1), (0, 0), (0, 0)], pins=False),
                              t_end_ns=3 * P + P // 2))
    t2 = P * 3 // 2
    # input 1, feature 1: SynOp 1 of 2 fires at t2 + LAT + EV + 2 SY, its copy reaches the readout RT
    # later and is served for RO; core 0's job ends with that SynOp
    ends = t2 + p.LAT + p.EV + 2 * p.SY + p.RT + p.RO
    natural = Scenario("readout_last_tick_after_activity_does_not_count", ("T12", "F7"), cfg, CHIP,
                       RunOptions(**OPTS_P), spike_in((0, 0, 0, 0, 0), (t2, 0, 1, 0, 0)),
                       Expected(outputs=_tick_rows(CHIP, [P], [(1, 1)], pins=False), t_end_ns=ends, cut=False,
                                active=(), stats={(READOUT, "served"): 2, (READOUT, "copies"): 1}))
    return [until, natural]
