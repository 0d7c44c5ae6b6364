"""Draw the stall plots that README.md and docs/stalls.md show, from the bundled chain workload
(traces/stall_chain.json on traces/stall_chain.npz).

    python docs/make_images.py            # rewrites docs/images/stall_*.png
    python docs/make_images.py OUT_DIR    # or writes them elsewhere

Deterministic: the same speksim, numpy and matplotlib give the same bytes (the PNGs carry no
software tag). Kept small (about 90 dpi) so that the repository stays light.
"""

from __future__ import annotations

import sys
from pathlib import Path

# the checkout's own speksim, whichever is installed
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import speksim  # noqa: E402
from speksim.analysis.stalls import diagnose  # noqa: E402
from speksim.io import read_events  # noqa: E402
from speksim.plot import stalls  # noqa: E402

DPI = 90
TRACES = Path(__file__).resolve().parents[1] / "traces"


def main(out_dir: Path) -> list:
    config = speksim.load_config(TRACES / "stall_chain.json")
    events = read_events(TRACES / "stall_chain.npz")
    result = speksim.simulate(config, events)
    report = diagnose(result, events, fixes=False)
    # the DVS monitor on, so that the frames show what a viewer on the host sees during the stall
    config.dvs_layer.monitor_enable = True
    monitored = speksim.simulate(config, events)
    figures = {"stall_utilisation_map.png": stalls.utilisation_map(result, report),
               "stall_input_lag.png": stalls.input_lag(result, report),
               "stall_dvs_frames.png": stalls.dvs_frames(monitored, diagnose(monitored, fixes=False), events,
                                                         frame_us=2000, n_frames=6)}
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, fig in figures.items():
        path = out_dir / name
        fig.savefig(path, dpi=DPI, metadata={"Software": None})
        written.append(path)
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "images"
    for p in main(target):
        print(f"{p} ({p.stat().st_size:,} bytes)")
