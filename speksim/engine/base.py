"""The engine protocol, the registry of engines, and what every engine reports the same way.

An engine simulates one run of one configured chip. `Simulation` creates it through the
registry and talks to it only through `Engine`'s three methods, so a new backend (a devkit
runner, say) is one class and one `register_engine` call:

    class MyEngine(Engine):
        streams = True                          # feed() returns outputs as the run goes
        def __init__(self, setup): ...          # an EngineSetup
        def feed(self, inputs): ...             # -> Fed(outputs, lag)
        def finish(self): ...                   # -> RawResult of the whole run
    register_engine("mine", MyEngine)

The built-in engines are "fast" (numba) and "reference" (SimPy), registered in
`speksim.engine.backends`. An engine name may carry an argument after a colon
("devkit:speck2f"); the part before it selects the engine and `setup.argument` holds the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from ..blocks import block_label
from ..chip import Chip
from ..config import ChipConfig, RunOptions
from ..errors import DeadlockError
from .compiled import CompiledNetwork, EngineInput, RawResult


@dataclass(frozen=True)
class EngineSetup:
    """What an engine is given: the configuration (validated), the chip, the run options, the
    configuration compiled into arrays, and the engine name's argument ("" when none)."""

    config: ChipConfig
    chip: Chip
    options: RunOptions
    net: CompiledNetwork
    argument: str = ""


@dataclass
class Fed:
    """What `Engine.feed` returns: output rows int64 [n, 6] (t_ns, layer, feature, x, y, root)
    emitted so far and neither returned before nor handed to `Engine.on_outputs`, and the input
    lags (int64, SPEC T1) of the inputs the engine settled since its last return, in input order;
    these need not be the chunk's own (an engine may hold inputs back for a later chunk), or None
    when the engine gives every lag only at `finish`."""

    outputs: np.ndarray
    lag: Optional[np.ndarray]


class Engine:
    """Base of every engine. Subclasses override `feed` and `finish`.

    `streams`: True when `feed` simulates as it goes and returns outputs as they appear, so a
    run can keep nothing in memory (`Simulation(keep_outputs=False)`); False when the engine
    only simulates at `finish`.
    """

    streams = False
    # set by `Simulation` before the first feed when outputs go to its sink and nowhere else: an
    # engine may then hand output rows (int64 [n, 6], as in `Fed`) to it as they appear, in order,
    # instead of returning them; each array is the callee's to read during the call only
    on_outputs: Optional[Callable[[np.ndarray], None]] = None

    def __init__(self, setup: EngineSetup):
        self.setup = setup

    def feed(self, inputs: EngineInput) -> Fed:
        """Take a chunk of input (later than every earlier chunk). Chunk boundaries must not change
        any result (SPEC T8)."""
        raise NotImplementedError

    def finish(self) -> RawResult:
        """Run until the run ends (SPEC T12) and return the RawResult. Its `outputs` are the rows
        not returned by `feed`; its `lag_ns` the lags not returned by `feed`."""
        raise NotImplementedError


class HoldsInput(Engine):
    """Base of an engine that runs the whole input at `finish` (the reference engine, a devkit):
    `feed` keeps each chunk and returns nothing; `finish` takes them with `take_inputs`."""

    streams = False

    def __init__(self, setup: EngineSetup):
        super().__init__(setup)
        self._chunks: list[EngineInput] = []

    def feed(self, inputs: EngineInput) -> Fed:
        self._chunks.append(inputs)
        return Fed(np.zeros((0, 6), np.int64), None)

    def take_inputs(self) -> EngineInput:
        """Every chunk fed so far, as one input; forgets them."""
        inputs = EngineInput.concat(self._chunks)
        self._chunks = []
        return inputs


_REGISTRY: dict[str, Callable[[EngineSetup], Engine]] = {}


def register_engine(name: str, factory: Callable[[EngineSetup], Engine]) -> None:
    """Make `factory` (an Engine subclass, or any callable taking an EngineSetup) available as
    `engine=name`."""
    if not name or ":" in name:
        raise ValueError(f"an engine name is a non-empty word without ':', got {name!r}")
    _REGISTRY[name] = factory


def engine_names() -> list[str]:
    """Names of the registered engines."""
    _load_builtin()
    return sorted(_REGISTRY)


def create_engine(name: str, config: ChipConfig, chip: Chip, options: RunOptions,
                  net: CompiledNetwork) -> Engine:
    """The engine registered as `name` (optionally "name:argument"), set up for one run."""
    _load_builtin()
    key, _, argument = str(name).partition(":")
    if key not in _REGISTRY:
        raise ValueError(f"unknown engine {name!r}; the engines are {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[key](EngineSetup(config, chip, options, net, argument))


def _load_builtin():
    from . import backends  # noqa: F401  (registers the built-in engines)
    from ..devkit import runner  # noqa: F401  (registers "devkit"; samna is imported only when one runs)


def deadlock_error(t_ns: int, waits: dict, fifo_contents: dict, fifo_depth, out_count: dict, out_depth,
                   link: Optional[tuple] = None) -> DeadlockError:
    """The DeadlockError of SPEC T9, worded the same whichever engine found the deadlock.

    waits: {block: the block whose FIFO its output stage waits for}; fifo_contents: {block:
    [(feature, x, y), ...]} in FIFO order; out_count: {block: spikes in its output queue};
    fifo_depth, out_depth: indexed by block; link: (input index, target block) when the input
    link waits too. The cycle is listed from its lowest block id.
    """
    cycle = find_cycle(waits)
    lines = []
    for b in (cycle or sorted(waits)):
        fifo = fifo_contents.get(b, [])
        lines.append(f"{block_label(b)}: FIFO {len(fifo)}/{int(fifo_depth[b])} (feature, x, y) {fifo[:8]}"
                     f"{' ...' if len(fifo) > 8 else ''}, output queue {int(out_count.get(b, 0))}/{int(out_depth[b])}, "
                     f"waiting to send to {block_label(waits[b])}")
    if link is not None:
        lines.append(f"the input link waits to send input event {link[0]} to {block_label(link[1])}")
    what = " -> ".join(block_label(b) for b in cycle + cycle[:1]) if cycle else "blocked senders"
    msg = (f"deadlock at t = {t_ns} ns (SPEC T9): {what} wait for each other's FIFO slots.\n  "
           + "\n  ".join(lines)
           + "\nBreak the cycle, make the FIFOs deeper (chip file fifo_depth), or enable "
             "input_congestion_balancer_enable on a core of the cycle.")
    blocks = {int(b): {"fifo": [tuple(int(v) for v in e) for e in fifo_contents.get(b, [])],
                       "fifo_depth": int(fifo_depth[b]),
                       "out_queue": int(out_count.get(b, 0)) if b in waits else 0,
                       "out_depth": int(out_depth[b]) if b < len(out_depth) else 0,
                       "waits_for": int(waits[b]) if b in waits else None}
              for b in sorted(set(waits) | set(waits.values()))}
    return DeadlockError(msg, t_ns=t_ns, cycle=cycle, blocks=blocks,
                         link=None if link is None else (int(link[0]), int(link[1])))


def find_cycle(waits: dict) -> list:
    """The first cycle of the wait-for graph {block: block}, rotated to start at its lowest block."""
    for start in sorted(waits):
        seen, b = [], start
        while b in waits and b not in seen:
            seen.append(b)
            b = waits[b]
        if b in seen:
            cyc = seen[seen.index(b):]
            i = cyc.index(min(cyc))
            return cyc[i:] + cyc[:i]
    return []


__all__ = ["Engine", "EngineSetup", "Fed", "register_engine", "engine_names", "create_engine", "deadlock_error",
           "find_cycle"]
