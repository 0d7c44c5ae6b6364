"""`speksim check`, `describe` and `info`: look at a configuration, a chip, a file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ._common import EXIT_CONFIG, EXIT_OK, UsageError, add_option_flags, add_set_flag, chip_from_args, options_from_args
from ._model import MODEL_HELP, add_model_flags, config_from_source


def add(sub, common) -> None:
    from ..io import FORMATS
    c = sub.add_parser(
        "check", parents=[common], help="preflight: will a configuration or a model fit the chip and keep up?",
        description="Check a configuration file, or a trained model imported on the way, against a chip and the "
                    "run options: every problem that 'speksim run' would refuse, in the same words and with the "
                    "same exit code (2), and the memory each core needs and has. With --recording, also the load "
                    "the recording offers each core (SynOps/s from SynSense's estimate and counted exactly by a "
                    "functional pass) against its capacity, the windows where a core cannot keep up, and what to "
                    "change.")
    c.add_argument("source", nargs="?", metavar="CONFIG_OR_MODEL",
                   help="configuration JSON (written by speksim.save_config), or " + MODEL_HELP)
    c.add_argument("--chip", default="speck2f", help="built-in chip name or chip file (default: speck2f)")
    add_set_flag(c)
    c.add_argument("--config", help="configuration JSON (the same as giving it as CONFIG_OR_MODEL)")
    c.add_argument("--recording", metavar="FILE", help="measure the load this recording offers each core")
    c.add_argument("--format", choices=sorted(FORMATS), help="recording format (default: detected from the file)")
    c.add_argument("--window-ms", type=float, default=10.0,
                   help="window over which the offered load is counted (default: 10 ms)")
    c.add_argument("--json", action="store_true", help="print one JSON document instead of tables")
    add_model_flags(c)
    add_option_flags(c)
    c.set_defaults(func=cmd_check)

    d = sub.add_parser("describe", parents=[common], help="print every parameter of a chip and every run option",
                       description="Every chip parameter with its value, unit, source (doc/code/est/unk) and "
                                   "reason, then every run option with its default, unit and allowed values.")
    d.add_argument("chip", nargs="?", default="speck2f", metavar="CHIP",
                   help="built-in chip name or chip file (default: speck2f)")
    d.add_argument("--json", action="store_true", help="print JSON instead of a table")
    d.set_defaults(func=cmd_describe)

    formats = ", ".join(f"{k} ({v})" for k, v in FORMATS.items())
    i = sub.add_parser("info", parents=[common], help="describe a recording or a run file",
                       description="What a file holds: for a recording, its events, duration, rates, sensor size "
                                   "and timestamp problems; for a run file, what was run and its statistics. "
                                   f"Recording formats: {formats}.")
    i.add_argument("file", metavar="FILE")
    i.add_argument("--format", choices=sorted(FORMATS), help="recording format (default: detected from the file)")
    i.set_defaults(func=cmd_info)


# --------------------------------------------------------------------------------------------
# check
# --------------------------------------------------------------------------------------------

def cmd_check(args, argv) -> int:
    from ..analysis.preflight import Preflight, memory_rows, preflight
    from ..errors import PlacementError
    chip = chip_from_args(args)
    if (args.source is None) == (args.config is None):
        raise UsageError("give one configuration or model to check: speksim check net.json (or --config net.json)")
    source = args.source or args.config
    path = Path(source.split(":", 1)[0] if ".py:" in source else source)
    if not path.is_file():
        raise ConfigError(f"{path}: no such file" if not path.exists() else f"{path}: is not a file")
    options = options_from_args(args)
    try:
        config = config_from_source(source, args, chip)
    except PlacementError as exc:
        if not args.json:
            raise
        doc = Preflight(chip=chip.name, memory=[], problems=[str(exc)]).to_dict()
        doc["placement"] = exc.needs
        print(json.dumps(doc, indent=2))
        return EXIT_CONFIG
    from ..config import validate
    try:
        validate(config, chip, options)
    except ConfigError as exc:
        if args.json:
            doc = Preflight(chip=chip.name, memory=memory_rows(config, chip), problems=list(exc.problems)).to_dict()
            print(json.dumps(doc, indent=2))
            return EXIT_CONFIG
        print(Preflight(chip=chip.name, memory=memory_rows(config, chip)).memory_text())
        raise
    events = _recording_chunks(args) if args.recording else None
    report = preflight(config, chip, events, options=options, window_ns=int(round(args.window_ms * 1e6)))
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
        return EXIT_OK
    changed = f" with {', '.join(chip.overrides)}" if chip.overrides else ""
    print(f"{source}: valid for {chip.name}{changed}; core(s) {', '.join(map(str, config.used_cores()))} in use")
    print(report.text())
    return EXIT_OK


def _recording_chunks(args):
    """The recording's events in chunks, moved to start at t = 0 when its timestamps are
    wall-clock (as `speksim run` does by default)."""
    from .. import io as sio
    from ..io.fitplan import WALL_CLOCK_US
    path = Path(args.recording)
    if not path.is_file():
        raise UsageError(f"--recording {path}: no such file")
    shift = None
    for ev in sio.iter_events(path, args.format, chunk_events=1 << 20):
        if shift is None and len(ev):
            shift = int(ev["t"][0]) if int(ev["t"][0]) >= WALL_CLOCK_US else 0
        if shift:
            ev = ev.copy()
            ev["t"] -= shift
        yield ev


# --------------------------------------------------------------------------------------------
# describe
# --------------------------------------------------------------------------------------------

def value_text(v, per_core: bool = False) -> str:
    """A parameter value for the describe table; per-core lists are run-length coded
    (``[16384 ×3, 32768 ×2]``, or ``1024 ×9`` when every core has the same value)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "none"
    if isinstance(v, (tuple, list)):
        if not per_core:
            return "[" + ", ".join(str(x) for x in v) + "]"
        runs = []
        for x in v:
            if runs and runs[-1][0] == x:
                runs[-1][1] += 1
            else:
                runs.append([x, 1])
        text = ", ".join(f"{x} ×{n}" if n > 1 else str(x) for x, n in runs)
        return text if len(runs) == 1 else f"[{text}]"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def cmd_describe(args, argv) -> int:
    from ..chip import PARAMETERS, builtin_chips, load_chip
    from ..config import option_table
    chip = load_chip(args.chip)
    rows = chip.param_table()
    options = option_table()
    if args.json:
        data = {"name": chip.name, "description": chip.description, "files": list(chip.files),
                "parameters": [dict(r, value=list(r["value"]) if isinstance(r["value"], tuple) else r["value"])
                               for r in rows],
                "run_options": options}
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return EXIT_OK
    print(f"{chip.name}: {chip.description}")
    print(f"files: {', '.join(chip.files)}; built-in chips: {', '.join(builtin_chips())}")
    print("source: doc = SynSense documents, code = sinabs source, est = estimated, unk = our choice, "
          "fit = fitted to devkit captures (speksim calibrate)")
    kinds = {spec.name: spec.kind for spec in PARAMETERS}
    values = [value_text(r["value"], kinds.get(r["name"]) == "percore") for r in rows]
    wn = max(len(r["name"]) for r in rows)
    wv = min(max(len(v) for v in values), 40)
    wu = max(len(r["unit"]) for r in rows)
    section = None
    for r, v in zip(rows, values):
        if r["section"] != section:
            section = r["section"]
            print(f"\n[{section}]")
        print(f"  {r['name']:<{wn}}  {v:<{wv}}  {r['unit']:<{wu}}  {r['source']:<4}  {r['reason']}")
    print("\n[run options] (not part of the chip: speksim.RunOptions, or the flags of 'speksim run')")
    wo = max(len(o["name"]) for o in options)
    for o in options:
        print(f"  {o['name']:<{wo}}  {value_text(o['default']):<12}  {o['unit']:<4}  {o['flag']:<17}  "
              f"{o['allowed']}: {o['description']}")
    return EXIT_OK


# --------------------------------------------------------------------------------------------
# info
# --------------------------------------------------------------------------------------------

def cmd_info(args, argv) -> int:
    from ..errors import RunFileError
    from ..runfile import is_run_file, temporary_file_note
    path = Path(args.file)
    note = temporary_file_note(path) if path.is_file() else None
    if note is not None:
        raise RunFileError(f"{path}: {note}")
    if path.exists() and is_run_file(path):
        return _info_run(path)
    return _info_recording(path, args.format)


def _info_recording(path: Path, fmt) -> int:
    from ..io.fitplan import WALL_CLOCK_US
    from ..io.stats import describe_recording
    stats = describe_recording(path, fmt)
    print("\n".join(stats.lines()))
    if stats.events and stats.t_first >= WALL_CLOCK_US:
        print("  timestamps   wall-clock time: 'speksim run' shifts them to start at 0 (--no-rezero keeps them)")
    return EXIT_OK


def _info_run(path: Path) -> int:
    from ..runfile import load_run
    res = load_run(path)
    md = res.metadata
    chip = md.get("chip", {})
    capture = res.is_capture()
    if capture:
        print(f"{path.name}: devkit capture (what a {md.get('device', '?')} devkit produced; not a simulation)")
    else:
        print(f"{path.name}: speksim run file")
    print(f"  chip         {chip.get('name', '?')} ({', '.join(chip.get('files', [])) or 'no file'})")
    if chip.get("overrides"):
        print(f"  overrides    {', '.join(chip['overrides'])}")
    print(f"  {'captured by' if capture else 'engine':<12} {md.get('engine', '?')}; "
          f"speksim {md.get('versions', {}).get('speksim', '?')}")
    inp = md.get("input", {})
    print(f"  input        {inp.get('events', len(res.input_t_ns)):,} {inp.get('kind', '')} events, "
          f"sha256 {str(inp.get('sha256', '?'))[:16]}...")
    f = md.get("input_file")
    if f:
        print(f"  input file   {f.get('name')} ({f.get('size_bytes')} bytes, sha256 {str(f.get('sha256'))[:16]}...)")
    shift = (md.get("input_transform") or {}).get("time_shift_us")
    if shift:
        print(f"  time shift   -{shift:,} µs (the recording's timestamps were shifted to start at 0)")
    if md.get("command_line"):
        print(f"  command      {md['command_line']}")
    opts = md.get("options", {})
    print("  options      " + ", ".join(f"{k}={v}" for k, v in opts.items()))
    if capture:
        kept = "kept in the file" if res.input_events is not None else "not kept: give the recording to simulate it"
        print(f"  input events {kept}")
        print("  not measured " + ", ".join(md.get("not_measured", {})) + " (a devkit does not report them: "
              "no latency, stall or energy figures)")
    else:
        lat = res.latency_ns()
        lat = lat[lat >= 0]
        if len(lat):
            med, p99 = np.percentile(lat, [50, 99]) / 1e3
            print(f"  latency      median {med:.3f} µs, p99 {p99:.3f} µs")
        _info_energy(res)
    for w in md.get("warnings", []):
        print(f"  warning      {w}")
    print()
    print(res.summary())
    return EXIT_OK


def _info_energy(res) -> None:
    from ..analysis.energy import energy_line, estimate, per_core_line
    from ..errors import RunFileError
    try:
        est = estimate(res)
    except RunFileError as exc:
        print(f"  energy       not estimated: {exc}")
        return
    print(f"  energy       {energy_line(est, label='')}")
    print(f"               {per_core_line(est)} (estimates: 'speksim describe' shows the figures)")
