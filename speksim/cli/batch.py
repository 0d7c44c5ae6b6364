"""`speksim batch`: one configuration over many recordings, one run file each, resumable."""

from __future__ import annotations

import argparse
from pathlib import Path

from .._resources import usable_cores
from ._common import (EXIT_INPUT, EXIT_OK, add_engine_flag, add_option_flags, add_set_flag, chip_from_args,
                      options_from_args, Progress, UsageError, warn)
from ._model import add_model_flags, add_source_flags, config_from_source
from .run import _POLARITY, _check_args, add_input_flags

_DESCRIPTION = """\
Simulate one configuration over many recordings, using every local CPU: one run file per
recording in OUTDIR (as 'speksim run' writes it), and a summary table (printed, and a CSV in
OUTDIR). Run again, it resumes: a run file that is complete and was made from the same
configuration, chip, options, engine, input reading and recording bytes is kept; any other is
simulated again (a note says why). A recording that fails does not stop the others: its row says
why, and the exit code is 3."""

_EPILOG = """\
recordings: files, or glob patterns in quotes that speksim expands ('data/**/*.aedat4': ** spans
folders). Run files are named <recording stem>.run.h5; recordings with the same stem are named
after their path from the folder they share (a+walk.aedat4.run.h5, b+walk.aedat4.run.h5).
The run files hold nothing about how the batch ran (no command line, no times): the same
recording and settings give the same bytes whatever --jobs. With --grid, every point of the grid
(see 'speksim sweep --help') runs over every recording, point K into OUTDIR/pointK/."""


def add(sub, common) -> None:
    b = sub.add_parser(
        "batch", parents=[common], help="run a configuration over many recordings (one run file each, resumable)",
        description=_DESCRIPTION, epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    b.add_argument("recordings", nargs="+", metavar="RECORDING",
                   help="event recording(s) or quoted glob pattern(s), any format of 'speksim info'")
    b.add_argument("--chip", default="speck2f", help="built-in chip name or chip file (default: speck2f)")
    add_set_flag(b)
    b.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,...",
                   help="also run every point of a what-if grid, as 'speksim sweep --grid' takes it (repeatable; "
                        "axes multiply): point K's run files go to OUTDIR/pointK/, point 0 being the chip and "
                        "configuration as given")
    add_source_flags(b, model_note="imported once, on the way")
    add_input_flags(b)
    g = b.add_argument_group("simulation")
    add_engine_flag(g)
    g.add_argument("--jobs", type=int, metavar="N",
                   help=f"recordings simulated at once, in local worker processes (default: the cores this "
                        f"process may use, {usable_cores()})")
    d = g.add_mutually_exclusive_group()
    d.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="run on this Dask cluster instead (the dask extra; every worker must see the recordings "
                        "and OUTDIR under the same absolute paths)")
    d.add_argument("--dask-local", type=int, metavar="N",
                   help="run on a Dask cluster of N single-threaded worker processes on this machine (127.0.0.1)")
    add_model_flags(b)
    add_option_flags(b)
    g = b.add_argument_group("output")
    g.add_argument("-o", "--output", required=True, metavar="OUTDIR",
                   help="folder of the run files and the summary (made if missing)")
    g.add_argument("--summary", default="summary.csv", metavar="NAME",
                   help="name of the summary CSV in OUTDIR (default: summary.csv)")
    g.add_argument("--no-resume", dest="resume", action="store_false",
                   help="simulate every recording again, even when its run file is complete and matches")
    g.add_argument("--quiet", action="store_true", help="print nothing but warnings and errors")
    b.set_defaults(func=cmd_batch)


def cmd_batch(args, argv) -> int:
    from ..batch import batch, table
    from ..config.rules import validate
    from ..io.fitplan import FitPlan
    _check_args(args)
    dask = args.scheduler if args.scheduler is not None else args.dask_local
    if args.jobs is not None and dask is not None:
        raise UsageError("--jobs sets the local worker processes; a Dask cluster has its own workers (with "
                         "--dask-local N, N is the count)")
    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"--jobs must be at least 1, got {args.jobs}")
    if args.dask_local is not None and args.dask_local < 1:
        raise UsageError(f"--dask-local must be at least 1, got {args.dask_local}")
    if args.scheduler is not None and "://" not in args.scheduler:
        raise UsageError(f"--scheduler {args.scheduler!r}: give the scheduler's address, e.g. tcp://10.0.0.5:8786")
    if not args.summary or Path(args.summary).name != args.summary:
        raise UsageError(f"--summary {args.summary!r}: give a file name (it is written in OUTDIR)")
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise UsageError(f"-o {out}: is a file; give the folder the run files go to")
    quiet = args.quiet
    chip = chip_from_args(args)
    config = config_from_source(args.config or args.model, args, chip)
    options = options_from_args(args)
    for w in validate(config, chip, options):         # raises the configuration's problems before any work
        warn(w)
    plan = FitPlan(rezero=args.rezero, flip_x=args.flip_x, flip_y=args.flip_y, downscale=args.downscale,
                   crop=tuple(args.crop) if args.crop else None, fit=args.fit, polarity=_POLARITY[args.polarity])
    progress = Progress(enabled=not quiet)
    events = 0

    def report(row, done, total):
        nonlocal events
        if row["status"] == "ok":          # the rate is of what was simulated, not of files kept
            events += row["events"]
        if row["status"] != "failed" and row["detail"]:
            progress.message(f"note: {_label(row)}: {row['detail']}")
        progress.update(events, None, done / total, force=done == total)

    try:
        rows = batch(config, chip, args.recordings, out, options=options, engine=args.engine, jobs=args.jobs,
                     fit=plan, format=args.format, t_start_us=args.t_start_us, t_end_us=args.t_end_us,
                     sensor_size=args.sensor_size, chunk_events=args.chunk_events, resume=args.resume,
                     summary=args.summary, progress=report, grid=args.grid or None, dask=dask,
                     cli_messages=True)
    finally:
        progress.close()
    failed = [r for r in rows if r["status"] == "failed"]
    for r in failed:
        warn(f"{_label(r)}: {r['detail']}")
    if not quiet:
        print(table(rows))
        print(f"wrote {out / args.summary} and the run files in {out}")
    return EXIT_INPUT if failed else EXIT_OK


def _label(row) -> str:
    return f"{row['recording']} (point {row['point']})" if "point" in row else row["recording"]


__all__ = ["add", "cmd_batch"]
