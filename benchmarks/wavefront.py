"""The "wave" engine (`speksim.engine.wave`), measured: the timing model of a chain as per-block
max-plus recurrences instead of instant by instant.

    python -m benchmarks.wavefront           # the DVS Gesture network on its recording

It replays the recording with `engine="wave"` and with the fast engine, checks that the two
Results are the same (outputs, statistics, lags, series, states, end) and that the wave engine
took its own path (not its fallback to the fast engine), and times the wave engine's replay
from `Simulation()` to `finish()`, as the harness times the fast engine's.
"""

from __future__ import annotations

import statistics
import sys


class Wavefront:
    """The wave engine's replay of one recording through one network, checked against the fast
    engine when made and timed by `time()`. `skipped` says why the wave engine would fall back
    (then nothing else is set)."""

    def __init__(self, config, events, chip: str = "speck2f"):
        import speksim
        from speksim.engine.compiled import EngineInput
        from speksim.engine.wave import run_wave, why_not

        from .floor import _inputs
        self.config, self.events, self.chip = config, events, chip
        sim = speksim.Simulation(config, chip)
        target, a, x, y, t_ns = _inputs(events)
        inputs = EngineInput(t_ns, target, a, x, y)
        if run_wave(sim.net, inputs, sim.options) is None:     # what it hands to the fast engine
            self.skipped = (why_not(sim.net, inputs, sim.options)
                            or "the run is cut at its drain limit, which the wave engine hands to the fast engine")
            return
        self.skipped = None
        wave = speksim.Simulation(config, chip, engine="wave").run(events)
        fast = speksim.Simulation(config, chip).run(events)
        self.identical = wave.equals(fast)
        self.outputs = len(wave.outputs)

    def time(self) -> float:
        """One timed replay (wall seconds, `Simulation()` to `finish()`)."""
        from .common import timed_run
        return timed_run(self.config, self.events, engine="wave")["wall_s"]


def measure(config, events, repeats: int = 5, chip: str = "speck2f") -> dict:
    """The wave engine's replay time (median of `repeats`) and whether it gave the fast engine's
    Result; or {"skipped": reason}."""
    w = Wavefront(config, events, chip)
    if w.skipped:
        return {"skipped": w.skipped}
    return figures(w, [w.time() for _ in range(repeats)])


def figures(w: Wavefront, samples: list) -> dict:
    return {"wall_s": statistics.median(samples), "wall_s_all": samples, "outputs": w.outputs,
            "identical": w.identical}


def main(argv=None) -> int:
    from .common import on_gesture
    return on_gesture(argv, "python -m benchmarks.wavefront", __doc__, measure, lambda r: [
        f"{r['outputs']:,} outputs; the same Result as the fast engine's: {r['identical']}",
        f"wave engine: {r['wall_s']:.4f} s a replay"])


if __name__ == "__main__":
    sys.exit(main())
