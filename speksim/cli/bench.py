"""`speksim bench regress`: the regression scenarios against stored baselines."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ._common import EXIT_CHECK, EXIT_OK, UsageError, note

#: Where the scenarios are when the command runs from a source checkout.
DEFAULT_SCENARIOS = Path("benchmarks") / "regression" / "scenarios.toml"

_DESCRIPTION = """\
Run every regression scenario (a configuration or model, a recording, a chip) and compare each run
with its baseline, BASELINE_DIR/<scenario>.h5: a run file from an earlier simulation, or a devkit
capture. The table gives the compare figures per scenario ('speksim compare --help' says what each
means); a simulation baseline must be reproduced exactly (every output event at the same ns, the
same statistics and input lags), a devkit capture within the devkit thresholds (spike counts within
10%, the same class in 90% of the windows) unless the scenario sets its own. Exit code 5 when a
scenario drifted, errored or has no baseline; skipped scenarios (a recording, model or package
that is not here) are listed but do not fail."""

_EPILOG = """\
Baselines change only on purpose: --update writes this run of every scenario (or of --only ones)
as its baseline; a devkit capture baseline is never overwritten. The scenarios file format is in
the docstring of speksim.regress and in benchmarks/regression/README.md. For the speed benchmarks
(throughput, real-time factor, memory, peers) run 'python -m benchmarks' in a source checkout."""


def add(sub, common) -> None:
    b = sub.add_parser("bench", parents=[common], help="regression scenarios against stored baselines",
                       description="Benchmarks that are part of the command: 'speksim bench regress'. The speed "
                                   "benchmarks are 'python -m benchmarks' in a source checkout.")
    bsub = b.add_subparsers(title="benchmarks", metavar="BENCHMARK")
    r = bsub.add_parser("regress", parents=[common], help="run the regression scenarios and compare with baselines",
                        description=_DESCRIPTION, epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("--baseline", required=True, metavar="DIR", help="folder of the baselines, <scenario>.h5")
    r.add_argument("--scenarios", metavar="FILE",
                   help=f"scenarios file (default: {DEFAULT_SCENARIOS.as_posix()} under the current folder)")
    r.add_argument("--only", action="append", default=[], metavar="NAME", help="run only this scenario (repeatable)")
    r.add_argument("--out", metavar="DIR", default="regress-runs",
                   help="folder for this run's files, <scenario>.h5 (default: ./regress-runs)")
    r.add_argument("--update", action="store_true", help="write this run as the new baselines instead of comparing")
    r.add_argument("--json", metavar="FILE", help="also write the outcomes as JSON ('-': print them instead)")
    r.add_argument("--quiet", action="store_true", help="no line per scenario while running")
    r.set_defaults(func=cmd_regress)
    b.set_defaults(func=lambda args, argv: _no_benchmark(b))


def _no_benchmark(parser) -> int:
    parser.print_help(sys.stderr)
    raise UsageError("say which benchmark: 'speksim bench regress --baseline DIR'")


def cmd_regress(args, argv) -> int:
    from ..regress import load_scenarios, passed, regress, table
    path = Path(args.scenarios) if args.scenarios else DEFAULT_SCENARIOS
    if not path.is_file():
        raise UsageError(f"{path}: no scenarios file; give --scenarios FILE (the regression list of a source "
                         f"checkout is {DEFAULT_SCENARIOS.as_posix()})")
    scenarios = load_scenarios(path)
    if args.only:
        names = {s.name for s in scenarios}
        unknown = [n for n in args.only if n not in names]
        if unknown:
            raise UsageError(f"no scenario named {', '.join(unknown)} in {path}; there are: {', '.join(sorted(names))}")
        scenarios = [s for s in scenarios if s.name in args.only]
    quiet = args.quiet or args.json == "-"

    def progress(o, done, total):
        if not quiet:
            wall = "" if o.wall_s is None else f" ({o.wall_s:.2f} s)"
            note(f"[{done}/{total}] {o.name}: {o.status}{wall}")

    outcomes = regress(scenarios, args.baseline, args.out, update=args.update, progress=progress)
    doc = {"scenarios": str(path), "baseline": str(args.baseline), "update": bool(args.update),
           "outcomes": [o.to_dict() for o in outcomes], "passed": passed(outcomes)}
    if args.json == "-":
        json.dump(doc, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(table(outcomes))
        if args.json:
            Path(args.json).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        print("PASS" if passed(outcomes) else "FAIL")
    return EXIT_OK if passed(outcomes) else EXIT_CHECK
