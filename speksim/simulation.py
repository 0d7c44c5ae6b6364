"""Running a configured chip: the user-facing API over both engines.

    sim = Simulation(config, chip="speck2f")
    for chunk in chunks:            # long recordings: memory stays bounded
        new_outputs = sim.feed(chunk)
    result = sim.finish()

or `simulate(config, events)` for the whole input at once. Input is either spike events addressed
to cores (`SPIKE_EVENT`, times in µs) or camera events for the DVS layer (`DVS_EVENT`).
"""

from __future__ import annotations

import copy
import hashlib
import platform
import sys
import time
from dataclasses import asdict
from typing import Callable, Optional

import numpy as np

from ._version import __version__
from .blocks import DVS
from .chip import Chip, load_chip
from .config import ChipConfig, RunOptions, check_spike_events, config_to_dict
from .config import validate as validate_config
from .config.options import check_options
from .engine.base import create_engine
from .engine.compiled import EngineInput, RawResult, compile_network
from .errors import ConfigError, EventError
from .events import DVS_EVENT, SPIKE_EVENT, validate_events
from .result import BLOCK_NAMES, Later, Result, outputs_from_rows, series_dict, stats_table

DEFAULT_CHUNK = 1 << 16     # events per engine call: bounds the outputs gathered per call
_NO_LAGS = np.zeros(0, np.int64)

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

    `validate` (default True) checks the configuration and options against the chip first
    (`speksim.config.validate`, the same check as `speksim check`) and raises `ConfigError`
    listing every problem; its warnings are kept in `self.warnings`. With `validate=False` only
    the run options are checked: the configuration is trusted as given.
    `engine`: a registered engine name (`speksim.engine.base.engine_names()`: "fast", the
    default; "reference"; or "wave", the same results as "fast" and faster on a chain of cores
    with no ticks, decimator or balancer, which it simulates at `finish`: see
    `speksim.engine.wave`).
    `progress(events_done, seconds)` is called after each chunk, if given.
    `keep_outputs=False`: the Result keeps no outputs or per-input arrays; `feed()` returns the
    outputs as they come, or, with a `sink`, the sink receives them as the engine produces them
    and `feed()` returns none. With an engine that simulates as it is fed (`engine.streams`, the
    fast one) memory is then bounded by the chip's state and queues (with a sink, also however
    many outputs a chunk gives); the reference engine holds the input until `finish`. A sink has
    the outputs up to a deadlock when `DeadlockError` is raised; if the sink itself fails, the
    run stops there (a later feed is refused).
    `initial_states` ({core: int16 [c_out, h_out, w_out]}, e.g. an earlier `result.states`)
    starts from those neuron states instead of the configuration's (SPEC F8: never implicit).
    `sink` (an argument, or the attribute set before the first feed), when given, receives what
    the run produces as it comes: `sink.inputs(t_ns, lag_ns)`
    and `sink.outputs(events)` (a `speksim.runfile.RunWriter` writes them to a run file). The
    two arrays of `inputs` each continue the run's input order, but need not be equally long:
    an engine may give an input's lag later than its time (at `finish`, for the reference).
    """

    def __init__(self, config: ChipConfig, chip: Chip | str = "speck2f", options: Optional[RunOptions] = None,
                 engine: str = "fast", validate: bool = True,
                 progress: Optional[Callable[[int, float], None]] = None, keep_outputs: bool = True,
                 initial_states: Optional[dict] = None, sink=None):
        self.chip = load_chip(chip)
        self.options = options or RunOptions()
        self.config = config
        if validate:
            self.warnings = validate_config(config, self.chip, self.options)
        else:
            problems = check_options(self.options)
            if problems:
                raise ConfigError([a for a, _ in problems], cli=[c for _, c in problems])
            self.warnings = []
        self.net = compile_network(config, self.chip, self.options)
        # what the run uses, for the Result's metadata: later changes to `config` are not the run's
        self._config_used = copy.deepcopy(config)
        self._validated = validate
        if initial_states:
            self.net = self.net.with_states(initial_states)
        self.engine_name = engine
        self._engine = create_engine(engine, config, self.chip, self.options, self.net)
        self.keep_outputs = keep_outputs
        self.sink = sink
        self.n_outputs = 0
        self.progress = progress
        self._kind = None
        self._t_last_us = None
        self._hash = hashlib.sha256()
        self._n = 0
        self._outputs, self._lags, self._times = [], [], []
        self._t0 = time.perf_counter()
        self._finished = False

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
            check_spike_events(ev, self.config)
            target = ev["layer"].astype(np.int64)
            a = ev["feature"].astype(np.int64)
        if ev.size:
            self._t_last_us = int(ev["t"][-1])
        self._hash.update(ev.tobytes())
        return EngineInput(ev["t"].astype(np.int64) * 1000, target, a, ev["x"].astype(np.int64),
                           ev["y"].astype(np.int64))

    def feed(self, events, chunk_events: int = DEFAULT_CHUNK) -> np.ndarray:
        """Simulate more input (later than everything fed before); returns the output events
        (OUTPUT_EVENT) the host received meanwhile (none when they go to a sink instead, see the
        class). The reference engine returns them at finish()."""
        if self._finished:
            raise RuntimeError("this simulation has finished; create a new Simulation to run again")
        self._wire()
        events = np.asarray(events)
        if not self._engine.streams:
            # it only keeps what it is fed until finish: one chunk, so nothing is joined again there
            chunk_events = max(chunk_events, len(events))
        new = []
        for i in range(0, max(len(events), 1), chunk_events):
            chunk = self._to_engine(events[i:i + chunk_events])
            fed = self._engine.feed(chunk)
            self._inputs(chunk.t_ns, _NO_LAGS if fed.lag is None else fed.lag)
            if len(fed.outputs):
                new.append(fed.outputs)
            self._n += len(chunk)
            if self.progress:
                self.progress(self._n, time.perf_counter() - self._t0)
        out = outputs_from_rows(np.concatenate(new) if new else np.zeros((0, 6), np.int64))
        self._outputs_add(out)
        return out

    def _wire(self):
        """Outputs nobody keeps go from the engine straight to the sink, a buffer at a time: no
        chunk's outputs are gathered (the sink is an attribute: it may be set, or taken away, between
        feeds; without one, feed returns the outputs)."""
        self._engine.on_outputs = self._stream if not self.keep_outputs and self.sink is not None else None

    def _stream(self, rows):
        self._outputs_add(outputs_from_rows(rows))

    def _inputs(self, t_ns, lag):
        if self.keep_outputs:
            self._times.append(t_ns)
            self._lags.append(lag)
        if self.sink is not None:
            self.sink.inputs(t_ns, lag)

    def _outputs_add(self, out):
        self.n_outputs += len(out)
        if self.keep_outputs:
            self._outputs.append(out)
        if self.sink is not None:
            self.sink.outputs(out)

    def finish(self) -> Result:
        """Run the chip until it is idle, or until `options.end_ns`, or at most `options.drain_ns`
        after the last input (SPEC T12), and return the Result."""
        if self._finished:
            raise RuntimeError("finish() was already called")
        self._finished = True
        self._wire()
        raw = self._engine.finish()
        self._inputs(_NO_LAGS, raw.lag_ns)      # lags the engine gives only now
        self.last_outputs = outputs_from_rows(raw.outputs)
        self._outputs_add(self.last_outputs)
        if self.keep_outputs:
            outputs = np.concatenate(self._outputs)
            lags = np.concatenate(self._lags)
            times = np.concatenate(self._times)
        else:
            outputs = outputs_from_rows(np.zeros((0, 6), np.int64))
            lags = times = np.zeros(0, np.int64)
        return self._result(raw, outputs, times, lags)

    def run(self, events, chunk_events: int = DEFAULT_CHUNK) -> Result:
        """Feed all `events` and finish."""
        self.feed(events, chunk_events)
        return self.finish()

    def _result(self, raw: RawResult, outputs, times, lags) -> Result:
        states = ({} if raw.state is None else
                  {k: self.net.state_of(raw.state, k) for k in self.config.used_cores()})
        import numba
        meta = {
            "engine": self.engine_name,
            "chip": self.chip.to_dict(),
            # built when first read (see result.Later); a configuration that was not validated may
            # not convert (a float threshold, say): that fails here, as it always did
            "config": (Later(config_to_dict, self._config_used) if self._validated
                       else config_to_dict(self._config_used)),
            "options": asdict(self.options),
            "input": {"kind": self._kind or "none", "events": int(self._n), "sha256": self._hash.hexdigest()},
            "output": {"events": int(self.n_outputs), "kept": bool(self.keep_outputs)},
            "versions": {"speksim": __version__, "numpy": np.__version__, "numba": numba.__version__,
                         "python": sys.version.split()[0], "platform": platform.platform()},
            "warnings": list(self.warnings),
        }
        for key, value in (raw.metadata or {}).items():     # what only the engine knows (a devkit run)
            meta.setdefault(key, value)
        return Result(outputs=outputs, stats=stats_table(raw), input_t_ns=times, lag_ns=lags,
                      series=series_dict(raw), bin_ns=int(raw.bin_ns or self.options.bin_ns),
                      t_end_ns=int(raw.t_end_ns),
                      states=states, metadata=meta, cut=bool(raw.cut),
                      active=tuple(BLOCK_NAMES[b] for b in raw.active), unsent=int(raw.unsent),
                      input_events=raw.input_events)


def simulate(config: ChipConfig, events, chip: Chip | str = "speck2f", options: Optional[RunOptions] = None,
             engine: str = "fast", chunk_events: int = DEFAULT_CHUNK,
             progress: Optional[Callable[[int, float], None]] = None) -> Result:
    """Run `events` (SPIKE_EVENT or DVS_EVENT, µs) through a chip configured by `config`."""
    return Simulation(config, chip, options, engine=engine, progress=progress).run(events, chunk_events)
