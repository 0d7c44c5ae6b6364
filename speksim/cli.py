"""The `speksim` command.

    speksim run --chip speck2f --config net.json recording.aedat4 --fit crop -o run.h5 --plots plots/
    speksim check --chip speck2f --config net.json
    speksim describe [CHIP] [--json]
    speksim info FILE
    speksim plot run.h5 [--out DIR]
    speksim demo [--out DIR]

The library raises typed errors and never prints; this module turns them into one line on stderr
(`speksim: error: ...`; a deadlock adds its indented details) and an exit code: 2 for chip and
configuration errors (and bad arguments), 3 for input errors (recordings, events, run files),
4 for a deadlock, 1 for anything else, 130 when interrupted. `--debug` adds the traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import numpy as np

from . import __version__
from .errors import (ChipFileError, ConfigError, DeadlockError, EventError, ReaderError, RunFileError,
                     SpeksimError)

EXIT_OK, EXIT_OTHER, EXIT_CONFIG, EXIT_INPUT, EXIT_DEADLOCK, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130

#: Sensors whose size a file may not record, smallest first: (width, height, name).
KNOWN_SENSORS = ((128, 128, "DVS128 / Speck"), (240, 180, "DAVIS240"), (304, 240, "ATIS"),
                 (320, 240, "DVXplorer Lite"), (346, 260, "DAVIS346"), (640, 480, "DVXplorer / Prophesee Gen3"),
                 (1280, 720, "Prophesee Gen4 / IMX636"))

_POLARITY = {"keep": "keep", "merge": "merge", "on": "on_only", "off": "off_only"}
DEMO_TRACES = ("rotating_dot", "moving_bar", "noise", "burst")


class UsageError(Exception):
    """Arguments that do not fit together (exit code 2)."""


# --------------------------------------------------------------------------------------------
# entry point
# --------------------------------------------------------------------------------------------

def main(argv=None) -> int:
    """Run the `speksim` command with `argv` (default: sys.argv[1:]); returns the exit code."""
    argv = [str(a) for a in (sys.argv[1:] if argv is None else argv)]
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or an argparse usage error (already printed)
        return exc.code if isinstance(exc.code, int) else (EXIT_OK if exc.code is None else EXIT_CONFIG)
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return EXIT_CONFIG
    debug = bool(getattr(args, "debug", False))
    try:
        return int(args.func(args, argv) or EXIT_OK)
    except KeyboardInterrupt:
        print("speksim: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader of our output went away (`speksim describe | head`): not an error
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return EXIT_OK
    except BaseException as exc:  # every error becomes one line and an exit code
        if isinstance(exc, SystemExit):
            raise
        return _report_error(exc, debug)


def _exit_code(exc: BaseException) -> int:
    if isinstance(exc, DeadlockError):
        return EXIT_DEADLOCK
    if isinstance(exc, (ChipFileError, ConfigError, UsageError)):
        return EXIT_CONFIG
    if isinstance(exc, (EventError, ReaderError, RunFileError)):
        return EXIT_INPUT
    return EXIT_OTHER


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, OSError) and not isinstance(exc, SpeksimError):
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror or exc}"
    if isinstance(exc, (SpeksimError, UsageError)):
        return str(exc)
    return f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)"


def _report_error(exc: BaseException, debug: bool) -> int:
    if debug:
        traceback.print_exc(file=sys.stderr)
    lines = _error_text(exc).strip().splitlines() or [type(exc).__name__]
    print(f"speksim: error: {lines[0]}", file=sys.stderr)
    for line in lines[1:]:
        print(line if line.startswith("  ") else f"  {line}", file=sys.stderr)
    return _exit_code(exc)


# --------------------------------------------------------------------------------------------
# argument parser
# --------------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the full traceback of an error")
    p = argparse.ArgumentParser(
        prog="speksim", parents=[common],
        description="Event-driven, cycle-approximate simulator of SynSense Speck / DYNAP-CNN chips.",
        epilog="Exit codes: 0 ok, 1 other error, 2 chip/configuration/argument error, 3 input error, "
               "4 deadlock, 130 interrupted.")
    p.set_defaults(debug=False, func=None)
    p.add_argument("--version", action="version", version=f"speksim {__version__}")
    sub = p.add_subparsers(title="commands", metavar="COMMAND")

    r = sub.add_parser("run", parents=[common], help="simulate a recording (or a run file's output)",
                       description="Simulate a recording through a configured chip, write a run file and "
                                   "print the per-core statistics. A speksim run file given as RECORDING "
                                   "replays its monitored output.")
    r.add_argument("recording", metavar="RECORDING", help="event recording (any format of 'speksim info') "
                                                          "or a speksim run file")
    r.add_argument("--chip", default="speck2f", help="built-in chip name or chip file (default: speck2f)")
    r.add_argument("--config", required=True, help="chip configuration JSON (speksim.save_config)")
    g = r.add_argument_group("reading the input")
    g.add_argument("--format", help="recording format (default: detected); see 'speksim info'")
    g.add_argument("--t-start-us", type=int, help="skip events before this time (µs, as in the file)")
    g.add_argument("--t-end-us", type=int, help="stop at this time (µs, as in the file; exclusive)")
    g.add_argument("--rezero", action="store_true", help="shift times so the first event is at t = 0")
    g.add_argument("--chunk-events", type=int, default=200_000, help="events read and simulated at a time")
    g.add_argument("--layer-map", metavar="SRC:DST[,SRC:DST]",
                   help="run-file input: send monitored layer SRC's events to core DST (13 = DVS layer); "
                        "default: layer-13 output as camera input if the run has any, else each core's "
                        "output to the same core")
    g = r.add_argument_group("fitting a camera recording to the chip's 128x128 input (in this order)")
    g.add_argument("--sensor-size", type=int, nargs=2, metavar=("W", "H"),
                   help="sensor size when the file does not record it (default: guessed from the events)")
    g.add_argument("--flip-x", action="store_true", help="mirror x (in sensor coordinates)")
    g.add_argument("--flip-y", action="store_true", help="mirror y (in sensor coordinates)")
    g.add_argument("--downscale", type=int, choices=(1, 2, 4), default=1, help="divide x and y by this")
    g.add_argument("--crop", type=int, nargs=2, metavar=("X0", "Y0"),
                   help="keep the 128x128 window starting at (X0, Y0)")
    g.add_argument("--fit", choices=("crop", "scale"),
                   help="make any sensor fit: 'crop' the central 128x128, or 'scale' down by a power of "
                        "two first, then crop")
    g.add_argument("--polarity", choices=tuple(_POLARITY), default="keep",
                   help="keep both, merge into one channel, or keep only ON / OFF events")
    g = r.add_argument_group("simulation")
    g.add_argument("--engine", choices=("fast", "reference"), default="fast")
    g.add_argument("--input-path", choices=("host", "sensor"), default="host",
                   help="events written by the host (devkit replay) or coming from the on-chip sensor")
    g.add_argument("--slow-clock-hz", type=float, default=1000.0, help="slow clock for leak and readout")
    g.add_argument("--bin-us", type=int, default=1000, help="width of the time-series bins (µs)")
    g = r.add_argument_group("output")
    g.add_argument("-o", "--output", help="run file to write (default: <recording name>.run.h5 here)")
    g.add_argument("--plots", metavar="DIR", help="also write the report plots (PNG) into DIR")
    g.add_argument("--csv", metavar="FILE", help="also write a CSV summary (one row per block)")
    g.add_argument("--quiet", action="store_true", help="no progress bar and no statistics table")
    r.set_defaults(func=cmd_run)

    c = sub.add_parser("check", parents=[common], help="validate a configuration against a chip",
                       description="List every problem of a configuration (exit 1) or confirm it is valid (exit 0); "
                                   "warnings are listed either way.")
    c.add_argument("--chip", default="speck2f")
    c.add_argument("--config", required=True)
    c.set_defaults(func=cmd_check)

    d = sub.add_parser("describe", parents=[common], help="print every parameter of a chip",
                       description="Every chip parameter with its value, unit, source (doc/code/est/unk) and reason.")
    d.add_argument("chip", nargs="?", default="speck2f", metavar="CHIP",
                   help="built-in chip name or chip file (default: speck2f)")
    d.add_argument("--json", action="store_true", help="print JSON instead of a table")
    d.set_defaults(func=cmd_describe)

    i = sub.add_parser("info", parents=[common], help="describe a recording or a run file")
    i.add_argument("file", metavar="FILE")
    i.add_argument("--format", help="recording format (default: detected)")
    i.set_defaults(func=cmd_info)

    pl = sub.add_parser("plot", parents=[common], help="write the report plots of a run file")
    pl.add_argument("run_file", metavar="RUN.h5")
    pl.add_argument("--out", metavar="DIR", help="folder for the PNGs (default: <run name>-plots)")
    pl.set_defaults(func=cmd_plot)

    dm = sub.add_parser("demo", parents=[common], help="run the bundled example network on a bundled recording",
                        description="Write the example configuration, a run file, a CSV summary and the report "
                                    "plots into DIR.")
    dm.add_argument("--out", metavar="DIR", default="speksim-demo", help="output folder (default: ./speksim-demo)")
    dm.add_argument("--trace", choices=DEMO_TRACES, default=DEMO_TRACES[0], help="bundled recording to use")
    dm.add_argument("--engine", choices=("fast", "reference"), default="fast")
    dm.add_argument("--quiet", action="store_true", help="no progress bar")
    dm.set_defaults(func=cmd_demo)
    return p


# --------------------------------------------------------------------------------------------
# progress
# --------------------------------------------------------------------------------------------

class Progress:
    """A one-line progress display on stderr, redrawn with '\\r' at most 10 times a second.

    Shows a bar when the fraction done is known, the events simulated, events per second, the
    input time reached and the elapsed time.
    """

    def __init__(self, enabled: bool, stream=None):
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.t0 = time.perf_counter()
        self._last = 0.0
        self._width = 0

    def update(self, events: int, t_us: Optional[int], fraction: Optional[float] = None, force=False):
        if not self.enabled:
            return
        now = time.perf_counter()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        elapsed = max(now - self.t0, 1e-9)
        parts = []
        if fraction is not None:
            f = min(max(fraction, 0.0), 1.0)
            fill = int(round(24 * f))
            parts.append(f"[{'#' * fill}{'-' * (24 - fill)}] {f:4.0%}")
        parts.append(f"{events:,} events")
        parts.append(f"{_rate(events / elapsed)}")
        if t_us is not None:
            parts.append(f"input t = {t_us / 1e6:.3f} s")
        parts.append(f"{elapsed:.1f} s")
        line = "  ".join(parts)
        pad = max(self._width - len(line), 0)
        self._width = len(line)
        self.stream.write("\r" + line + " " * pad)
        self.stream.flush()

    def close(self):
        if self.enabled and self._width:
            self.stream.write("\n")
            self.stream.flush()
            self._width = 0


def _rate(per_s: float) -> str:
    for div, unit in ((1e6, "Mevents/s"), (1e3, "kevents/s")):
        if per_s >= div:
            return f"{per_s / div:.1f} {unit}"
    return f"{per_s:.0f} events/s"


# --------------------------------------------------------------------------------------------
# run
# --------------------------------------------------------------------------------------------

@dataclass
class _Source:
    """Input chunks and what is known about them."""

    chunks: Iterator[np.ndarray]
    kind: str                      # "dvs" or "spike"
    total: Optional[int] = None    # number of events, when known up front
    sensor: Optional[tuple] = None  # (width, height) of camera input, when known
    hint: str = ""                 # added to an EventError raised while simulating it


def guess_sensor(max_x: int, max_y: int) -> tuple[int, int, str]:
    """The smallest known sensor holding pixel (max_x, max_y), else exactly that extent."""
    for w, h, name in KNOWN_SENSORS:
        if max_x < w and max_y < h:
            return w, h, name
    return max_x + 1, max_y + 1, "the events' extent"


def _parse_layer_map(text: Optional[str]) -> Optional[dict]:
    if text is None:
        return None
    out = {}
    for item in text.split(","):
        try:
            src, dst = (int(v) for v in item.split(":"))
        except ValueError:
            raise UsageError(f"--layer-map: {item!r} is not SRC:DST (two layer numbers, e.g. 2:0)") from None
        out[src] = dst
    return out


def _run_file_source(path: Path, args) -> _Source:
    from .runfile import load_run, run_outputs_as_dvs, run_outputs_as_spikes
    if args.format:
        raise UsageError("--format applies to recordings; the input is a speksim run file")
    res = load_run(path)
    layer_map = _parse_layer_map(args.layer_map)
    has_dvs = bool(np.any(res.outputs["layer"] == 13))
    if layer_map is None and has_dvs:
        ev, kind = run_outputs_as_dvs(res), "dvs"
        if np.any(res.outputs["layer"] < 9):
            print(f"speksim: note: {path.name}: replaying its DVS-layer (13) output as camera events; its core "
                  "outputs are not replayed (choose them with --layer-map SRC:DST)", file=sys.stderr)
    else:
        ev, kind = run_outputs_as_spikes(res, layer_map), "spike"
    if kind == "spike" and (args.fit or args.crop or args.downscale != 1 or args.flip_x or args.flip_y
                            or args.polarity != "keep"):
        raise UsageError("--fit, --crop, --downscale, --flip-x/-y and --polarity apply to camera events; "
                         "this run file replays spike events")
    if args.t_start_us is not None or args.t_end_us is not None:
        keep = np.ones(len(ev), bool)
        if args.t_start_us is not None:
            keep &= ev["t"] >= args.t_start_us
        if args.t_end_us is not None:
            keep &= ev["t"] < args.t_end_us
        ev = ev[keep]
    n = max(int(args.chunk_events), 1)
    hint = ("the run file's outputs were replayed into the same core numbers; send them elsewhere with "
            "--layer-map SRC:DST (e.g. --layer-map 0:1)") if kind == "spike" and layer_map is None else ""
    return _Source((ev[i:i + n] for i in range(0, len(ev), n)), kind, total=len(ev),
                   sensor=(128, 128) if kind == "dvs" else None, hint=hint)


def _recording_source(path: Path, args) -> _Source:
    from . import io as sio
    fmt = args.format
    sensor = tuple(args.sensor_size) if args.sensor_size else sio.sensor_size(path, fmt)
    needs_size = args.fit or args.flip_x or args.flip_y
    if sensor is None and needs_size:
        mx = my = -1
        for ev in sio.iter_events(path, fmt, chunk_events=1 << 20, t_start_us=args.t_start_us,
                                  t_end_us=args.t_end_us):
            mx, my = max(mx, int(ev["x"].max())), max(my, int(ev["y"].max()))
        w, h, name = guess_sensor(max(mx, 0), max(my, 0))
        sensor = (w, h)
        print(f"speksim: note: {path.name} does not record its sensor size; assuming {w}x{h} ({name}; the "
              f"events reach x={mx}, y={my}); pass --sensor-size W H to set it", file=sys.stderr)
    chunks = sio.iter_events(path, fmt, chunk_events=int(args.chunk_events), t_start_us=args.t_start_us,
                             t_end_us=args.t_end_us)
    return _Source(chunks, "dvs", sensor=sensor)


class _Fitter:
    """The input steps of `speksim run`, applied chunk by chunk: rezero, then for camera events
    flip, downscale, crop, fit, polarity. Sizes are worked out once from the sensor size."""

    def __init__(self, args, sensor, size: int, camera: bool = True):
        from .io import fit
        self.fit, self.args, self.size, self.camera = fit, args, size, camera
        self.sensor = sensor
        self.offset = None
        if not camera:
            return
        steps_need_size = args.fit or args.flip_x or args.flip_y
        if steps_need_size and sensor is None:
            raise UsageError("the sensor size is unknown; pass --sensor-size W H")
        w, h = sensor if sensor is not None else (None, None)
        if w is not None and args.downscale > 1:
            w, h = -(-w // args.downscale), -(-h // args.downscale)
        if w is not None and args.crop:
            x0, y0 = args.crop
            if x0 >= w or y0 >= h:
                raise UsageError(f"--crop {x0} {y0} starts outside the {w}x{h} input")
            w, h = min(size, w - x0), min(size, h - y0)
        self.fit_size = (w, h)
        if w is not None and not args.fit and (w > size or h > size):
            steps = " after --downscale/--crop" if (args.downscale > 1 or args.crop) else ""
            raise EventError(f"the recording is {w}x{h} pixels{steps}, but the chip's input is {size}x{size}: add "
                             f"--fit crop (keep the central {size}x{size}) or --fit scale (downscale by a power "
                             "of two, then crop), or choose --crop X0 Y0 / --downscale N")

    def __call__(self, ev: np.ndarray) -> np.ndarray:
        a, fit = self.args, self.fit
        if a.rezero and len(ev):
            if self.offset is None:
                self.offset = int(ev["t"].min())
            ev = ev.copy()
            ev["t"] -= self.offset
        if not self.camera:
            return ev
        if a.flip_x or a.flip_y:
            ev = fit.flip(ev, x=a.flip_x, y=a.flip_y, width=self.sensor[0], height=self.sensor[1])
        if a.downscale > 1:
            ev = fit.downscale(ev, a.downscale)
        if a.crop:
            ev = fit.crop(ev, a.crop[0], a.crop[1], self.size, self.size)
        if a.fit:
            ev = fit.fit_to_chip(ev, self.fit_size, self.size, mode=a.fit)
        if a.polarity != "keep":
            ev = fit.map_polarity(ev, _POLARITY[a.polarity])
        return ev


def _default_output(recording: Path) -> Path:
    return Path(recording.stem + ".run.h5")


def _check_args(args):
    if args.bin_us < 1:
        raise UsageError(f"--bin-us must be at least 1, got {args.bin_us}")
    if args.slow_clock_hz < 0:
        raise UsageError(f"--slow-clock-hz must be 0 (off) or positive, got {args.slow_clock_hz}")
    if args.chunk_events < 1:
        raise UsageError(f"--chunk-events must be at least 1, got {args.chunk_events}")
    if args.t_start_us is not None and args.t_end_us is not None and args.t_end_us < args.t_start_us:
        raise UsageError(f"--t-end-us ({args.t_end_us}) is before --t-start-us ({args.t_start_us})")


def simulate_source(source: _Source, sim, fitter, progress: Progress, t_window, image_size: Optional[int]):
    """Feed every chunk through `fitter` into `sim`; returns (events read, input image or None)."""
    image = np.zeros(image_size * image_size, np.int64) if image_size and source.kind == "dvs" else None
    read = fed = 0
    t_first = None
    t_start, t_end = t_window
    for chunk in source.chunks:
        read += len(chunk)
        if len(chunk) and t_first is None:
            t_first = int(chunk["t"][0])
        ev = fitter(chunk) if fitter is not None else chunk
        try:
            sim.feed(ev)
        except EventError as exc:
            if not source.hint:
                raise
            raise EventError(f"{exc}; {source.hint}") from exc
        fed += len(ev)
        if image is not None and len(ev):
            image += np.bincount(ev["y"].astype(np.int64) * image_size + ev["x"], minlength=image.size)[:image.size]
        t_now = int(chunk["t"][-1]) if len(chunk) else None
        fraction = None
        if source.total:
            fraction = read / source.total
        elif t_end is not None and t_now is not None:
            lo = t_start if t_start is not None else t_first
            fraction = (t_now - lo) / max(t_end - lo, 1)
        progress.update(fed, t_now, fraction)
    return read, fed, (None if image is None else image.reshape(image_size, image_size))


def cmd_run(args, argv) -> int:
    from .chip import load_chip
    from .config import RunOptions, load_config
    from .runfile import export_csv_summary, file_sha256, is_run_file, save_run
    from .simulation import Simulation

    _check_args(args)
    quiet = args.quiet
    chip = load_chip(args.chip)
    config = load_config(args.config)
    recording = Path(args.recording)
    options = RunOptions(input_path=args.input_path, slow_clock_hz=float(args.slow_clock_hz),
                         bin_ns=int(args.bin_us) * 1000)
    sim = Simulation(config, chip, options, engine=args.engine)
    for w in sim.warnings:
        print(f"speksim: warning: {w}", file=sys.stderr)
    if not recording.exists():
        raise ReaderError(f"{recording}: no such file; check the path")
    if is_run_file(recording):
        source = _run_file_source(recording, args)
    else:
        if args.layer_map:
            raise UsageError("--layer-map applies to speksim run files given as input")
        source = _recording_source(recording, args)
    fitter = _Fitter(args, source.sensor, chip.dvs_size, camera=source.kind == "dvs")
    out = Path(args.output) if args.output else _default_output(recording)
    if out.exists() and out.resolve() == recording.resolve():
        raise UsageError(f"the run file {out} would overwrite the input; choose another -o")
    if out.parent and not out.parent.exists():
        out.parent.mkdir(parents=True)

    progress = Progress(enabled=not quiet and sys.stderr.isatty())
    t0 = time.perf_counter()
    try:
        read, fed, image = simulate_source(source, sim, fitter, progress, (args.t_start_us, args.t_end_us),
                                           chip.dvs_size if args.plots else None)
        result = sim.finish()
        progress.update(fed, None, 1.0 if (source.total or args.t_end_us is not None) else None, force=True)
    finally:
        progress.close()
    wall = time.perf_counter() - t0
    save_run(result, out, input_name=recording.name, input_size=recording.stat().st_size,
             input_sha256=file_sha256(recording), command_line=["speksim"] + list(argv))
    written = [str(out)]
    if args.csv:
        written.append(str(export_csv_summary(result, args.csv)))
    if args.plots:
        from . import plot
        written += [str(p) for p in plot.report(result, args.plots, input_events=image).values()]
    if not quiet:
        print(result.summary())
    print(_one_line(fed, read, wall, result, out))
    if not quiet and len(written) > 1:
        print("wrote " + ", ".join(written[1:]))
    return EXIT_OK


def _one_line(fed, read, wall, result, out) -> str:
    kept = f" (of {read:,} read)" if read != fed else ""
    return (f"speksim: {fed:,} input events{kept} simulated in {wall:.2f} s ({_rate(fed / max(wall, 1e-9))}); "
            f"{len(result.outputs):,} output events; chip time {result.t_end_ns / 1e6:.3f} ms; run file {out}")


# --------------------------------------------------------------------------------------------
# check, describe
# --------------------------------------------------------------------------------------------

def cmd_check(args, argv) -> int:
    from .chip import load_chip
    from .config import load_config, validate
    chip = load_chip(args.chip)
    path = Path(args.config)
    if not path.is_file():
        raise ConfigError(f"{path}: no such file" if not path.exists() else f"{path}: is not a file")
    try:
        config = load_config(path)
        warnings = validate(config, chip)
    except ConfigError as exc:
        print(f"{path}: {len(exc.problems)} problem(s) for {chip.name}:")
        for p in exc.problems:
            p = p[len(f"{path}: "):] if p.startswith(f"{path}: ") else p
            print(f"  - {p}")
        return 1
    used = config.used_cores()
    print(f"{path}: valid for {chip.name}; core(s) {', '.join(map(str, used))} in use")
    for w in warnings:
        print(f"  warning: {w}")
    return EXIT_OK


def _fmt_value(v, per_core: bool = False) -> str:
    """A parameter value for the describe table; per-core lists are run-length coded
    (``[16384 ×3, 32768 ×2]``, or ``1024 ×9`` when every core has the same value)."""
    if isinstance(v, bool):
        return "true" if v else "false"
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
    return str(v)


def cmd_describe(args, argv) -> int:
    from .chip import builtin_chips, load_chip
    chip = load_chip(args.chip)
    rows = chip.param_table()
    if args.json:
        data = {"name": chip.name, "description": chip.description, "files": list(chip.files),
                "parameters": [dict(r, value=list(r["value"]) if isinstance(r["value"], tuple) else r["value"])
                               for r in rows]}
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return EXIT_OK
    print(f"{chip.name}: {chip.description}")
    print(f"files: {', '.join(chip.files)}; built-in chips: {', '.join(builtin_chips())}")
    print("source: doc = SynSense documents, code = sinabs source, est = estimated, unk = our choice")
    from .chip import PARAMETERS
    kinds = {spec.name: spec.kind for spec in PARAMETERS}
    values = [_fmt_value(r["value"], kinds.get(r["name"]) == "percore") for r in rows]
    wn = max(len(r["name"]) for r in rows)
    wv = min(max(len(v) for v in values), 40)
    wu = max(len(r["unit"]) for r in rows)
    section = None
    for r, v in zip(rows, values):
        if r["section"] != section:
            section = r["section"]
            print(f"\n[{section}]")
        print(f"  {r['name']:<{wn}}  {v:<{wv}}  {r['unit']:<{wu}}  {r['source']:<4}  {r['reason']}")
    return EXIT_OK


# --------------------------------------------------------------------------------------------
# info
# --------------------------------------------------------------------------------------------

def _fmt_us(us: float) -> str:
    if us >= 1e6:
        return f"{us / 1e6:.3f} s"
    if us >= 1e3:
        return f"{us / 1e3:.3f} ms"
    return f"{us:.0f} µs"


def cmd_info(args, argv) -> int:
    from .runfile import is_run_file
    path = Path(args.file)
    if path.exists() and is_run_file(path):
        return _info_run(path)
    return _info_recording(path, args.format)


def _info_recording(path: Path, fmt) -> int:
    from . import io as sio
    name = sio.detect_format(path) if fmt is None else fmt
    chunks = sio.iter_events(path, fmt, chunk_events=1 << 20)
    n = n_on = 0
    t_first = None
    t_min = t_max = None
    mx = my = -1
    per_ms = np.zeros(0, np.int64)
    for ev in chunks:
        if not len(ev):
            continue
        t = ev["t"]
        if t_first is None:
            t_first = int(t[0])
        t_min = int(t.min()) if t_min is None else min(t_min, int(t.min()))
        t_max = int(t.max()) if t_max is None else max(t_max, int(t.max()))
        n += len(ev)
        n_on += int(np.count_nonzero(ev["p"]))
        mx, my = max(mx, int(ev["x"].max())), max(my, int(ev["y"].max()))
        idx = np.maximum(t - t_first, 0) // 1000
        counts = np.bincount(idx)
        if len(counts) > len(per_ms):
            per_ms = np.concatenate([per_ms, np.zeros(len(counts) - len(per_ms), np.int64)])
        per_ms[: len(counts)] += counts
    size = sio.sensor_size(path, fmt)
    print(f"{path.name}: {name} recording ({sio.FORMATS.get(name, '')})")
    print(f"  events       {n:,}" + (f" (ON {n_on:,}, OFF {n - n_on:,})" if n else ""))
    if n:
        span = t_max - t_min
        print(f"  duration     {_fmt_us(span)} (t = {t_min:,} .. {t_max:,} µs)")
        print(f"  mean rate    {_rate(n / max(span, 1) * 1e6)}")
        print(f"  peak rate    {_rate(int(per_ms.max()) * 1000)} (busiest 1 ms)")
    if size is not None:
        print(f"  sensor size  {size[0]}x{size[1]}")
    else:
        print("  sensor size  not recorded in the file" + (f"; events reach x = {mx}, y = {my}" if n else ""))
    if n:
        w, h = size if size is not None else (mx + 1, my + 1)
        fits = w <= 128 and h <= 128
        verdict = "fits 128x128" if fits else "larger than 128x128: use speksim run --fit crop or --fit scale"
        print(f"  chip input   {verdict}")
    return EXIT_OK


def _info_run(path: Path) -> int:
    from .runfile import load_run
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


# --------------------------------------------------------------------------------------------
# plot, demo
# --------------------------------------------------------------------------------------------

def cmd_plot(args, argv) -> int:
    from . import plot
    from .runfile import load_run
    path = Path(args.run_file)
    res = load_run(path)
    out = Path(args.out) if args.out else Path(f"{path.stem}-plots")
    for p in plot.report(res, out).values():
        print(p)
    return EXIT_OK


def traces_dir() -> Path:
    """The folder of the bundled recordings (inside the installed package, or the checkout's traces/)."""
    try:
        from importlib.resources import files
        # speksim._traces is a namespace package (no __init__.py): walk it rather than str() it
        for entry in files("speksim._traces").iterdir():
            if entry.name.endswith(".npz"):
                return Path(str(entry)).parent
    except (ModuleNotFoundError, TypeError, FileNotFoundError):
        pass
    return Path(__file__).resolve().parent.parent / "traces"


def demo_config():
    """The bundled example network (three cores, all monitored):

    DVS (ON and OFF) → core 0: 2→8 channels, 3x3 stride 2 on 128x128 → 64x64, oriented-edge kernels;
    → core 1: 8→16 channels, 3x3 stride 2 → 32x32; → (sum-pooled 4x4) core 2: 16→4 channels,
    3x3 padding 1 on 8x8. Weights are small integers (core 1 and 2 seeded random), thresholds
    6, 12, 24, so each layer spikes on the bundled recordings.
    """
    from .config import ChipConfig, CnnLayerConfig, DvsDestination
    lines = np.zeros((4, 3, 3), np.int8)
    lines[0, :, 1] = 1                       # vertical
    lines[1, 1, :] = 1                       # horizontal
    lines[2] = np.eye(3, dtype=np.int8)      # diagonal
    lines[3] = np.fliplr(np.eye(3, dtype=np.int8))
    w0 = np.zeros((8, 2, 3, 3), np.int8)
    for o in range(4):
        for pol in range(2):                  # feature 2·o + pol prefers polarity pol, orientation o
            w0[2 * o + pol, pol] = 2 * lines[o]
            w0[2 * o + pol, 1 - pol] = -lines[o]
    rng = np.random.default_rng(0)
    w1 = rng.integers(-1, 3, (16, 8, 3, 3)).astype(np.int8)
    w2 = rng.integers(-1, 3, (4, 16, 3, 3)).astype(np.int8)
    cfg = ChipConfig()
    cfg.dvs_layer.destinations[0] = DvsDestination(layer=0, enable=True)
    cfg.cnn_layers[0] = CnnLayerConfig.conv(w0, (128, 128), stride=2, padding=1, threshold_high=6, threshold_low=-8,
                                            destinations=[(1, 1, 0)], monitor_enable=True)
    cfg.cnn_layers[1] = CnnLayerConfig.conv(w1, (64, 64), stride=2, padding=1, threshold_high=12,
                                            threshold_low=-16, destinations=[(2, 4, 0)], monitor_enable=True)
    cfg.cnn_layers[2] = CnnLayerConfig.conv(w2, (8, 8), padding=1, threshold_high=24, threshold_low=-16,
                                            monitor_enable=True)
    return cfg


def cmd_demo(args, argv) -> int:
    from . import io as sio
    from . import plot
    from .config import save_config
    from .runfile import export_csv_summary, file_sha256, save_run
    from .simulation import Simulation

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
    events = sio.read_events(trace)
    progress = Progress(enabled=not args.quiet and sys.stderr.isatty())
    t0 = time.perf_counter()
    try:
        step = 10_000
        for i in range(0, len(events), step):
            sim.feed(events[i:i + step])
            progress.update(min(i + step, len(events)), int(events["t"][min(i + step, len(events)) - 1]),
                            min(i + step, len(events)) / len(events))
        result = sim.finish()
    finally:
        progress.close()
    wall = time.perf_counter() - t0
    run_path = out / "demo.h5"
    cmd = ["speksim"] + list(argv)
    save_run(result, run_path, input_name=trace.name, input_size=trace.stat().st_size,
             input_sha256=file_sha256(trace), command_line=cmd)
    csv_path = export_csv_summary(result, out / "demo-summary.csv")
    pngs = plot.report(result, out, input_events=events)
    print(f"speksim demo: the example network on the bundled recording {trace.name} "
          f"({len(events):,} events, 128x128) through speck2f")
    print(result.summary())
    print(_one_line(len(events), len(events), wall, result, run_path))
    print(f"configuration  {config_path}")
    print(f"run file       {run_path}")
    print(f"CSV summary    {csv_path}")
    for name, p in pngs.items():
        print(f"plot           {p}")
    print(f"next: speksim run --config {shlex.quote(str(config_path))} <recording> --fit crop --plots plots/")
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
