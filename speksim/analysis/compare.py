"""Two runs side by side: a reference A (a devkit capture, a baseline) and a candidate B.

    cmp = compare_runs(load_run("capture.h5"), load_run("sim.h5"), tolerance_ns=2_000)
    print(cmp.text())
    problems = cmp.failures({"min_recall": 0.95, "max_count_error": 0.05})

The figures (`Comparison.figures`, documented with their units in docs/compare.md):
spike counts per layer and per (layer, feature); output events matched one-to-one within a time
tolerance (precision, recall, F1); first-spike time error per address; the distance between the
two output-latency distributions; the class each side gives per time window. Either side may be a
devkit capture (`Result.is_capture`): a capture's outputs have no root, so its latencies
are taken from the simulated events they match (see `compare_runs`).

The chip's input-facing cores are stochastic on the hardware, so a capture is not expected to
match a simulation event for event: counts and classes are the figures to check there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Mapping, Optional

import numpy as np
from numba import njit

from .. import _jit  # noqa: F401  (before any @njit: where numba caches this package's code)
from .._text import plain
from ..blocks import N_CORES
from ..errors import ConfigError
from ..result import Result

#: Spike counts per output layer: layer, events of A and of B, |A - B| / max(A, 1).
PER_LAYER_DTYPE = np.dtype([("layer", "<i2"), ("count_a", "<i8"), ("count_b", "<i8"), ("error", "<f8")])
#: Spike counts per (layer, feature) seen on either side.
PER_FEATURE_DTYPE = np.dtype([("layer", "<i2"), ("feature", "<i4"), ("count_a", "<i8"), ("count_b", "<i8")])

#: Every figure of `Comparison.figures`: name -> (unit, meaning). None means "not measured".
FIGURES = {
    "events_a": ("events", "output events of A"),
    "events_b": ("events", "output events of B"),
    "count_error": ("fraction", "sum over (layer, feature) of |A - B|, over max(events of A, 1)"),
    "count_error_worst": ("fraction", "the largest per-layer |A - B| / max(A, 1)"),
    "count_worst_layer": ("layer", "the layer with that largest error"),
    "matched": ("events", "events paired one-to-one: same (layer, feature, x, y), |t_A - t_B| <= tolerance"),
    "precision": ("fraction", "matched / events of B (1 when both sides are empty, 0 when only A is)"),
    "recall": ("fraction", "matched / events of A (1 when both sides are empty, 0 when only B is)"),
    "f1": ("fraction", "harmonic mean of precision and recall"),
    "match_offset_median_ns": ("ns", "median of t_B - t_A over the matched pairs (a constant offset)"),
    "first_spike_addresses": ("addresses", "addresses (layer, feature, x, y) that fired on both sides"),
    "first_spike_error_median_ns": ("ns", "median over those addresses of |first t_A - first t_B|"),
    "first_spike_error_p95_ns": ("ns", "95th percentile of the same"),
    "first_spike_error_max_ns": ("ns", "largest of the same"),
    "latency_median_a_ns": ("ns", "median output latency of A"),
    "latency_median_b_ns": ("ns", "median output latency of B"),
    "latency_distance_ns": ("ns", "Wasserstein-1 (earth mover's) distance between the latency distributions"),
    "class_layer": ("layer", "the layer whose classes are compared"),
    "class_windows": ("windows", "windows in which at least one side gave a class"),
    "class_agreement": ("fraction", "share of those windows where both sides gave the same class"),
    "first_output_a_ns": ("ns", "time of A's first output event"),
    "last_output_a_ns": ("ns", "time of A's last output event"),
    "first_output_b_ns": ("ns", "time of B's first output event"),
    "last_output_b_ns": ("ns", "time of B's last output event"),
}

#: Thresholds `Comparison.failures` checks: name -> (figure, "min" | "max", meaning).
CHECKS = {
    "min_recall": ("recall", "min", "share of A's events that B reproduced within the tolerance"),
    "min_precision": ("precision", "min", "share of B's events that A has within the tolerance"),
    "max_count_error": ("count_error", "max", "spike-count error over (layer, feature), relative to A's events"),
    "max_first_spike_ns": ("first_spike_error_p95_ns", "max", "95th percentile of the first-spike time error"),
    "max_latency_distance_ns": ("latency_distance_ns", "max", "distance between the latency distributions"),
    "min_class_agreement": ("class_agreement", "min", "share of windows where the classes agree"),
}


def address_keys(outputs: np.ndarray) -> np.ndarray:
    """int64 [n]: one key per OUTPUT_EVENT for its address (layer, feature, y, x), ordered by layer,
    then feature, then y, then x."""
    return ((outputs["layer"].astype(np.int64) << 48) | (outputs["feature"].astype(np.int64) << 32)
            | (outputs["y"].astype(np.int64) << 16) | outputs["x"].astype(np.int64))


# --------------------------------------------------------------------------------------------
# event matching
# --------------------------------------------------------------------------------------------

@njit(cache=True, _nrt=False)
def _match_kernel(ka, ta, kb, tb, tol, pair_a, pair_b):
    # Both sides sorted by (address, time). Per address the times are points on a line and a pair
    # needs |t_a - t_b| <= tol: the greedy walk is a maximum one-to-one matching. An earliest
    # event more than tol before the other side's earliest can match nothing later (times only
    # grow), so skipping it loses nothing; two earliest events within tol can be paired, since any
    # matching that pairs them elsewhere can swap partners without losing a pair.
    i = 0
    j = 0
    n = 0
    while i < ka.shape[0] and j < kb.shape[0]:
        if ka[i] < kb[j]:
            i += 1
        elif ka[i] > kb[j]:
            j += 1
        else:
            d = tb[j] - ta[i]
            if d > tol:
                i += 1
            elif d < -tol:
                j += 1
            else:
                pair_a[n] = i
                pair_b[n] = j
                n += 1
                i += 1
                j += 1
    return n


def _sorted(outputs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(order, keys, times) of the events sorted by address, then time, then position."""
    keys = address_keys(outputs)
    t = outputs["t_ns"].astype(np.int64)
    order = np.lexsort((t, keys))  # stable: equal (address, time) keep their output order
    return order, keys[order], t[order]


def match_events(a: np.ndarray, b: np.ndarray, tolerance_ns: int) -> tuple[np.ndarray, np.ndarray]:
    """The one-to-one pairs of two OUTPUT_EVENT arrays: (indices into a, indices into b), int64 [m]
    each, ordered by address then time. A pair has the same (layer, feature, x, y) and
    |t_a - t_b| <= tolerance_ns; within an address events pair in time order, and as many pairs
    as possible are made."""
    return _match(_sorted(a), _sorted(b), tolerance_ns)


def _match(sa, sb, tolerance_ns: int) -> tuple[np.ndarray, np.ndarray]:
    (oa, ka, ta), (ob, kb, tb) = sa, sb
    pa = np.empty(min(len(ka), len(kb)), np.int64)
    pb = np.empty_like(pa)
    n = _match_kernel(ka, ta, kb, tb, np.int64(tolerance_ns), pa, pb)
    return oa[pa[:n]], ob[pb[:n]]


# --------------------------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------------------------

def _pick(values: np.ndarray, q) -> Optional[int]:
    # a value that occurred (inverted_cdf): with times a clock cycle apart, no in-between figure
    return int(np.percentile(values, q, method="inverted_cdf")) if len(values) else None


def wasserstein_ns(u: np.ndarray, v: np.ndarray) -> Optional[float]:
    """Wasserstein-1 distance (ns) between the empirical distributions of two samples (ns): the
    area between their cumulative distributions. None when either sample is empty."""
    if not len(u) or not len(v):
        return None
    u, v = np.sort(np.asarray(u, np.float64)), np.sort(np.asarray(v, np.float64))
    x = np.concatenate([u, v])
    x.sort()
    cu = np.searchsorted(u, x[:-1], side="right") / len(u)
    cv = np.searchsorted(v, x[:-1], side="right") / len(v)
    return float(np.sum(np.abs(cu - cv) * np.diff(x)))


def _counts(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-layer and per-(layer, feature) counts of both sides."""
    def table(cols):
        ka = cols(a)
        kb = cols(b)
        keys = np.union1d(ka, kb)
        ca = np.bincount(np.searchsorted(keys, ka), minlength=len(keys))
        cb = np.bincount(np.searchsorted(keys, kb), minlength=len(keys))
        return keys, ca, cb
    keys, ca, cb = table(lambda o: o["layer"].astype(np.int64))
    per_layer = np.zeros(len(keys), PER_LAYER_DTYPE)
    per_layer["layer"], per_layer["count_a"], per_layer["count_b"] = keys, ca, cb
    per_layer["error"] = np.abs(ca - cb) / np.maximum(ca, 1)
    keys, ca, cb = table(lambda o: (o["layer"].astype(np.int64) << 32) | o["feature"].astype(np.int64))
    per_feature = np.zeros(len(keys), PER_FEATURE_DTYPE)
    per_feature["layer"], per_feature["feature"] = keys >> 32, keys & 0xFFFFFFFF
    per_feature["count_a"], per_feature["count_b"] = ca, cb
    return per_layer, per_feature


def _first_spikes(sorted_events) -> tuple[np.ndarray, np.ndarray]:
    """(sorted unique addresses, time of each one's first event) of events as `_sorted` gives them."""
    _, keys, t = sorted_events
    first = np.unique(keys, return_index=True)[1]
    return keys[first], t[first]


def _window_classes(w: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(windows, class of each): per window the most frequent class, the lowest one on a tie."""
    if not len(w):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    span = int(c.max()) + 1
    keys, n = np.unique(w * span + c, return_counts=True)
    kw, kc = keys // span, keys % span
    order = np.lexsort((kc, -n, kw))
    kw, kc = kw[order], kc[order]
    first = np.r_[True, kw[1:] != kw[:-1]]
    return kw[first], kc[first]


def _classes(result: Result, outputs: np.ndarray, layer: int, readout: bool, window_ns: int):
    if readout:
        rows = result.readout()
        rows = rows[rows["class"] > 0]  # class 0 is the idle report: no evidence
        return _window_classes(rows["t_ns"].astype(np.int64) // window_ns, rows["class"].astype(np.int64))
    ev = outputs[outputs["layer"] == layer]
    return _window_classes(ev["t_ns"].astype(np.int64) // window_ns, ev["feature"].astype(np.int64))


def _class_agreement(ca, cb) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(windows, class of A, class of B) over the windows where either side gave one; -1: none."""
    windows = np.union1d(ca[0], cb[0])
    out = []
    for w, c in (ca, cb):
        cls = np.full(len(windows), -1, np.int64)
        cls[np.searchsorted(windows, w)] = c
        out.append(cls)
    return windows, out[0], out[1]


def _class_layer(a: Result, b: Result, layer: Optional[int], oa, ob) -> tuple[Optional[int], bool, str]:
    """(layer, whether its classes come from the readout's reports, how it was chosen)."""
    ro = a.readout_layer()
    if layer is not None:
        return int(layer), int(layer) == ro, f"layer {layer}, as asked"
    try:
        from ..chip import chip_from_dict
        from ..config import config_from_dict
        from .sweep import default_output_layer
        config = config_from_dict(a.metadata["config"])
        chip = chip_from_dict(a.metadata["chip"])
    except (KeyError, TypeError, ValueError):  # no usable configuration recorded: go by what was seen
        cores = np.union1d(oa["layer"][oa["layer"] < N_CORES], ob["layer"][ob["layer"] < N_CORES])
        if not len(cores):
            return None, False, "no configuration is recorded and no core sent output events"
        return int(cores[-1]), False, (f"core {int(cores[-1])}: no configuration is recorded, so the highest core "
                                       "seen sending output events")
    picked = default_output_layer(config, chip)
    why = "the output layer of A's configuration"
    if picked == chip.readout_layer and not ((oa["layer"] == ro).any() and (ob["layer"] == ro).any()):
        import dataclasses
        quiet = dataclasses.replace(config, readout=dataclasses.replace(config.readout, monitor_enable=False))
        picked = default_output_layer(quiet, chip)
        why = ("the monitored core that sends to no other core (one side has no readout event, e.g. a "
               "capture that kept only Spike events)")
    if picked is None:
        return None, False, "the configuration monitors no layer that could give classes"
    name = "the readout" if picked == ro else f"core {picked}"
    return int(picked), picked == ro, f"{name}: {why}"


def _latencies(x: Result, y: Result, px: np.ndarray, py: np.ndarray, capture: bool) -> tuple[np.ndarray, str]:
    """Output latencies (ns) of side x: from its own roots, or, when x is a capture, from the
    events of y its events matched (pairs px, py), as t_x minus the input time of the twin's root."""
    lat = x.latency_ns()
    if not capture or (x.outputs["root"] >= 0).any():
        return lat[lat >= 0], "roots" if (lat >= 0).any() else "none"
    root = y.outputs["root"][py] if len(py) else np.zeros(0, np.int64)
    ok = root >= 0
    if not ok.any():
        return np.zeros(0, np.int64), "none"
    t = x.outputs["t_ns"][px[ok]].astype(np.int64)
    return t - np.asarray(y.input_t_ns, np.int64)[root[ok]], "twins"


def _canonical(d) -> Optional[str]:
    if not isinstance(d, dict):
        return None
    d = {k: v for k, v in d.items() if k != "model"}  # where a configuration came from changes nothing
    return json.dumps(plain(d), sort_keys=True, default=str)


def _same(a: Result, b: Result) -> dict:
    ca, cb = _canonical((a.metadata or {}).get("config")), _canonical((b.metadata or {}).get("config"))
    ia = ((a.metadata or {}).get("input") or {}).get("sha256")
    ib = ((b.metadata or {}).get("input") or {}).get("sha256")
    return {"config": None if ca is None or cb is None else ca == cb,
            "input": None if ia is None or ib is None else ia == ib}


# --------------------------------------------------------------------------------------------
# the comparison
# --------------------------------------------------------------------------------------------

@dataclass
class Comparison:
    """Two runs compared (see `compare_runs`); A is the reference, B the candidate.

    figures: {name: int | float | None}, every name of FIGURES (None: not measured, `notes` says
    why). per_layer: PER_LAYER_DTYPE [layers seen on either side]; per_feature: PER_FEATURE_DTYPE.
    match_dt_ns: int64 [matched]: t_B - t_A of every matched pair, in address then time order.
    windows: (window index, class of A, class of B), int64 [class_windows] each, -1 for no class.
    latencies: (latencies of A, latencies of B), int64 ns, as the latency figures used them.
    capture: (A is a devkit capture, B is one). same: {"config": bool | None, "input": bool | None},
    None when a side does not record it. notes: what the reader should know (differences, what a
    capture does not measure, how the class layer was chosen).
    """

    figures: dict
    per_layer: np.ndarray
    per_feature: np.ndarray
    options: dict
    capture: tuple
    same: dict
    notes: list = field(default_factory=list)
    match_dt_ns: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    windows: tuple = ()
    latencies: tuple = ()
    latency_source: tuple = ("none", "none")
    class_how: str = ""
    layer_names: dict = field(default_factory=dict)

    def failures(self, thresholds: Mapping[str, float]) -> list[str]:
        """One sentence per threshold of `thresholds` ({name of CHECKS: limit}) the figures miss,
        in the order given, e.g. "recall 0.82 < 0.95 (min_recall)"; a figure that was not
        measured fails its threshold. Raises ConfigError for a name not in CHECKS."""
        out = []
        for name, limit in thresholds.items():
            if name not in CHECKS:
                raise ConfigError(f"unknown threshold {name!r}; the thresholds are {', '.join(CHECKS)}")
            figure, kind, _ = CHECKS[name]
            value = self.figures.get(figure)
            if value is None:
                out.append(f"{figure} was not measured ({name}): {_why_none(self, figure)}")
            elif (value < limit) if kind == "min" else (value > limit):
                show = _t if figure.endswith("_ns") else _num
                out.append(f"{figure} {show(value)} {'<' if kind == 'min' else '>'} {show(limit)} ({name})")
        return out

    def to_dict(self) -> dict:
        """JSON-ready: figures, per_layer and per_feature (lists of dicts), options, which side is a
        capture, whether configuration and input are the same, the notes and how the class layer
        was chosen."""
        return plain({
            "figures": self.figures,
            "per_layer": [dict(zip(self.per_layer.dtype.names, row)) for row in self.per_layer.tolist()],
            "per_feature": [dict(zip(self.per_feature.dtype.names, row)) for row in self.per_feature.tolist()],
            "options": self.options,
            "capture": {"a": self.capture[0], "b": self.capture[1]},
            "same": self.same,
            "latency_source": {"a": self.latency_source[0], "b": self.latency_source[1]},
            "class_layer_chosen": self.class_how,
            "notes": self.notes,
        })

    def text(self) -> str:
        """The comparison as a table for people (see `speksim compare`)."""
        return _text(self)


def _num(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _why_none(cmp: Comparison, figure: str) -> str:
    if figure.startswith("first_spike"):
        return "no address fired on both sides"
    if figure.startswith("latency"):
        return "no output latency is known on one side (no roots, and no matched simulated twin)"
    if figure.startswith("class"):
        return cmp.class_how or "no layer gives classes"
    return "one side has no output event"


def compare_runs(a: Result, b: Result, *, tolerance_ns: int = 2_000, window_ns: int = 100_000_000,
                 layer: Optional[int] = None) -> Comparison:
    """Compare the outputs of run `a` (the reference) with those of run `b` (the candidate).

    tolerance_ns: most |t_a - t_b| of two matching events, ns (>= 0). window_ns: width of the
    class windows, ns (> 0), counted from time 0 of the runs (their inputs' time origin).
    layer: the layer whose classes are compared; default: the output layer of A's configuration
    (`speksim.analysis.sweep.default_output_layer`); the readout's reports when that is the
    readout (the most frequent non-idle class a window's reports name), else the most frequent
    output feature of the layer, ties to the lowest. Windows where neither side gave a class are
    not counted.

    A side without roots (a devkit capture) gets its latencies from its matched events: t of the
    capture's event minus the input time of the root of the simulated event it matched. When
    neither side has roots, the latency figures are None. Differences of configuration or input
    are noted, not refused. Raises ConfigError for a negative tolerance or a window <= 0.
    """
    tolerance_ns, window_ns = int(tolerance_ns), int(window_ns)
    if tolerance_ns < 0:
        raise ConfigError(f"the time tolerance must be >= 0 ns, got {tolerance_ns}")
    if window_ns <= 0:
        raise ConfigError(f"the class window must be > 0 ns, got {window_ns}")
    capture = (a.is_capture(), b.is_capture())
    notes = []
    same = _same(a, b)
    for what, words in (("config", "configurations"), ("input", "inputs")):
        if same[what] is False:
            notes.append(f"warning: the two runs had different {words}: differences may be the "
                         f"{'configuration' if what == 'config' else 'input'}'s, not the chip model's")
    oa, ob = np.asarray(a.outputs), np.asarray(b.outputs)
    ro = a.readout_layer()
    has_ro = ((oa["layer"] == ro).any(), (ob["layer"] == ro).any())
    if any(capture) and has_ro[0] != has_ro[1] and capture[has_ro.index(False)]:
        # a capture made from samna's Spike events alone has no readout event: comparing the
        # simulation's readout reports with nothing would only count that
        notes.append(f"the readout's events (layer {ro}) are left out: the capture has none (it keeps only "
                     "Spike events unless asked)")
        oa, ob = oa[oa["layer"] != ro], ob[ob["layer"] != ro]
    for side, cap in zip("AB", capture):
        if cap:
            notes.append(f"{side} is a devkit capture: it has no statistics and no roots; its latencies are "
                         "those of the simulated events it matched, when the other side is a simulation")

    per_layer, per_feature = _counts(oa, ob)
    na, nb = len(oa), len(ob)
    f = dict.fromkeys(FIGURES)
    f["events_a"], f["events_b"] = na, nb
    f["count_error"] = float(np.abs(per_feature["count_a"] - per_feature["count_b"]).sum()) / max(na, 1)
    if len(per_layer):
        worst = int(np.argmax(per_layer["error"]))
        f["count_error_worst"] = float(per_layer["error"][worst])
        f["count_worst_layer"] = int(per_layer["layer"][worst])
    else:
        f["count_error_worst"] = 0.0

    # sorted by (address, time) once, for the matching and the first spikes
    sa, sb = _sorted(oa), _sorted(ob)
    pa, pb = _match(sa, sb, tolerance_ns)
    m = len(pa)
    f["matched"] = m
    f["precision"] = m / nb if nb else (1.0 if na == 0 else 0.0)
    f["recall"] = m / na if na else (1.0 if nb == 0 else 0.0)
    p, r = f["precision"], f["recall"]
    f["f1"] = 2 * p * r / (p + r) if p + r else 0.0
    dt = ob["t_ns"][pb].astype(np.int64) - oa["t_ns"][pa].astype(np.int64)
    f["match_offset_median_ns"] = _pick(dt, 50)

    (ka, ta), (kb, tb) = _first_spikes(sa), _first_spikes(sb)
    _, ia, ib = np.intersect1d(ka, kb, assume_unique=True, return_indices=True)
    err = np.abs(ta[ia] - tb[ib])
    f["first_spike_addresses"] = len(err)
    f["first_spike_error_median_ns"], f["first_spike_error_p95_ns"] = _pick(err, 50), _pick(err, 95)
    f["first_spike_error_max_ns"] = int(err.max()) if len(err) else None

    a_view = _with_outputs(a, oa)
    b_view = _with_outputs(b, ob)
    la, sa = _latencies(a_view, b_view, pa, pb, capture[0])
    lb, sb = _latencies(b_view, a_view, pb, pa, capture[1])
    f["latency_median_a_ns"], f["latency_median_b_ns"] = _pick(la, 50), _pick(lb, 50)
    f["latency_distance_ns"] = wasserstein_ns(la, lb)
    if "none" in (sa, sb) and (na or nb):
        why = ("neither side has an output with a known root (two captures?)" if sa == sb == "none"
               else "one side has no output event with a known root")
        notes.append(f"no latency figure: {why}")

    class_layer, readout, how = _class_layer(a, b, layer, oa, ob)
    f["class_layer"] = class_layer
    windows = (np.zeros(0, np.int64),) * 3
    if class_layer is not None:
        windows = _class_agreement(_classes(a_view, oa, class_layer, readout, window_ns),
                                   _classes(b_view, ob, class_layer, readout, window_ns))
        f["class_windows"] = len(windows[0])
        # two sides that never gave a class agree: neither chose anything
        f["class_agreement"] = float((windows[1] == windows[2]).mean()) if len(windows[0]) else 1.0
    for side, o in (("a", oa), ("b", ob)):
        f[f"first_output_{side}_ns"] = int(o["t_ns"].min()) if len(o) else None
        f[f"last_output_{side}_ns"] = int(o["t_ns"].max()) if len(o) else None
    return Comparison(figures=plain(f), per_layer=per_layer, per_feature=per_feature,
                      options={"tolerance_ns": tolerance_ns, "window_ns": window_ns, "layer": layer},
                      capture=capture, same=same, notes=notes, match_dt_ns=dt, windows=windows,
                      latencies=(la, lb), latency_source=(sa, sb), class_how=how,
                      layer_names={int(k): _layer_name(a, int(k)) for k in per_layer["layer"]})


def _layer_name(result: Result, layer: int) -> str:
    if layer == result.chip_parameter("dvs_layer_id"):
        return f"DVS layer ({layer})"
    if layer == result.readout_layer():
        return f"readout ({layer})"
    return f"core {layer}"


def _with_outputs(result: Result, outputs: np.ndarray) -> Result:
    """`result` seen with `outputs` in place of its own (the others shared, not copied)."""
    if len(outputs) == len(result.outputs):
        return result
    import dataclasses
    return dataclasses.replace(result, outputs=outputs)


# --------------------------------------------------------------------------------------------
# text
# --------------------------------------------------------------------------------------------

def _t(ns) -> str:
    """A time or duration in ns for people: '640 ns', '12.3 µs', '4.56 ms', '1.234 s'."""
    if ns is None:
        return "-"
    v = abs(ns)
    for div, unit in ((1e9, "s"), (1e6, "ms"), (1e3, "µs")):
        if v >= div:
            return f"{ns / div:.4g} {unit}"
    return f"{ns:.4g} ns" if isinstance(ns, float) else f"{ns} ns"


def _frac(v) -> str:
    return "-" if v is None else f"{v:.4f}"


_MAX_FEATURE_ROWS = 24


def _text(cmp: Comparison) -> str:
    f = cmp.figures
    lines = []
    for side, cap in zip("AB", cmp.capture):
        role = "reference" if side == "A" else "candidate"
        what, s = "devkit capture" if cap else "simulation", side.lower()
        lines.append(f"{side} ({role}, {what}): {f[f'events_{s}']:,} output events, "
                     f"first {_t(f[f'first_output_{s}_ns'])}, last {_t(f[f'last_output_{s}_ns'])}")
    lines += cmp.notes
    lines.append("")
    head = f"{'spike counts':<22}{'A':>12}{'B':>12}{'|A-B|/A':>10}"
    lines.append(head)
    for row in cmp.per_layer:
        name = cmp.layer_names.get(int(row["layer"]), f"layer {int(row['layer'])}")
        lines.append(f"  {name:<20}{int(row['count_a']):>12,}{int(row['count_b']):>12,}{row['error']:>10.4f}")
    lines.append(f"  {'total':<20}{f['events_a']:>12,}{f['events_b']:>12,}")
    cl = f["class_layer"]
    feats = cmp.per_feature[cmp.per_feature["layer"] == cl] if cl is not None else cmp.per_feature[:0]
    if 0 < len(feats) <= _MAX_FEATURE_ROWS:
        lines.append(f"  per feature of {cmp.layer_names.get(cl, f'layer {cl}')}:")
        for row in feats:
            a_, b_ = int(row["count_a"]), int(row["count_b"])
            lines.append(f"    feature {int(row['feature']):<10}{a_:>12,}{b_:>12,}{abs(a_ - b_) / max(a_, 1):>10.4f}")
    worst = (f"; worst layer {cmp.layer_names.get(f['count_worst_layer'], '-')} {_frac(f['count_error_worst'])}"
             if f["count_error_worst"] else "")
    lines.append(f"count error (sum over layer and feature of |A-B|, over A's events): "
                 f"{_frac(f['count_error'])}{worst}")
    lines.append("")
    tol = cmp.options["tolerance_ns"]
    lines.append(f"events matched within {_t(tol)}: {f['matched']:,}   precision {_frac(f['precision'])}   "
                 f"recall {_frac(f['recall'])}   F1 {_frac(f['f1'])}"
                 + (f"   median offset B-A {_t(f['match_offset_median_ns'])}" if f["matched"] else ""))
    if f["first_spike_addresses"]:
        lines.append(f"first-spike time error over {f['first_spike_addresses']:,} addresses firing on both sides: "
                     f"median {_t(f['first_spike_error_median_ns'])}, p95 {_t(f['first_spike_error_p95_ns'])}, "
                     f"max {_t(f['first_spike_error_max_ns'])}")
    else:
        lines.append("first-spike time error: no address fired on both sides")
    src = {"roots": "its roots", "twins": "its matched simulated events", "none": "not known"}
    lines.append(f"output latency: median A {_t(f['latency_median_a_ns'])} ({src[cmp.latency_source[0]]}), "
                 f"B {_t(f['latency_median_b_ns'])} ({src[cmp.latency_source[1]]}); "
                 f"distance (Wasserstein-1) {_t(f['latency_distance_ns'])}")
    if cl is None:
        lines.append(f"classes: not compared ({cmp.class_how})")
    else:
        n = f["class_windows"]
        agree = int(round(f["class_agreement"] * n))
        lines.append(f"classes per {_t(cmp.options['window_ns'])} window, from {cmp.class_how}")
        lines.append(f"  same class in {agree} of {n} windows with a class on either side: "
                     f"agreement {_frac(f['class_agreement'])}")
    return "\n".join(lines)


__all__ = ["compare_runs", "Comparison", "CHECKS", "FIGURES", "PER_LAYER_DTYPE", "PER_FEATURE_DTYPE",
           "match_events", "address_keys", "wasserstein_ns"]
