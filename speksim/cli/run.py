"""`speksim run`: simulate a recording (or a run file's output) and write a run file."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import numpy as np

from ..errors import EventError, ReaderError
from .._text import rate_text
from ._common import (EXIT_OK, Progress, UsageError, add_engine_flag, add_option_flags, add_set_flag, chip_from_args,
                      note, note_compiling, options_from_args, warn)
from ._model import add_model_flags, add_source_flags, config_from_source

_POLARITY = {"keep": "keep", "merge": "merge", "on": "on_only", "off": "off_only"}


def add(sub, common) -> None:
    r = sub.add_parser(
        "run", parents=[common], help="simulate a recording (or a run file's output)",
        description="Simulate a recording through a configured chip, write a run file and print the per-core "
                    "statistics. A speksim run file given as RECORDING replays its monitored output.")
    r.add_argument("recording", metavar="RECORDING", help="event recording (any format of 'speksim info') "
                                                          "or a speksim run file")
    r.add_argument("--chip", default="speck2f", help="built-in chip name or chip file (default: speck2f)")
    add_set_flag(r)
    add_source_flags(r, "chip configuration JSON (written by speksim.save_config; 'speksim check' validates it)",
                     "imported on the way ('speksim check MODEL' shows how)")
    g = add_input_flags(r)
    g.add_argument("--layer-map", metavar="SRC:DST[,SRC:DST]",
                   help="run-file input: send monitored layer SRC's events to core DST (13 = DVS layer); "
                        "default: layer-13 output as camera input if the run has any, else each core's "
                        "output to the same core")
    g = r.add_argument_group("simulation")
    add_engine_flag(g)
    add_model_flags(r)
    add_option_flags(r)
    g = r.add_argument_group("output")
    g.add_argument("-o", "--output", help="run file to write (default: <recording name>.run.h5 here)")
    g.add_argument("--plots", metavar="DIR", help="also write the report plots (PNG) into DIR")
    g.add_argument("--csv", metavar="FILE", help="also write a CSV summary (one row per block)")
    g.add_argument("--quiet", action="store_true", help="print nothing but warnings and errors")
    r.set_defaults(func=cmd_run)


def add_input_flags(r):
    """The flags that read a recording and fit it to the chip (`run` and `sweep` share them);
    returns the "reading the input" group."""
    from ..io import FORMATS
    g = r.add_argument_group("reading the input")
    g.add_argument("--format", choices=sorted(FORMATS), help="recording format (default: detected from the file)")
    g.add_argument("--t-start-us", type=int, help="skip events before this time (µs, as in the file)")
    g.add_argument("--t-end-us", type=int, help="stop at this time (µs, as in the file; exclusive)")
    z = g.add_mutually_exclusive_group()
    z.add_argument("--rezero", dest="rezero", action="store_const", const=True, default="auto",
                   help="shift times so the first event is at t = 0 (default: only when the timestamps are "
                        "obviously wall-clock, the first one beyond 10^12 µs)")
    z.add_argument("--no-rezero", dest="rezero", action="store_const", const=False,
                   help="keep the file's timestamps as they are")
    g.add_argument("--chunk-events", type=int, default=200_000,
                   help="events read and simulated at a time (default: 200000)")
    f = r.add_argument_group("fitting a camera recording to the chip's input (in this order)")
    f.add_argument("--sensor-size", type=int, nargs=2, metavar=("W", "H"),
                   help="sensor size when the file does not record it (default: guessed from the events)")
    f.add_argument("--flip-x", action="store_true", help="mirror x (in sensor coordinates)")
    f.add_argument("--flip-y", action="store_true", help="mirror y (in sensor coordinates)")
    f.add_argument("--downscale", type=int, choices=(1, 2, 4), default=1, help="divide x and y by this (default: 1)")
    f.add_argument("--crop", type=int, nargs=2, metavar=("X0", "Y0"),
                   help="keep the chip-sized window starting at (X0, Y0)")
    f.add_argument("--fit", choices=("crop", "scale"),
                   help="make any sensor fit: 'crop' the central window, or 'scale' down by a power of "
                        "two first, then crop")
    f.add_argument("--polarity", choices=tuple(_POLARITY), default="keep",
                   help="keep both, merge into one channel, or keep only ON / OFF events (default: keep)")
    return g


class _Count:
    """The events of a recording counted by a thread of their own while the simulation runs: the
    progress bar's total, known once the count is done (decoding is several times faster than
    simulating). A file the count cannot read leaves the total unknown: the simulation's own
    reading raises that error where it comes, after simulating what came before it."""

    def __init__(self, path: Path, fmt: Optional[str], window: dict):
        self.total: Optional[int] = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._count, args=(path, fmt, window), name="speksim-count",
                                        daemon=True)
        self._thread.start()

    def _count(self, path, fmt, window) -> None:
        from .. import io as sio
        n = 0
        try:
            for ev in sio.iter_events(path, fmt, chunk_events=1 << 20, **window):
                if self._stop.is_set():
                    return
                n += len(ev)
        except Exception:  # noqa: BLE001  (see the class docstring)
            return
        self.total = n

    def stop(self) -> None:
        self._stop.set()


@dataclass
class _Source:
    """Input chunks and what is known about them."""

    chunks: Iterator[np.ndarray]
    kind: str                      # "dvs" or "spike"
    total: Optional[int] = None    # number of events, when known up front
    sensor: Optional[tuple] = None  # (width, height) of camera input, when known
    hint: str = ""                 # added to an EventError raised while simulating it
    counting: Optional[_Count] = None  # the count of the events, when it runs beside the simulation

    def events_total(self) -> Optional[int]:
        """The number of events, once known."""
        if self.total is None and self.counting is not None:
            self.total = self.counting.total
        return self.total

    def close(self) -> None:
        """Stop the count, if it runs."""
        if self.counting is not None:
            self.counting.stop()


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


def _run_file_source(path: Path, args, chip) -> _Source:
    from ..io.runfiles import run_outputs_as_dvs, run_outputs_as_spikes
    from ..runfile import load_run
    if args.format:
        raise UsageError("--format applies to recordings; the input is a speksim run file")
    res = load_run(path)
    layer_map = _parse_layer_map(args.layer_map)
    has_dvs = bool(np.any(res.outputs["layer"] == chip.dvs_layer_id))
    if layer_map is None and has_dvs:
        ev, kind = run_outputs_as_dvs(res), "dvs"
        if np.any(res.outputs["layer"] < chip.n_cores):
            note(f"{path.name}: replaying its DVS-layer ({chip.dvs_layer_id}) output as camera events; its core "
                 "outputs are not replayed (choose them with --layer-map SRC:DST)")
    else:
        ev, kind = run_outputs_as_spikes(res, layer_map), "spike"
    if kind == "spike" and (args.fit or args.crop or args.downscale != 1 or args.flip_x or args.flip_y
                            or args.polarity != "keep"):
        raise UsageError("--fit, --crop, --downscale, --flip-x/-y and --polarity apply to camera events; "
                         "this run file replays spike events")
    if args.t_start_us is not None:
        ev = ev[ev["t"] >= args.t_start_us]
    if args.t_end_us is not None:
        ev = ev[ev["t"] < args.t_end_us]
    n = max(int(args.chunk_events), 1)
    hint = ("the run file's outputs were replayed into the same core numbers; send them elsewhere with "
            "--layer-map SRC:DST (e.g. --layer-map 0:1)") if kind == "spike" and layer_map is None else ""
    return _Source((ev[i:i + n] for i in range(0, len(ev), n)), kind, total=len(ev),
                   sensor=(chip.dvs_size, chip.dvs_size) if kind == "dvs" else None, hint=hint)


def _recording_source(path: Path, args, quiet: bool) -> _Source:
    from .. import io as sio
    from ..io.sensors import guess_sensor
    fmt = args.format
    window = dict(t_start_us=args.t_start_us, t_end_us=args.t_end_us)
    sensor = tuple(args.sensor_size) if args.sensor_size else sio.sensor_size(path, fmt)
    total, counting = None, None
    if sensor is None and (args.fit or args.flip_x or args.flip_y):
        # the file does not record its sensor size, which fitting or flipping needs before the
        # first event: one decoding pass first finds how far the events reach (and counts them)
        total, mx, my = 0, -1, -1
        for ev in sio.iter_events(path, fmt, chunk_events=1 << 20, **window):
            total += len(ev)
            if len(ev):
                mx, my = max(mx, int(ev["x"].max())), max(my, int(ev["y"].max()))
        w, h, name = guess_sensor(max(mx, 0), max(my, 0))
        sensor = (w, h)
        if not quiet:
            note(f"{path.name} does not record its sensor size; assuming {w}x{h} ({name}; the events reach "
                 f"x={mx}, y={my}); pass --sensor-size W H to set it")
    elif not quiet:
        counting = _Count(path, fmt, window)     # the progress bar's total and ETA, once known
    chunks = sio.iter_events(path, fmt, chunk_events=int(args.chunk_events), **window)
    return _Source(chunks, "dvs", total=total, sensor=sensor, counting=counting)


def _check_args(args):
    if args.chunk_events < 1:
        raise UsageError(f"--chunk-events must be at least 1, got {args.chunk_events}")
    if args.t_start_us is not None and args.t_end_us is not None and args.t_end_us < args.t_start_us:
        raise UsageError(f"--t-end-us ({args.t_end_us}) is before --t-start-us ({args.t_start_us})")


def simulate_source(source: _Source, sim, plan, progress: Progress, image_size: Optional[int]):
    """Feed every chunk through `plan` into `sim`; returns (events read, events fed, input image
    or None)."""
    image = np.zeros(image_size * image_size, np.int64) if image_size and source.kind == "dvs" else None
    read = fed = 0
    camera = source.kind == "dvs"
    for chunk in source.chunks:
        read += len(chunk)
        ev = plan(chunk, camera=camera)
        try:
            sim.feed(ev)
        except EventError as exc:
            if not source.hint:
                raise
            raise EventError(f"{exc}; {source.hint}", cli=f"{exc.cli or exc}; {source.hint}") from exc
        fed += len(ev)
        if image is not None and len(ev):
            image += np.bincount(ev["y"].astype(np.int64) * image_size + ev["x"], minlength=image.size)[:image.size]
        t_now = int(chunk["t"][-1]) if len(chunk) else None
        total = source.events_total()
        progress.update(fed, t_now, read / total if total else None)
    return read, fed, (None if image is None else image.reshape(image_size, image_size))


def fit_plan(args, source: _Source, chip):
    """The FitPlan of the input flags, prepared for `source` on `chip`."""
    from ..io.fitplan import FitPlan
    plan = FitPlan(rezero=args.rezero, flip_x=args.flip_x, flip_y=args.flip_y, downscale=args.downscale,
                   crop=tuple(args.crop) if args.crop else None, fit=args.fit, polarity=_POLARITY[args.polarity])
    return plan.prepare(source.sensor, chip.dvs_size, camera=source.kind == "dvs")


def cmd_run(args, argv) -> int:
    from ..runfile import RunWriter, export_csv_summary, file_sha256, is_run_file
    from ..simulation import Simulation

    _check_args(args)
    quiet = args.quiet
    chip = chip_from_args(args)
    config = config_from_source(args.config or args.model, args, chip)
    # validated before anything is read: the same refusal as 'speksim check'. Outputs and
    # per-input arrays go to the run file as they come (the sink, set below), so memory stays
    # flat however long the recording (an engine that only simulates at the end keeps them).
    sim = Simulation(config, chip, options_from_args(args), engine=args.engine, keep_outputs=False)
    for w in sim.warnings:
        warn(w)
    note_compiling(args.engine, quiet)
    recording = Path(args.recording)
    if not recording.exists():
        raise ReaderError(f"{recording}: no such file; check the path")
    if is_run_file(recording):
        source = _run_file_source(recording, args, chip)
    else:
        if args.layer_map:
            raise UsageError("--layer-map applies to speksim run files given as input")
        source = _recording_source(recording, args, quiet)
    plan = fit_plan(args, source, chip)
    out = Path(args.output) if args.output else Path(recording.stem + ".run.h5")
    if out.exists() and out.resolve() == recording.resolve():
        raise UsageError(f"the run file {out} would overwrite the input; choose another -o")
    if out.parent and not out.parent.exists():
        out.parent.mkdir(parents=True)

    progress = Progress(enabled=not quiet)
    t0 = time.perf_counter()
    with RunWriter(out) as writer:
        sim.sink = writer
        try:
            read, fed, image = simulate_source(source, sim, plan, progress, chip.dvs_size if args.plots else None)
            if plan.offset_us and not quiet:
                note(f"the recording's timestamps start at {plan.offset_us:,} µs (wall-clock time): shifted to "
                     "start at 0 (--no-rezero keeps them)" if args.rezero == "auto" else
                     f"timestamps shifted by -{plan.offset_us:,} µs to start at 0")
            result = sim.finish()
            progress.update(fed, None, 1.0, force=True)      # every event was read
        finally:
            source.close()
            progress.close()
        wall = time.perf_counter() - t0
        result.metadata["input_transform"] = {
            "time_shift_us": int(plan.offset_us or 0), "rezero": args.rezero, "fit": args.fit, "crop": plan.crop,
            "downscale": args.downscale, "flip_x": args.flip_x, "flip_y": args.flip_y, "polarity": plan.polarity,
            "sensor_size": plan.sensor}
        progress.message(f"writing the run file {out}")
        writer.finish(result, input_name=recording.name, input_size=recording.stat().st_size,
                      input_sha256=file_sha256(recording), command_line=["speksim"] + list(argv))
    written = []
    if args.csv:
        written.append(str(export_csv_summary(result, args.csv)))
    if args.plots:
        from .. import plot
        from ..runfile import load_run
        written += [str(p) for p in plot.report(load_run(out), args.plots, input_events=image).values()]
    if not quiet:
        from ..analysis.energy import energy_line, estimate
        print(result.summary())
        if not result.is_capture():
            print(energy_line(estimate(result)))
        print(one_line(fed, read, wall, result, out))
        if written:
            print("wrote " + ", ".join(written))
    return EXIT_OK


def one_line(fed, read, wall, result, out) -> str:
    kept = f" (of {read:,} read)" if read != fed else ""
    return (f"speksim: {fed:,} input events{kept} simulated in {wall:.2f} s ({rate_text(fed / max(wall, 1e-9))}); "
            f"{result.n_outputs():,} output events; chip time {result.t_end_ns / 1e6:.3f} ms; run file {out}")


__all__ = ["add", "cmd_run", "simulate_source", "one_line", "add_input_flags", "fit_plan"]
