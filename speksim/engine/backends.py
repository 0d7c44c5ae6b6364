"""The built-in engines behind the `Engine` protocol: "fast" (numba), "reference" (SimPy) and
"wave" (numba, chains only; `speksim.engine.wave`)."""

from __future__ import annotations

from .base import Engine, EngineSetup, Fed, HoldsInput, register_engine
from .compiled import EngineInput, RawResult


class FastBackend(Engine):
    """The numba discrete-event loop (`speksim.engine.fast`): simulates each chunk as it is fed,
    keeping all state in arrays between chunks."""

    streams = True

    def __init__(self, setup: EngineSetup):
        super().__init__(setup)
        from .fast import FastEngine
        self._engine = FastEngine(setup.net, setup.options)

    def feed(self, inputs: EngineInput) -> Fed:
        rows, lag = self._engine.feed(inputs, final=False, emit=self.on_outputs)
        return Fed(rows, lag)

    def finish(self) -> RawResult:
        rows, lag = self._engine.feed(EngineInput.concat([]), final=True, emit=self.on_outputs)
        return self._engine.result(rows, lag)


class ReferenceBackend(HoldsInput):
    """The SimPy model (`speksim.engine.reference`): keeps the input and simulates it whole at
    `finish`."""

    def finish(self) -> RawResult:
        from .reference import run_reference
        inputs = self.take_inputs()
        return run_reference(self.setup.net, inputs, self.setup.options)


def _wave(setup: EngineSetup) -> Engine:
    from .wave import WaveBackend
    return WaveBackend(setup)


register_engine("fast", FastBackend)
register_engine("reference", ReferenceBackend)
register_engine("wave", _wave)
