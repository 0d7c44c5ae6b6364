"""Plots of a run, drawn with matplotlib's Agg renderer (no window, no pyplot state).

Every function takes a `Result` (and, where it says so, the input events), returns a
`matplotlib.figure.Figure`, and also writes it as a PNG when `path` is given:

* `input_rate` — input events per second over time (and the input link's capacity);
* `utilisation` — per block: busy fraction and mean FIFO occupancy per bin, against the FIFO depth;
* `stalls_and_drops` — per block that stalled or dropped: output-queue stall time and dropped
  events per bin ("no stalls, no drops" when no block did either);
* `latency_histogram` — output latency and input lag, log-spaced bins, median and p99 marked;
* `output_raster` — time against neuron address, one panel per monitored layer;
* `event_images` — accumulated event count per pixel of the input and of each monitored layer;
* `report` — all of the above into a folder;
* `comparison` — two runs compared (`speksim.analysis.compare`): counts, matched time differences,
  latencies and classes of both.

This is the only package that imports matplotlib; `import speksim` does not import it.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..blocks import block_label
from ..result import Result
from ._base import MAX_RASTER_POINTS, MAX_SERIES_POINTS
from .compare import comparison
from .events import event_images, input_image, output_raster
from .latency import latency_histogram
from .series import input_rate, stalls_and_drops, utilisation

#: PNG file names written by `report`, by plot.
REPORT_FILES = {"input_rate": "input_rate.png", "utilisation": "utilisation.png",
                "stalls_and_drops": "stalls_and_drops.png", "latency_histogram": "latency.png",
                "output_raster": "output_raster.png", "event_images": "event_images.png"}
#: The plots `report` draws for a devkit capture.
CAPTURE_PLOTS = ("input_rate", "output_raster", "event_images")


def report(result: Result, out_dir, input_events=None) -> dict[str, Path]:
    """Write every plot as a PNG into `out_dir` (created if needed); returns {plot name: path}.
    `input_events` as in `event_images` (the input rate comes from the result itself). A devkit
    capture gets only the plots of what a devkit measures: input rate, output raster and event
    images (it has no utilisation, stalls or latencies to draw)."""
    out = Path(os.fspath(out_dir))
    out.mkdir(parents=True, exist_ok=True)
    names = CAPTURE_PLOTS if result.is_capture() else tuple(REPORT_FILES)
    paths = {name: out / REPORT_FILES[name] for name in names}
    draw = {"input_rate": input_rate, "utilisation": utilisation, "stalls_and_drops": stalls_and_drops,
            "latency_histogram": latency_histogram, "output_raster": output_raster}
    for name in names:
        if name == "event_images":
            event_images(result, input_events, path=paths[name])
        else:
            draw[name](result, path=paths[name])
    return paths


__all__ = ["input_rate", "utilisation", "stalls_and_drops", "latency_histogram", "output_raster",
           "event_images", "input_image", "report", "comparison", "block_label", "REPORT_FILES", "CAPTURE_PLOTS",
           "MAX_RASTER_POINTS", "MAX_SERIES_POINTS"]
