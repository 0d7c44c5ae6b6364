"""`speksim sweep`: one configuration over a grid of chip overrides and configuration settings."""

from __future__ import annotations

import argparse
from pathlib import Path

from .._resources import usable_cores
from ._common import (EXIT_OK, add_engine_flag, add_option_flags, add_set_flag, chip_from_args, options_from_args,
                      Progress, UsageError, warn)
from ._model import add_model_flags, add_source_flags, config_from_source
from .run import _check_args, _recording_source, add_input_flags, fit_plan

_DESCRIPTION = """\
Run a configuration over a grid of chip-parameter overrides and configuration settings, on one or
more recordings, using every local CPU. Per point and recording: stall time per core, input-lag and
output-latency percentiles, drops, the energy estimate and the agreement of the outputs with the
un-overridden run. Writes a CSV and a plot (stall time and p99 input lag against the swept value)
and prints a short table."""

_EPILOG = """\
grid axes (KEY=V1,V2,... or KEY=START:STOP:STEP; several --grid multiply, the last varying fastest):
  core.K.NAME=...     a chip parameter of core K, e.g. core.2.synop_ns=10,15,20,25
  NAME=...            a chip parameter of every core, or of the chip: fifo_depth=8,16,64, host_out_ns=80:160:40
  core.K.decimator=   off, or the output decimator's interval code 0..7 (on Speck2f one spike in
                      2, 4, 8, 16, 32, 128, 256 or 512 passes): core.1.decimator=off,0,1,2
  core.K.balancer=    off or on (the input congestion balancer): core.3.balancer=off,on
point 0 is the baseline (the chip, with --set, and the configuration as given); the agreement
columns compare each point's outputs with it, recording by recording."""


def add(sub, common) -> None:
    s = sub.add_parser(
        "sweep", parents=[common], help="what-if: run a grid of chip overrides and configuration settings",
        description=_DESCRIPTION, epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("recordings", nargs="+", metavar="RECORDING", help="event recording(s), any format of "
                                                                      "'speksim info'")
    s.add_argument("--grid", action="append", default=[], required=True, metavar="KEY=V1,V2,...",
                   help="one axis of the grid (repeatable; see below)")
    s.add_argument("--chip", default="speck2f", help="built-in chip name or chip file (default: speck2f)")
    add_set_flag(s)
    add_source_flags(s)
    add_input_flags(s)
    g = s.add_argument_group("simulation")
    add_engine_flag(g)
    g.add_argument("--jobs", type=int, default=usable_cores(),
                   help=f"simulations run at once, in worker processes (default: the cores this process may use, "
                        f"{usable_cores()})")
    g.add_argument("--output-layer", type=int, metavar="LAYER",
                   help="layer whose output features are the classes compared (default: the model's output "
                        "layer, else the monitored readout, else the last monitored core that feeds no core)")
    add_model_flags(s)
    add_option_flags(s)
    g = s.add_argument_group("output")
    g.add_argument("-o", "--output", default="sweep.csv", help="CSV to write (default: sweep.csv here)")
    g.add_argument("--plot", metavar="PNG", help="plot to write (default: the CSV's name with .png)")
    g.add_argument("--quiet", action="store_true", help="print nothing but warnings and errors")
    s.set_defaults(func=cmd_sweep)


def cmd_sweep(args, argv) -> int:
    from ..analysis.sweep import RecordingChunks, sweep, table, write_csv
    _check_args(args)
    if args.jobs < 1:
        raise UsageError(f"--jobs must be at least 1, got {args.jobs}")
    quiet = args.quiet
    chip = chip_from_args(args)
    config = config_from_source(args.config or args.model, args, chip)
    out = Path(args.output)
    plot_path = Path(args.plot) if args.plot else out.with_suffix(".png")
    for p in (out, plot_path):
        if p.parent and not p.parent.exists():
            p.parent.mkdir(parents=True)
    recordings = {}
    for name in args.recordings:
        path = Path(name)
        if not path.is_file():
            raise UsageError(f"{path}: no such file" if not path.exists() else f"{path}: is not a file")
        source = _recording_source(path, args, quiet)     # the same reading as 'speksim run'
        plan = fit_plan(args, source, chip)
        key = path.name if path.name not in recordings else str(path)
        if key in recordings:
            raise UsageError(f"{path} is given twice")
        recordings[key] = RecordingChunks(str(path), args.format, args.t_start_us, args.t_end_us,
                                          int(args.chunk_events), plan)
    progress = Progress(enabled=not quiet)

    def report(done, total, events):
        progress.update(events, None, done / total)

    try:
        rows = sweep(config, chip, recordings, args.grid, options=options_from_args(args), engine=args.engine,
                     jobs=args.jobs, output_layer=args.output_layer, progress=report)
    finally:
        progress.close()
    write_csv(rows, out)
    from ..plot.sweep import sweep_plot
    sweep_plot(rows, path=plot_path)
    for r in rows:
        if r.get("error"):
            warn(f"{r['recording']} point {r['point']}: {r['error']}")
    if not quiet:
        print(table(rows))
        print(f"wrote {out}, {plot_path}")
    return EXIT_OK


__all__ = ["add", "cmd_sweep"]
