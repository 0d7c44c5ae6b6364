"""`speksim report`: one self-contained HTML page about a run, with its stall diagnosis and plots.

    speksim report run.h5 --recording rec.aedat4 -o report.html     # a run file and the recording it ran
    speksim report --config net.json --recording rec.npz -o report.html   # run it here (a deadlock too)
"""

from __future__ import annotations

from pathlib import Path

from ._common import EXIT_OK, UsageError, note
from .stalls import add_subject_flags, subject_of


def add(sub, common) -> None:
    s = sub.add_parser(
        "report", parents=[common], help="write one HTML page about a run: statistics, stall diagnosis, plots",
        description="Write a self-contained HTML page (no external files, nothing to run) to read in a browser "
                    "or attach to a bug report: what was run, the statistics per block, the stall diagnosis of "
                    "'speksim stalls' with its checked fixes, and the plots. Give a run file, with the recording it "
                    "ran for the burst region, the fixes and the input frames; or give --config/--model and "
                    "--recording to run it here (a run that deadlocks is then explained).")
    s.add_argument("-o", "--output", metavar="FILE",
                   help="the HTML file to write (default: <run name>-report.html, or <recording name>-report.html)")
    add_subject_flags(s)
    s.set_defaults(func=cmd_report)


def cmd_report(args, argv) -> int:
    from ..report import write_report
    progress = None if args.quiet else (lambda text: note(text))
    common = {"window_ns": args.window_us * 1000, "fixes": args.fixes, "progress": progress}
    here = bool(args.config or args.model)
    if here and not args.recording:
        raise UsageError("--config/--model needs --recording: the input to run")
    if not here and not args.run_file:
        raise UsageError("give a run file (speksim report RUN.h5), or --config/--model and --recording")
    # by default beside where the command runs, named after the run file (or the recording)
    source = Path(args.run_file or args.recording)
    out = Path(args.output) if args.output else Path(f"{source.stem}-report.html")
    # checked before the slow work: a typo must not cost a diagnosis, nor a run file
    if out.suffix.lower() in (".h5", ".hdf5") or (args.run_file and out.resolve() == Path(args.run_file).resolve()):
        raise UsageError(f"-o {out}: that would overwrite a run file; give the HTML file to write")
    subject, events, extra = subject_of(args, progress, "report")
    if out.parent and not out.parent.exists():
        out.parent.mkdir(parents=True)
    write_report(out, subject, events, **common, **extra)
    print(f"wrote {out}")
    return EXIT_OK


__all__ = ["add", "cmd_report"]
