"""Real networks SynSense trained for Speck, from their ANN to a timed replay: the DVS Gesture
network on a DVS Gesture recording, and the MNIST network on an N-MNIST recording."""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch is not installed (pip install 'speksim[torch]')")
pytest.importorskip("sinabs", reason="sinabs is not installed (pip install sinabs --no-deps)")

import speksim  # noqa: E402
from speksim import io as sio  # noqa: E402
from speck_models import TRACES, gesture_ann, mnist_ann, need, snn_of  # noqa: E402


def class_counts(result, config, n_classes):
    out_core = [layer["core"] for layer in config.model["layers"] if layer["output"]]
    assert len(out_core) == 1
    out = result.outputs[result.outputs["layer"] == out_core[0]]
    return np.bincount(out["feature"], minlength=n_classes)


@pytest.mark.timeout(600)
def test_dvs_gesture_network_runs_on_a_gesture_recording():
    snn = snn_of(gesture_ann(), "dvs_gesture_params.pt")
    config = speksim.from_torch(snn, (2, 128, 128), "speck2f")
    speksim.validate(config, "speck2f")
    assert len(config.used_cores()) == 9
    assert config.dvs_layer.destinations[0].enable and not config.dvs_layer.merge
    layers = config.model["layers"]
    assert [layer["name"] for layer in layers] == ["0", "2", "5", "8", "11", "14", "18", "22", "24"]
    assert all(layer["scale"] > 0 for layer in layers)
    events = sio.read_events(need(TRACES / "dvs128_gesture.aedat4"))
    events["t"] -= events["t"][0]
    result = speksim.simulate(config, events, "speck2f")
    counts = class_counts(result, config, 11)
    # the output core's monitor is the only one on: every output event is a class spike
    assert counts.sum() == len(result.outputs) > 0
    # every core was reached: the gesture moves enough to drive all nine layers
    assert all(result.core_stats(k)["events_in"] > 0 for k in config.used_cores())


def test_mnist_network_runs_on_an_nmnist_recording():
    snn = snn_of(mnist_ann(), "mnist_params.pt")
    config = speksim.from_torch(snn, (1, 28, 28), "speck2f")
    speksim.validate(config, "speck2f")
    assert config.dvs_layer.merge  # one input channel: the DVS layer merges ON and OFF
    assert (config.dvs_layer.cut.x, config.dvs_layer.cut.y) == (27, 27)
    events = sio.read_events(need(TRACES / "nmnist_atis.bin"))
    # N-MNIST digits are 34x34 saccades of 28x28 MNIST digits: keep the central 28x28 window
    keep = (events["x"] >= 3) & (events["x"] < 31) & (events["y"] >= 3) & (events["y"] < 31)
    events = events[keep].copy()
    events["x"] -= 3
    events["y"] -= 3
    result = speksim.simulate(config, events, "speck2f")
    assert result.core_stats(config.model["layers"][0]["core"])["events_in"] == len(events)
    # spikes make it through all five layers (this short digit drives too few to reach a class
    # spike, in sinabs' time-stepped forward as well: `python -m benchmarks --only mnist` shows both)
    assert all(result.core_stats(k)["events_in"] > 0 for k in config.used_cores())
