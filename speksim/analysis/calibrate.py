"""Timing calibration: fit a chip's timing parameters to devkit captures.

    cal = calibrate(["capture.h5"], "speck2f")
    print(cal.text())
    cal.write_chip("speck2f-fitted.toml", captures=["capture.h5"], date="2026-12-02")

Each capture (a run file: a devkit capture, or a simulation made with other chip values) is
simulated again with its configuration, run options and input, on the base chip with candidate
values, and every output event is paired with its twin in the capture: same neuron address
(layer, feature, x, y) and same occurrence (the k-th spike of an address in one run with the
k-th in the other). The residual of a pair is t_sim - (t_capture + 500 ns); events without a twin
are counted, not fitted.

Times (event_ns, synop_ns, route_ns, host link times, ...) are fitted by Gauss-Newton on those
residuals, with a Jacobian by finite differences (one simulation per parameter nudged) and values
rounded to whole ns. The Jacobian also says what the captures cannot identify: a parameter no
matched output depends on, or a combination they only ever see together (the two host latencies
add up in every output time), which is then fitted as one: its members scaled together, their
base ratio kept. FIFO depths matter only when a FIFO fills: a depth is searched over whole slots
when changing it changes the residuals, and is reported as never filled otherwise.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from ..blocks import DVS, HOST_OUT, READOUT
from ..chip import Chip, builtin_chips, load_chip
from ..config import validate as validate_config
from ..errors import DeadlockError, EventError, RunFileError
from .calibration import SPECS, Calibration, Param, apply_values, combination_text, default_params, parse_params
from .compare import address_keys

#: A devkit timestamps outputs in whole µs, the floor of the true time: the middle of that µs is
#: the best point estimate of the true time, so residuals are taken against t_capture + 500 ns.
FLOOR_NS = 1000
HALF_US_NS = FLOOR_NS // 2
#: Spread of the true time around that estimate (uniform over the µs): sqrt(1000² / 12) ns.
FLOOR_SIGMA_NS = FLOOR_NS / math.sqrt(12)
#: A combination of parameters is identified when the captures pin it to this fraction of its value
#: (one standard deviation of the µs flooring, propagated through the Jacobian).
IDENTIFIED_REL = 0.025
#: Columns of the Jacobian this close to parallel (smallest singular value of the unit columns)
#: are taken as one combination.
COLLINEAR = 1e-3
#: A capture event without a twin costs as much as a residual this large (ns) in the fit's cost.
UNMATCHED_NS = 100_000
GN_ITERATIONS = 8
#: Factors by which the coarse start scales the times before Gauss-Newton.
COARSE_SCALES = (0.5, 0.63, 0.8, 0.9, 1.1, 1.25, 1.6, 2.0)
#: Below this share of simulated times inside their captured µs, the fit is reported as poor.
POOR_FIT = 0.9

@dataclass
class _Case:
    name: str
    config: object
    options: object
    events: np.ndarray
    outputs: np.ndarray          # the capture's OUTPUT_EVENT array
    kind: str
    offset_ns: int               # added to the capture's times: HALF_US_NS for a devkit's, 0 for a simulation's


# --------------------------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------------------------

def _cases(captures, inputs, names) -> tuple:
    from ..runfile import load_run
    from .stalls import check_events, events_for_run, run_config, run_options
    if not captures:
        raise EventError("no capture given: calibrate needs at least one capture (a run file with the devkit's output)",
                         cli="no capture given: speksim calibrate CAPTURE.h5 [MORE.h5 ...] --chip CHIP -o fitted.toml")
    inputs = list(inputs or [])
    if names is not None and len(names) != len(captures):
        raise ValueError(f"{len(captures)} captures but {len(names)} names: give one name per capture")
    if inputs and len(inputs) != len(captures):
        raise EventError(f"{len(captures)} captures but {len(inputs)} inputs: give one input per capture, in the same "
                         "order (None for a capture that keeps its input)",
                         cli=f"{len(captures)} captures but {len(inputs)} --recording: give one recording per capture, "
                             "in the same order")
    cases, chips = [], []
    for i, cap in enumerate(captures):
        name = names[i] if names else (Path(cap).name if isinstance(cap, (str, os.PathLike)) else f"capture {i + 1}")
        result = load_run(cap) if isinstance(cap, (str, os.PathLike)) else cap
        given = inputs[i] if inputs else None
        if given is not None:
            if isinstance(given, (str, os.PathLike)):
                events = events_for_run(result, Path(given))
            else:
                events = check_events(result, given)
        elif result.input_events is not None:
            events = np.asarray(result.input_events)
        else:
            raise EventError(f"{name} keeps no input events (a simulation's run file does not): give its input "
                             "(inputs=[...], one per capture)",
                             cli=f"{name} keeps no input events (a simulation's run file does not): give its "
                                 "recording with --recording, one per capture in the same order")
        meta = result.metadata or {}
        if not meta.get("config"):
            raise RunFileError(f"{name} records no configuration: it is not a speksim run file or capture")
        cases.append(_Case(name, run_config(result), run_options(result), events, np.asarray(result.outputs),
                           "spike" if "layer" in (events.dtype.names or ()) else "dvs",
                           HALF_US_NS if result.is_capture() else 0))
        chips.append((meta.get("chip") or {}).get("name"))
    return cases, chips


# --------------------------------------------------------------------------------------------
# residuals
# --------------------------------------------------------------------------------------------

def match(sim: np.ndarray, cap: np.ndarray) -> tuple:
    """(i_sim, i_cap): indices of the output events paired by address (layer, feature, x, y) and
    occurrence (the k-th event of an address in `sim` with the k-th in `cap`), in `cap` order."""
    keys = address_keys(sim), address_keys(cap)
    table = np.unique(np.concatenate(keys))
    span = max(len(sim), len(cap)) + 1
    a, b = (_occurrence_ids(k, table, span) for k in keys)
    _, i_sim, i_cap = np.intersect1d(a, b, assume_unique=True, return_indices=True)
    order = np.argsort(i_cap, kind="stable")
    return i_sim[order], i_cap[order]


def _occurrence_ids(key, table, span) -> np.ndarray:
    # one id per (address, occurrence): events keep their order within an address (stable sort)
    order = np.argsort(key, kind="stable")
    k = key[order]
    occurrence = np.arange(len(k)) - np.searchsorted(k, k)
    out = np.empty(len(k), np.int64)
    out[order] = np.searchsorted(table, k) * span + occurrence
    return out


class _Evaluator:
    """Simulates the cases with candidate values; remembers what it ran."""

    def __init__(self, chip, cases, params):
        self.chip, self.cases, self.params = chip, cases, params
        self.cache: dict = {}
        self.simulations = 0

    def run(self, values: tuple):
        """Per case: (residual float64 [n capture outputs], NaN where unmatched; the run's
        statistics; its number of outputs), or None when a case deadlocks with these values.
        Only these are kept: a fit runs hundreds of simulations."""
        if values in self.cache:
            return self.cache[values]
        from ..simulation import Simulation
        chip = apply_values(self.chip, dict(zip(self.params, values)))
        out = []
        for case in self.cases:
            self.simulations += 1
            try:
                res = Simulation(case.config, chip, case.options, validate=False).run(case.events)
            except DeadlockError:
                out = None
                break
            r = np.full(len(case.outputs), np.nan)
            i_sim, i_cap = match(res.outputs, case.outputs)
            r[i_cap] = res.outputs["t_ns"][i_sim] - (case.outputs["t_ns"][i_cap] + case.offset_ns)
            out.append((r, res.stats[["fifo_max", "out_max"]].copy(), len(res.outputs)))
        self.cache[values] = out
        return out

    def residuals(self, values) -> Optional[np.ndarray]:
        got = self.run(tuple(int(v) for v in values))
        return None if got is None else np.concatenate([g[0] for g in got])

    def cost(self, values) -> float:
        """Sum of squared residuals, an unmatched capture event counting as UNMATCHED_NS."""
        r = self.residuals(values)
        if r is None:
            return math.inf
        ok = ~np.isnan(r)
        return float(np.sum(r[ok] ** 2) + (~ok).sum() * float(UNMATCHED_NS) ** 2)

    def outside(self, values) -> tuple:
        """(how far the simulated times fall outside their capture's µs: sum of squares, ns²;
        `cost`). The first is 0 when every simulated time floors to its capture's µs, which
        the true parameters achieve however the phases within the µs fall."""
        r = self.residuals(values)
        if r is None:
            return math.inf, math.inf
        ok = ~np.isnan(r)
        past = np.maximum(np.abs(r[ok] + 0.5) - HALF_US_NS, 0.0)
        return float(np.sum(past ** 2) + (~ok).sum() * float(UNMATCHED_NS) ** 2), self.cost(values)


def figures(ev: _Evaluator, values, cases=None) -> dict:
    got = ev.run(tuple(int(v) for v in values))
    if got is None:
        return {"n": 0, "rms_ns": math.nan, "median_abs_ns": math.nan, "max_abs_ns": math.nan, "within_us": 0.0,
                "unmatched_capture": sum(len(c.outputs) for c in ev.cases), "unmatched_sim": 0, "deadlock": True}
    idx = range(len(got)) if cases is None else cases
    r = np.concatenate([got[i][0] for i in idx])
    ok = ~np.isnan(r)
    rr = r[ok]
    n_sim = sum(got[i][2] for i in idx)
    return {"n": int(ok.sum()),
            "rms_ns": float(np.sqrt(np.mean(rr ** 2))) if rr.size else math.nan,
            "median_abs_ns": float(np.median(np.abs(rr))) if rr.size else math.nan,
            "max_abs_ns": float(np.max(np.abs(rr))) if rr.size else math.nan,
            # the simulated time falls in the capture's µs: -500 <= r < 500
            "within_us": float(np.mean((rr >= -HALF_US_NS) & (rr < HALF_US_NS))) if rr.size else 0.0,
            "unmatched_capture": int((~ok).sum()), "unmatched_sim": int(n_sim - ok.sum())}


# --------------------------------------------------------------------------------------------
# the fit
# --------------------------------------------------------------------------------------------

def calibrate(captures: Sequence, chip: Chip | str = "speck2f", *, parameters: Optional[Sequence[str]] = None,
              inputs: Optional[Sequence] = None, names: Optional[Sequence[str]] = None,
              progress: Optional[Callable[[str], None]] = None) -> Calibration:
    """Fit the timing parameters of `chip` (a built-in name, a chip file path, or a Chip) to
    `captures` (run files: paths or loaded `Result`s; devkit captures or simulations), jointly.

    parameters: the parameters to fit (default: every timing parameter the captures can constrain:
    event_ns, synop_ns, route_ns for all cores as one value, the host link times, the DVS layer's
    and readout's when used, and the FIFO depths); `core.K.NAME` fits one core's value.
    inputs: per capture, its input events (SPIKE_EVENT or DVS_EVENT, µs) or recording path, or
    None when the capture keeps its input (a devkit capture does; a simulation's run file does
    not); same order as `captures`. names: what to call the captures in the report (default: their
    file names). progress(text): called before each slow step.
    Raises EventError (no capture, no input for one), RunFileError (a file that is no run file),
    ChipFileError (an unknown chip or parameter).
    """
    t0 = time.perf_counter()
    base_ref = _base_ref(chip)
    base_chip = load_chip(chip)
    cases, recorded = _cases(captures, inputs, names)
    warnings = [f"{c.name} was recorded with chip {r!r}, not {base_chip.name!r}: its timing is fitted to "
                f"{base_chip.name}'s model all the same" for c, r in zip(cases, recorded) if r and r != base_chip.name]
    warnings += [f"{c.name} has no output events: it constrains nothing" for c in cases if not len(c.outputs)]
    params = parse_params(parameters) if parameters else default_params(cases)
    cores = sorted({k for c in cases for k in c.config.used_cores()})
    base = [p.value(base_chip, cores) for p in params]
    for c in cases:     # what the base chip refuses, refused once, in the check's words
        validate_config(c.config, base_chip, c.options)
    ev = _Evaluator(base_chip, cases, params)
    if ev.run(tuple(base)) is None:
        raise DeadlockError("the base chip deadlocks on a capture's input: fix the configuration or the base chip "
                            "before calibrating")
    times = [i for i, p in enumerate(params) if not p.depth]
    depths = [i for i, p in enumerate(params) if p.depth]
    theta = _coarse_start(ev, list(base), times, params, progress)
    lost: dict = {}
    for _ in range(3):
        theta = _gauss_newton(ev, theta, times, params, progress)
        theta, depth_notes = _fit_depths(ev, theta, depths, params, cores, progress)
        theta = _gauss_newton(ev, theta, times, params, progress)
        J, _ = _jacobian(ev, theta, times, params)
        groups, lost = _identify(J, theta, times)
        if progress:
            progress("fitting the times to the captures' whole µs")
        theta = _polish(ev, theta, groups, params, J)
        theta, ranges = _ranges(ev, theta, groups, params)
        J, _ = _jacobian(ev, theta, times, params)
        groups, lost = _identify(J, theta, times)
        # a parameter found unidentifiable alone goes back to its base value, unless the captures
        # fit that worse (it is then weakly pinned, not free); fit the rest again after a change
        moved = False
        for i in lost:
            back = theta[:i] + [base[i]] + theta[i + 1:]
            if theta[i] != base[i] and ev.outside(back) <= ev.outside(theta):
                theta, moved = back, True
        if not moved:
            break
    sigma = _sigmas(J, theta, groups)
    ranges = {params[i].key: [int(lo), int(hi)] for i, (lo, hi) in ranges.items() if any(i in g for g in groups)}
    fitted, unidentified, combos = {}, {}, []
    for g in groups:
        for i in g:
            fitted[params[i].key] = int(theta[i])
        if len(g) > 1:
            combos.append(_combination(J, g, theta, base, params))
    for c in combos:
        for k in c["parameters"]:
            unidentified[k] = combination_text(c)
    for i, why in lost.items():
        unidentified[params[i].key] = why
        if theta[i] != base[i]:
            fitted[params[i].key] = int(theta[i])
            unidentified[params[i].key] += "; the fitted value is written all the same: the base value fits worse"
    for i in depths:
        key = params[i].key
        if depth_notes[i][0] == "unidentified":
            unidentified[key] = depth_notes[i][1]
        else:
            fitted[key] = int(theta[i])
    order = [p.key for p in params]
    fitted = {k: fitted[k] for k in order if k in fitted}
    unidentified = {k: unidentified[k] for k in order if k in unidentified}
    after = figures(ev, theta)
    per_capture = {c.name: figures(ev, theta, [j]) for j, c in enumerate(cases)}
    if after["n"] and after["within_us"] < POOR_FIT:
        warnings.append(f"a poor fit: only {after['within_us']:.0%} of the simulated output times fall in their "
                        f"captured µs (rms residual {after['rms_ns']:.0f} ns), so the values above are not to be "
                        "trusted. Captures that monitor every core in use, and input with quiet stretches between "
                        "its bursts, constrain the fit better")
    if after["unmatched_capture"]:
        warnings.append(f"{after['unmatched_capture']} capture events have no twin in the simulation (and "
                        f"{after['unmatched_sim']} simulated events none in the captures): they were not fitted")
    return Calibration(base_chip=base_chip, base_ref=base_ref, fitted=fitted,
                       base={p.key: int(b) for p, b in zip(params, base)},
                       sigma={params[i].key: s for i, s in sigma.items()}, ranges=ranges,
                       residual={"before": figures(ev, base), "after": after}, unidentified=unidentified,
                       combinations=combos, per_capture=per_capture, captures=[c.name for c in cases],
                       simulations=ev.simulations, seconds=time.perf_counter() - t0,
                       warnings=warnings + [f"{params[i].key}: {n[1]}" for i, n in depth_notes.items()
                                            if n[0] == "bound"])


def _base_ref(chip) -> Optional[str]:
    """How a chip file extending `chip` names it: a built-in name, a path, or None (a Chip object
    that is no built-in chip as loaded)."""
    if isinstance(chip, Chip):
        if chip.name in builtin_chips() and not chip.overrides and chip == load_chip(chip.name):
            return chip.name
        return None
    text = str(chip)
    if text in builtin_chips() and not Path(text).is_file():
        return text
    return str(Path(text).resolve())


def _jacobian(ev: _Evaluator, theta, idx, params) -> tuple:
    """(J float64 [matched rows, n params] in ns per unit of each parameter, zero outside `idx`;
    residuals at `theta` of those rows).

    Each parameter is nudged up and down by 2%; a row takes the smaller of the two slopes, so that
    a nudge that crosses a kink (another block becomes the bottleneck) does not make a parameter
    look better pinned than it is where it stands."""
    r0 = ev.residuals(theta)
    rows = ~np.isnan(r0)
    J = np.zeros((int(rows.sum()), len(theta)))
    for i in idx:
        spec = SPECS[params[i].name]
        h = max(1, int(round(0.02 * theta[i])))
        slopes = []
        for t in (min(theta[i] + h, spec.hi), max(theta[i] - h, spec.lo)):
            if t == theta[i]:
                continue
            r1 = ev.residuals(theta[:i] + [t] + theta[i + 1:])
            if r1 is not None:
                d = (r1[rows] - r0[rows]) / (t - theta[i])
                slopes.append(np.where(np.isnan(d), 0.0, d))
        if len(slopes) == 2:
            J[:, i] = np.where(np.abs(slopes[0]) <= np.abs(slopes[1]), slopes[0], slopes[1])
        elif slopes:
            J[:, i] = slopes[0]
    return J, r0[rows]


def _unit(value) -> float:
    """What a group's relative change is a fraction of: the value, or 1 ns (slot) at 0, which
    no fraction would move."""
    return float(max(abs(value), 1))


def _group_columns(J, theta, groups) -> np.ndarray:
    # a group moves as one: each member by the same fraction of its value (their ratio kept)
    return np.column_stack([sum(J[:, i] * _unit(theta[i]) for i in g) for g in groups]) if groups else \
        np.zeros((J.shape[0], 0))


def _identify(J, theta, idx) -> tuple:
    """(groups of parameter indices fitted together, {index: why it cannot be fitted}).

    Columns in relative units (ns of output time per 100% change of the group). A group no
    matched time depends on is lost; groups whose columns are (nearly) parallel are merged, since
    the captures only see their sum; then, while some group is not pinned to IDENTIFIED_REL by
    the µs flooring, the weakest goes: lost when it is weak on its own, else merged with the
    group it is most confused with."""
    groups = [[i] for i in idx]
    lost = {}
    while groups:
        A = _group_columns(J, theta, groups)
        norms = np.linalg.norm(A, axis=0)
        dead = [j for j in range(len(groups)) if norms[j] < 1e-9]
        if dead:
            for j in dead:
                for i in groups[j]:
                    lost[i] = "no matched output time depends on it in these captures"
            groups = [g for j, g in enumerate(groups) if j not in dead]
            continue
        unit = A / norms
        _, s, vt = np.linalg.svd(unit, full_matrices=False)
        if len(groups) > 1 and s[-1] < COLLINEAR:
            v = np.abs(vt[-1])
            members = [j for j in range(len(groups)) if v[j] >= 0.2 * v.max()]
            merged = sorted(i for j in members for i in groups[j])
            groups = [g for j, g in enumerate(groups) if j not in members] + [merged]
            continue
        rel = _relative_sigmas(A)
        worst = int(np.argmax(rel))
        if rel[worst] <= IDENTIFIED_REL:
            break
        alone = FLOOR_SIGMA_NS / norms[worst]
        if alone > IDENTIFIED_REL or len(groups) == 1:
            for i in groups[worst]:
                lost[i] = (f"the matched output times change too little with it to fix it (±{100 * alone:.0f}% of "
                           "its value from the µs timestamps alone)")
            groups.pop(worst)
        else:
            cos = np.abs(unit.T @ unit[:, worst])
            cos[worst] = -1
            other = int(np.argmax(cos))
            merged = sorted(groups[worst] + groups[other])
            groups = [g for j, g in enumerate(groups) if j not in (worst, other)] + [merged]
    return sorted(groups), lost


def _relative_sigmas(A) -> np.ndarray:
    """Per group: one standard deviation of its fitted fraction from the µs flooring."""
    cov = np.linalg.pinv(A.T @ A)
    return np.sqrt(np.maximum(np.diag(cov), 0)) * FLOOR_SIGMA_NS


def _sigmas(J, theta, groups) -> dict:
    A = _group_columns(J, theta, groups)
    if not groups:
        return {}
    cov = np.linalg.pinv(A.T @ A) * FLOOR_SIGMA_NS ** 2
    return {i: _unit(theta[i]) * math.sqrt(max(cov[j, j], 0.0)) for j, g in enumerate(groups) for i in g}


def _combination(J, g, theta, base, params) -> dict:
    a = sum(J[:, i] * _unit(theta[i]) for i in g)
    d = a / max(np.linalg.norm(a), 1e-12)
    c = np.array([float(J[:, i] @ d) for i in g])
    c = c / (c[c > 0].min() if np.any(c > 0) else 1.0)
    c = np.where(np.abs(c - np.round(c)) < 0.05, np.round(c), c)
    return {"parameters": [params[i].key for i in g], "coefficients": [float(x) for x in c],
            "base": float(sum(ci * base[i] for ci, i in zip(c, g))),
            "fitted": float(sum(ci * theta[i] for ci, i in zip(c, g)))}


def _coarse_start(ev, theta, idx, params, progress) -> list:
    """The best of `theta` and its times scaled together by each of `COARSE_SCALES` (all of them, or
    only the cores' own), as Gauss-Newton's start: far from the captures, under load, the output
    times are too far from linear in the parameters for its first steps to head the right way."""
    if not idx or figures(ev, theta)["within_us"] >= POOR_FIT:
        return theta        # the start already fits most events in their µs: no need to look afar
    if progress:
        progress("scanning the times scaled together for a start")
    core = [i for i in idx if SPECS[params[i].name].kind == "percore"]
    best, cost = list(theta), ev.cost(theta)
    for members in (idx, core):
        for k in COARSE_SCALES:
            cand = list(theta)
            for i in members:
                spec = SPECS[params[i].name]
                cand[i] = int(min(max(round(theta[i] * k), spec.lo), spec.hi))
            c = ev.cost(cand)
            if c < cost:
                best, cost = cand, c
    return best


def _gauss_newton(ev, theta, idx, params, progress) -> list:
    """Gauss-Newton steps on the squared residuals, halved while they do not lower it."""
    theta = list(theta)
    cost = ev.cost(theta)
    for it in range(GN_ITERATIONS):
        if progress:
            progress(f"Gauss-Newton step {it + 1}: rms residual {figures(ev, theta)['rms_ns']:.0f} ns")
        J, r = _jacobian(ev, theta, idx, params)
        groups, _ = _identify(J, theta, idx)
        if not groups:
            break
        # at most a doubling or halving per step: the model is only piecewise linear
        u = np.clip(np.linalg.lstsq(_group_columns(J, theta, groups), -r, rcond=None)[0], -0.5, 1.0)
        for _ in range(5):
            cand = _step(theta, groups, u, params)
            if cand == theta or ev.cost(cand) < cost:
                break
            u = u / 2
        if cand == theta or not ev.cost(cand) < cost:
            break
        theta, cost = cand, ev.cost(cand)
    return theta


def _step(theta, groups, u, params) -> list:
    """`theta` with each group moved by its fraction `u[j]` (of `_unit` of each member), whole ns."""
    cand = list(theta)
    for j, g in enumerate(groups):
        for i in g:
            spec = SPECS[params[i].name]
            cand[i] = int(min(max(round(theta[i] + _unit(theta[i]) * float(u[j])), spec.lo), spec.hi))
    return cand


def _directions(J, theta, groups) -> list:
    """Directions a pattern search tries, in relative units per group: each group alone, and the
    right singular vectors of the Jacobian (the long valleys where two groups trade off)."""
    n = len(groups)
    dirs = [np.eye(n)[j] for j in range(n)]
    if n > 1:
        _, _, vt = np.linalg.svd(_group_columns(J, theta, groups), full_matrices=False)
        dirs += [v / np.abs(v).max() for v in vt]
    return dirs


def _moved(theta, groups, w, d, params) -> list:
    """`theta` moved along `w` (relative units per group) so that the largest change is `d` ns."""
    largest = max(abs(_unit(theta[i]) * w[j]) for j, g in enumerate(groups) for i in g)
    return _step(theta, groups, np.asarray(w) * (d / largest), params)


def _polish(ev, theta, groups, params, J) -> list:
    """Pattern search after Gauss-Newton: the model is piecewise linear and the residuals
    quantised, so a finite-difference step can stop short of the values that put every simulated
    time in its captured µs. Moves of whole ns along `_directions`, while they lower the cost."""
    theta = list(theta)
    cost = ev.outside(theta)
    for _ in range(GN_ITERATIONS):
        # Gauss-Newton on how far each simulated time lies outside its captured µs; the times
        # already inside are asked (weakly) to stay where they are
        r = ev.residuals(theta)
        r = r[~np.isnan(r)]
        past = np.sign(r) * np.maximum(np.abs(r + 0.5) - HALF_US_NS, 0.0)
        if not past.any() or len(r) != J.shape[0]:
            break
        weight = np.where(past != 0, 1.0, 0.1)
        A = _group_columns(J, theta, groups) * weight[:, None]
        u = np.linalg.lstsq(A, -past * weight, rcond=None)[0]
        cand = _step(theta, groups, u, params)
        c = ev.outside(cand)
        if not c < cost:
            break
        theta, cost = cand, c
    dirs = _directions(J, theta, groups)
    for _ in range(20):
        better = False
        for w in dirs:
            for d in (64, 32, 16, 8, 4, 2, 1, -1, -2, -4, -8, -16, -32, -64):
                cand = _moved(theta, groups, w, d, params)
                if cand == theta:
                    continue
                c = ev.outside(cand)
                if c < cost:
                    theta, cost, better = cand, c, True
        if not better:
            break
    return theta


def _ranges(ev, theta, groups, params) -> tuple:
    """Per group, how far it can move (others fixed) before the simulated times fit the
    captures' µs worse: (theta moved to the middle of each such range, {index: (low, high)})."""
    theta = list(theta)
    ranges = {}
    for j, g in enumerate(groups):
        w = np.eye(len(groups))[j]
        best = ev.outside(theta)[0]
        span = {}
        for sign in (1, -1):
            last = theta
            for d in range(1, 1 + max(2, int(0.25 * max(_unit(theta[i]) for i in g)))):
                cand = _moved(theta, groups, w, sign * d, params)
                if cand == last:
                    continue
                if ev.outside(cand)[0] > best:
                    break
                last = cand
            span[sign] = last
        mid = [int(round((span[1][i] + span[-1][i]) / 2)) if i in g else theta[i] for i in range(len(theta))]
        if ev.outside(mid)[0] <= best:
            theta = mid
        for i in g:
            ranges[i] = (span[-1][i], span[1][i])
    return theta, ranges


def _occupancy(ev, theta, p: Param, cores) -> int:
    got = ev.run(tuple(int(v) for v in theta))
    if got is None:
        return 0
    column, blocks = {"fifo_depth": ("fifo_max", cores), "out_depth": ("out_max", cores),
                      "host_out_fifo_depth": ("fifo_max", [HOST_OUT]), "dvs_fifo_depth": ("fifo_max", [DVS]),
                      "dvs_out_depth": ("out_max", [DVS]), "readout_fifo_depth": ("fifo_max", [READOUT])}[p.name]
    if p.core is not None:
        blocks = [p.core]
    return max(int(stats[column][b]) for _, stats, _ in got for b in blocks) if blocks else 0


def _fit_depths(ev, theta, idx, params, cores, progress) -> tuple:
    """Search whole depths; returns (theta, {index: ("fitted" | "bound" | "unidentified", note)})."""
    theta = list(theta)
    notes = {}
    for i in idx:
        p = params[i]
        if progress:
            progress(f"searching {p.key}")
        spec = SPECS[p.name]
        d0 = theta[i]
        # a grid from 1/16 to 4 times the depth, then every depth between the best one's neighbours
        todo = sorted({min(max(int(round(d0 * 2 ** (k / 2))), max(spec.lo, 1)), spec.hi) for k in range(-8, 5)})
        costs = {}
        while todo:
            for d in todo:
                costs[d] = ev.cost(theta[:i] + [d] + theta[i + 1:])
            tried = sorted(costs)
            j = tried.index(min(tried, key=lambda d: costs[d]))
            lo, hi = tried[max(j - 1, 0)], tried[min(j + 1, len(tried) - 1)]
            todo = [d for d in range(lo, hi + 1, max(1, (hi - lo) // 8)) if d not in costs]
        low = min(costs.values())
        if all(c == low for c in costs.values()):
            held = _occupancy(ev, theta, p, cores)
            if held < d0:
                why = f"never filled in these captures (it held at most {held} of its {d0} slots)"
            else:
                why = "changing it changes no matched output time in these captures"
            notes[i] = ("unidentified", why)
            continue
        same = [d for d in sorted(costs) if costs[d] <= low]
        if same[-1] == max(costs) and d0 >= same[0]:
            # every depth from same[0] up fits as well: the captures give a lower bound, which the base meets
            notes[i] = ("unidentified", f"only a lower bound: any depth of {same[0]} or more fits these captures "
                                        "equally well (a deeper FIFO never filled)")
            continue
        theta[i] = min(same, key=lambda d: (abs(math.log(d / d0)), d))
        if same[-1] == max(costs):
            notes[i] = ("bound", f"raised to {same[0]}, the least depth that fits; any deeper fits equally well")
        else:
            notes[i] = ("fitted", "")
    return theta, notes


__all__ = ["Calibration", "Param", "calibrate", "match", "FLOOR_NS"]
