"""`speksim report`: one self-contained HTML page about a run, with its stall diagnosis and plots.

    speksim report run.h5 --recording rec.aedat4 -o report.html     # a run file and the recording it ran
    speksim report --config net.json --recording rec.npz -o report.html   # run it here (a deadlock too)
"""

from __future__ import annotations

from pathlib import Path

from ._common import EXIT_OK, UsageError, add_option_flags, note, options_from_args
from ._model import MODEL_HELP, add_model_flags, config_from_source


def add(sub, common) -> None:
    s = sub.add_parser(
        "report", parents=[common], help="write one HTML page about a run: statistics, stall diagnosis, plots",
        description="Write a self-contained HTML page (no external files, nothing to run) to read in a browser "
                    "or attach to a bug report: what was run, the statistics per block, the stall diagnosis of "
                    "'speksim stalls' with its checked fixes, and the plots. Give a run file, with the recording it "
                    "ran for the burst region, the fixes and the input frames; or give --config/--model and "
                    "--recording to run it here (a run that deadlocks is then explained).")
    s.add_argument("run_file", metavar="RUN.h5", nargs="?", help="a speksim run file")
    s.add_argument("-o", "--output", metavar="FILE",
                   help="the HTML file to write (default: <run name>-report.html, or <recording name>-report.html)")
    s.add_argument("--recording", metavar="FILE",
                   help="the recording the run was made from (checked against the run file's hash)")
    src = s.add_mutually_exclusive_group()
    src.add_argument("--config", help="chip configuration JSON: run it on --recording instead of reading a run file")
    src.add_argument("--model", help=MODEL_HELP + "; imported, then run on --recording")
    s.add_argument("--chip", default="speck2f", help="with --config/--model: built-in chip or chip file "
                                                     "(default: speck2f)")
    s.add_argument("--format", help="with --config/--model: the recording's format (default: detected)")
    s.add_argument("--fit", choices=("crop", "scale"),
                   help="with --config/--model: fit a recording larger than the chip's input")
    s.add_argument("--window-us", type=int, default=10_000,
                   help="sliding window of the load and saturation (µs; default: 10000)")
    s.add_argument("--no-fixes", dest="fixes", action="store_false", help="diagnose only; re-simulate nothing")
    s.add_argument("--quiet", action="store_true", help="no progress notes")
    add_model_flags(s)
    add_option_flags(s)
    s.set_defaults(func=cmd_report)


def cmd_report(args, argv) -> int:
    from ..report import write_report
    if args.window_us < 1:
        raise UsageError(f"--window-us must be at least 1, got {args.window_us}")
    progress = None if args.quiet else (lambda text: note(text))
    common = {"window_ns": args.window_us * 1000, "fixes": args.fixes, "progress": progress}
    here = bool(args.config or args.model)
    if here and args.run_file:
        raise UsageError("give either a run file or --config/--model with --recording, not both")
    if not here and not args.run_file:
        raise UsageError("give a run file (speksim report RUN.h5), or --config/--model and --recording")
    if here and not args.recording:
        raise UsageError("--config/--model needs --recording: the input to run")
    # by default beside where the command runs, named after the run file (or the recording)
    source = Path(args.recording if here else args.run_file)
    out = Path(args.output) if args.output else Path(f"{source.stem}-report.html")
    # checked before the slow work: a typo must not cost a diagnosis, nor a run file
    if out.suffix.lower() in (".h5", ".hdf5") or (args.run_file and out.resolve() == Path(args.run_file).resolve()):
        raise UsageError(f"-o {out}: that would overwrite a run file; give the HTML file to write")
    if here:
        subject, events, extra = _run_here(args, progress)
    else:
        from ..runfile import load_run
        from .stalls import _events_of_run
        subject = load_run(args.run_file)
        events = _events_of_run(subject, Path(args.recording)) if args.recording else None
        extra = {}
    if out.parent and not out.parent.exists():
        out.parent.mkdir(parents=True)
    write_report(out, subject, events, **common, **extra)
    print(f"wrote {out}")
    return EXIT_OK


def _run_here(args, progress):
    """(the Result, or the DeadlockError the run raised; the input events; what the page needs
    besides) for --config/--model and --recording."""
    from .. import io as sio
    from ..chip import load_chip
    from ..errors import DeadlockError
    from ..io.fitplan import FitPlan
    from ..runfile import file_sha256
    from ..simulation import Simulation
    path = Path(args.recording)
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    chip = load_chip(args.chip)
    config = config_from_source(args.config or args.model, args, chip)
    options = options_from_args(args)
    plan = FitPlan(fit=args.fit).prepare(sio.sensor_size(path, args.format), chip.dvs_size)
    events = plan(sio.read_events(path, args.format))
    recording = {"name": path.name, "size_bytes": path.stat().st_size, "sha256": file_sha256(path)}
    if progress:
        progress(f"running {len(events):,} input events")
    try:
        subject = Simulation(config, chip, options).run(events)
    except DeadlockError as exc:
        return exc, events, {"config": config, "chip": chip, "options": options, "input_file": recording}
    return subject, events, {"input_file": recording}


__all__ = ["add", "cmd_report"]
