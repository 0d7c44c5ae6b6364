"""Calibration on a real network under real load: the DVS Gesture network (9 cores) on the first
0.4 s of a DVS128 gesture recording, whose bursts overload its cores, so that output times are
milliseconds away from the base chip's and far from linear in the parameters. The capture is
synthetic (made with other core times, floored to whole µs); only the final layer is monitored,
as a user deploying a classifier would, which leaves few output events to fit."""

import warnings

import pytest

pytest.importorskip("torch", reason="torch is not installed (pip install 'speksim[torch]')")
pytest.importorskip("sinabs", reason="sinabs is not installed (pip install sinabs --no-deps)")

from speck_models import TRACES, gesture_ann, need, snn_of  # noqa: E402

from speksim import io as sio  # noqa: E402
from speksim.analysis.calibrate import calibrate  # noqa: E402
from speksim.chip import load_chip  # noqa: E402
from speksim.devkit.capture import capture_result  # noqa: E402
from speksim.importers.build import ModelWarning, from_torch  # noqa: E402
from speksim.simulation import simulate  # noqa: E402

TRUTH = {"event_ns": 90, "synop_ns": 24, "route_ns": 45}


def test_core_times_are_recovered_from_a_loaded_deep_network():
    events = sio.read_events(need(TRACES / "dvs128_gesture.aedat4"))
    events["t"] -= events["t"][0]
    events = events[events["t"] < 400_000]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelWarning)
        config = from_torch(snn_of(gesture_ann(), "dvs_gesture_params.pt"), (2, 128, 128), "speck2f")
    out = simulate(config, events, load_chip("speck2f").replace(reason="test", **TRUTH)).outputs.copy()
    out["t_ns"] = out["t_ns"] // 1000 * 1000
    out["root"] = -1
    cal = calibrate([capture_result(config, "speck2f", events, out, device="speck2f")], "speck2f")
    # the base chip is milliseconds off: a fit that starts there and follows the slope goes astray
    assert cal.residual["before"]["rms_ns"] > 100_000
    for name in ("event_ns", "synop_ns"):
        assert abs(cal.fitted[name] - TRUTH[name]) <= 0.05 * TRUTH[name], (name, cal.fitted[name])
    assert cal.residual["after"]["within_us"] > 0.9
