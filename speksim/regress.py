"""Regression scenarios: replay a list of (configuration or model, recording, chip) and compare
each run with a stored baseline, a simulation or a devkit capture.

    scenarios = load_scenarios("benchmarks/regression/scenarios.toml")
    outcomes = regress(scenarios, "baselines/", "runs/")
    print(table(outcomes))

A scenarios file is TOML, one `[[scenario]]` table each (paths relative to the file):

    [[scenario]]
    name = "stall_chain"                      # the baseline is <baseline dir>/stall_chain.h5
    description = "one core overloaded by a burst"
    config = "../../traces/stall_chain.json"  # a configuration JSON, or "demo" (the bundled example)
    # model = "networks.py:gesture"           # or a model (NIR, a whole saved module, file.py:function)
    # input_shape = [2, 128, 128]             # ... with the input shape a PyTorch model needs
    recording = "../../traces/stall_chain.npz"
    chip = "speck2f"                          # a built-in name or a chip file (default speck2f)
    set = ["core.1.synop_ns=25"]              # chip overrides (optional)
    fit = "crop"                              # reading, as `speksim run` takes it (optional): fit,
    t_end_us = 1_000_000                      #   polarity, format, t_start_us, t_end_us
    options = { slow_clock_hz = 1000.0 }      # run options (optional)
    engine = "fast"                           # or "reference", "devkit:speck2f" (optional)
    needs = ["torch", "sinabs"]               # Python packages it needs (optional): skipped without
    needs_files = ["../../../shared/models/dvs_gesture_params.pt"]   # files a model reads (optional)
    tolerance_us = 0                          # compare's event-matching tolerance (optional; default
                                              #   0 against a simulation, 2 against a devkit capture)
    thresholds = { max_count_error = 0.05 }   # replaces the default thresholds (optional)

A scenario whose recording, model or packages are missing is skipped, and says why. With no
`thresholds`, a simulation baseline must be reproduced exactly (`EXACT`: every output event at the
same ns, the same statistics and input lags); a devkit capture baseline is held to `DEVKIT`,
which allows for the devkit's µs timestamps and its stochastic input cores (docs/compare.md).
Baselines are only written when asked (`update=True`, `speksim bench regress --update`).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from .errors import ConfigError, SpeksimError
from .importers.source import source_path
from .runfile import load_run

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

#: Keys a `[[scenario]]` table may have.
SCENARIO_KEYS = ("name", "description", "config", "model", "input_shape", "recording", "chip", "set", "fit",
                 "polarity", "format", "t_start_us", "t_end_us", "options", "engine", "needs", "needs_files",
                 "tolerance_us", "window_ms", "thresholds")
_READING = ("fit", "polarity", "format", "t_start_us", "t_end_us")

#: The thresholds a simulation baseline is held to: reproduced to the event and the ns. Matched
#: with tolerance 0, recall and precision of 1 mean the same events at the same times, so the
#: first-spike, latency and class figures cannot differ (and need not be measurable: a run
#: without outputs has none).
EXACT = {"min_recall": 1.0, "min_precision": 1.0, "max_count_error": 0.0}
#: The thresholds a devkit capture baseline is held to (see docs/compare.md: which figures a devkit
#: can be expected to match): spike counts within 10% and the same class in 90% of the windows.
DEVKIT = {"max_count_error": 0.10, "min_class_agreement": 0.90}
#: The event-matching tolerance against a devkit capture: its timestamps are whole µs.
DEVKIT_TOLERANCE_NS = 2_000
#: Statistics compared exactly between two simulations (a timing change that moves no output
#: event, e.g. a longer stall inside the chip, still shows there).
STAT_CHECKS = ("events_in", "served", "synops", "spikes", "busy_ns", "stall_ns", "congestion_dropped",
               "decimated", "fifo_max")


@dataclass
class Scenario:
    """One line of the regression list (see the module docstring); paths are absolute."""

    name: str
    recording: Path
    config: Optional[str] = None
    model: Optional[str] = None
    input_shape: Optional[tuple] = None
    description: str = ""
    chip: str = "speck2f"
    set: tuple = ()
    reading: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)
    engine: str = "fast"
    needs: tuple = ()
    needs_files: tuple = ()
    tolerance_ns: Optional[int] = None
    window_ns: int = 100_000_000
    thresholds: Optional[dict] = None

    def missing(self) -> Optional[str]:
        """Why this scenario cannot run here (a file or package missing), or None."""
        for pkg in self.needs:
            if importlib.util.find_spec(pkg) is None:
                return f"needs the Python package {pkg!r} (pip install {pkg})"
        files = [self.recording, *self.needs_files]
        if self.config and self.config != "demo":
            files.append(Path(self.config))
        if self.model:
            files.append(source_path(self.model))
        for path in files:
            if not path.exists():
                return f"{path.name} is not there ({path})"
        return None


@dataclass
class Outcome:
    """What one scenario gave. status: "pass", "fail", "no baseline", "skipped", "error" or
    "updated"; figures: the compare figures (and `stats_drift` between two simulations);
    failures: one sentence per threshold missed; detail: why skipped or errored, and notes;
    baseline: "simulation" or "capture" (or None); wall_s: the run's wall time in seconds."""

    name: str
    status: str
    figures: dict = field(default_factory=dict)
    failures: list = field(default_factory=list)
    detail: str = ""
    baseline: Optional[str] = None
    wall_s: Optional[float] = None
    run_file: Optional[str] = None

    def to_dict(self) -> dict:
        return {"name": self.name, "status": self.status, "baseline": self.baseline, "figures": self.figures,
                "failures": list(self.failures), "detail": self.detail, "wall_s": self.wall_s,
                "run_file": self.run_file}


def load_scenarios(path) -> list[Scenario]:
    """The scenarios of a TOML file (see the module docstring), paths resolved against its folder.
    Raises ConfigError naming the scenario and key at fault."""
    path = Path(os.fspath(path))
    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such scenarios file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    tables = doc.get("scenario")
    if not isinstance(tables, list) or not tables:
        raise ConfigError(f"{path}: no [[scenario]] tables; see 'speksim bench regress --help' for the format")
    base, seen, out = path.parent, set(), []
    for i, t in enumerate(tables):
        out.append(_scenario(t, base, f"{path}: scenario {i + 1}"))
        if out[-1].name in seen:
            raise ConfigError(f"{path}: two scenarios are named {out[-1].name!r}; names must be unique (they name "
                              "the baseline files)")
        seen.add(out[-1].name)
    return out


def _scenario(t: dict, base: Path, where: str) -> Scenario:
    unknown = sorted(set(t) - set(SCENARIO_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; allowed: {', '.join(SCENARIO_KEYS)}")
    name = t.get("name")
    if not isinstance(name, str) or not name or any(c in name for c in "/\\:") or name.startswith("."):
        raise ConfigError(f"{where}: needs a name (text without / \\ or :, it names the baseline file), got {name!r}")
    where = f"{where} ({name})"
    if ("config" in t) == ("model" in t):
        raise ConfigError(f"{where}: give either config (a configuration JSON, or \"demo\") or model")
    if "recording" not in t:
        raise ConfigError(f"{where}: needs a recording")

    def rel(p):
        return str(p) if p == "demo" else str((base / str(p)).resolve())

    model = t.get("model")
    if model is not None:
        fn = str(model).split(":", 1)[1] if ".py:" in str(model) else ""
        model = rel(source_path(str(model))) + (f":{fn}" if fn else "")
    shape = t.get("input_shape")
    if shape is not None and (not isinstance(shape, list) or len(shape) != 3):
        raise ConfigError(f"{where}: input_shape must be [channels, height, width], got {shape!r}")
    from .config import OPTIONS
    options = t.get("options", {})
    known = [o.name for o in OPTIONS]
    if not isinstance(options, dict) or set(options) - set(known):
        raise ConfigError(f"{where}: options must be a table of run options ({', '.join(known)}), got {options!r}")
    thresholds = t.get("thresholds")
    if thresholds is not None and not isinstance(thresholds, dict):
        raise ConfigError(f"{where}: thresholds must be a table, e.g. {{ max_count_error = 0.05 }}")
    return Scenario(name=name, recording=Path(rel(t["recording"])), config=rel(t["config"]) if "config" in t else None,
                    model=model, input_shape=None if shape is None else tuple(int(v) for v in shape),
                    description=str(t.get("description", "")),
                    chip=rel(t["chip"]) if str(t.get("chip", "")).endswith(".toml") else str(t.get("chip", "speck2f")),
                    set=tuple(str(s) for s in t.get("set", ())),
                    reading={k: t[k] for k in _READING if k in t}, options=dict(options),
                    engine=str(t.get("engine", "fast")), needs=tuple(str(s) for s in t.get("needs", ())),
                    needs_files=tuple(Path(rel(p)) for p in t.get("needs_files", ())),
                    tolerance_ns=None if "tolerance_us" not in t else int(round(float(t["tolerance_us"]) * 1000)),
                    window_ns=int(round(float(t.get("window_ms", 100)) * 1e6)), thresholds=thresholds)


def build_config(s: Scenario, chip):
    """The scenario's ChipConfig: the bundled example, its configuration file, or its model imported
    (as `--config`/`--model` take them)."""
    from .config import demo_config
    from .importers.source import config_from_source
    if s.config == "demo":
        return demo_config()
    return config_from_source(s.config or s.model, chip, input_shape=s.input_shape)


def run_scenario(s: Scenario, out_dir) -> tuple[Path, float]:
    """Run one scenario into `out_dir/<name>.h5` as `speksim run` would; returns (path, wall seconds).
    Raises what the run raises (a bad configuration, a recording that cannot be read, a deadlock)."""
    import warnings

    from .batch import batch
    from .chip import load_chip
    from .config import RunOptions
    from .io.fitplan import FitPlan
    chip = load_chip(s.chip)
    if s.set:
        chip = chip.with_overrides(list(s.set))
    with warnings.catch_warnings():       # an importer's notes are in the configuration's model record
        warnings.simplefilter("ignore")
        config = build_config(s, chip)
    reading = dict(s.reading)
    plan = FitPlan(fit=reading.pop("fit", None), polarity=reading.pop("polarity", "keep"))
    work = Path(os.fspath(out_dir)) / f".{s.name}"
    shutil.rmtree(work, ignore_errors=True)
    t0 = time.perf_counter()
    rows = batch(config, chip, [s.recording], work, options=RunOptions(**s.options), engine=s.engine, jobs=1,
                 fit=plan, resume=False, summary=None, **reading)
    wall = time.perf_counter() - t0
    row = rows[0]
    if row["status"] == "failed":
        shutil.rmtree(work, ignore_errors=True)
        raise SpeksimError(row["detail"])
    target = Path(os.fspath(out_dir)) / f"{s.name}.h5"
    os.replace(work / row["run_file"], target)
    shutil.rmtree(work, ignore_errors=True)
    return target, wall


def stats_drift(baseline, run) -> Optional[dict]:
    """Between two simulations: the statistics of `STAT_CHECKS` that differ, per block, and whether
    the input lags are the same. None when either side is a devkit capture (it has none)."""
    if baseline.is_capture() or run.is_capture():
        return None
    diff = {}
    for name in STAT_CHECKS:
        a, b = baseline.stats[name], run.stats[name]
        for i in np.flatnonzero(a != b):
            diff[f"{baseline.stats['block'][i]}.{name}"] = [int(a[i]), int(b[i])]
    same_lags = bool(np.array_equal(baseline.lag_ns, run.lag_ns))
    return {"differ": diff, "same_lags": same_lags}


def judge(s: Scenario, baseline, run) -> tuple[dict, list]:
    """(the compare figures plus stats drift, the failures) of `run` against `baseline`."""
    from .analysis.compare import compare_runs
    capture = baseline.is_capture() or run.is_capture()
    tolerance = s.tolerance_ns if s.tolerance_ns is not None else (DEVKIT_TOLERANCE_NS if capture else 0)
    cmp = compare_runs(baseline, run, tolerance_ns=tolerance, window_ns=s.window_ns)
    figures = dict(cmp.figures)
    thresholds = s.thresholds if s.thresholds is not None else (DEVKIT if capture else EXACT)
    failures = list(cmp.failures(thresholds))
    drift = stats_drift(baseline, run)
    if drift is not None:
        figures["stats_differ"] = len(drift["differ"])
        figures["same_lags"] = drift["same_lags"]
        if s.thresholds is None and (drift["differ"] or not drift["same_lags"]):
            shown = ", ".join(f"{k} {a} -> {b}" for k, (a, b) in list(drift["differ"].items())[:4])
            more = f" and {len(drift['differ']) - 4} more" if len(drift["differ"]) > 4 else ""
            failures.append(f"statistics differ from the baseline: {shown or 'none'}{more}"
                            f"{'' if drift['same_lags'] else '; the input lags differ'}")
    return figures, failures


def regress(scenarios: Sequence[Scenario], baseline_dir, out_dir, *, update: bool = False,
            progress: Optional[Callable[[Outcome, int, int], None]] = None) -> list[Outcome]:
    """Run every scenario into `out_dir` and compare it with `baseline_dir/<name>.h5`.

    update: write each run as the new baseline instead of comparing (status "updated"); a
    baseline that is a devkit capture is never overwritten (re-capture it on the devkit).
    progress(outcome, done, total) is called as each scenario ends. A scenario's own failure (its
    model does not import, its recording does not read) is its outcome ("error"), not an exception.
    """
    base_dir, out = Path(os.fspath(baseline_dir)), Path(os.fspath(out_dir))
    out.mkdir(parents=True, exist_ok=True)
    if update:
        base_dir.mkdir(parents=True, exist_ok=True)
    outcomes = []
    for i, s in enumerate(scenarios):
        outcomes.append(_one(s, base_dir, out, update))
        if progress is not None:
            progress(outcomes[-1], i + 1, len(scenarios))
    return outcomes


def _one(s: Scenario, base_dir: Path, out: Path, update: bool) -> Outcome:
    why = s.missing()
    if why:
        return Outcome(s.name, "skipped", detail=why)
    base_path = base_dir / f"{s.name}.h5"
    baseline = None
    try:
        if base_path.exists():
            baseline = load_run(base_path)
        path, wall = run_scenario(s, out)
        run = load_run(path)
    except (SpeksimError, OSError) as exc:
        return Outcome(s.name, "error", detail=" ".join((getattr(exc, "cli", None) or str(exc)).split()))
    kind = None if baseline is None else ("capture" if baseline.is_capture() else "simulation")
    if update:
        if kind == "capture":
            return Outcome(s.name, "no change", baseline=kind, wall_s=wall, run_file=str(path),
                           detail="the baseline is a devkit capture: speksim does not overwrite it")
        shutil.copyfile(path, base_path)
        return Outcome(s.name, "updated", baseline="simulation", wall_s=wall, run_file=str(path),
                       detail=f"wrote {base_path.name}")
    if baseline is None:
        return Outcome(s.name, "no baseline", wall_s=wall, run_file=str(path),
                       detail=f"{base_path} is missing: make it with 'speksim bench regress --update' (a simulation) "
                              "or put a devkit capture there")
    figures, failures = judge(s, baseline, run)
    return Outcome(s.name, "fail" if failures else "pass", figures=figures, failures=failures, baseline=kind,
                   wall_s=wall, run_file=str(path))


#: Columns of `table`: (header, figure name, format).
TABLE_FIGURES = (("recall", "recall", "{:.4f}"), ("precision", "precision", "{:.4f}"),
                 ("count_err", "count_error", "{:.4f}"), ("1st_spike_ns", "first_spike_error_max_ns", "{:,}"),
                 ("latency_W1_ns", "latency_distance_ns", "{:,.0f}"), ("class_agr", "class_agreement", "{:.3f}"),
                 ("stats_diff", "stats_differ", "{}"))


def table(outcomes: Sequence[Outcome]) -> str:
    """The drift table a user reads: one line per scenario, then the failures and notes."""
    def cell(fig, fmt):
        return "-" if fig is None else (fmt.format(fig) if not isinstance(fig, bool) else str(fig))

    head = f"{'scenario':<18}{'status':<13}{'baseline':<11}" + "".join(f"{h:>15}" for h, _, _ in TABLE_FIGURES) \
        + f"{'wall_s':>9}"
    lines = [head]
    for o in outcomes:
        cells = "".join(f"{cell(o.figures.get(k), fmt):>15}" for _, k, fmt in TABLE_FIGURES)
        wall = "-" if o.wall_s is None else f"{o.wall_s:.2f}"
        lines.append(f"{o.name:<18}{o.status:<13}{o.baseline or '-':<11}{cells}{wall:>9}")
    for o in outcomes:
        for f in o.failures:
            lines.append(f"{o.name}: FAIL: {f}")
        if o.detail:
            lines.append(f"{o.name}: {o.detail}")
    return "\n".join(lines)


def passed(outcomes: Sequence[Outcome]) -> bool:
    """True when no scenario failed, errored or lacked its baseline (skipped ones do not count)."""
    return all(o.status in ("pass", "skipped", "updated", "no change") for o in outcomes)


__all__ = ["Scenario", "Outcome", "load_scenarios", "build_config", "run_scenario", "stats_drift", "judge",
           "regress", "table", "passed", "EXACT", "DEVKIT", "STAT_CHECKS", "SCENARIO_KEYS"]
