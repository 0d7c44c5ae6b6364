"""`speksim plot` and `speksim demo`: pictures of a run, and a first run that needs no files."""

from __future__ import annotations

import shlex
import time
from pathlib import Path

from .._resources import bundled_traces, traces_dir
from ..errors import ReaderError
from ._common import EXIT_OK, Progress, add_engine_flag, note_compiling
from .run import one_line


def add(sub, common) -> None:
    pl = sub.add_parser("plot", parents=[common], help="write the report plots of a run file",
                        description="Draw the plots of a run file as PNGs: input rate, utilisation and FIFO "
                                    "occupancy, stalls and drops, latency and lag histograms, output raster, "
                                    "event images.")
    pl.add_argument("run_file", metavar="RUN.h5")
    pl.add_argument("--out", metavar="DIR", help="folder for the PNGs (default: <run name>-plots)")
    pl.set_defaults(func=cmd_plot)

    traces = bundled_traces()
    dm = sub.add_parser("demo", parents=[common], help="run the bundled example network on a bundled recording",
                        description="Write the example configuration, a run file, a CSV summary and the report "
                                    "plots into DIR.")
    dm.add_argument("--out", metavar="DIR", default="speksim-demo", help="output folder (default: ./speksim-demo)")
    dm.add_argument("--trace", choices=traces, default="rotating_dot" if "rotating_dot" in traces else None,
                    help="bundled recording to use (default: rotating_dot)")
    add_engine_flag(dm)
    dm.add_argument("--quiet", action="store_true", help="no progress display")
    dm.set_defaults(func=cmd_demo)


def cmd_plot(args, argv) -> int:
    from .. import plot
    from ..runfile import load_run
    path = Path(args.run_file)
    res = load_run(path)
    out = Path(args.out) if args.out else Path(f"{path.stem}-plots")
    for p in plot.report(res, out).values():
        print(p)
    return EXIT_OK


def cmd_demo(args, argv) -> int:
    from .. import io as sio
    from .. import plot
    from ..config import demo_config, save_config
    from ..runfile import export_csv_summary, file_sha256, save_run
    from ..simulation import Simulation

    trace = traces_dir() / f"{args.trace}.npz"
    if not trace.is_file():
        raise ReaderError(f"the bundled recording {trace.name} is missing from {trace.parent}; reinstall speksim "
                          "or run traces/make_traces.py in the source tree")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    config = demo_config()
    config_path = out / "demo-config.json"
    save_config(config, config_path)
    sim = Simulation(config, "speck2f", engine=args.engine)
    note_compiling(args.engine, args.quiet)
    events = sio.read_events(trace)
    progress = Progress(enabled=not args.quiet)
    t0 = time.perf_counter()
    try:
        step = 10_000
        for i in range(0, len(events), step):
            sim.feed(events[i:i + step])
            done = min(i + step, len(events))
            progress.update(done, int(events["t"][done - 1]), done / len(events))
        result = sim.finish()
    finally:
        progress.close()
    wall = time.perf_counter() - t0
    run_path = out / "demo.h5"
    save_run(result, run_path, input_name=trace.name, input_size=trace.stat().st_size,
             input_sha256=file_sha256(trace), command_line=["speksim"] + list(argv))
    csv_path = export_csv_summary(result, out / "demo-summary.csv")
    pngs = plot.report(result, out, input_events=events)
    print(f"speksim demo: the example network on the bundled recording {trace.name} "
          f"({len(events):,} events, 128x128) through speck2f")
    print(result.summary())
    print(one_line(len(events), len(events), wall, result, run_path))
    print(f"configuration  {config_path}")
    print(f"run file       {run_path}")
    print(f"CSV summary    {csv_path}")
    for p in pngs.values():
        print(f"plot           {p}")
    print(f"next: speksim run --config {shlex.quote(str(config_path))} <recording> --fit crop --plots plots/")
    return EXIT_OK
