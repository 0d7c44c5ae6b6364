"""The conformance scenarios (the scenarios package) on the engines.

Each scenario's hand-computed expectation must hold on each engine (the reference, the fast
and the wave engine, which computes the chains it covers its own way and hands the rest to the
fast one), and the reference and fast engines must agree on everything they report: outputs
event for event, every statistic, lag, series bin, final neuron state and the end time (the
wave engine's agreement with the fast one: tests/test_wavefront.py).
"""

from __future__ import annotations

import itertools
import zlib

import numpy as np
import pytest

from speksim.config import validate
from speksim.engine.compiled import STAT_NAMES
from speksim.errors import DeadlockError

from .scenarios import (ALL_RULES, CHIP, ENGINES, NOT_YET_IMPLEMENTED, PARTLY_IMPLEMENTED, all_scenarios,
                        byte_difference, check_expected, compile_scenario, engine_function, first_difference,
                        run_engine, run_fast_in_chunks)

SCENARIOS = all_scenarios()
BY_NAME = {s.name: s for s in SCENARIOS}
_results: dict = {}


def result(engine: str, name: str):
    """Each scenario runs once per engine per test session."""
    key = (engine, name)
    if key not in _results:
        _results[key] = run_engine(engine, BY_NAME[name])
    return _results[key]


def test_enough_scenarios():
    assert len(SCENARIOS) >= 30


def test_every_rule_has_a_scenario():
    covered = {rule for s in SCENARIOS for rule in s.rules}
    unknown = covered - set(ALL_RULES)
    assert not unknown, f"scenarios cite rules the SPEC does not have: {sorted(unknown)}"
    missing = set(ALL_RULES) - covered - set(NOT_YET_IMPLEMENTED)
    assert not missing, f"no scenario covers {sorted(missing)}; add one or list it in NOT_YET_IMPLEMENTED with a reason"
    stale = covered & set(NOT_YET_IMPLEMENTED)
    assert not stale, f"{sorted(stale)} is listed as not implemented but a scenario covers it"
    assert set(PARTLY_IMPLEMENTED) <= covered


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_scenario_configuration_is_valid(name):
    s = BY_NAME[name]
    validate(s.config, s.chip)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", sorted(n for n, s in BY_NAME.items() if s.expected is not None))
def test_hand_computed(engine, name):
    problems = check_expected(result(engine, name), BY_NAME[name], engine)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_engines_agree(name):
    diff = first_difference(result("reference", name), result("fast", name))
    assert diff is None, f"scenario {name}: {diff}"


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_fast_engine_chunking_changes_no_byte(name):
    """T8: fed in chunks of one event, or of random sizes (empty chunks included), the fast engine
    gives the same bytes as fed at once: outputs, statistics, lags, series, states, the end."""
    s = BY_NAME[name]
    net = compile_scenario(s)
    whole = run_fast_in_chunks(net, s.inputs, s.options, [])
    rng = np.random.default_rng(zlib.crc32(name.encode()))      # seeded per scenario
    feeds = {"chunks of 1": itertools.repeat(1)}
    for k in range(3):
        feeds[f"random chunks #{k}"] = (int(v) for v in rng.integers(0, 5, 10_000))
    for how, sizes in feeds.items():
        diff = byte_difference(whole, run_fast_in_chunks(net, s.inputs, s.options, sizes))
        assert diff is None, f"scenario {name} fed in {how}: {diff}"


@pytest.mark.parametrize("engine", ENGINES)
def test_a_run_that_ends_by_itself_leaves_nothing_pending(engine):
    """T12: without end_ns, a run that is not cut ended because nothing was left in flight,
    queued or in service: no block has pending work and every input was sent or dropped."""
    checked = 0
    for name, s in BY_NAME.items():
        res = result(engine, name)
        if isinstance(res, DeadlockError) or s.options.end_ns is not None or res.cut:
            continue
        checked += 1
        pending = res.stats[:, STAT_NAMES.index("pending")]
        assert not pending.any() and res.active == () and res.unsent == 0, (name, pending.tolist())
    assert checked >= 30


def test_t10_published_latencies():
    """T10: 3.36 us through 9 cores and 1.58 us through one, within 5 %."""
    for name, published in (("t10_anchor_1_core", 1580), ("t10_anchor_9_cores", 3360)):
        latency = int(result("reference", name).outputs[0, 0])
        assert abs(latency - published) <= 0.05 * published, (name, latency)


def test_deadlock_names_cycle_and_time():
    """T9: the error names the cores of the cycle, their FIFO contents and the simulated time."""
    err = result("reference", "deadlock_cycle")
    assert isinstance(err, DeadlockError)
    assert sorted(err.cycle) == [0, 1]
    assert err.t_ns is not None and err.t_ns > 0
    text = str(err)
    assert "core 0 -> core 1 -> core 0" in text and f"{err.t_ns} ns" in text
    assert "core 0: FIFO 1/1 (feature, x, y)" in text


def test_deadlock_time_waits_for_the_slowest_stage_to_find_its_fifo_full():
    """T9 with unequal routing times: core 2's stage (97 ns per copy) is still routing when
    core 3's (13 ns) is already stuck, so the chip deadlocks only when core 2's try finds the FIFO
    full. Both engines name that same time and the cycle."""
    from speksim.config import ChipConfig, CnnLayerConfig, CnnLayerDestination, RunOptions
    from speksim.engine.compiled import EngineInput, compile_network

    chip = CHIP.replace(fifo_depth=[2] * 9, out_depth=[1] * 9, route_ns=[40, 40, 97, 13, 40, 40, 40, 40, 40])
    cfg = ChipConfig()
    for k, (c_out, c_in), nxt in ((2, (2, 1), 3), (3, (1, 2), 2)):
        cfg.cnn_layers[k] = CnnLayerConfig.conv(np.ones((c_out, c_in, 1, 1), np.int8), (1, 1), threshold_high=1,
                                                threshold_low=-1,
                                                destinations=[CnnLayerDestination(layer=nxt, enable=True)])
    net = compile_network(cfg, chip, RunOptions())
    one = EngineInput(np.array([82]), np.array([2]), np.zeros(1, np.int64), np.zeros(1, np.int64),
                      np.zeros(1, np.int64))
    errors = []
    for engine in ENGINES:
        with pytest.raises(DeadlockError) as caught:
            engine_function(engine)(net, one, RunOptions())
        errors.append(caught.value)
    assert [sorted(e.cycle) for e in errors] == [[2, 3]] * len(ENGINES)
    assert len({e.t_ns for e in errors}) == 1, [(engine, e.t_ns) for engine, e in zip(ENGINES, errors)]


@pytest.mark.parametrize("engine", ENGINES)
def test_determinism(engine):
    """T8: the same inputs give the same bytes, run after run; F8: a run starts from the
    configured state and does not change the compiled network."""
    run = engine_function(engine)
    s = BY_NAME["determinism"]
    net = compile_scenario(s)
    before = net.initial_state.copy()
    a = run(net, s.inputs, s.options)
    b = run(net, s.inputs, s.options)
    assert np.array_equal(net.initial_state, before)
    # crowded enough to mean something: many outputs, and output queues that stalled
    assert len(a.outputs) > 50 and a.stats[:, STAT_NAMES.index("stall_ns")].sum() > 0
    assert byte_difference(a, b) is None


def test_chip_is_speck2f():
    assert CHIP.name == "speck2f"
