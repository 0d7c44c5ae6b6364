"""`speksim stalls`: why a run stalled, and which change removes the stall.

    speksim stalls run.h5 --recording rec.aedat4          # a run file and the recording it ran
    speksim stalls --config net.json --recording rec.npz  # run it here; a deadlock is explained too
"""

from __future__ import annotations

import contextlib
import io
import json
import shlex
import sys
import time
from pathlib import Path

from ._common import EXIT_OK, UsageError, add_option_flags, note, options_from_args
from ._model import add_model_flags, add_source_flags, config_from_source


def add(sub, common) -> None:
    s = sub.add_parser(
        "stalls", parents=[common], help="diagnose the stalls of a run and check fixes",
        description="Find the blocks that could not keep up (saturated windows), what they held back and "
                    "starved, the input burst that set them off, and re-simulate the worst stall with each "
                    "candidate fix, ranked. Give a run file, with the recording it ran for the burst region "
                    "and the fixes; or give --config/--model and --recording to run it here (a run that "
                    "deadlocks is then explained).")
    add_subject_flags(s)
    s.add_argument("--json", action="store_true", help="print the report as JSON (StallReport.to_dict())")
    s.set_defaults(func=cmd_stalls)


def add_subject_flags(s) -> None:
    """What `stalls` and `report` diagnose: a run file (with its recording), or a configuration or
    model run here on a recording; and how."""
    s.add_argument("run_file", metavar="RUN.h5", nargs="?", help="a speksim run file")
    s.add_argument("--recording", metavar="FILE",
                   help="the recording the run was made from (checked against the run file's hash)")
    add_source_flags(s, "chip configuration JSON: run it on --recording instead of reading a run file",
                     "imported, then run on --recording", required=False)
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


def subject_of(args, progress, command: str):
    """(the Result to diagnose, or the DeadlockError its run raised; the input events or None;
    what a diagnosis needs besides: the run's configuration, chip and options for a deadlock, and
    `input_file` when run here), from the flags of `add_subject_flags`."""
    if args.window_us < 1:
        raise UsageError(f"--window-us must be at least 1, got {args.window_us}")
    if args.config or args.model:
        if args.run_file:
            raise UsageError("give either a run file or --config/--model with --recording, not both")
        return _run_here(args, progress)
    if not args.run_file:
        raise UsageError(f"give a run file (speksim {command} RUN.h5), or --config/--model and --recording")
    from ..runfile import load_run
    result = load_run(args.run_file)
    events = _events_of_run(result, Path(args.recording)) if args.recording else None
    return result, events, {}


def cmd_stalls(args, argv) -> int:
    from ..analysis.stalls import diagnose
    progress = None if args.quiet or args.json else (lambda text: note(text))
    t0 = time.perf_counter()
    subject, events, extra = subject_of(args, progress, "stalls")
    extra.pop("input_file", None)
    report = diagnose(subject, events, window_ns=args.window_us * 1000, fixes=args.fixes, progress=progress,
                      **extra)
    if args.json:
        json.dump(report.to_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(report.text())
        if not args.quiet:
            note(f"diagnosed in {time.perf_counter() - t0:.1f} s")
    return EXIT_OK


def _events_of_run(result, path: Path):
    """The recording read as the run read it: the time window and format from the run's recorded
    command line (`speksim run ...`), the transforms from its metadata."""
    from ..analysis.stalls import events_for_run
    from ..runfile import is_run_file
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    if is_run_file(path):
        raise UsageError(f"{path} is a run file: a run that replayed another run's output is diagnosed from Python "
                         "(speksim.analysis.stalls.diagnose(result, events))")
    window = {}
    line = (result.metadata or {}).get("command_line")
    if line:
        from . import build_parser
        try:
            words = shlex.split(line)
            with contextlib.redirect_stderr(io.StringIO()):     # a line that no longer parses is ignored
                ran = build_parser().parse_args(words[1:]) if len(words) > 1 and words[1] == "run" else None
        except (ValueError, SystemExit):
            ran = None
        if ran is not None:
            window = {"format": ran.format, "t_start_us": ran.t_start_us, "t_end_us": ran.t_end_us}
    return events_for_run(result, path, **window)


def _run_here(args, progress):
    """`subject_of` for --config/--model and --recording: the run made here."""
    from .. import io as sio
    from ..chip import load_chip
    from ..errors import DeadlockError
    from ..io.fitplan import FitPlan
    from ..runfile import file_sha256
    from ..simulation import Simulation
    if not args.recording:
        raise UsageError("--config/--model needs --recording: the input to run")
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


__all__ = ["add", "cmd_stalls", "add_subject_flags", "subject_of"]
