"""Running a configured chip: the user-facing API over both engines.

    sim = Simulation(config, chip="speck2f")
    for chunk in chunks:            # long recordings: memory stays bounded
        new_outputs = sim.feed(chunk)
    result = sim.finish()

or `simulate(config, events)` for the whole input at once. Input is either spike events addressed
to cores (`SPIKE_EVENT`, times in µs) or camera events for the DVS layer (`DVS_EVENT`).
"""

from __future__ import annotations

import hashlib
import platform
import sys
import time
from dataclasses import asdict
from typing import Callable, Optional

import numpy as np

from . import __version__
from .chip import Chip, load_chip
from .config import ChipConfig, RunOptions
from .engine.compiled import (C_CIN, C_COUT, C_EVNS, C_HIN, C_HOUT, C_LEAK, C_LEAKNS, C_USED, C_WIN, C_WOUT,
                               DVS, N_CORES, EngineInput, RawResult, compile_network, tick_period_ns)
from .errors import ConfigError, EventError
from .events import DVS_EVENT, SPIKE_EVENT, validate_events
from .result import BLOCK_NAMES, Result, outputs_from_rows, series_dict, stats_table

ENGINES = ("fast", "reference")
DEFAULT_CHUNK = 1 << 16     # events per engine call: bounds the outputs gathered per call
# Time-series bins cost 480 bytes each (5 series x 12 blocks x int64).
MAX_LEADING_BINS = 2_000_000    # idle bins before the first event (about 1 GB): wall-clock timestamps
MAX_SERIES_BINS = 4_000_000     # bins of a whole run (about 2 GB)


def _event_kind(events) -> str:
    names = getattr(np.asarray(events).dtype, "names", None) or ()
    if "layer" in names:
        return "spike"
    if "p" in names:
        return "dvs"
    raise EventError(
        f"cannot tell the kind of events from the fields {list(names) or 'none'}: spike input needs "
        f"{list(SPIKE_EVENT.names)}, camera input {list(DVS_EVENT.names)}")


class Simulation:
    """One run of a configured chip, fed input in chunks.

    `validate` (default True) checks the configuration against the chip first and raises
    `ConfigError` listing every problem; its warnings are kept in `self.warnings`.
    `progress(events_done, seconds)` is called after each chunk, if given.
    `keep_outputs=False` streams: `feed()` returns each chunk's outputs and the Result keeps no
    outputs or per-input arrays, so memory is bounded by the chip state and queues (fast engine).
    `initial_states` ({core: int16 [c_out, h_out, w_out]}, e.g. an earlier `result.states`)
    starts from those neuron states instead of the configuration's (SPEC F8: never implicit).
    """

    def __init__(self, config: ChipConfig, chip: Chip | str = "speck2f", options: Optional[RunOptions] = None,
                 engine: str = "fast", validate: bool = True,
                 progress: Optional[Callable[[int, float], None]] = None, keep_outputs: bool = True,
                 initial_states: Optional[dict] = None):
        from .config import validate as validate_config
        if engine not in ENGINES:
            raise ValueError(f"unknown engine '{engine}'; use one of {list(ENGINES)}")
        self.chip = load_chip(chip)
        self.options = options or RunOptions()
        if self.options.input_path not in ("host", "sensor"):
            raise ValueError(f"input_path must be 'host' or 'sensor', got {self.options.input_path!r}")
        if self.options.bin_ns < 1:
            raise ValueError(f"bin_ns must be a positive number of ns, got {self.options.bin_ns}")
        if self.options.drain_ns < 0:
            raise ValueError(f"drain_ns must be 0 or more ns, got {self.options.drain_ns}")
        self.config = config
        self.warnings = validate_config(config, self.chip) if validate else []
        self.net = compile_network(config, self.chip, self.options)
        self._check_leak_fits_clock()
        if initial_states:
            self.net = self.net.with_states(initial_states)
        if not keep_outputs and engine != "fast":
            raise ValueError("keep_outputs=False needs the fast engine; the reference engine runs at finish()")
        self.keep_outputs = keep_outputs
        self.engine_name = engine
        self.progress = progress
        self._kind = None
        self._t_last_us = None
        self._hash = hashlib.sha256()
        self._n = 0
        self._outputs, self._lags, self._times = [], [], []
        self._pending = []          # reference engine: it runs the whole input at finish()
        self._t0 = time.perf_counter()
        self._finished = False
        if engine == "fast":
            from .engine.fast import FastEngine
            self._engine = FastEngine(self.net, self.options)

    def _check_leak_fits_clock(self):
        """SPEC T5: a core whose leak job lasts a whole slow-clock period would leak forever and
        never serve an event again (and the run would never end)."""
        period = tick_period_ns(self.options.slow_clock_hz)
        if not period:
            return
        problems = []
        for k in range(N_CORES):
            row = self.net.core[k]
            if row[C_USED] and row[C_LEAK]:
                n = int(row[C_COUT] * row[C_HOUT] * row[C_WOUT])
                job = int(row[C_EVNS] + n * row[C_LEAKNS])
                if job >= period:
                    problems.append(
                        f"core {k}: a leak job over its {n} neurons takes {job} ns, as long as the slow-clock "
                        f"period ({period} ns at {self.options.slow_clock_hz:g} Hz), so the core would do nothing "
                        f"but leak; lower RunOptions.slow_clock_hz below {1e9 / job:.4g} Hz or use a smaller layer")
        if problems:
            raise ConfigError(problems)

    # ----- input ----------------------------------------------------------------------------
    def _to_engine(self, events) -> EngineInput:
        kind = _event_kind(events)
        if self._kind is None:
            self._kind = kind
        elif kind != self._kind:
            raise EventError(f"this run was fed {self._kind} events; it cannot take {kind} events too")
        if kind == "dvs":
            size = self.chip.dvs_size
            ev = validate_events(events, "dvs", width=size, height=size, t_min=self._t_last_us)
            dl = self.config.dvs_layer
            if ev.size and not (dl.monitor_enable or any(d.enable for d in dl.destinations)):
                raise EventError("camera events were given but the DVS layer sends nowhere: enable "
                                 "dvs_layer.destinations (or dvs_layer.monitor_enable)")
            target = np.full(ev.size, DVS, np.int64)
            a = ev["p"].astype(np.int64)
        else:
            ev = validate_events(events, "spike", t_min=self._t_last_us)
            self._check_spike_targets(ev)
            target = ev["layer"].astype(np.int64)
            a = ev["feature"].astype(np.int64)
        if ev.size:
            t0 = int(ev["t"][0])
            if self._t_last_us is None and t0 * 1000 // self.options.bin_ns > MAX_LEADING_BINS:
                raise EventError(
                    f"the first event is at t = {t0:,} µs ({t0 / 3.6e9:,.1f} hours after 0), so the run would "
                    f"simulate that idle time in {t0 * 1000 // self.options.bin_ns:,} time-series bins; shift the "
                    "recording to start at 0 (speksim.io.fit.rezero, or --rezero)")
            n_bins = int(ev["t"][-1]) * 1000 // self.options.bin_ns
            if n_bins > MAX_SERIES_BINS:
                raise EventError(
                    f"the events reach t = {ev['t'][-1]} µs, which needs {n_bins:,} time-series bins of "
                    f"{self.options.bin_ns} ns (at most {MAX_SERIES_BINS:,}); if these are wall-clock "
                    "timestamps, shift the recording to start at 0 (speksim.io.fit.rezero, or --rezero), "
                    "or choose a larger RunOptions.bin_ns")
            self._t_last_us = int(ev["t"][-1])
        self._hash.update(ev.tobytes())
        return EngineInput(ev["t"].astype(np.int64) * 1000, target, a, ev["x"].astype(np.int64),
                           ev["y"].astype(np.int64))

    def _check_spike_targets(self, ev):
        core = self.net.core
        for k in np.unique(ev["layer"]):
            k = int(k)
            if k >= len(core) or not core[k, C_USED]:
                used = [i for i in range(len(core)) if core[i, C_USED]]
                raise EventError(f"spike events target core {k}, which is not in use; used cores: {used}")
            sel = ev[ev["layer"] == k]
            for name, col in (("feature", C_CIN), ("x", C_WIN), ("y", C_HIN)):
                bad = np.flatnonzero(sel[name] >= core[k, col])
                if bad.size:
                    raise EventError(
                        f"a spike event for core {k} has {name}={sel[name][bad[0]]}, outside the core's input "
                        f"range [0, {core[k, col]}); check the event addresses or the core's input shape")

    def feed(self, events, chunk_events: int = DEFAULT_CHUNK) -> np.ndarray:
        """Simulate more input (later than everything fed before); returns the output events
        (OUTPUT_EVENT) the host received meanwhile. The reference engine returns them at finish()."""
        if self._finished:
            raise RuntimeError("this simulation has finished; create a new Simulation to run again")
        events = np.asarray(events)
        new = []
        for i in range(0, max(len(events), 1), chunk_events):
            chunk = self._to_engine(events[i:i + chunk_events])
            if self.keep_outputs:
                self._times.append(chunk.t_ns)
            if self.engine_name == "fast":
                rows, lag = self._engine.feed(chunk, final=False)
                if self.keep_outputs:
                    self._lags.append(lag)
                if len(rows):
                    new.append(rows)
            else:
                self._pending.append(chunk)
            self._n += len(chunk)
            if self.progress:
                self.progress(self._n, time.perf_counter() - self._t0)
        out = outputs_from_rows(np.concatenate(new)) if new else outputs_from_rows(np.zeros((0, 6), np.int64))
        if self.keep_outputs:
            self._outputs.append(out)
        return out

    def finish(self) -> Result:
        """Run the chip until it is idle, or until `options.end_ns`, or at most `options.drain_ns`
        after the last input (SPEC T12), and return the Result."""
        if self._finished:
            raise RuntimeError("finish() was already called")
        self._finished = True
        times = np.concatenate(self._times) if self._times else np.zeros(0, np.int64)
        if self.engine_name == "fast":
            empty = EngineInput(*(np.zeros(0, np.int64) for _ in range(5)))
            rows, lag = self._engine.feed(empty, final=True)
            self.last_outputs = outputs_from_rows(rows)
            if self.keep_outputs:
                self._outputs.append(self.last_outputs)
            lags = np.concatenate(self._lags + [lag]) if self.keep_outputs else np.zeros(0, np.int64)
            raw = self._engine.result(np.zeros((0, 6), np.int64), lags)
            outputs = np.concatenate(self._outputs) if self._outputs else outputs_from_rows(np.zeros((0, 6), np.int64))
        else:
            from .engine.reference import run_reference
            inputs = EngineInput(*(np.concatenate([getattr(c, f) for c in self._pending]) if self._pending
                                   else np.zeros(0, np.int64) for f in ("t_ns", "target", "a", "x", "y")))
            raw = run_reference(self.net, inputs, self.options)
            outputs = outputs_from_rows(raw.outputs)
            lags = raw.lag_ns
        return self._result(raw, outputs, times, lags)

    def run(self, events, chunk_events: int = DEFAULT_CHUNK) -> Result:
        """Feed all `events` and finish."""
        self.feed(events, chunk_events)
        return self.finish()

    def _result(self, raw: RawResult, outputs, times, lags) -> Result:
        from .config import config_to_dict
        states = {k: self.net.state_of(raw.state, k) for k in range(9) if self.net.core[k, C_USED]}
        import numba
        meta = {
            "engine": self.engine_name,
            "chip": self.chip.to_dict(),
            "config": config_to_dict(self.config),
            "options": asdict(self.options),
            "input": {"kind": self._kind or "none", "events": int(self._n), "sha256": self._hash.hexdigest()},
            "versions": {"speksim": __version__, "numpy": np.__version__, "numba": numba.__version__,
                         "python": sys.version.split()[0], "platform": platform.platform()},
            "warnings": list(self.warnings),
        }
        return Result(outputs=outputs, stats=stats_table(raw), input_t_ns=times, lag_ns=lags,
                      series=series_dict(raw), bin_ns=int(self.options.bin_ns), t_end_ns=int(raw.t_end_ns),
                      states=states, metadata=meta, cut=bool(raw.cut),
                      active=tuple(BLOCK_NAMES[b] for b in raw.active), unsent=int(raw.unsent))


def simulate(config: ChipConfig, events, chip: Chip | str = "speck2f", options: Optional[RunOptions] = None,
             engine: str = "fast", chunk_events: int = DEFAULT_CHUNK,
             progress: Optional[Callable[[int, float], None]] = None) -> Result:
    """Run `events` (SPIKE_EVENT or DVS_EVENT, µs) through a chip configured by `config`."""
    return Simulation(config, chip, options, engine=engine, progress=progress).run(events, chunk_events)
