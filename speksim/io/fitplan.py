"""A plan for fitting a streamed camera recording to the chip's input, applied chunk by chunk.

    plan = FitPlan(fit="crop", polarity="merge").prepare(sensor=(346, 260), size=128)
    for chunk in iter_events("walk.aedat4"):
        simulation.feed(plan(chunk))

The steps run in this order: rezero (shift time so the first event is at 0), flip, downscale,
crop, fit (central crop or power-of-two scale, then crop), polarity. Sizes are worked out once
from the sensor size, so every chunk is transformed the same way. This is what `speksim run`
does with its input flags; from Python it is the same object.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

import numpy as np

from ..errors import EventError
from . import fit as _fit

#: A first timestamp at or beyond this (µs, about 11.6 days) can only be wall-clock time (Unix
#: epoch or the camera's uptime): `rezero="auto"` shifts such recordings to start at 0.
WALL_CLOCK_US = 10**12

_POLARITY_MODES = ("keep", "merge", "on_only", "off_only")


@dataclass
class FitPlan:
    """What to do to each chunk. `rezero`: True, False, or "auto" (only timestamps that are
    obviously wall-clock, see WALL_CLOCK_US). `downscale`: 1, 2 or 4. `crop`: (x0, y0) of a
    window of the chip's size. `fit`: None, "crop" or "scale". `polarity`: keep, merge, on_only,
    off_only. `sensor`: (width, height) in pixels, when known. `offset_us` is the time shift,
    fixed by the first chunk (kept so that a run file can record it)."""

    rezero: object = "auto"
    flip_x: bool = False
    flip_y: bool = False
    downscale: int = 1
    crop: Optional[tuple] = None
    fit: Optional[str] = None
    polarity: str = "keep"
    sensor: Optional[tuple] = None
    size: int = _fit.CHIP_SIZE
    fit_size: Optional[tuple] = None
    offset_us: Optional[int] = None

    def prepare(self, sensor: Optional[tuple], size: int, camera: bool = True) -> "FitPlan":
        """The plan for a recording from a sensor of `sensor` = (width, height) pixels (None if
        unknown) into a chip input of `size` x `size`; raises EventError when the steps cannot
        make it fit, saying which flag (or argument) would."""
        if self.rezero not in (True, False, "auto"):
            raise EventError(f"rezero must be True, False or 'auto', got {self.rezero!r}")
        if self.polarity not in _POLARITY_MODES:
            raise EventError(f"polarity must be one of {', '.join(_POLARITY_MODES)}, got {self.polarity!r}")
        plan = replace(self, sensor=None if sensor is None else tuple(sensor), size=int(size))
        if not camera:
            return plan
        if (self.fit or self.flip_x or self.flip_y) and sensor is None:
            raise EventError("the sensor size is unknown, and fitting or flipping needs it; give it "
                             "(sensor=(W, H))", cli="the sensor size is unknown; pass --sensor-size W H")
        w, h = sensor if sensor is not None else (None, None)
        if w is not None and self.downscale > 1:
            w, h = -(-w // self.downscale), -(-h // self.downscale)
        if w is not None and self.crop:
            x0, y0 = self.crop
            if x0 >= w or y0 >= h:
                raise EventError(f"the crop window starts at ({x0}, {y0}), outside the {w}x{h} input",
                                 cli=f"--crop {x0} {y0} starts outside the {w}x{h} input")
            w, h = min(size, w - x0), min(size, h - y0)
        if w is not None and not self.fit and (w > size or h > size):
            steps = " after downscaling and cropping" if (self.downscale > 1 or self.crop) else ""
            raise EventError(
                f"the recording is {w}x{h} pixels{steps}, but the chip's input is {size}x{size}: fit it "
                f"(fit='crop' keeps the central {size}x{size}, fit='scale' downscales by a power of two, then "
                "crops), or choose crop=(x0, y0) / downscale",
                cli=f"the recording is {w}x{h} pixels{steps}, but the chip's input is {size}x{size}: add --fit crop "
                    f"(keep the central {size}x{size}) or --fit scale (downscale by a power of two, then crop), or "
                    "choose --crop X0 Y0 / --downscale N")
        return replace(plan, fit_size=(w, h))

    def shift_for(self, t_first_us: int) -> int:
        """The time shift (µs) this plan applies to a recording whose first event is at
        `t_first_us`: that time when rezeroing (always, or for wall-clock times), else 0."""
        if self.rezero is True or (self.rezero == "auto" and t_first_us >= WALL_CLOCK_US):
            return int(t_first_us)
        return 0

    def __call__(self, ev: np.ndarray, camera: bool = True) -> np.ndarray:
        """Apply the plan to one chunk (DVS_EVENT, or SPIKE_EVENT when `camera` is False: then
        only the time shift applies). The first non-empty chunk fixes the time shift."""
        if len(ev):
            if self.offset_us is None:
                self.offset_us = self.shift_for(int(ev["t"].min()))
            if self.offset_us:
                ev = ev.copy()
                ev["t"] -= self.offset_us
        if not camera:
            return ev
        if self.flip_x or self.flip_y:
            ev = _fit.flip(ev, x=self.flip_x, y=self.flip_y, width=self.sensor[0], height=self.sensor[1])
        if self.downscale > 1:
            ev = _fit.downscale(ev, self.downscale)
        if self.crop:
            ev = _fit.crop(ev, self.crop[0], self.crop[1], self.size, self.size)
        if self.fit:
            ev = _fit.fit_to_chip(ev, self.fit_size, self.size, mode=self.fit)
        if self.polarity != "keep":
            ev = _fit.map_polarity(ev, self.polarity)
        return ev
