"""What-if sweeps: one configuration over a grid of chip overrides and configuration changes,
on one or more recordings, each point compared with the un-overridden run.

    rows = sweep(config, "speck2f", {"gesture": events}, ["core.2.synop_ns=10,15,20,25"])
    write_csv(rows, "sweep.csv")
    print(table(rows))

A grid axis is `KEY=V1,V2,...` (or `KEY=START:STOP:STEP`, STOP included when reached); several
axes multiply, the last one varying fastest. A KEY is
- a chip parameter, as `Chip.with_overrides` spells it: `core.2.synop_ns` (one core),
  `fifo_depth` (every core), `host_out_ns`;
- a configuration setting of a core K in use (`CONFIG_SETTINGS`): `core.K.decimator` with values
  `off` or an interval code 0..7 (output_decimator_enable and output_decimator_interval: one spike
  in 2, 4, 8, 16, 32, 128, 256 or 512 passes on Speck2f), `core.K.balancer` with values `off` or
  `on` (input_congestion_balancer_enable).

Point 0 of every recording is the baseline: the chip and configuration as given. Every point is
checked against the chip before anything runs. Points run in a process pool (`jobs`, default
one per CPU); the rows come back in a fixed order (recording, then point) whatever the pool
does, so the same sweep gives the same rows. A point whose chip deadlocks (SPEC T9) gets a row
with its `error` and no figures.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence, Union

import numpy as np

from .._resources import usable_cores
from ..blocks import DVS, N_CORES
from ..chip import Chip, close_names, load_chip, parse_override
from ..config.model import ChipConfig
from ..config.options import RunOptions
from ..errors import ChipFileError, ConfigError, DeadlockError

#: Configuration settings a grid can change, per core: name -> what its values mean.
CONFIG_SETTINGS = {
    "decimator": "off, or an output decimator interval code 0..7 (output_decimator_enable/interval)",
    "balancer": "off or on (input_congestion_balancer_enable)",
}
_DECIMATOR_CODES = range(8)
_ON, _OFF = ("on", "true", "1", "yes"), ("off", "false", "0", "no")

#: The figures of a row, after `recording`, `point` and one column per axis; `{core}` columns
#: repeat for every core in use. Times in ns, energy in J, power in W, fractions in [0, 1].
#: `stall_ns` is the stall time (T4) of the cores in use and the DVS layer together; `busy_max`
#: the busy share of the busiest core; drops are summed over the cores and the DVS layer.
METRICS = ("input_events", "inputs_dropped", "outputs", "t_end_ns", "cut", "stall_ns", "stall_ns_core{core}",
           "stall_ns_dvs", "busy_max", "lag_p50_ns", "lag_p95_ns", "lag_p99_ns", "lag_max_ns", "latency_p50_ns",
           "latency_p95_ns", "latency_p99_ns", "latency_max_ns", "congestion_dropped", "decimated",
           "dropped_out_of_range", "agree_events", "agree_classes", "same_top_class", "energy_j", "power_w",
           "error")


# --------------------------------------------------------------------------------------------
# settings and the grid
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Axis:
    """One axis of the grid: `key` (`core.2.synop_ns`, `core.1.decimator`), `kind` ("chip" or
    "config"), `values` (texts, in the order given) and `base`, the baseline's value as text."""

    key: str
    kind: str
    values: tuple
    base: str


def split_key(key: str) -> tuple[Optional[int], str]:
    """(core or None, name) of a key `core.K.NAME` or `NAME`."""
    parts = key.split(".")
    if len(parts) >= 3 and parts[0] == "core" and parts[1].isdigit():
        return int(parts[1]), ".".join(parts[2:])
    return None, key


def is_config_setting(key: str) -> bool:
    """True when `key` names a configuration setting of `CONFIG_SETTINGS`, not a chip parameter."""
    return split_key(key.partition("=")[0].strip())[1] in CONFIG_SETTINGS


def apply_setting(config: ChipConfig, key: str, value: str, chip: Optional[Chip] = None) -> ChipConfig:
    """A copy of `config` with one configuration setting (`core.K.decimator=2`, `core.K.balancer=on`)
    changed; the other cores and the arrays are shared, not copied. Raises ConfigError for a core
    not in use or a value the setting does not take."""
    core, name = split_key(key)
    where = f"{key}={value}"
    if name not in CONFIG_SETTINGS:
        raise ConfigError(f"{where}: '{name}' is not a configuration setting ({', '.join(CONFIG_SETTINGS)})")
    if core is None:
        raise ConfigError(f"{where}: a configuration setting belongs to one core: core.K.{name}")
    if core >= N_CORES or not config.cnn_layers[core].in_use:
        raise ConfigError(f"{where}: core {core} is not in use in this configuration (in use: "
                          f"{', '.join(map(str, config.used_cores())) or 'none'})")
    text = str(value).strip().lower()
    layer = config.cnn_layers[core]
    if name == "decimator":
        if text in _OFF[:2]:
            changed = dataclasses.replace(layer, output_decimator_enable=False)
        elif text.isdigit() and int(text) in _DECIMATOR_CODES:
            changed = dataclasses.replace(layer, output_decimator_enable=True, output_decimator_interval=int(text))
        else:
            ratios = (f" (on {chip.name}: 1 spike in {', '.join(map(str, chip.decimator_ratios))} passes)"
                      if chip else "")
            raise ConfigError(f"{where}: the decimator takes 'off' or an interval code 0..7{ratios}")
    else:
        if text not in _ON + _OFF:
            raise ConfigError(f"{where}: the congestion balancer takes 'on' or 'off'")
        changed = dataclasses.replace(layer, input_congestion_balancer_enable=text in _ON)
    layers = list(config.cnn_layers)
    layers[core] = changed
    return dataclasses.replace(config, cnn_layers=layers)


def _setting_value(config: ChipConfig, key: str) -> str:
    core, name = split_key(key)
    layer = config.cnn_layers[core]
    if name == "decimator":
        return str(layer.output_decimator_interval) if layer.output_decimator_enable else "off"
    return "on" if layer.input_congestion_balancer_enable else "off"


def _chip_value(chip: Chip, key: str) -> str:
    core, name = split_key(key)
    v = getattr(chip, name)
    if core is not None:
        v = v[core]
    elif isinstance(v, tuple) and len(set(v)) == 1 and len(v) == chip.n_cores:
        v = v[0]
    if isinstance(v, bool):
        return "true" if v else "false"
    return ",".join(map(str, v)) if isinstance(v, tuple) else str(v)


def _values(key: str, text: str) -> tuple:
    out = []
    for part in text.split(","):
        part = part.strip()
        if part.count(":") == 2:
            try:
                a, b, step = (int(v) for v in part.split(":"))
            except ValueError:
                raise ConfigError(f"--grid {key}={text}: {part!r} is not START:STOP:STEP in whole numbers") from None
            if step <= 0 or b < a:
                raise ConfigError(f"--grid {key}={text}: {part!r} needs STEP > 0 and STOP >= START")
            out.extend(str(v) for v in range(a, b + 1, step))
        elif part:
            out.append(part)
    if not out:
        raise ConfigError(f"--grid {key}={text}: give at least one value, e.g. {key}=10,15,20")
    return tuple(out)


def parse_grid(grid: Union[Sequence[str], Mapping[str, Iterable]], config: ChipConfig, chip: Chip) -> list[Axis]:
    """The axes of `grid`: strings `KEY=V1,V2,...` (see the module docstring) or a mapping
    {KEY: [values]}. Checks that each key exists (listing close matches when it does not) and
    appears once; values are checked when the points are made (`points`)."""
    items = list(grid.items()) if isinstance(grid, Mapping) else [_split_item(g) for g in grid]
    if not items:
        raise ConfigError("the grid is empty: give at least one axis, e.g. core.2.synop_ns=10,15,20")
    axes, seen = [], set()
    for key, values in items:
        key = key.strip()
        values = _values(key, values) if isinstance(values, str) else tuple(str(v) for v in values)
        if not values:
            raise ConfigError(f"--grid {key}: give at least one value")
        core, name = split_key(key)
        if name in CONFIG_SETTINGS:
            apply_setting(config, key, values[0], chip)          # core in use, value taken
            axis = Axis(key, "config", values, _setting_value(config, key))
        else:
            try:
                o = parse_override(f"{key}={values[0]}", n_cores=chip.n_cores, cli_flag="--grid")
            except ChipFileError as exc:
                if "no chip parameter is named" not in str(exc):
                    raise
                near = close_names(name, list(CONFIG_SETTINGS))
                also = (f"; or the configuration setting core.K.{near[0]}" if near else
                        f"; configuration settings: {', '.join(f'core.K.{n}' for n in CONFIG_SETTINGS)}")
                raise ChipFileError(f"{exc}{also}", cli=f"{exc.cli}{also}") from None
            key = o.text.partition("=")[0]
            axis = Axis(key, "chip", values, _chip_value(chip, key))
        if axis.key in seen:
            raise ConfigError(f"--grid {axis.key} is given twice: put all its values in one --grid")
        seen.add(axis.key)
        axes.append(axis)
    return axes


def _split_item(item: str) -> tuple[str, str]:
    key, eq, values = str(item).partition("=")
    if not eq or not key.strip():
        raise ConfigError(f"--grid {item!r}: write KEY=V1,V2,... (e.g. core.2.synop_ns=10,15,20)")
    return key, values


@dataclass
class Point:
    """One grid point: `index` (0: the baseline), `values` {axis key: value text}, and the chip
    and configuration it runs."""

    index: int
    values: dict
    chip: Chip
    config: ChipConfig


def points(config: ChipConfig, chip: Chip, axes: Sequence[Axis], options: Optional[RunOptions] = None) -> list[Point]:
    """The baseline (index 0) and every grid point (1..), each made and checked against its chip
    (`speksim.config.validate`): a ConfigError or ChipFileError names the point."""
    from ..config.rules import validate
    options = options or RunOptions()
    out = [Point(0, {a.key: a.base for a in axes}, chip, config)]
    for i, combo in enumerate(itertools.product(*(a.values for a in axes)), start=1):
        values = dict(zip((a.key for a in axes), combo))
        label = " ".join(f"{k}={v}" for k, v in values.items())
        overrides = [f"{k}={v}" for (k, v), a in zip(values.items(), axes) if a.kind == "chip"]
        p_chip = chip.with_overrides(overrides, cli_flag="--grid") if overrides else chip
        p_config = config
        for (k, v), a in zip(values.items(), axes):
            if a.kind == "config":
                p_config = apply_setting(p_config, k, v, chip)
        try:
            validate(p_config, p_chip, options)
        except ConfigError as exc:
            raise ConfigError([f"grid point {label}: {p}" for p in exc.problems]) from None
        out.append(Point(i, values, p_chip, p_config))
    return out


# --------------------------------------------------------------------------------------------
# running one point
# --------------------------------------------------------------------------------------------

@dataclass
class RecordingChunks:
    """A recording read in chunks and fitted to the chip, as `speksim run` reads it: a callable
    (picklable, so a worker process reads the file itself) returning an iterator of event arrays.
    `plan`: a prepared `speksim.io.fitplan.FitPlan`, or None to feed the events as read."""

    path: str
    format: Optional[str] = None
    t_start_us: Optional[int] = None
    t_end_us: Optional[int] = None
    chunk_events: int = 200_000
    plan: Any = None

    def __call__(self):
        from ..io import iter_events
        plan = dataclasses.replace(self.plan) if self.plan is not None else None
        for chunk in iter_events(self.path, self.format, chunk_events=self.chunk_events,
                                 t_start_us=self.t_start_us, t_end_us=self.t_end_us):
            yield plan(chunk) if plan is not None else chunk


@dataclass
class _Task:
    point: int
    recording: str
    chip: Chip
    config: ChipConfig
    options: RunOptions
    engine: str
    source: Any
    output_layer: Optional[int]


def _chunks(source):
    if isinstance(source, np.ndarray):
        return [source]
    return source() if callable(source) else source


def _run_task(task: _Task) -> dict:
    """Simulate one (point, recording) and measure it; returns the figures of its row and what
    the comparison with the baseline needs (output addresses and classes, counted)."""
    from ..simulation import Simulation
    sim = Simulation(task.config, task.chip, task.options, engine=task.engine)
    fed = 0
    try:
        for chunk in _chunks(task.source):
            sim.feed(chunk)
            fed += len(chunk)
        result = sim.finish()
    except DeadlockError as exc:
        return {"point": task.point, "recording": task.recording, "events": fed,
                "metrics": {"error": f"deadlock: {str(exc).splitlines()[0]}"}}
    return {"point": task.point, "recording": task.recording, "events": len(result.input_t_ns),
            "metrics": measure(result), "outputs": _output_counts(result.outputs),
            "classes": _class_counts(result.outputs, task.output_layer)}


def _pct(values: np.ndarray, prefix: str) -> dict:
    names = [f"{prefix}_p50_ns", f"{prefix}_p95_ns", f"{prefix}_p99_ns", f"{prefix}_max_ns"]
    if not len(values):
        return dict.fromkeys(names)
    # values that occurred (inverted_cdf), as integers: a lag of 640 or 720 ns, never 711
    q = np.percentile(values, [50, 95, 99], method="inverted_cdf")
    return dict(zip(names, [int(v) for v in q] + [int(values.max())]))


def measure(result) -> dict:
    """The figures of a sweep row for one `Result` (see METRICS), agreement aside."""
    from .energy import estimate
    stats = result.stats
    cores = result.used_cores()
    t_end = max(int(result.t_end_ns), 1)
    lag = np.asarray(result.lag_ns)
    lat = result.latency_ns()
    blocks = cores + [DVS]
    out = {"input_events": int(len(lag)), "inputs_dropped": int((lag < 0).sum()),
           "outputs": int(result.n_outputs()), "t_end_ns": int(result.t_end_ns), "cut": int(bool(result.cut)),
           "stall_ns": int(sum(int(stats[b]["stall_ns"]) for b in blocks))}
    for k in cores:
        out[f"stall_ns_core{k}"] = int(stats[k]["stall_ns"])
    out["stall_ns_dvs"] = int(stats[DVS]["stall_ns"])
    out["busy_max"] = max((int(stats[k]["busy_ns"]) / t_end for k in cores), default=0.0)
    out.update(_pct(lag[lag >= 0], "lag"))
    out.update(_pct(lat[lat >= 0], "latency"))
    for name in ("congestion_dropped", "decimated", "dropped_out_of_range"):
        out[name] = int(sum(int(stats[b][name]) for b in blocks))
    if result.is_capture():     # a devkit run: no SynOp counts to price
        out["energy_j"] = out["power_w"] = None
    else:
        est = estimate(result)
        out["energy_j"], out["power_w"] = est["total_j"], est["mean_w"]
    return out


def _output_counts(outputs: np.ndarray) -> tuple:
    """The multiset of output addresses (layer, feature, x, y): (sorted unique keys, counts)."""
    from .compare import address_keys  # not at the top: compare loads numba, which parsing a grid does not need
    return np.unique(address_keys(outputs), return_counts=True)


def _class_counts(outputs: np.ndarray, layer: Optional[int]) -> Optional[np.ndarray]:
    if layer is None:
        return None
    feats = outputs["feature"][outputs["layer"] == layer].astype(np.int64)
    return np.bincount(feats) if len(feats) else np.zeros(0, np.int64)


def _overlap(a: tuple, b: tuple) -> float:
    """Multiset intersection over the larger multiset: 1 when equal, 0 when disjoint."""
    (ka, ca), (kb, cb) = a, b
    n = max(int(ca.sum()), int(cb.sum()))
    if n == 0:
        return 1.0
    _, ia, ib = np.intersect1d(ka, kb, assume_unique=True, return_indices=True)
    return float(np.minimum(ca[ia], cb[ib]).sum()) / n


def _class_agreement(a: Optional[np.ndarray], b: Optional[np.ndarray]) -> tuple:
    if a is None or b is None:
        return None, None
    n = max(len(a), len(b))
    a, b = np.pad(a, (0, n - len(a))), np.pad(b, (0, n - len(b)))
    total = max(int(a.sum()), int(b.sum()))
    agree = 1.0 if total == 0 else float(np.minimum(a, b).sum()) / total
    top = lambda c: int(np.argmax(c)) if c.sum() else -1   # noqa: E731 (ties: the lowest class)
    return agree, int(top(a) == top(b))


def default_output_layer(config: ChipConfig, chip: Chip) -> Optional[int]:
    """The layer whose output events are the network's classes: the model's output layer when an
    importer made the configuration; else the readout when it is monitored; else the monitored
    core that sends to no other core (the highest-numbered, if several); None if nothing fits."""
    model_out = [layer.get("core") for layer in (config.model or {}).get("layers", []) if layer.get("output")]
    if len(model_out) == 1 and model_out[0] is not None:
        return int(model_out[0])
    if config.readout.enable and config.readout.monitor_enable:
        return chip.readout_layer
    monitored = [k for k in config.used_cores() if config.cnn_layers[k].monitor_enable]
    sinks = [k for k in monitored
             if not any(d.enable and d.layer < N_CORES for d in config.cnn_layers[k].destinations)]
    pick = sinks or monitored
    return max(pick) if pick else None


# --------------------------------------------------------------------------------------------
# the sweep
# --------------------------------------------------------------------------------------------

def sweep(config: ChipConfig, chip: Union[Chip, str], recordings, grid, *, options: Optional[RunOptions] = None,
          engine: str = "fast", jobs: Optional[int] = None, output_layer: Optional[int] = None,
          progress: Optional[Callable[[int, int, int], None]] = None) -> list[dict]:
    """Run `config` on `chip` for the baseline and every point of `grid`, over `recordings`.

    recordings: an event array (DVS_EVENT or SPIKE_EVENT, µs), or a mapping {name: source} with
    each source an event array, an iterable of chunks, or a callable returning one (such as
    `RecordingChunks`; with jobs > 1 it must be picklable). grid: see `parse_grid`.
    jobs: worker processes (default: one per CPU; 1 runs everything in this process).
    output_layer: the layer whose features count as classes (default `default_output_layer`).
    progress(tasks_done, tasks, events_simulated) is called as simulations finish.

    Returns one dict per (recording, point), recordings in the order given and points in grid
    order, baseline first; keys as `columns(rows)`. Agreement with the baseline of the same
    recording: `agree_events`, the fraction of output events equal in (layer, feature, x, y) as
    multisets (common count over the larger count); `agree_classes`, the same over the output
    layer's features; `same_top_class`, 1 when the most frequent output feature is the same.
    """
    chip = load_chip(chip)
    options = options or RunOptions()
    if isinstance(recordings, np.ndarray):
        recordings = {"events": recordings}
    if not recordings:
        raise ConfigError("the sweep has no recording: give at least one")
    axes = parse_grid(grid, config, chip)
    pts = points(config, chip, axes, options)
    layer = default_output_layer(config, chip) if output_layer is None else int(output_layer)
    # points that change nothing the chip does (a grid value equal to the baseline's) run once
    unique, alias = {}, {}
    for p in pts:
        alias[p.index] = unique.setdefault(_effect(p), p.index)
    tasks = [_Task(p.index, name, p.chip, p.config, options, engine, source, layer)
             for name, source in recordings.items() for p in pts if alias[p.index] == p.index]
    done = _execute(tasks, jobs, progress)
    rows = []
    for name in recordings:
        base = done[(0, name)]
        for p in pts:
            got = done[(alias[p.index], name)]
            row = {"recording": name, "point": p.index, **p.values}
            row.update(_fill(got["metrics"], config))
            if "outputs" in got and "outputs" in base:
                row["agree_events"] = _overlap(got["outputs"], base["outputs"])
                row["agree_classes"], row["same_top_class"] = _class_agreement(got["classes"], base["classes"])
            rows.append(row)
    return rows


def _effect(p: Point) -> tuple:
    from ..chip import PARAMETERS
    chip = tuple(getattr(p.chip, s.name) for s in PARAMETERS)
    cfg = tuple((k, layer.output_decimator_enable, layer.output_decimator_interval if layer.output_decimator_enable
                 else None, layer.input_congestion_balancer_enable)
                for k, layer in enumerate(p.config.cnn_layers) if layer.in_use)
    return chip, cfg


def _fill(metrics: dict, config: ChipConfig) -> dict:
    out = {}
    for m in METRICS:
        names = [m.format(core=k) for k in config.used_cores()] if "{core}" in m else [m]
        for n in names:
            out[n] = metrics.get(n)
    return out


def _execute(tasks: list, jobs: Optional[int], progress) -> dict:
    jobs = max(1, min(int(jobs or usable_cores()), len(tasks)))
    done, events = {}, 0
    if jobs == 1:
        for t in tasks:
            r = _run_task(t)
            done[(r["point"], r["recording"])] = r
            events += r["events"]
            if progress:
                progress(len(done), len(tasks), events)
        return done
    from concurrent.futures import ProcessPoolExecutor, as_completed
    pool = ProcessPoolExecutor(max_workers=jobs)
    try:
        futures = [pool.submit(_run_task, t) for t in tasks]
        for fut in as_completed(futures):
            r = fut.result()
            done[(r["point"], r["recording"])] = r
            events += r["events"]
            if progress:
                progress(len(done), len(tasks), events)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return done


# --------------------------------------------------------------------------------------------
# the rows as a CSV and a table
# --------------------------------------------------------------------------------------------

def columns(rows: Sequence[dict]) -> list[str]:
    """The column order of `rows` (they all share it): recording, point, the axes, METRICS."""
    return list(rows[0]) if rows else ["recording", "point"]


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def write_csv(rows: Sequence[dict], path) -> Path:
    """Write the rows as a CSV (header `columns(rows)`; empty cells for figures a point lacks),
    atomically; the same rows give the same bytes."""
    import csv
    import io

    from .._files import atomic_path
    path = Path(os.fspath(path))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    cols = columns(rows)
    w.writerow(cols)
    for row in rows:
        w.writerow([_cell(row.get(c)) for c in cols])
    with atomic_path(path) as tmp:
        with open(tmp, "x", encoding="utf-8", newline="") as fh:
            fh.write(buf.getvalue())
    return path


def axis_keys(rows: Sequence[dict]) -> list[str]:
    """The grid's axis keys, in order (the columns between `point` and the figures)."""
    cols = columns(rows)
    return cols[2:cols.index("input_events")] if "input_events" in cols else cols[2:]


def table(rows: Sequence[dict]) -> str:
    """A short fixed-width table: per row its swept values, the stall time of the cores and the DVS
    layer, the busiest core's busy share, p99 input lag and output latency, drops, agreement with
    the baseline and energy."""
    from .energy import energy_text
    keys = axis_keys(rows)
    many = len({r["recording"] for r in rows}) > 1
    head = (["recording"] if many else []) + ["point"] + keys + [
        "stall ms", "busy max", "lag p99 µs", "lat p99 µs", "dropped", "agree", "classes", "energy"]
    lines = []
    for r in rows:
        cells = ([r["recording"]] if many else []) + [f"{r['point']}{'*' if r['point'] == 0 else ''}"]
        cells += [str(r[k]) for k in keys]
        if r.get("error"):
            cells.append(r["error"])      # printed after the swept values, unpadded
        else:
            dropped = sum(r[k] or 0 for k in ("congestion_dropped", "decimated", "dropped_out_of_range"))
            cells += [f"{r['stall_ns'] / 1e6:.3f}", f"{r['busy_max']:.0%}", _us(r["lag_p99_ns"]),
                      _us(r["latency_p99_ns"]), str(dropped), _share(r.get("agree_events")),
                      _share(r.get("agree_classes")), energy_text(r["energy_j"])]
        lines.append(cells)
    full = [line for line in lines if len(line) == len(head)]
    widths = [max([len(h)] + [len(line[i]) for line in full]) for i, h in enumerate(head)]
    out = []
    for cells in [head] + lines:
        n = len(cells) if len(cells) == len(head) else len(cells) - 1
        text = "  ".join(c.rjust(w) for c, w in zip(cells[:n], widths))
        out.append(text if n == len(cells) else f"{text}  {cells[-1]}")
    out.append("* point 0 is the baseline: the chip and configuration as given")
    return "\n".join(out)


def _us(ns) -> str:
    return "-" if ns is None else f"{ns / 1e3:,.2f}"


def _share(v) -> str:
    return "-" if v is None else f"{v:.1%}"


__all__ = ["sweep", "parse_grid", "points", "apply_setting", "is_config_setting", "split_key", "Axis", "Point",
           "RecordingChunks", "measure", "default_output_layer", "write_csv", "table", "columns", "axis_keys",
           "CONFIG_SETTINGS", "METRICS"]
