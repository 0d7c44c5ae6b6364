"""speksim's own run files as input of another run.

As a recording (the format registry's "run"), a run file is the DVS layer's monitored output
(layer 13 on the built-in chips) as camera events: `run_outputs_as_dvs`. Its core outputs can be
replayed as spike input into cores: `run_outputs_as_spikes`.
"""

from __future__ import annotations

from typing import Mapping, Optional

import numpy as np

from ..blocks import N_CORES
from ..errors import EventError
from ..events import DVS_EVENT, SPIKE_EVENT
from ..result import Result
from ._base import fail


def iter_run(path, block):
    from ..errors import EventError, RunFileError
    from ..runfile import load_run
    try:
        result = load_run(path)
        ev = run_outputs_as_dvs(result)
    except (RunFileError, EventError) as exc:
        raise fail(path, str(exc)) from None
    if len(ev) == 0 and len(result.outputs):
        raise fail(path, "this run file has no DVS-layer (layer 13) output to read as camera events",
                   hint="replay its core outputs with speksim.io.runfiles.run_outputs_as_spikes, or "
                        "'speksim run' on the run file",
                   cli_hint="replay its core outputs with 'speksim run' on the run file (--layer-map SRC:DST "
                            "chooses where they go)")
    if len(ev) and ev["t"].min() < 0:
        raise fail(path, f"the DVS-layer output holds a negative time ({int(ev['t'].min())} µs)",
                   hint="the run file is damaged; run the simulation again")
    for i in range(0, len(ev), block):
        yield ev[i:i + block]


def sensor_size_run(path):
    return None


def _as_result(path_or_result) -> Result:
    from ..runfile import load_run
    return path_or_result if isinstance(path_or_result, Result) else load_run(path_or_result)


def _layer_ids(res: Result) -> tuple[int, int]:
    """(DVS layer id, readout layer id) of the chip a run used; the built-in chips' when the run
    does not say."""
    dvs, readout = res.chip_parameter("dvs_layer_id"), res.chip_parameter("readout_layer")
    if dvs is None or readout is None:
        from ..chip import load_chip
        chip = load_chip()
        dvs, readout = chip.dvs_layer_id, chip.readout_layer
    return int(dvs), int(readout)


def _to_us(t_ns: np.ndarray) -> np.ndarray:
    """Output times in ns → input times in µs (floor: the input timestamp resolution is 1 µs)."""
    return np.asarray(t_ns, np.int64) // 1000


def run_outputs_as_spikes(path_or_result, layer_map: Optional[Mapping[int, int]] = None) -> np.ndarray:
    """The monitored outputs of a run (a `Result` or a run file path) as SPIKE_EVENT input.

    `layer_map` {source layer: target core 0..8} says where each monitored layer's events go;
    layers not in it are left out. Default: every core layer 0..8 to the same core number (the
    addresses are kept; pass e.g. ``{2: 0}`` to feed core 2's output into core 0 of another
    network). Layer 13 (the DVS layer) may be mapped to a core: its events arrive there with
    feature = the DVS layer's output channel. The readout (layer 12) emits class indices, not
    spikes, and cannot be mapped. Times: t (µs) = t_ns // 1000, so sub-µs spacing is lost and
    events keep their host arrival order.
    """
    res = _as_result(path_or_result)
    if layer_map is None:
        layer_map = {k: k for k in range(N_CORES)}
    dvs_id, readout_id = _layer_ids(res)
    mapping = {}
    for src, dst in dict(layer_map).items():
        src, dst = int(src), int(dst)
        if src == readout_id:
            raise EventError(f"layer_map maps the readout (layer {readout_id}), whose outputs are class indices, "
                             f"not spikes; map core layers 0..{N_CORES - 1} or the DVS layer {dvs_id}")
        if not (0 <= src < N_CORES or src == dvs_id):
            raise EventError(f"layer_map has source layer {src}; monitored layers are cores 0..{N_CORES - 1} and the "
                             f"DVS layer {dvs_id}")
        if not 0 <= dst < N_CORES:
            raise EventError(f"layer_map sends layer {src} to {dst}; spike input goes to a core 0..{N_CORES - 1}")
        mapping[src] = dst
    out = res.outputs
    lut = np.full(256, -1, np.int64)
    for src, dst in mapping.items():
        lut[src] = dst
    target = lut[out["layer"].astype(np.int64)] if len(out) else np.zeros(0, np.int64)
    keep = target >= 0
    sel = out[keep]
    ev = np.empty(len(sel), SPIKE_EVENT)
    ev["t"] = _to_us(sel["t_ns"])
    ev["layer"] = target[keep]
    ev["feature"] = sel["feature"]
    ev["x"] = sel["x"]
    ev["y"] = sel["y"]
    return _sorted(ev)


def run_outputs_as_dvs(path_or_result) -> np.ndarray:
    """The DVS layer's monitored output (layer 13) of a run as DVS_EVENT camera input.

    p = the output feature (the polarity, or 0 when the DVS layer merged polarities); x, y are the
    DVS layer's output address (after its pooling, crop and mirror). Times: t (µs) = t_ns // 1000.
    """
    res = _as_result(path_or_result)
    sel = res.outputs[res.outputs["layer"] == _layer_ids(res)[0]]
    if len(sel) and int(sel["feature"].max()) > 1:
        raise EventError(f"layer-13 outputs have feature {int(sel['feature'].max())}; a camera polarity is 0 or 1")
    ev = np.empty(len(sel), DVS_EVENT)
    ev["t"] = _to_us(sel["t_ns"])
    ev["x"] = sel["x"]
    ev["y"] = sel["y"]
    ev["p"] = sel["feature"]
    return _sorted(ev)


def _sorted(ev: np.ndarray) -> np.ndarray:
    if len(ev) > 1 and np.any(np.diff(ev["t"]) < 0):
        ev = ev[np.argsort(ev["t"], kind="stable")]
    return ev
