"""Running a scenario on an engine, and comparing results: byte for byte, or with a scenario's
hand-computed expectation."""

from __future__ import annotations

from typing import Optional
import numpy as np

from speksim.config import RunOptions
from speksim.engine.compiled import EngineInput

from .base import Scenario


# ----------------------------------------------------------------------------------------------
# Running a scenario, comparing results
# ----------------------------------------------------------------------------------------------

#: the wave engine computes the runs it covers (chains) its own way and hands the others to the
#: fast engine, as engine="wave" does: its hand-computed checks are its own on the chains
ENGINES = ("reference", "fast", "wave")


def compile_scenario(scenario: Scenario):
    from speksim.engine.compiled import compile_network
    return compile_network(scenario.config, scenario.chip, scenario.options)


def engine_function(name: str):
    """The engine's `run(net, inputs, options) -> RawResult`."""
    if name == "reference":
        from speksim.engine.reference import run_reference
        return run_reference
    if name == "fast":
        from speksim.engine.fast import run_fast
        return run_fast
    if name == "wave":
        from speksim.engine.fast import run_fast
        from speksim.engine.wave import run_wave

        def run(net, inputs, options):
            raw = run_wave(net, inputs, options)
            return run_fast(net, inputs, options) if raw is None else raw
        return run
    raise ValueError(f"unknown engine {name!r}; use one of {ENGINES}")


def run_engine(name: str, scenario: Scenario):
    """Run `scenario` on engine `name` (one of ENGINES): a RawResult, or the
    DeadlockError it raised (returned, not raised, so that both engines can be compared)."""
    from speksim.errors import DeadlockError
    run = engine_function(name)
    net = compile_scenario(scenario)
    try:
        return run(net, scenario.inputs, scenario.options)
    except DeadlockError as exc:
        return exc


def run_fast_in_chunks(net, inputs: EngineInput, options: RunOptions, sizes, empty_final: bool = True):
    """The fast engine fed `inputs` in chunks of the given sizes (an iterable, 0 allowed: an empty
    chunk) through `FastEngine.feed`, as `Simulation.feed` does; then finished with an empty
    final chunk, as `Simulation.finish` does, or, with `empty_final` False, with the chunk that
    holds the last input marked final. A RawResult, or the DeadlockError it raised."""
    from speksim.engine.fast import FastEngine
    from speksim.errors import DeadlockError
    eng = FastEngine(net, options)
    outs, lags, i, n, final = [], [], 0, len(inputs), False
    try:
        for size in sizes:
            if i >= n:
                break
            j = min(n, i + size)
            final = not empty_final and j == n
            rows, lag = eng.feed(inputs.slice(i, j), final=final)
            outs.append(rows)
            lags.append(lag)
            i = j
        if not final:
            rows, lag = eng.feed(inputs.slice(i, n), final=True)
            outs.append(rows)
            lags.append(lag)
    except DeadlockError as exc:
        return exc
    return eng.result(np.concatenate(outs), np.concatenate(lags))


def byte_difference(a, b) -> Optional[str]:
    """The first field in which two runs of one engine differ to the byte (SPEC T8), or None."""
    from speksim.errors import DeadlockError
    if isinstance(a, DeadlockError) or isinstance(b, DeadlockError):
        if type(a) is not type(b) or str(a) != str(b) or a.t_ns != b.t_ns or a.cycle != b.cycle:
            return f"deadlocks differ: {a!r} / {b!r}"
        return None
    for name in ("outputs", "stats", "lag_ns", "series", "state"):
        x, y = np.asarray(getattr(a, name)), np.asarray(getattr(b, name))
        if x.dtype != y.dtype or x.shape != y.shape or x.tobytes() != y.tobytes():
            return f"{name} differ: {x.dtype}{x.shape} / {y.dtype}{y.shape}"
    for name in ("t_end_ns", "cut", "active", "unsent"):
        if getattr(a, name, None) != getattr(b, name, None):
            return f"{name} differs: {getattr(a, name, None)} / {getattr(b, name, None)}"
    return None


def _row(a) -> str:
    return "(t_ns, layer, feature, x, y, root) = " + str(tuple(int(v) for v in a))


def first_difference(a, b, names=("reference", "fast")) -> Optional[str]:
    """A sentence naming the first difference between two engine results, or None if equal."""
    from speksim.engine.compiled import N_BLOCKS, SERIES_NAMES, STAT_NAMES
    from speksim.errors import DeadlockError
    from speksim.blocks import block_label as block_name
    na, nb = names
    if isinstance(a, DeadlockError) or isinstance(b, DeadlockError):
        if not (isinstance(a, DeadlockError) and isinstance(b, DeadlockError)):
            which = na if isinstance(a, DeadlockError) else nb
            return f"only {which} deadlocked: {a if which == na else b}"
        if a.t_ns != b.t_ns or a.cycle != b.cycle:
            return f"deadlocks differ: {na} at {a.t_ns} ns cycle {a.cycle}, {nb} at {b.t_ns} ns cycle {b.cycle}"
        if str(a) != str(b):     # one message, word for word, whichever engine found the deadlock
            return f"deadlock messages differ:\n{na}: {a}\n{nb}: {b}"
        return None
    oa, ob = np.asarray(a.outputs), np.asarray(b.outputs)
    m = min(len(oa), len(ob))
    diff = np.flatnonzero((oa[:m] != ob[:m]).any(axis=1)) if m else []
    if len(diff):
        i = int(diff[0])
        return f"output event {i} differs: {na} {_row(oa[i])}, {nb} {_row(ob[i])}"
    if len(oa) != len(ob):
        longer, n = (na, oa) if len(oa) > len(ob) else (nb, ob)
        return (f"{na} has {len(oa)} output events, {nb} {len(ob)}; the first extra one ({longer}, index {m}): "
                f"{_row(n[m])}")
    for blk in range(N_BLOCKS):
        for col, stat in enumerate(STAT_NAMES):
            if a.stats[blk, col] != b.stats[blk, col]:
                return (f"statistic {stat} of {block_name(blk)} (block {blk}): {na} {a.stats[blk, col]}, "
                        f"{nb} {b.stats[blk, col]}")
    for name in ("t_end_ns", "cut", "active", "unsent", "bin_ns"):
        if getattr(a, name) != getattr(b, name):
            return f"{name}: {na} {getattr(a, name)}, {nb} {getattr(b, name)}"
    la, lb = np.asarray(a.lag_ns), np.asarray(b.lag_ns)
    if la.shape != lb.shape or not np.array_equal(la, lb):
        i = int(np.flatnonzero(la != lb)[0]) if la.shape == lb.shape else None
        return (f"input lag of input {i}: {na} {la[i]}, {nb} {lb[i]}" if i is not None
                else f"lag_ns lengths: {na} {la.shape}, {nb} {lb.shape}")
    if a.series.shape != b.series.shape:
        return f"series shapes: {na} {a.series.shape}, {nb} {b.series.shape}"
    d = np.argwhere(a.series != b.series)
    if len(d):
        s, bn, blk = (int(v) for v in d[0])
        return (f"series {SERIES_NAMES[s]} of {block_name(blk)}, bin {bn}: {na} {a.series[s, bn, blk]}, "
                f"{nb} {b.series[s, bn, blk]}")
    if a.state.dtype != b.state.dtype or a.state.shape != b.state.shape:
        return f"final neuron state arrays: {na} {a.state.dtype} {a.state.shape}, {nb} {b.state.dtype} {b.state.shape}"
    if not np.array_equal(a.state, b.state):
        i = int(np.flatnonzero(a.state != b.state)[0])
        return f"final neuron state differs at flat index {i}: {na} {a.state[i]}, {nb} {b.state[i]}"
    return None


def check_expected(result, scenario: Scenario, engine: str) -> list:
    """Every way `result` differs from the scenario's hand-computed expectation (sentences)."""
    from speksim.engine.compiled import SERIES_NAMES, STAT_NAMES
    from speksim.errors import DeadlockError
    from speksim.blocks import block_label as block_name
    exp = scenario.expected
    where = f"scenario {scenario.name} on the {engine} engine"
    if exp.deadlock_cycle is not None:
        if not isinstance(result, DeadlockError):
            return [f"{where}: expected a DeadlockError naming {sorted(exp.deadlock_cycle)}, the run finished"]
        if set(result.cycle) != set(exp.deadlock_cycle):
            return [f"{where}: the deadlock names {result.cycle}, expected {sorted(exp.deadlock_cycle)}"]
        return []
    if isinstance(result, DeadlockError):
        return [f"{where}: unexpected deadlock: {result}"]
    problems = []
    if exp.outputs is not None:
        got = [tuple(int(v) for v in row) for row in result.outputs]
        want = [tuple(int(v) for v in row) for row in exp.outputs]
        if got != want:
            i = next((i for i, (g, w) in enumerate(zip(got, want)) if g != w), min(len(got), len(want)))
            problems.append(f"{where}: output event {i}: got {got[i] if i < len(got) else 'nothing'}, expected "
                            f"{want[i] if i < len(want) else 'nothing'} (rows (t_ns, layer, feature, x, y, root); "
                            f"{len(got)} events, expected {len(want)})")
    for (blk, stat), value in exp.stats.items():
        got = int(result.stats[blk, STAT_NAMES.index(stat)])
        if got != value:
            problems.append(f"{where}: {stat} of {block_name(blk)} is {got}, expected {value}")
    if exp.lag_ns is not None and list(result.lag_ns) != list(exp.lag_ns):
        problems.append(f"{where}: lag_ns {list(result.lag_ns)}, expected {list(exp.lag_ns)}")
    for name in ("t_end_ns", "cut", "active", "unsent"):
        want = getattr(exp, name)
        if want is not None and getattr(result, name) != want:
            problems.append(f"{where}: {name} {getattr(result, name)}, expected {want}")
    if exp.states:
        net = compile_scenario(scenario)
        for k, want in exp.states.items():
            got = net.state_of(result.state, k)
            if not np.array_equal(got, np.asarray(want)):
                problems.append(f"{where}: final state of core {k} is {got.tolist()}, "
                                f"expected {np.asarray(want).tolist()}")
    for (name, blk), bins in exp.series.items():
        col = result.series[SERIES_NAMES.index(name), :, blk]
        want = np.zeros_like(col)
        for b, v in bins.items():
            if b >= len(want):
                problems.append(f"{where}: series {name} of {block_name(blk)} has {len(want)} bins, expected bin {b}")
                break
            want[b] = v
        else:
            if not np.array_equal(col, want):
                problems.append(f"{where}: series {name} of {block_name(blk)} is {col.tolist()}, "
                                f"expected {want.tolist()}")
    return problems
