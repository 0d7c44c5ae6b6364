"""The result of a run: output events, statistics, time series, final states and provenance."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from .blocks import BLOCK_NAMES, DVS, HOST_OUT, N_BLOCKS, READOUT, SERIES_NAMES, STAT_NAMES
from .events import OUTPUT_EVENT

#: One row per block (speksim.blocks: cores 0..8, DVS layer, readout, host output): every
#: statistic of `speksim.blocks.STATISTICS` plus fifo_mean, the time-weighted mean FIFO occupancy over the run.
STATS_DTYPE = np.dtype([("block", "U8")] + [(n, "<i8") for n in STAT_NAMES] + [("fifo_mean", "<f8")])

#: What the readout reported at a slow-clock tick (SPEC F7), as `Result.readout()` gives it.
READOUT_DTYPE = np.dtype([("t_ns", "<i8"), ("class", "u1"), ("average", "<u2"), ("pin", "?")])

#: The metadata `source` of a devkit capture (a simulation's metadata has no `source`).
CAPTURE_SOURCE = "devkit"

#: The readout's output events (layer 12) carry the class as their feature, the kind as x (a
#: ReadoutValue, a pin event) and the class's moving average as y.
READOUT_VALUE, READOUT_PIN = 0, 1


@dataclass
class Result:
    """What a run produced.

    outputs: OUTPUT_EVENT array in host-output order (t_ns, layer, feature, x, y, root).
    stats: STATS_DTYPE [12], one row per block (see BLOCK_NAMES).
    input_t_ns: int64 [n_inputs] input timestamps in ns; lag_ns: int64 [n_inputs] input lag (SPEC T1),
    -1 for inputs a congestion balancer dropped.
    series: {name: int64 [n_bins, 12]} per-bin busy_ns, stall_ns, fifo_area (slot*ns), synops, dropped.
    states: {core: int16 [c_out, h_out, w_out]} final neuron states of the used cores.
    metadata: chip, configuration, options, versions and input hash, enough to reproduce the run
    (plain JSON-like data; an entry made as a `Later` is built when `metadata` is first read).
    SPEC T12: cut: the chip was still busy `drain_ns` after the last input's timestamp and the run
    was stopped there (t_end_ns); active: names of the blocks with work left when the run stopped
    (their `pending` statistic); unsent: input events never sent (lag -1) because the run stopped.
    """

    outputs: np.ndarray
    stats: np.ndarray
    input_t_ns: np.ndarray
    lag_ns: np.ndarray
    series: dict
    bin_ns: int
    t_end_ns: int
    states: dict
    metadata: dict = field(default_factory=dict)
    cut: bool = False
    active: tuple = ()
    unsent: int = 0
    input_events: Optional[np.ndarray] = None

    # ----- derived views -------------------------------------------------------------------
    def core_stats(self, core: int) -> dict[str, Any]:
        """The statistics of one core as a plain dict."""
        row = self.stats[core]
        return {n: row[n].item() for n in self.stats.dtype.names}

    def latency_ns(self) -> np.ndarray:
        """Per output event: output time minus the timestamp of the input it descends from
        (-1 for outputs of leak spikes, which descend from no input)."""
        root = self.outputs["root"]
        lat = np.full(len(root), -1, np.int64)
        ok = root >= 0
        lat[ok] = self.outputs["t_ns"][ok] - self.input_t_ns[root[ok]]
        return lat

    def readout(self) -> np.ndarray:
        """What the readout reported (SPEC F7): READOUT_DTYPE [n], one row per slow-clock tick
        whose report reached the host, in order. t_ns: output time of the tick's first event (its
        ReadoutValue, or its pin event when only `readout_pin_monitor_enable` is set), ns;
        class: the class with the largest moving average, 1..15, or 0 (idle) when every average
        is 0; average: that class's average, in spikes per tick; pin: whether a pin event was
        sent (the average was above `threshold`). Built from the output events (layer 12), so
        empty when they were not kept (`Simulation(keep_outputs=False)`)."""
        ev = self.outputs[self.outputs["layer"] == self.readout_layer()]
        kind = ev["x"]
        # a tick's pin event follows its ReadoutValue in the readout's own order (they are sent,
        # or lost, together), whatever other outputs come between them
        joined = np.zeros(len(ev), bool)
        joined[1:] = (kind[1:] == READOUT_PIN) & (kind[:-1] == READOUT_VALUE)
        pin = kind == READOUT_PIN
        pin[:-1] |= joined[1:]
        keep = ~joined
        out = np.empty(int(keep.sum()), READOUT_DTYPE)
        for name, column in (("t_ns", ev["t_ns"]), ("class", ev["feature"]), ("average", ev["y"]), ("pin", pin)):
            out[name] = column[keep]
        return out

    def utilisation(self) -> np.ndarray:
        """float64 [n_bins, 12]: fraction of each bin a block spent serving (stalls included)."""
        return self.series["busy_ns"] / float(self.bin_ns)

    def fifo_occupancy(self) -> np.ndarray:
        """float64 [n_bins, 12]: time-weighted mean FIFO occupancy per bin."""
        return self.series["fifo_area"] / float(self.bin_ns)

    def bin_times_ns(self) -> np.ndarray:
        """Start time of every series bin, int64 ns."""
        n = next(iter(self.series.values())).shape[0]
        return np.arange(n, dtype=np.int64) * self.bin_ns

    def n_outputs(self) -> int:
        """How many output events the run produced (also when they were streamed, not kept)."""
        recorded = (self.metadata or {}).get("output", {}).get("events")
        return len(self.outputs) if recorded is None else int(recorded)

    def used_cores(self) -> list[int]:
        """The cores in use (those with a final state)."""
        return sorted(self.states)

    def active_blocks(self) -> list[int]:
        """Block ids worth reporting: the used cores, then the DVS layer, readout and host output
        when they received events."""
        return self.used_cores() + [b for b in (DVS, READOUT, HOST_OUT) if int(self.stats[b]["events_in"]) > 0]

    def is_capture(self) -> bool:
        """True when this is a devkit capture (metadata source "devkit"), not a simulation: its
        statistics, series, lags, states and roots were not measured (metadata `not_measured`)."""
        return (self.metadata or {}).get("source") == CAPTURE_SOURCE

    def require_simulation(self, what: str) -> None:
        """Raise `RunFileError` when this is a devkit capture, which lacks what `what` needs."""
        if self.is_capture():
            from .errors import RunFileError
            raise RunFileError(
                f"this is a devkit capture: a devkit does not report the statistics and time series that {what} "
                "needs. Simulate the same configuration and input ('speksim calibrate' fits the chip's timing to the "
                "capture first, if you like), then look at that run, or set the two side by side with "
                "'speksim compare CAPTURE.h5 RUN.h5'")

    def readout_layer(self) -> int:
        """The layer id the readout's output events carry on this run's chip (12 when not recorded)."""
        layer = self.chip_parameter("readout_layer")
        return 12 if layer is None else int(layer)

    def chip_parameter(self, name: str):
        """A parameter of the chip this run used (from the metadata), or None if not recorded."""
        try:
            return self.metadata["chip"]["parameters"][name]["value"]
        except (KeyError, TypeError):
            return None

    def summary(self) -> str:
        """A fixed-width table of the main per-core figures (what `speksim run` prints); for a devkit
        capture, which has no such figures, its output events per layer."""
        if self.is_capture():
            return self._capture_summary()
        cols = ("events_in", "synops", "spikes", "decimated", "congestion_dropped", "busy_ns", "stall_ns",
                "fifo_max")
        head = f"{'block':<9}" + "".join(f"{c:>19}" for c in cols) + f"{'fifo_mean':>11}"
        lines = [head]
        blocks = self.used_cores() + [b for b in (DVS, HOST_OUT) if self.stats[b]["events_in"]]
        for b in blocks:
            r = self.stats[b]
            lines.append(f"{BLOCK_NAMES[b]:<9}" + "".join(f"{int(r[c]):>19}" for c in cols)
                         + f"{r['fifo_mean']:>11.3f}")
        lines.append(f"{self.n_outputs()} output events; run ends at {self.t_end_ns} ns")
        if self.cut or self.active or self.unsent:
            why = "cut at the drain limit (drain_ns after the last input)" if self.cut else "stopped at end_ns"
            lines.append(f"{why} with work left in: {', '.join(self.active) or 'nothing'}"
                         f"{f'; {self.unsent} input events never sent' if self.unsent else ''}")
        return "\n".join(lines)

    def _capture_summary(self) -> str:
        layers, counts = np.unique(self.outputs["layer"], return_counts=True)
        lines = [f"{'layer':<9}{'events':>12}{'features':>10}{'first_ns':>16}{'last_ns':>16}"]
        for layer, n in zip(layers, counts):
            ev = self.outputs[self.outputs["layer"] == layer]
            lines.append(f"{int(layer):<9}{int(n):>12}{len(np.unique(ev['feature'])):>10}"
                         f"{int(ev['t_ns'].min()):>16}{int(ev['t_ns'].max()):>16}")
        lines.append(f"{self.n_outputs()} output events captured; capture ends at {self.t_end_ns} ns "
                     "(per-core statistics are not measured on a devkit)")
        return "\n".join(lines)

    def equals(self, other: "Result") -> bool:
        """True when both runs produced the same outputs, statistics, lags, series and states."""
        return (np.array_equal(self.outputs, other.outputs) and np.array_equal(self.stats, other.stats)
                and np.array_equal(self.lag_ns, other.lag_ns) and self.t_end_ns == other.t_end_ns
                and (self.cut, tuple(self.active), self.unsent) == (other.cut, tuple(other.active), other.unsent)
                and self.series.keys() == other.series.keys()
                and all(np.array_equal(self.series[k], other.series[k]) for k in self.series)
                and self.states.keys() == other.states.keys()
                and all(np.array_equal(self.states[k], other.states[k]) for k in self.states))


class Later:
    """A metadata entry built when `Result.metadata` is first read: `make(*args)`.

    A simulation's configuration as JSON-like lists costs about as much to build as a tenth of a
    DVS Gesture replay (150,000 lists), and every later garbage collection walks them again;
    a sweep or a benchmark that never reads the metadata need not pay for it. `args` must be a
    snapshot (the caller's copy), so that the entry says what the run used even when the caller's
    objects change afterwards, and `make` must not fail on them (it would fail at every read).
    Picklable when `make` and `args` are; a pickled Result keeps the entry unbuilt."""

    def __init__(self, make, *args):
        self.make = make
        self.args = args


def _metadata(self) -> dict:
    return metadata_except(self, ())


def metadata_except(result, keys) -> dict:
    """`result.metadata` with the entries named in `keys` left unbuilt (a `Later` stays one): for
    a writer that already has their stored text (a batch writes one configuration into every
    run file)."""
    meta = result.__dict__.setdefault("_metadata", {})
    for key, value in meta.items():
        if isinstance(value, Later) and key not in keys:
            meta[key] = value.make(*value.args)     # an existing key: the dict's size is unchanged
    return meta


def _set_metadata(self, value: dict) -> None:
    self.__dict__["_metadata"] = value


def _setstate(self, state: dict) -> None:
    # a Result pickled before metadata became a property holds it under its own name
    if "metadata" in state:
        state = dict(state)
        state["_metadata"] = state.pop("metadata")
    self.__dict__.update(state)


# after the dataclass is made, so that its __init__, __eq__, __repr__ and dataclasses.replace all
# go through it (the field keeps its name and default; vars(result) shows it as _metadata)
Result.metadata = property(_metadata, _set_metadata, doc="See `Result` (entries made as `Later` are built here).")
Result.__setstate__ = _setstate


def outputs_from_rows(rows: np.ndarray) -> np.ndarray:
    """Engine rows int64 [n, 6] → OUTPUT_EVENT."""
    out = np.empty(len(rows), OUTPUT_EVENT)
    for i, name in enumerate(OUTPUT_EVENT.names):
        out[name] = rows[:, i] if len(rows) else []
    return out


def stats_table(raw) -> np.ndarray:
    """An engine's RawResult statistics (int64 [blocks, statistics]) as a STATS_DTYPE table."""
    table = np.zeros(N_BLOCKS, STATS_DTYPE)
    table["block"] = BLOCK_NAMES
    for i, name in enumerate(STAT_NAMES):
        table[name] = raw.stats[:, i]
    table["fifo_mean"] = raw.stats[:, STAT_NAMES.index("fifo_area")] / float(max(raw.t_end_ns, 1))
    return table


def series_dict(raw) -> dict:
    """An engine's RawResult series (int64 [series, bins, blocks]) as {name: int64 [bins, blocks]}."""
    return {name: np.ascontiguousarray(raw.series[i]) for i, name in enumerate(SERIES_NAMES)}
