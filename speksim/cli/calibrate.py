"""`speksim calibrate`: fit a chip's timing parameters to devkit captures.

    speksim calibrate capture.h5 [more.h5 ...] --chip speck2f -o speck2f-fitted.toml
    speksim calibrate run.h5 --recording rec.aedat4 --param synop_ns --param event_ns -o fitted.toml
"""

from __future__ import annotations

import datetime
import json
import sys

from ._common import EXIT_OK, Progress, UsageError, note, warn


def add(sub, common) -> None:
    c = sub.add_parser(
        "calibrate", parents=[common], help="fit the chip's timing parameters to devkit captures",
        description="Simulate each capture's configuration and input again with candidate timing parameters, "
                    "pair every output event with its twin in the capture (same neuron, same occurrence), fit "
                    "the parameters to the paired times, and write a chip file that extends the base chip "
                    "with the fitted values. Parameters the captures cannot identify are named, with why.")
    c.add_argument("captures", metavar="CAPTURE.h5", nargs="*",
                   help="devkit captures (or run files of simulations), fitted jointly")
    c.add_argument("--chip", default="speck2f", help="the base chip: built-in name or chip file (default: speck2f)")
    c.add_argument("--recording", action="append", default=[], metavar="FILE",
                   help="the recording of a capture that keeps no input events (a simulation's run file); "
                        "repeat it once per capture, in the same order")
    c.add_argument("--param", action="append", default=[], metavar="[core.K.]NAME",
                   help="fit only this parameter (repeatable); core.K.NAME fits one core's value "
                        "(default: every timing parameter the captures can constrain)")
    c.add_argument("-o", "--output", metavar="FITTED.toml", help="write the fitted chip file here")
    c.add_argument("--name", help="the fitted chip's name (default: <base>-fitted)")
    c.add_argument("--json", action="store_true", help="print the result as JSON (Calibration.to_dict())")
    c.add_argument("--quiet", action="store_true", help="no progress notes")
    c.set_defaults(func=cmd_calibrate)


def cmd_calibrate(args, argv) -> int:
    from pathlib import Path

    from ..analysis.calibrate import calibrate
    if not args.captures:
        raise UsageError("no capture given: speksim calibrate CAPTURE.h5 [MORE.h5 ...] --chip CHIP -o fitted.toml")
    if args.recording and len(args.recording) != len(args.captures):
        raise UsageError(f"{len(args.captures)} captures but {len(args.recording)} --recording: give one recording "
                         "per capture, in the same order")
    for path in list(args.captures) + list(args.recording):
        if not Path(path).exists():
            raise UsageError(f"{path}: no such file")
    progress = Progress(enabled=not (args.quiet or args.json))
    result = calibrate(args.captures, args.chip, parameters=args.param or None, inputs=args.recording or None,
                       progress=progress.message)
    progress.close()
    for w in result.warnings:
        warn(w)
    if args.output:
        names = [Path(p).name for p in args.captures]
        result.write_chip(args.output, name=args.name, captures=names,
                          date=datetime.datetime.now(datetime.timezone.utc).date().isoformat())
    if args.json:
        d = result.to_dict()
        d["output"] = args.output
        json.dump(d, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(result.text(warnings=False))
        if not args.quiet:
            note(f"wrote {args.output} (extends {result.base_chip.name}; use it with --chip {args.output})"
                 if args.output else "no chip file written: give -o FITTED.toml to write one")
    return EXIT_OK


__all__ = ["add", "cmd_calibrate"]
