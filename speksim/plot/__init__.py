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


def report(result: Result, out_dir, input_events=None) -> dict[str, Path]:
    """Write every plot as a PNG into `out_dir` (created if needed); returns {plot name: path}.
    `input_events` as in `event_images` (the input rate comes from the result itself)."""
    out = Path(os.fspath(out_dir))
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / fname for name, fname in REPORT_FILES.items()}
    input_rate(result, path=paths["input_rate"])
    utilisation(result, path=paths["utilisation"])
    stalls_and_drops(result, path=paths["stalls_and_drops"])
    latency_histogram(result, path=paths["latency_histogram"])
    output_raster(result, path=paths["output_raster"])
    event_images(result, input_events, path=paths["event_images"])
    return paths


__all__ = ["input_rate", "utilisation", "stalls_and_drops", "latency_histogram", "output_raster",
           "event_images", "input_image", "report", "comparison", "block_label", "REPORT_FILES", "MAX_RASTER_POINTS",
           "MAX_SERIES_POINTS"]
