"""Randomised differential tests (hypothesis, derandomized; cases from strategies.py).

- On feed-forward graphs, crowded instants and loops, the reference and fast engines agree on
  everything, and the fast engine fed in chunks (of 1 event, and of seeded random sizes) gives
  the same bytes as fed at once (SPEC T8).
- On trees of cores (each core fed by a single sender), both engines also agree with the plain
  Python model of F1-F5 and F7 (naive.py), which shares no code with them: each core's monitored
  events in order, final states, per-core counts, the readout's counts and what it reports at
  each tick. The engines share the kernels
  and the compiled network, so only this comparison sees a bug in those.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from speksim.chip import Chip
from speksim.config import (ChipConfig, CnnLayerConfig, CnnLayerDestination, ReadoutConfig, validate)
from speksim.engine.compiled import READOUT, STAT_NAMES, compile_network
from speksim.engine.fast import run_fast
from speksim.engine.reference import run_reference
from speksim.errors import DeadlockError

from .naive import MODEL_STATS
from .scenarios import CHIP, byte_difference, first_difference, run_fast_in_chunks
from .strategies import (SETTINGS, Case, crowded_cases, cycle_cases, dag_cases, timed_phases, tree_cases,
                         valid)


def _run_all(case: Case) -> dict:
    """{engine name: RawResult, or the DeadlockError it raised}."""
    net = compile_network(case.config, case.chip, case.options)
    out = {}
    for name, run in (("reference", run_reference), ("fast", run_fast)):
        try:
            out[name] = run(net, case.inputs, case.options)
        except DeadlockError as exc:
            out[name] = exc
    return out


def _assert_agree(case: Case):
    res = _run_all(case)
    diff = first_difference(res["reference"], res["fast"])
    assert diff is None, f"{case.describe()}: {diff}"
    return res["reference"]


def _model_difference(case: Case, raw, net) -> Optional[str]:
    """A sentence naming the first way an engine's result differs from the model's, or None."""
    m = case.model
    for k in sorted(m.states):
        got = [tuple(int(v) for v in row) for row in raw.outputs[raw.outputs[:, 1] == k][:, 2:6]]
        want = m.monitored[k]
        if got != want:
            i = next((i for i, (g, w) in enumerate(zip(got, want)) if g != w), min(len(got), len(want)))
            return (f"core {k}: monitored event {i} (feature, x, y, root) is "
                    f"{got[i] if i < len(got) else 'missing'}, the model's {want[i] if i < len(want) else 'none'} "
                    f"({len(got)} events, the model {len(want)})")
        for name in MODEL_STATS:
            v = int(raw.stats[k, STAT_NAMES.index(name)])
            if v != m.stats[k][name]:
                return f"core {k}: {name} is {v}, the model's {m.stats[k][name]}"
        state = net.state_of(raw.state, k)
        if not np.array_equal(state, m.states[k]):
            f, y, x = (int(i) for i in np.argwhere(state != m.states[k])[0])
            return (f"core {k}: final state of neuron (f, y, x) = ({f}, {y}, {x}) is {state[f, y, x]}, the model's "
                    f"{m.states[k][f, y, x]}")
    n = int(raw.stats[READOUT, STAT_NAMES.index("events_in")])
    if n != m.readout_events:
        return f"the readout received {n} events, the model {m.readout_events}"
    n = int(raw.stats[READOUT, STAT_NAMES.index("dropped_out_of_range")])
    if n != m.readout_dropped:
        return f"no class of the readout read {n} of its events, the model {m.readout_dropped}"
    got = [tuple(int(v) for v in row) for row in raw.outputs[raw.outputs[:, 1] == case.chip.readout_layer][:, 2:5]]
    if got != m.readout:
        return f"the readout reported (class, kind, average) {got}, the model {m.readout}"
    return None


def _assert_same_bytes_in_chunks(case: Case, chunk_seed: int):
    """SPEC T8: fed in chunks of 1 and of seeded random sizes (some empty), the fast engine gives
    the same bytes as fed at once."""
    net = compile_network(case.config, case.chip, case.options)
    n = len(case.inputs)
    whole = run_fast_in_chunks(net, case.inputs, case.options, [n], empty_final=False)
    rng = np.random.default_rng(chunk_seed)
    sizes = []
    while sum(sizes) < n:
        sizes.append(int(rng.integers(0, 8)))
    if sizes:
        sizes[-1] = n - sum(sizes[:-1])
    for label, plan, empty_final in (("chunks of 1", [1] * n, False),
                                     (f"chunks of {sizes}", sizes, bool(rng.integers(0, 2)))):
        got = run_fast_in_chunks(net, case.inputs, case.options, plan, empty_final)
        how = f"{label}{', then an empty final chunk' if empty_final else ''}"
        diff = first_difference(whole, got, ("fed at once", f"fed in {how}")) or byte_difference(whole, got)
        assert diff is None, f"{case.describe()}: fed in {how}: {diff}"


# ----------------------------------------------------------------------------------------------
# Tests
# ----------------------------------------------------------------------------------------------

@settings(max_examples=500, **SETTINGS)
@given(dag_cases())
def test_random_dags_engines_agree(case):
    assume(valid(case))
    _assert_agree(case)


@settings(max_examples=400, **SETTINGS)
@given(crowded_cases())
def test_random_crowded_engines_agree(case):
    assume(valid(case))
    _assert_agree(case)


@settings(max_examples=100, **SETTINGS)
@given(cycle_cases())
def test_random_cycles_engines_agree(case):
    assume(valid(case))
    result = _assert_agree(case)
    if isinstance(result, DeadlockError):
        assert result.cycle and set(result.cycle) <= set(case.config.used_cores())


@settings(max_examples=500, **SETTINGS)
@given(tree_cases())
def test_random_trees_match_model(case):
    """F1-F5 on trees: both engines agree with each other and with the model."""
    res = _run_all(case)
    net = compile_network(case.config, case.chip, case.options)
    diff = first_difference(res["reference"], res["fast"])
    assert diff is None, f"{case.describe()}: {diff}"
    for engine, raw in res.items():
        diff = _model_difference(case, raw, net)
        assert diff is None, f"{case.describe()}: {engine} engine: {diff}"


def _fed_in_chunks(cases, max_examples: int):
    """A test: cases drawn from `cases` give the same bytes fed in chunks as fed at once."""
    @settings(max_examples=max_examples, **SETTINGS)
    @given(cases, st.integers(0, 2**32 - 1))
    def test(case, chunk_seed):
        assume(valid(case))
        _assert_same_bytes_in_chunks(case, chunk_seed)
    return test


test_random_dags_fed_in_chunks = _fed_in_chunks(dag_cases(), 400)
test_random_crowded_fed_in_chunks = _fed_in_chunks(crowded_cases(), 400)
test_random_cycles_fed_in_chunks = _fed_in_chunks(cycle_cases(), 100)
test_random_trees_fed_in_chunks = _fed_in_chunks(tree_cases(), 150)


def _check_fixed(cfg: ChipConfig, chip: Chip, bursts: list, end: bool = True):
    """Both engines against the model on a fixed case; returns the model's result."""
    validate(cfg, chip)
    opts, inputs, model = timed_phases(cfg, chip, bursts, 1_000_000, end)
    case = Case(cfg, chip, opts, inputs, model)
    net = compile_network(cfg, chip, opts)
    for engine, raw in _run_all(case).items():
        diff = _model_difference(case, raw, net)
        assert diff is None, f"{engine} engine: {diff}"
    return model


@pytest.mark.parametrize("seed", range(3))
def test_model_on_a_fixed_chain(seed):
    """A 3-core chain with pooling, a shift, both resets and a decimator."""
    rng = np.random.default_rng(seed)
    cfg = ChipConfig()
    cfg.cnn_layers[4] = CnnLayerConfig.conv(rng.integers(-2, 4, (3, 2, 3, 3)).astype(np.int8), (8, 8), padding=1,
                                            threshold_high=3, monitor_enable=True,
                                            destinations=[CnnLayerDestination(layer=1, enable=True, pooling=2,
                                                                              feature_shift=1)])
    cfg.cnn_layers[1] = CnnLayerConfig.conv(rng.integers(-1, 4, (2, 4, 2, 2)).astype(np.int8), (4, 4), stride=2,
                                            threshold_high=2, return_to_zero=True, monitor_enable=True,
                                            output_decimator_enable=True,
                                            destinations=[CnnLayerDestination(layer=7, enable=True)])
    cfg.cnn_layers[7] = CnnLayerConfig.conv(rng.integers(0, 3, (1, 2, 1, 1)).astype(np.int8), (2, 2),
                                            threshold_high=2, monitor_enable=True)
    n = 200
    t = np.cumsum(rng.integers(0, 300, n))
    burst = list(zip([4] * n, rng.integers(0, 2, n).tolist(), rng.integers(0, 8, n).tolist(),
                     rng.integers(0, 8, n).tolist(), t.tolist()))
    model = _check_fixed(cfg, CHIP, [burst], end=False)
    assert all(model.monitored[k] for k in (4, 1, 7))          # busy enough to mean something


@pytest.mark.parametrize("can_fire", [False, True])
def test_model_on_a_fixed_tree(can_fire):
    """Fan-out from a leaking core with a positive threshold_low: its two destinations pool
    differently and both shift, one of them decimates and sends to the readout, which reports at
    the two ticks between bursts."""
    rng = np.random.default_rng(11)
    chip = CHIP.replace(leak_can_fire=can_fire)
    cfg = ChipConfig()
    cfg.readout = ReadoutConfig(enable=True, readout_configuration_sel=0, low_pass_filter_disable=True,
                                monitor_enable=True, readout_pin_monitor_enable=True)
    # biases: feature 0 lands exactly on the threshold from 0, feature 1 from the clamp at 1
    cfg.cnn_layers[2] = CnnLayerConfig.conv(rng.integers(-1, 3, (3, 2, 3, 3)).astype(np.int8), (8, 8), padding=1,
                                            threshold_high=3, threshold_low=1, leak_enable=True,
                                            biases=np.array([3, 2, -1], np.int16), monitor_enable=True,
                                            destinations=[CnnLayerDestination(layer=5, enable=True, pooling=2,
                                                                              feature_shift=1),
                                                          CnnLayerDestination(layer=6, enable=True, pooling=4,
                                                                              feature_shift=1)])
    cfg.cnn_layers[5] = CnnLayerConfig.conv(rng.integers(0, 3, (2, 4, 1, 1)).astype(np.int8), (4, 4),
                                            threshold_high=2, threshold_low=1, monitor_enable=True,
                                            output_decimator_enable=True,
                                            destinations=[CnnLayerDestination(layer=12, enable=True)])
    cfg.cnn_layers[6] = CnnLayerConfig.conv(rng.integers(0, 2, (2, 4, 2, 2)).astype(np.int8), (2, 2), padding=1,
                                            threshold_high=2, return_to_zero=True, monitor_enable=True)
    bursts = [[(2, int(rng.integers(0, 2)), int(rng.integers(0, 8)), int(rng.integers(0, 8)), 50 * i)
               for i in range(30)] for _ in range(2)] + [[]]
    model = _check_fixed(cfg, chip, bursts)
    assert model.stats[2]["leak_jobs"] == 2 and model.readout_events and all(model.monitored[k] for k in (2, 5, 6))
    assert len(model.readout) >= 2


@pytest.mark.parametrize("sel", range(4))
@pytest.mark.parametrize("errata", [False, True])
def test_model_on_a_fixed_readout(sel, errata):
    """F7 in every mode, with and without the erratum: a core with a 4x4 map of 8 features feeds
    the readout, which reports at the ticks between five bursts: small bursts over a window of
    one tick (ties between classes are frequent), then large ones over a window of 16 ticks,
    through a destination that pools by 2 (and, with the erratum, shifts by 4 to reach features
    4k + 4, except in mode 2, which then reads feature 0 alone)."""
    rng = np.random.default_rng(100 + 10 * sel + errata)
    chip = CHIP.replace(readout_errata=errata)
    for window_off, pool, shift, n_in in ((True, 1, 0, 12), (False, 2, 4 * (errata and sel != 2), 80)):
        cfg = ChipConfig()
        cfg.readout = ReadoutConfig(enable=True, readout_configuration_sel=sel, low_pass_filter_disable=window_off,
                                    threshold=1, monitor_enable=True, readout_pin_monitor_enable=True)
        cfg.cnn_layers[3] = CnnLayerConfig.conv(rng.integers(0, 3, (8, 2, 3, 3)).astype(np.int8), (4, 4), padding=1,
                                                threshold_high=3, monitor_enable=True,
                                                destinations=[CnnLayerDestination(layer=12, enable=True, pooling=pool,
                                                                                  feature_shift=shift)])
        bursts = [[(3, int(rng.integers(0, 2)), int(rng.integers(0, 4)), int(rng.integers(0, 4)), 20 * i)
                   for i in range(int(rng.integers(1, n_in)))] for _ in range(5)]
        model = _check_fixed(cfg, chip, bursts)
        assert len(model.readout) >= 4 and any(cls for cls, _, _ in model.readout)
