"""Named conformance scenarios: small chips whose behaviour follows from the chip model (docs/chip-model.md) by hand.

Each scenario names the SPEC rules it exercises. Where the result can be worked out by hand it
carries the expectation, computed in the scenario's code from the chip's parameters with the
SPEC formulas (never copied from an engine's output); the comments give the arithmetic.
Notation: LAT host_in_latency_ns, LINK host_in_ns, EV event_ns, SY synop_ns, LK leak_ns,
RT route_ns, HO host_out_ns, HL host_out_latency_ns. "s" is a service start, "T = s + EV" the
end of decoding, so SynOp j completes at T + (j+1)*SY (T3).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Callable, Optional

import numpy as np

from speksim.chip import Chip, load_chip
from speksim.config import (ChipConfig, CnnLayerConfig, CnnLayerDestination, DvsDestination, DvsLayerConfig,
                            ReadoutConfig, RunOptions)
from speksim.engine.compiled import DVS, EngineInput

CHIP = load_chip("speck2f")

#: Every rule of SPEC §2 and §3.
ALL_RULES = tuple(f"F{i}" for i in range(1, 9)) + tuple(f"T{i}" for i in range(13))

#: Rules no engine implements yet, so no scenario covers them.
NOT_YET_IMPLEMENTED: dict = {}

#: Parts of rules that are not implemented yet (the rest of the rule is covered).
PARTLY_IMPLEMENTED: dict = {}


@dataclass
class Expected:
    """What a scenario's result must be; None / empty means "not checked by hand"."""

    outputs: Optional[list] = None          # rows (t_ns, layer, feature, x, y, root), emission order
    stats: dict = field(default_factory=dict)   # {(block, stat name): value}
    lag_ns: Optional[list] = None
    t_end_ns: Optional[int] = None
    states: dict = field(default_factory=dict)  # {core: int array [c_out, h_out, w_out]}
    deadlock_cycle: Optional[set] = None    # the run must raise DeadlockError naming these blocks
    series: dict = field(default_factory=dict)  # {(series name, block): {bin: value}} (other bins 0)
    cut: Optional[bool] = None              # T12: stopped at the drain limit with work left
    active: Optional[tuple] = None          # T12: blocks with pending work at the end, ascending
    unsent: Optional[int] = None            # T12: inputs the link never sent


@dataclass
class Scenario:
    name: str
    rules: tuple
    config: ChipConfig
    chip: Chip
    options: RunOptions
    inputs: EngineInput
    expected: Optional[Expected]            # None: the two engines are only compared
    doc: str = ""


_BUILDERS: list[Callable[[], list]] = []


def _scenarios(fn):
    _BUILDERS.append(fn)
    return fn


def all_scenarios() -> list[Scenario]:
    out = []
    for build in _BUILDERS:
        made = build()
        out.extend(made if isinstance(made, list) else [made])
    names = [s.name for s in out]
    assert len(names) == len(set(names)), "scenario names must be unique"
    return out


# ----------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------

def timing(chip: Chip, core: int = 0) -> SimpleNamespace:
    """The chip's timing parameters under short names (see the module docstring)."""
    return SimpleNamespace(LAT=chip.host_in_latency_ns, LINK=chip.host_in_ns, EV=chip.event_ns[core],
                           SY=chip.synop_ns[core], LK=chip.leak_ns[core], RT=chip.route_ns[core],
                           HO=chip.host_out_ns, HL=chip.host_out_latency_ns, DEV=chip.dvs_event_ns,
                           DRT=chip.dvs_route_ns, RO=chip.readout_event_ns, SLAT=chip.sensor_latency_ns,
                           SLINK=chip.sensor_ns)


def host_output(arrivals, chip: Chip) -> list:
    """T7: the host output serves events in FIFO order, HO each, from the later of the previous
    end and the event's arrival; the timestamp is the end plus HL. Returns the timestamps."""
    out, end = [], None
    for a in arrivals:
        end = (a if end is None else max(a, end)) + chip.host_out_ns
        out.append(end + chip.host_out_latency_ns)
    return out


def spike_in(*rows) -> EngineInput:
    """Host-written input events (t_ns, core, feature, x, y)."""
    a = np.array(rows, np.int64).reshape(-1, 5)
    return EngineInput(a[:, 0].copy(), a[:, 1].copy(), a[:, 2].copy(), a[:, 3].copy(), a[:, 4].copy())


def dvs_in(*rows) -> EngineInput:
    """Camera events (t_ns, x, y, p) for the DVS layer."""
    a = np.array(rows, np.int64).reshape(-1, 4)
    return EngineInput(a[:, 0].copy(), np.full(len(a), DVS, np.int64), a[:, 3].copy(), a[:, 1].copy(),
                       a[:, 2].copy())


def chip_config(layers: dict, dvs: Optional[DvsLayerConfig] = None, readout: bool = False) -> ChipConfig:
    cfg = ChipConfig()
    for k, layer in layers.items():
        cfg.cnn_layers[k] = layer
    if dvs is not None:
        cfg.dvs_layer = dvs
    if readout:
        cfg.readout = ReadoutConfig(enable=True)
    return cfg


def to(layer: int, pooling: int = 1, feature_shift: int = 0) -> CnnLayerDestination:
    """An enabled destination (F5.3)."""
    return CnnLayerDestination(layer=layer, enable=True, pooling=pooling, feature_shift=feature_shift)


def eye(c_out: int, c_in: int, k: int = 1) -> np.ndarray:
    """1x1 (or centre-only) weights passing input channel c to output channel c with weight 1."""
    w = np.zeros((c_out, c_in, k, k), np.int8)
    for c in range(min(c_out, c_in)):
        w[c, c, k // 2, k // 2] = 1
    return w


def ones(c_out: int, c_in: int, k: int = 1, value: int = 1) -> np.ndarray:
    return np.full((c_out, c_in, k, k), value, np.int8)


def conv(weights, size, **kw) -> CnnLayerConfig:
    """A core; `threshold_low` defaults to -1 (0 is forbidden, SPEC §1)."""
    kw.setdefault("threshold_low", -1)
    return CnnLayerConfig.conv(np.asarray(weights, np.int8), size, **kw)


def dvs_layer(**kw) -> DvsLayerConfig:
    dests = kw.pop("destinations", [])
    d = DvsLayerConfig(**kw)
    for i, layer in enumerate(dests):
        d.destinations[i] = DvsDestination(layer=layer, enable=True)
    return d


OPTS = RunOptions()


def anchor_chain(n: int) -> ChipConfig:
    """SPEC T10: n cores, 1->1 channel, 3x3 kernel, stride 1, padding 1, 16x16, threshold_high 1,
    only the kernel centre = 1, only the last core monitored."""
    w = np.zeros((1, 1, 3, 3), np.int8)
    w[0, 0, 1, 1] = 1
    return chip_config({k: conv(w, (16, 16), padding=1, destinations=[to(k + 1)] if k < n - 1 else [],
                                monitor_enable=k == n - 1) for k in range(n)})
