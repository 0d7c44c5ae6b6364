"""The built-in engines behind the `Engine` protocol: "fast" (numba) and "reference" (SimPy)."""

from __future__ import annotations

import numpy as np

from .base import Engine, EngineSetup, Fed, register_engine
from .compiled import EngineInput, RawResult

_NO_ROWS = np.zeros((0, 6), np.int64)


class FastBackend(Engine):
    """The numba discrete-event loop (`speksim.engine.fast`): simulates each chunk as it is fed,
    keeping all state in arrays between chunks."""

    streams = True

    def __init__(self, setup: EngineSetup):
        super().__init__(setup)
        from .fast import FastEngine
        self._engine = FastEngine(setup.net, setup.options)

    def feed(self, inputs: EngineInput) -> Fed:
        rows, lag = self._engine.feed(inputs, final=False)
        return Fed(rows, lag)

    def finish(self) -> RawResult:
        empty = EngineInput(*(np.zeros(0, np.int64) for _ in range(5)))
        rows, lag = self._engine.feed(empty, final=True)
        return self._engine.result(rows, lag)


class ReferenceBackend(Engine):
    """The SimPy model (`speksim.engine.reference`): keeps the input and simulates it whole at
    `finish`."""

    streams = False

    def __init__(self, setup: EngineSetup):
        super().__init__(setup)
        self._chunks: list[EngineInput] = []

    def feed(self, inputs: EngineInput) -> Fed:
        self._chunks.append(inputs)
        return Fed(_NO_ROWS, None)

    def finish(self) -> RawResult:
        from .reference import run_reference
        fields = ("t_ns", "target", "a", "x", "y")
        inputs = EngineInput(*(np.concatenate([getattr(c, f) for c in self._chunks]) if self._chunks
                               else np.zeros(0, np.int64) for f in fields))
        self._chunks = []
        return run_reference(self.setup.net, inputs, self.setup.options)


register_engine("fast", FastBackend)
register_engine("reference", ReferenceBackend)
