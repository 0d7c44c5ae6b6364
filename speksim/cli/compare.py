"""`speksim compare`: two run files (simulations or devkit captures) side by side."""

from __future__ import annotations

import argparse
import json
import sys

from ._common import EXIT_CHECK, EXIT_OK, UsageError

_DESCRIPTION = """\
Compare the output events of run file A (the reference: a devkit capture, a baseline) with those
of run file B (the candidate): spike counts per layer and per feature, events matched one-to-one
within a time tolerance (precision, recall), first-spike time error, the distance between the
output-latency distributions, and the class each side gives per time window. Either file may be
a devkit capture. With thresholds, prints PASS or one FAIL line per missed threshold and exits
with 5 when any failed, so that it can gate CI."""

_EPILOG = """\
What to expect: a simulation against another of the same engine, configuration and input, or the
fast engine against the reference engine, matches exactly (every threshold at its best value).
Against a devkit capture, the chip's input-facing cores are stochastic: expect spike counts
within a tolerance and a high class agreement, event-level figures only loosely. Suggested
thresholds for each case are in docs/compare.md."""


def _flag(name: str) -> tuple[str, float, str]:
    """(flag, factor from the flag's unit to the library's, unit) of a threshold of CHECKS: the
    library counts time in ns, the command line in µs."""
    if name.endswith("_ns"):
        return "--" + name[:-3].replace("_", "-") + "-us", 1000.0, "µs"
    return "--" + name.replace("_", "-"), 1.0, ""


def add(sub, common) -> None:
    from ..analysis.compare import CHECKS
    c = sub.add_parser("compare", parents=[common], help="compare two run files (simulations or devkit captures)",
                       description=_DESCRIPTION, epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_argument("a", metavar="A.h5", help="the reference run file (a devkit capture, a baseline)")
    c.add_argument("b", metavar="B.h5", help="the candidate run file")
    c.add_argument("--tolerance-us", type=float, default=2.0,
                   help="most time difference of two matching events, µs (default: 2)")
    c.add_argument("--window-ms", type=float, default=100.0,
                   help="width of the windows in which classes are compared, ms (default: 100)")
    c.add_argument("--layer", type=int, metavar="N",
                   help="the layer whose classes are compared (default: the output layer of A's configuration)")
    c.add_argument("--json", action="store_true", help="print one JSON document instead of the table")
    c.add_argument("--plot", metavar="OUT.png", help="also draw the comparison into this PNG file")
    g = c.add_argument_group("thresholds (any given: PASS, or FAIL and exit code 5)")
    for name, (figure, kind, meaning) in CHECKS.items():
        flag, _, unit = _flag(name)
        g.add_argument(flag, dest=f"check_{name}", type=float, metavar="X",
                       help=f"fail when {figure[:-3] if unit else figure} is {'below' if kind == 'min' else 'above'} X"
                            f"{f' {unit}' if unit else ''}: {meaning}")
    c.set_defaults(func=cmd_compare)


def thresholds_from_args(args) -> dict:
    """{threshold name of CHECKS: limit in the library's units} of the flags given."""
    from ..analysis.compare import CHECKS
    out = {}
    for name in CHECKS:
        v = getattr(args, f"check_{name}", None)
        if v is not None:
            out[name] = v * _flag(name)[1]
    return out


def cmd_compare(args, argv) -> int:
    from ..analysis.compare import compare_runs
    from ..runfile import load_run
    if args.tolerance_us < 0:
        raise UsageError(f"--tolerance-us must be >= 0, got {args.tolerance_us:g}")
    if args.window_ms <= 0:
        raise UsageError(f"--window-ms must be > 0, got {args.window_ms:g}")
    a, b = load_run(args.a), load_run(args.b)
    cmp = compare_runs(a, b, tolerance_ns=int(round(args.tolerance_us * 1000)),
                       window_ns=int(round(args.window_ms * 1e6)), layer=args.layer)
    thresholds = thresholds_from_args(args)
    failed = cmp.failures(thresholds)
    # the same sentences, naming the flag the user gave rather than the library's threshold
    shown = [line.replace(f"({name})", f"({_flag(name)[0]})") for name in thresholds
             for line in cmp.failures({name: thresholds[name]})]
    if args.plot:
        from ..plot.compare import comparison
        comparison(cmp, a, b, path=args.plot)
    if args.json:
        doc = {"a": str(args.a), "b": str(args.b), **cmp.to_dict()}
        if thresholds:
            doc["checks"] = {"thresholds": thresholds, "failures": failed, "passed": not failed}
        json.dump(doc, sys.stdout, indent=2)
        print()
    else:
        print(f"A: {args.a}\nB: {args.b}")
        print(cmp.text())
        if thresholds:
            print()
            print("\n".join(f"FAIL: {line}" for line in shown) if failed else
                  f"PASS ({len(thresholds)} threshold{'s' if len(thresholds) > 1 else ''})")
        if args.plot:
            print(f"wrote {args.plot}")
    return EXIT_CHECK if failed else EXIT_OK


__all__ = ["add", "cmd_compare", "thresholds_from_args"]
