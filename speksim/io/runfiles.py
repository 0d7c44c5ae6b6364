"""speksim's own run files as a recording: the DVS layer's monitored output (layer 13).

Replaying core outputs (layers 0..8) as spike input is `speksim.runfile.run_outputs_as_spikes`.
"""

from __future__ import annotations

from ._base import fail


def iter_run(path, block):
    from ..errors import EventError, RunFileError
    from ..runfile import load_run, run_outputs_as_dvs
    try:
        result = load_run(path)
        ev = run_outputs_as_dvs(result)
    except (RunFileError, EventError) as exc:
        raise fail(path, str(exc)) from None
    if len(ev) == 0 and len(result.outputs):
        raise fail(path, "this run file has no DVS-layer (layer 13) output to read as camera events",
                   hint="replay its core outputs with speksim.runfile.run_outputs_as_spikes, or "
                        "'speksim run' on the run file",
                   cli_hint="replay its core outputs with 'speksim run' on the run file (--layer-map SRC:DST "
                            "chooses where they go)")
    if len(ev) and ev["t"].min() < 0:
        raise fail(path, f"the DVS-layer output holds a negative time ({int(ev['t'].min())} µs)",
                   hint="the run file is damaged; run the simulation again")
    for i in range(0, len(ev), block):
        yield ev[i:i + block]


def sensor_size_run(path):
    return None
