"""`speksim check`, `describe` and `info`: look at a configuration, a chip, a file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ._common import EXIT_OK, add_option_flags, options_from_args


def add(sub, common) -> None:
    from ..io import FORMATS
    c = sub.add_parser(
        "check", parents=[common], help="validate a configuration against a chip and run options",
        description="Check a configuration file against a chip and the run options: every problem that "
                    "'speksim run' would refuse, in the same words and with the same exit code (2); warnings are "
                    "listed either way.")
    c.add_argument("--chip", default="speck2f", help="built-in chip name or chip file (default: speck2f)")
    c.add_argument("--config", required=True, help="chip configuration JSON (written by speksim.save_config)")
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
    from ..chip import load_chip
    from ..config import load_config, validate
    chip = load_chip(args.chip)
    path = Path(args.config)
    if not path.is_file():
        raise ConfigError(f"{path}: no such file" if not path.exists() else f"{path}: is not a file")
    config = load_config(path)
    warnings = validate(config, chip, options_from_args(args))
    used = config.used_cores()
    print(f"{path}: valid for {chip.name}; core(s) {', '.join(map(str, used))} in use")
    for w in warnings:
        print(f"  warning: {w}")
    return EXIT_OK


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
    print("source: doc = SynSense documents, code = sinabs source, est = estimated, unk = our choice")
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
    print(f"{path.name}: speksim run file")
    print(f"  chip         {chip.get('name', '?')} ({', '.join(chip.get('files', [])) or 'no file'})")
    print(f"  engine       {md.get('engine', '?')}; speksim {md.get('versions', {}).get('speksim', '?')}")
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
    lat = res.latency_ns()
    lat = lat[lat >= 0]
    if len(lat):
        med, p99 = np.percentile(lat, [50, 99]) / 1e3
        print(f"  latency      median {med:.3f} µs, p99 {p99:.3f} µs")
    for w in md.get("warnings", []):
        print(f"  warning      {w}")
    print()
    print(res.summary())
    return EXIT_OK
