"""Devkit captures: what a devkit produced, stored as a run file.

    result = capture_from_events(config, "speck2f", inputs, samna_events)
    speksim.save_run(result, "capture.h5")

A capture is a `Result` like a simulation's, so every tool that reads a run file reads a
capture; its metadata says `source = "devkit"`, and lists in `not_measured` what a devkit does
not report (the statistics, the time series, the input lags, the final neuron states), which the
capture holds as zeros (lags as -1, states not at all). Unlike a simulation's run file, a capture
keeps its input events (`Result.input_events`, the run file's /input/events), so that the same run
can be simulated again (`speksim compare`, `speksim calibrate`) without the recording.
"""

from __future__ import annotations

import hashlib
import platform
import sys
from dataclasses import asdict
from typing import Optional

import numpy as np

from .._version import __version__
from ..blocks import BLOCK_NAMES, N_BLOCKS, SERIES_NAMES, STAT_NAMES
from ..chip import Chip, load_chip
from ..config import ChipConfig, RunOptions, check_spike_events, config_to_dict
from ..errors import EventError
from ..events import DVS_EVENT, SPIKE_EVENT, validate_events
from ..result import CAPTURE_SOURCE, STATS_DTYPE, Result
from .samna_events import events_from_samna

#: What a devkit does not report; a capture holds zeros (lags: -1; states: none) in their place.
NOT_MEASURED = {
    "statistics": list(STAT_NAMES) + ["fifo_mean"],
    "series": list(SERIES_NAMES),
    "lag_ns": "input lags are -1: a devkit does not say when it took each input event",
    "states": "final neuron states are not read back from the devkit",
    "root": "output events have root -1: a devkit does not say which input an output descends from",
}


def input_events(inputs, config: ChipConfig, chip: Chip) -> tuple[str, np.ndarray]:
    """("spike" | "dvs", the validated input array) for SPIKE_EVENT or DVS_EVENT input (t in µs).

    Raises `EventError` as a simulation would for the same input."""
    names = getattr(np.asarray(inputs).dtype, "names", None) or ()
    if "layer" in names:
        ev = validate_events(inputs, "spike")
        check_spike_events(ev, config)
        return "spike", ev
    if "p" in names:
        return "dvs", validate_events(inputs, "dvs", width=chip.dvs_size, height=chip.dvs_size)
    raise EventError(f"cannot tell the kind of input from the fields {list(names) or 'none'}: spike input needs "
                     f"{list(SPIKE_EVENT.names)}, camera input {list(DVS_EVENT.names)}")


def capture_result(config: ChipConfig, chip: Chip | str, inputs, outputs: np.ndarray, *, device: str,
                   options: Optional[RunOptions] = None, extra: Optional[dict] = None) -> Result:
    """The capture of a devkit run as a `Result`.

    inputs: the SPIKE_EVENT or DVS_EVENT array (t in µs) written to the devkit; outputs: the
    OUTPUT_EVENT array it returned (t_ns in ns, e.g. from `events_from_samna`); device: the
    devkit's chip name ("speck2f", ...); options: the run options recorded (their `bin_ns` is the
    width of the all-zero series); extra: more metadata (e.g. the devkit's serial number), whose
    keys cannot replace the capture's own.
    t_end_ns is the later of the last input's and the last output's time.
    """
    chip = load_chip(chip)
    options = options or RunOptions()
    kind, ev = input_events(inputs, config, chip)
    t_in_ns = ev["t"].astype(np.int64) * 1000
    outputs = np.asarray(outputs)
    t_end = max(int(t_in_ns[-1]) if t_in_ns.size else 0, int(outputs["t_ns"].max()) if outputs.size else 0)
    bin_ns = int(options.bin_ns)
    # zero series over the run's length, as many bins as a simulation of that length would have
    n_bins = max(1, -(-t_end // bin_ns))
    while n_bins > options.max_series_bins:
        bin_ns *= 2
        n_bins = max(1, -(-t_end // bin_ns))
    stats = np.zeros(N_BLOCKS, STATS_DTYPE)
    stats["block"] = BLOCK_NAMES
    # `extra` cannot replace what makes this a capture (source, config, input, ...)
    meta = dict(extra or {})
    meta.update({
        "source": CAPTURE_SOURCE,
        "device": device,
        "engine": f"devkit:{device}",
        "chip": chip.to_dict(),
        "config": config_to_dict(config),
        "options": asdict(options),
        "input": {"kind": kind, "events": int(ev.size), "sha256": hashlib.sha256(ev.tobytes()).hexdigest()},
        "output": {"events": int(outputs.size), "kept": True},
        "not_measured": NOT_MEASURED,
        "versions": {"speksim": __version__, "numpy": np.__version__, "python": sys.version.split()[0],
                     "platform": platform.platform()},
        "warnings": [],
    })
    return Result(outputs=outputs, stats=stats, input_t_ns=t_in_ns, lag_ns=np.full(ev.size, -1, np.int64),
                  series={name: np.zeros((n_bins, N_BLOCKS), np.int64) for name in SERIES_NAMES},
                  bin_ns=bin_ns, t_end_ns=t_end, states={}, metadata=meta, input_events=ev)


def capture_from_events(config: ChipConfig, chip: Chip | str, inputs, samna_events, *, skip_other: bool = True,
                        options: Optional[RunOptions] = None, extra: Optional[dict] = None) -> Result:
    """A capture from a devkit's output that a script of your own collected.

    config: the `ChipConfig` the devkit ran (`from_samna(cfg)` gives it from samna's object);
    chip: the devkit's chip ("speck2f", "speck2e", "dynapcnn" or a Chip); inputs: SPIKE_EVENT
    or DVS_EVENT array, t in µs, as written to the devkit; samna_events: samna's output events
    (a sink's `get_events()`, or the list sinabs' `hw_forward` returns), Spike timestamps in µs.
    Events other than Spike (ReadoutValue, ...) are left out unless `skip_other=False`, which
    raises `EventError` on them. Returns a `Result` for `speksim.save_run`.
    """
    name = chip if isinstance(chip, str) else chip.name
    return capture_result(config, chip, inputs, events_from_samna(samna_events, skip_other=skip_other),
                          device=str(name), options=options, extra=extra)


def is_capture(result: Result) -> bool:
    """True when `result` (e.g. from `load_run`) is a devkit capture, not a simulation."""
    return result.is_capture()


__all__ = ["NOT_MEASURED", "capture_from_events", "capture_result", "is_capture", "input_events"]
