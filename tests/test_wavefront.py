"""The "wave" engine (speksim.engine.wave): on the chains it covers, per-block max-plus
recurrences give the fast engine's RawResult byte for byte, stalled chains above all (SPEC T0-T4,
T7, T12 for a run that drains); every other run goes to the fast engine, with the same result."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conformance.scenarios import first_difference
from conformance.strategies import SETTINGS, chain_cases, valid
from hypothesis import assume, given, settings

from speksim import Simulation
from speksim.chip import load_chip
from speksim.config import RunOptions, chain_config, demo_config
from speksim.config.build import conv_layer
from speksim.engine.compiled import S_FIFOMAX, S_STALL, EngineInput, compile_network
from speksim.engine.fast import run_fast
from speksim.engine.wave import run_wave, why_not
from speksim.io import read_events

REPO = Path(__file__).resolve().parents[1]
CHIP = load_chip("speck2f")


def _random_chain(seed: int):
    """Two to four cores on random places, 3x3 kernels with random weights and thresholds, the
    maps shrinking by strides; only the last core monitored."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 5))
    size, ch = 32, int(rng.choice([2, 8, 16]))
    layers = []
    for _ in range(n):
        out = int(rng.choice([4, 8, 16]))
        stride = int(rng.choice([1, 2])) if size > 4 else 1
        w = rng.integers(-2, 4, (out, ch, 3, 3)).astype(np.int8)
        layers.append(conv_layer(w, (size, size), stride=stride, padding=1,
                                 threshold_high=int(rng.integers(2, 12)), threshold_low=-20))
        size, ch = (size + 2 - 3) // stride + 1, out
    cores = [int(c) for c in rng.permutation(9)[:n]]
    return chain_config(layers, cores, monitor="last"), cores[0], int(layers[0].dimensions.input_shape.feature_count)


def _spikes(seed: int, core: int, features: int, n: int) -> EngineInput:
    """`n` spikes into `core`, 0-2 µs apart: far more than a core serves, so the chain stalls
    back to the input link."""
    rng = np.random.default_rng(seed + 100)
    t_ns = np.cumsum(rng.integers(0, 3, n)) * 1000
    return EngineInput(t_ns.astype(np.int64), np.full(n, core, np.int64), rng.integers(0, features, n),
                       rng.integers(0, 32, n), rng.integers(0, 32, n))


def _difference(wave, fast):
    """The first difference between the two engines' RawResults (conformance.scenarios), or None."""
    return first_difference(wave, fast, ("wave", "fast"))


@pytest.mark.parametrize("seed", range(6))
def test_the_wave_engine_gives_the_fast_engines_result_on_a_stalling_chain(seed):
    config, first, features = _random_chain(seed)
    net = compile_network(config, CHIP, RunOptions())
    inputs = _spikes(seed, first, features, 3000)
    wave = run_wave(net, inputs, RunOptions())
    assert wave is not None, why_not(net, inputs, RunOptions())
    fast = run_fast(net, inputs, RunOptions())
    diff = _difference(wave, fast)
    assert diff is None, diff
    assert fast.stats[:, S_STALL].sum() > 0 and len(fast.outputs) > 0


def test_coarser_series_bins_are_the_fast_engines_too():
    config, first, features = _random_chain(1)
    net = compile_network(config, CHIP, RunOptions())
    opts = RunOptions(bin_ns=100_000, max_series_bins=16)       # several doublings of the bins
    inputs = _spikes(1, first, features, 3000)
    wave, fast = run_wave(net, inputs, opts), run_fast(net, inputs, opts)
    assert wave is not None and wave.bin_ns > 100_000
    diff = _difference(wave, fast)
    assert diff is None, diff


def test_the_wave_engine_through_the_dvs_layer_gives_the_fast_engines_result():
    cfg = demo_config()
    cfg.cnn_layers[0].monitor_enable = False     # a chain: only the last core reports
    cfg.cnn_layers[1].monitor_enable = False
    ev = read_events(REPO / "traces" / "moving_bar.npz")
    wave = Simulation(cfg, "speck2f", engine="wave").run(ev)
    fast = Simulation(cfg, "speck2f").run(ev)
    assert len(fast.outputs) > 0 and wave.equals(fast)


def test_runs_the_wave_engine_does_not_cover_go_to_the_fast_engine():
    ev = read_events(REPO / "traces" / "moving_bar.npz")
    sim = Simulation(demo_config(), "speck2f")
    inputs = sim._to_engine(ev)
    assert "copies" in why_not(sim.net, inputs, sim.options)        # every core monitored: not a chain
    assert Simulation(demo_config(), "speck2f", engine="wave").run(ev).equals(Simulation(demo_config(), "speck2f")
                                                                                .run(ev))
    config, first, features = _random_chain(2)
    net = compile_network(config, CHIP, RunOptions())
    inputs = _spikes(2, first, features, 3000)
    assert run_wave(net, inputs, RunOptions(end_ns=10_000_000)) is None         # a given end (T12)
    assert run_wave(net, inputs, RunOptions(drain_ns=1000)) is None            # cut at the drain limit
    assert why_not(net, EngineInput.concat([]), RunOptions()) == "no input"


def test_every_conformance_scenario_gives_the_same_result_on_the_wave_engine():
    from conformance.scenarios import all_scenarios
    from speksim.errors import DeadlockError
    covered = 0
    for sc in all_scenarios():
        net = compile_network(sc.config, sc.chip, sc.options)
        wave = run_wave(net, sc.inputs, sc.options)
        if wave is None:
            continue
        covered += 1
        try:
            fast = run_fast(net, sc.inputs, sc.options)
        except DeadlockError:       # a chain cannot deadlock
            pytest.fail(f"{sc.name}: the wave engine covered a run that deadlocks")
        diff = _difference(wave, fast)
        assert diff is None, f"{sc.name}: {diff}"
    assert covered >= 15, f"the wave engine covered only {covered} scenarios (18 when written)"


@settings(max_examples=200, **SETTINGS)
@given(chain_cases())
def test_random_chains_give_the_fast_engines_result_on_the_wave_engine(case):
    """Tie-prone chips (buffers of one to four, every duration alike), inputs outside the map,
    both resets, coarsened bins; a run cut at the drain limit goes to the fast engine."""
    assume(valid(case))
    net = compile_network(case.config, case.chip, case.options)
    assume(why_not(net, case.inputs, case.options) is None)
    wave = run_wave(net, case.inputs, case.options)
    if wave is not None:
        diff = _difference(wave, run_fast(net, case.inputs, case.options))
        assert diff is None, f"{diff}\n{case.describe()}"


def test_a_start_in_a_later_round_comes_after_a_first_round_push():
    """T0: the conformance scenario pop_in_a_later_round on the wave engine's own path (not its
    fallback): a job that ends as its stall is released ends in a later round of that ns, and
    the next event's start with it, after the link's send in the first round."""
    from conformance.scenarios import all_scenarios
    sc = next(s for s in all_scenarios() if s.name == "pop_in_a_later_round")
    net = compile_network(sc.config, sc.chip, sc.options)
    wave = run_wave(net, sc.inputs, sc.options)
    assert wave is not None
    assert wave.stats[0, S_FIFOMAX] == sc.expected.stats[(0, "fifo_max")]


def test_the_wavefront_benchmark_times_the_wave_engines_own_path():
    """benchmarks.wavefront times the wave engine only on a run it computes itself, and says
    why not otherwise (its figure would be the fast engine's)."""
    from benchmarks import wavefront
    ev = read_events(REPO / "traces" / "moving_bar.npz")
    cfg = demo_config()
    cfg.cnn_layers[0].monitor_enable = False     # a chain: only the last core reports
    cfg.cnn_layers[1].monitor_enable = False
    w = wavefront.Wavefront(cfg, ev)
    assert w.skipped is None and w.identical and w.outputs > 0
    assert "copies" in wavefront.Wavefront(demo_config(), ev).skipped
