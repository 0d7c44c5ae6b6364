"""The conformance scenarios (the scenarios package) on both engines.

Each scenario's hand-computed expectation must hold on each engine, and the two engines must
agree on everything they report: outputs event for event, every statistic, lag, series bin,
final neuron state and the end time.
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
