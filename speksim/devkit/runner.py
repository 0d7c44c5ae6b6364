"""Running a configuration on a devkit, as a third engine behind `Simulation`.

    result = Simulation(config, "speck2f", engine="devkit:speck2f").run(events)   # needs samna
    result = DevkitRunner("speck2f").run(config, events)                           # the same

The runner opens the devkit, applies `to_samna(config)`, resets the neuron states of the cores
the configuration uses, resets and starts the devkit's stopwatch, writes the input, and collects
output events until the input's last timestamp plus a drain margin, stopping earlier once
nothing has arrived for `idle_ns`. What it returns is a capture (`speksim.devkit.capture`).
"""

from __future__ import annotations

import time
from typing import Callable, Optional

import numpy as np

from ..chip import Chip, load_chip
from ..config import ChipConfig, RunOptions
from ..engine.base import EngineSetup, HoldsInput, register_engine
from ..blocks import DVS, N_BLOCKS
from ..engine.compiled import N_SERIES, N_STATS, RawResult
from ..errors import ConfigError, EventError, SpeksimError
from ..events import DVS_EVENT, SPIKE_EVENT
from ..result import CAPTURE_SOURCE, Result
from .capture import NOT_MEASURED, capture_result, input_events
from .samna_config import DEVICES, samna_module, to_samna
from .samna_events import events_from_samna

#: samna's device type names (`DeviceInfo.device_type_name`) per chip, as sinabs lists them.
DEVICE_TYPES = {"speck2f": ("Speck2fDevKit", "Speck2fModuleDevKit"), "speck2e": ("Speck2eTestBoard",),
                "dynapcnn": ("DynapcnnDevKit",)}

#: samna's event buffer classes per chip: (input source node, output sink node).
_BUFFERS = {"speck2f": ("BasicSourceNode_speck2f_event_input_event", "BasicSinkNode_speck2f_event_output_event"),
            "speck2e": ("BasicSourceNode_speck2e_event_speck2e_input_event",
                        "BasicSinkNode_speck2e_event_output_event"),
            "dynapcnn": ("BasicSourceNode_dynapcnn_event_input_event", "BasicSinkNode_dynapcnn_event_output_event")}

_NO_ROWS = np.zeros((0, 6), np.int64)
_WRAP_US = 2**32          # a devkit's timestamps are uint32 µs


class DevkitError(SpeksimError, RuntimeError):
    """No devkit of the asked kind is connected, or it cannot be opened."""


class DevkitRunner:
    """Runs configurations on one kind of devkit.

    device: "speck2f", "speck2e" or "dynapcnn"; samna: the samna module (default: imported when
    a run starts; without it, `MissingExtraError`); index: which of the connected devkits of that
    kind (in samna's order); drain_ns: output is collected at most this long (ns) after the
    stopwatch passed the last input's timestamp; idle_ns: collection stops earlier once nothing
    has arrived for this long (ns) after that timestamp; poll_ns: how long to wait between two
    looks at the output buffer; clock: monotonic time in ns (default `time.monotonic_ns`);
    wait(seconds): waits (default `time.sleep`). Tests give a fake clock and wait.
    """

    def __init__(self, device: str = "speck2f", *, samna=None, index: int = 0, drain_ns: int = 1_000_000_000,
                 idle_ns: int = 100_000_000, poll_ns: int = 1_000_000,
                 clock: Optional[Callable[[], int]] = None, wait: Optional[Callable[[float], None]] = None):
        if device not in DEVICES:
            raise ConfigError(f"unknown devkit {device!r}; the devkits are {', '.join(DEVICES)}")
        for name, value in (("drain_ns", drain_ns), ("idle_ns", idle_ns), ("poll_ns", poll_ns)):
            if int(value) <= 0:
                raise ConfigError(f"{name} is {value}; give a positive time in ns")
        self.device = device
        self.samna = samna
        self.index = int(index)
        self.drain_ns, self.idle_ns, self.poll_ns = int(drain_ns), int(idle_ns), int(poll_ns)
        self.clock = clock or time.monotonic_ns
        self.wait = wait or time.sleep

    # ----- the steps of a run ------------------------------------------------------------------
    def open(self, samna):
        """The samna handle of the devkit; `DevkitError` naming what is connected when none fits."""
        found = [d for d in samna.device.get_unopened_devices()
                 if getattr(d, "device_type_name", None) in DEVICE_TYPES[self.device]]
        if len(found) <= self.index:
            names = [getattr(d, "device_type_name", "?") for d in samna.device.get_unopened_devices()]
            raise DevkitError(f"no {self.device} devkit number {self.index} is connected (samna sees "
                              f"{', '.join(names) or 'no unopened device'}): connect one, close the programs "
                              f"that hold it open, or pick another with index=")
        handle = samna.device.open_device(found[self.index])
        if handle is None:
            raise DevkitError(f"samna could not open the {self.device} devkit: unplug it, plug it in again and retry")
        return handle

    @staticmethod
    def reset_states(model, cfg, config: ChipConfig) -> None:
        """Write the configured initial neuron states (zero when none) to the cores `config`
        uses, and apply. Every used core is reset by its own index (not through a map from
        model layers to cores, which resets the wrong cores when the two differ)."""
        for k in config.used_cores():
            layer = config.cnn_layers[k]
            shape = layer.dimensions.output_shape
            init = layer.neurons_initial_value
            if init is None:
                init = np.zeros((shape.feature_count, shape.size.y, shape.size.x), np.int16)
            # samna's layout is [feature][x][y]
            cfg.cnn_layers[k].neurons_initial_value = np.asarray(init).transpose(0, 2, 1).astype(int).tolist()
        model.apply_configuration(cfg)

    @staticmethod
    def samna_inputs(samna, device: str, kind: str, ev: np.ndarray) -> list:
        """samna input events for a validated SPIKE_EVENT / DVS_EVENT array: Spike (layer = target
        core) or DvsEvent, timestamps in µs."""
        module = getattr(samna, DEVICES[device][0]).event
        out = []
        if kind == "spike":
            for t, layer, feature, x, y in zip(*(ev[n].tolist() for n in SPIKE_EVENT.names)):
                s = module.Spike()
                s.layer, s.feature, s.x, s.y, s.timestamp = layer, feature, x, y, t
                out.append(s)
        else:
            for t, x, y, p in zip(*(ev[n].tolist() for n in DVS_EVENT.names)):
                d = module.DvsEvent()
                d.p, d.x, d.y, d.timestamp = bool(p), x, y, t
                out.append(d)
        return out

    def collect(self, sink, last_input_us: int, started_ns: Optional[int] = None) -> list:
        """samna output events from `sink` until the stopwatch (started at `clock()` =
        `started_ns`, default now) is `drain_ns` past the last input's timestamp, or, once it is
        past that timestamp, nothing has arrived for `idle_ns`."""
        start = self.clock() if started_ns is None else int(started_ns)
        end_of_input = start + last_input_us * 1000
        deadline = end_of_input + self.drain_ns
        events, last_arrival = [], start
        while True:
            new = sink.get_events()
            now = self.clock()
            if new:
                events.extend(new)
                last_arrival = now
            if now >= deadline or (now >= end_of_input and now - max(last_arrival, end_of_input) >= self.idle_ns):
                return events
            self.wait(min(self.poll_ns, deadline - now) / 1e9)

    def run_raw(self, config: ChipConfig, kind: str, ev: np.ndarray) -> tuple[np.ndarray, dict]:
        """Run validated input on the devkit: (OUTPUT_EVENT array, metadata about the devkit)."""
        if ev.size and int(ev["t"][-1]) >= _WRAP_US:
            raise EventError(f"input event times reach {int(ev['t'][-1])} µs; a devkit's timestamps are unsigned "
                             f"32-bit (below {_WRAP_US} µs, about 71.6 min): split the recording into shorter runs")
        samna = samna_module(self.samna)
        cfg = to_samna(config, self.device, samna=samna)
        handle = self.open(samna)
        try:
            model = handle.get_model()
            model.apply_configuration(cfg)
            self.reset_states(model, cfg, config)
            source_cls, sink_cls = (getattr(samna, n) for n in _BUFFERS[self.device])
            source, sink = source_cls(), sink_cls()
            graphs = [samna.graph.EventFilterGraph(), samna.graph.EventFilterGraph()]
            graphs[0].sequential([source, model.get_sink_node()])
            graphs[1].sequential([model.get_source_node(), sink])
            for g in graphs:
                g.start()
            try:
                sink.get_events()       # what arrived before this run is not its output
                # the stopwatch counts from here: without a reset, input written now would be
                # timestamped against an old start and pile up at once
                watch = handle.get_stop_watch()
                watch.set_enable_value(True)
                watch.reset()
                watch.start()
                started = self.clock()
                source.write(self.samna_inputs(samna, self.device, kind, ev))
                raw = self.collect(sink, int(ev["t"][-1]) if ev.size else 0, started)
            finally:
                for g in graphs:
                    g.stop()
        finally:
            samna.device.close_device(handle)
        info = {"device": self.device, "index": self.index,
                "samna_version": str(getattr(samna, "__version__", "unknown"))}
        return events_from_samna(raw, skip_other=True), {"devkit": info}

    def run(self, config: ChipConfig, inputs, chip: Chip | str | None = None,
            options: Optional[RunOptions] = None) -> Result:
        """Run `inputs` (SPIKE_EVENT or DVS_EVENT, t in µs) on the devkit configured by `config`;
        returns the capture (a Result, metadata `source = "devkit"`). chip: the chip file the
        capture records (default: the built-in chip of the devkit's name)."""
        chip = load_chip(chip or self.device)
        kind, ev = input_events(inputs, config, chip)
        outputs, extra = self.run_raw(config, kind, ev)
        return capture_result(config, chip, ev, outputs, device=self.device, options=options, extra=extra)


class DevkitBackend(HoldsInput):
    """The devkit as an engine (`engine="devkit:speck2f"`): keeps the input and runs it on the
    devkit at `finish`. The result is a capture: the devkit's outputs, zeros for the statistics and
    series a devkit does not report, lags -1, no final states, and metadata (`source`, `device`,
    `not_measured`) saying so."""

    def __init__(self, setup: EngineSetup, runner: Optional[DevkitRunner] = None):
        super().__init__(setup)
        self.runner = runner or DevkitRunner(setup.argument or "speck2f")

    def finish(self) -> RawResult:
        inp = self.take_inputs()
        if inp.target.size and inp.target[0] == DVS:
            kind, ev = "dvs", np.zeros(inp.t_ns.size, DVS_EVENT)
            ev["p"] = inp.a
        else:
            kind, ev = "spike", np.zeros(inp.t_ns.size, SPIKE_EVENT)
            ev["layer"], ev["feature"] = inp.target, inp.a
        ev["t"], ev["x"], ev["y"] = inp.t_ns // 1000, inp.x, inp.y
        outputs, _ = self.runner.run_raw(self.setup.config, kind, ev)
        rows = np.stack([outputs[n].astype(np.int64) for n in outputs.dtype.names], axis=1) if outputs.size \
            else _NO_ROWS
        t_end = max(int(inp.t_ns[-1]) if inp.t_ns.size else 0, int(rows[-1, 0]) if len(rows) else 0)
        bin_ns = int(self.setup.options.bin_ns)
        n_bins = max(1, -(-t_end // bin_ns))
        return RawResult(outputs=rows, stats=np.zeros((N_BLOCKS, N_STATS), np.int64),
                         lag_ns=np.full(inp.t_ns.size, -1, np.int64),
                         series=np.zeros((N_SERIES, n_bins, N_BLOCKS), np.int64),
                         state=None, t_end_ns=t_end, bin_ns=bin_ns,
                         metadata={"source": CAPTURE_SOURCE, "device": self.runner.device,
                                   "not_measured": NOT_MEASURED},
                         input_events=ev)


register_engine("devkit", DevkitBackend)

__all__ = ["DEVICE_TYPES", "DevkitBackend", "DevkitError", "DevkitRunner"]
