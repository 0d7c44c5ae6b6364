"""An energy and power estimate of a run, from its statistics and the chip's energy figures.

    est = estimate(result)                 # a Result, or load_run("run.h5")
    print(energy_line(est))                # what `speksim run` and `speksim info` print
    est["total_j"], est["mean_w"], est["cores"][0]["total_j"]

Every joule is an estimate: SynSense publishes whole-chip power only (the resting power and a
few networks' totals), so the per-SynOp, per-event and per-copy figures of the chip file are
derived from those totals and marked `est` there. They serve to compare runs of the same chip
(two configurations, a what-if), not to predict a measurement.

The model, per used core k (figures from the chip file, section [energy]):

    dynamic_k = synops_k * synop_pj[k]                      (SPEC F2's count)
              + leak_jobs_k * neurons_k * synop_pj[k]       (a leak step updates every neuron, T5)
              + (served_k + leak_jobs_k) * event_pj[k]      (each event or leak job is decoded once)
              + copies_k * copy_pj[k]                       (monitor and destination copies, T4)

plus the DVS layer (events served x dvs_event_pj) and the whole chip's static power
(static_uw x the run's length, t_end_ns). The readout and the host interface are not counted.
"""

from __future__ import annotations

from typing import Optional

from .._text import duration_text
from ..blocks import DVS
from ..chip import Chip, chip_from_dict
from ..errors import ChipFileError, RunFileError
from ..result import Result

#: The chip parameters the estimate reads, with their units.
FIGURES = {"synop_pj": "pJ", "event_pj": "pJ", "copy_pj": "pJ", "dvs_event_pj": "pJ", "static_uw": "µW"}

_PJ = 1e-12


def estimate(result: Result, chip: Optional[Chip] = None) -> dict:
    """Energy (J) and mean power (W) of `result`, per used core and in total.

    The figures come from the chip recorded in the result's metadata (what-if overrides
    included), or from `chip` when given (e.g. a run recorded by a speksim without energy
    figures, or to price the same activity on another chip). Returns a JSON-ready dict:

    - `estimate`: True (the numbers are estimates); `chip`, `overrides`: the chip priced;
    - `duration_s`: the run's length (t_end_ns), over which the means are taken;
    - `cores`: per used core: `core`, counts `synops`, `leak_updates`, `events` (served events
      and leak jobs), `copies`; energies `synop_j`, `event_j`, `copy_j`, `total_j`; `mean_w`;
    - `dvs`: `events`, `total_j`, `mean_w` of the DVS layer;
    - `dynamic_j` (cores and DVS layer), `static_j`, `total_j`, `mean_w`;
    - `figures`: each figure used, {name: {value, unit, source, reason}}.
    """
    result.require_simulation("an energy estimate (SynOp and event counts per core)")
    chip = chip if chip is not None else _recorded_chip(result)
    stats = result.stats
    duration_s = max(int(result.t_end_ns), 0) / 1e9
    cores = []
    for k in result.used_cores():
        row = stats[k]
        neurons = int(result.states[k].size)
        leak_updates = int(row["leak_jobs"]) * neurons
        events = int(row["served"]) + int(row["leak_jobs"])
        synop_j = (int(row["synops"]) + leak_updates) * chip.synop_pj[k] * _PJ
        event_j = events * chip.event_pj[k] * _PJ
        copy_j = int(row["copies"]) * chip.copy_pj[k] * _PJ
        total = synop_j + event_j + copy_j
        cores.append({"core": k, "synops": int(row["synops"]), "leak_updates": leak_updates, "events": events,
                      "copies": int(row["copies"]), "synop_j": synop_j, "event_j": event_j, "copy_j": copy_j,
                      "total_j": total, "mean_w": _mean(total, duration_s)})
    dvs_events = int(stats[DVS]["served"])
    dvs_j = dvs_events * chip.dvs_event_pj * _PJ
    dynamic = sum(c["total_j"] for c in cores) + dvs_j
    static = chip.static_uw * 1e-6 * duration_s
    total = dynamic + static
    return {
        "estimate": True, "chip": chip.name, "overrides": list(chip.overrides), "duration_s": duration_s,
        "cores": cores, "dvs": {"events": dvs_events, "total_j": dvs_j, "mean_w": _mean(dvs_j, duration_s)},
        "dynamic_j": dynamic, "static_j": static, "total_j": total,
        "mean_w": _mean(total, duration_s) if duration_s > 0 else chip.static_uw * 1e-6,
        "figures": {name: _figure(chip, name, unit) for name, unit in FIGURES.items()},
    }


def _mean(joules: float, seconds: float) -> float:
    return joules / seconds if seconds > 0 else 0.0


def _figure(chip: Chip, name: str, unit: str) -> dict:
    value = getattr(chip, name)
    prov = chip.provenance.get(name)
    return {"value": list(value) if isinstance(value, tuple) else value, "unit": unit,
            "source": prov.source if prov else "", "reason": prov.reason if prov else ""}


def _recorded_chip(result: Result) -> Chip:
    record = (result.metadata or {}).get("chip")
    if not record:
        raise RunFileError("the result records no chip (metadata['chip']), so it has no energy figures; give the "
                           "chip: estimate(result, chip=load_chip('speck2f'))")
    try:
        return chip_from_dict(record)
    except ChipFileError as exc:
        raise RunFileError(f"{exc}; to price it with a current chip's figures: "
                           "estimate(result, chip=load_chip('speck2f'))") from None


# --------------------------------------------------------------------------------------------
# words
# --------------------------------------------------------------------------------------------

def energy_text(joules: float) -> str:
    """An energy: '4.72 mJ', '812 µJ', '3.1 nJ'."""
    for div, unit in ((1.0, "J"), (1e-3, "mJ"), (1e-6, "µJ"), (1e-9, "nJ")):
        if joules >= div:
            return f"{joules / div:.3g} {unit}"
    return f"{joules / 1e-12:.3g} pJ"


def power_text(watts: float) -> str:
    """A power: '9.08 mW', '420 µW'."""
    for div, unit in ((1.0, "W"), (1e-3, "mW"), (1e-6, "µW")):
        if watts >= div:
            return f"{watts / div:.3g} {unit}"
    return f"{watts / 1e-9:.3g} nW"


def energy_line(est: dict, label: str = "energy (estimate): ") -> str:
    """One line: total energy and mean power, the dynamic part and the core that takes most of
    it, and the static part; after `label`."""
    line = (f"{label}{energy_text(est['total_j'])} over {duration_text(est['duration_s'] * 1e6)}, mean "
            f"{power_text(est['mean_w'])}; dynamic {energy_text(est['dynamic_j'])}")
    if est["cores"] and est["dynamic_j"] > 0:
        top = max(est["cores"], key=lambda c: c["total_j"])
        line += f" (core {top['core']} {top['total_j'] / est['dynamic_j']:.0%})"
    return line + f", static {energy_text(est['static_j'])}"


def per_core_line(est: dict) -> str:
    """One line: each used core's energy, then the DVS layer's when it served events."""
    parts = [f"core {c['core']} {energy_text(c['total_j'])}" for c in est["cores"]]
    if est["dvs"]["events"]:
        parts.append(f"DVS layer {energy_text(est['dvs']['total_j'])}")
    return ", ".join(parts) if parts else "no core in use"


__all__ = ["estimate", "energy_line", "per_core_line", "energy_text", "power_text", "FIGURES"]
