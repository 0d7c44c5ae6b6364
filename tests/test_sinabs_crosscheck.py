"""The event-driven chip against sinabs' time-stepped forward pass.

Where the two semantics coincide (weights non-negative and below the threshold, so that no SynOp
can make a neuron cross the threshold twice; no lower bound reached; subtract reset; no leak) the
number of spikes of every neuron over a whole input is a function of the total input it
received, so both must count the same spikes, neuron by neuron, in every layer. Outside that
regime they differ, and one test shows how (docs/models.md explains why).
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch is not installed (pip install 'speksim[torch]')")
sl = pytest.importorskip("sinabs.layers", reason="sinabs is not installed (pip install sinabs --no-deps)")
from torch import nn  # noqa: E402

import speksim  # noqa: E402
from speksim.events import make_events  # noqa: E402

SIZE = 12
BIN_US = 1000


def random_model(rng):
    """2 or 3 layers, integer non-negative weights below each layer's integer threshold, sum
    pooling by 1 or 2 between layers, no biases."""
    n_layers = int(rng.integers(2, 4))
    mods, c_in, size = [], 2, SIZE
    for i in range(n_layers):
        c_out = int(rng.integers(1, 5))
        k = int(rng.choice([1, 3]))
        thr = int(rng.integers(2, 8))
        conv = nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=False)
        w = rng.integers(0, thr, size=conv.weight.shape) * (rng.random(conv.weight.shape) < 0.6)
        conv.weight.data = torch.tensor(w, dtype=torch.float32)
        mods += [conv, sl.IAFSqueeze(batch_size=1, spike_threshold=float(thr), min_v_mem=None)]
        if i < n_layers - 1 and size % 2 == 0 and rng.random() < 0.5:
            mods.append(sl.SumPool2d(2))
            size //= 2
        c_in = c_out
    return nn.Sequential(*mods)


def random_input(rng, n=600):
    t = np.sort(rng.integers(0, 40 * BIN_US, n))
    return make_events("dvs", t=t, x=rng.integers(0, SIZE, n), y=rng.integers(0, SIZE, n), p=rng.integers(0, 2, n))


def sinabs_counts(model, events):
    """Spikes per neuron of every IAF layer, time-stepped at 1 ms, MultiSpike (sinabs' default)."""
    n_bins = int(events["t"].max()) // BIN_US + 1
    x = np.zeros((n_bins, 2, SIZE, SIZE), np.float32)
    np.add.at(x, (events["t"] // BIN_US, events["p"], events["y"], events["x"]), 1)
    counts = []
    hooks = [m.register_forward_hook(lambda m, i, o: counts.append(o.detach().sum(0).numpy()))
             for m in model if isinstance(m, sl.IAFSqueeze)]
    with torch.no_grad():
        model(torch.from_numpy(x))
    for h in hooks:
        h.remove()
    return counts


def speksim_counts(model, events):
    """Spikes per neuron of every layer, from the chip's monitor (every core monitored)."""
    config = speksim.from_torch(model, (2, SIZE, SIZE), discretize=False)
    cores = [layer["core"] for layer in config.model["layers"]]
    for k in cores:
        config.cnn_layers[k].monitor_enable = True
    result = speksim.simulate(config, events, "speck2f")
    out = result.outputs
    counts = []
    for k in cores:
        d = config.cnn_layers[k].dimensions
        c = np.zeros((d.output_shape.feature_count, d.output_shape.size.y, d.output_shape.size.x))
        mine = out[out["layer"] == k]
        np.add.at(c, (mine["feature"], mine["y"], mine["x"]), 1)
        counts.append(c)
    return counts


@pytest.mark.parametrize("seed", range(6))
def test_spike_counts_equal_sinabs_where_the_semantics_coincide(seed):
    rng = np.random.default_rng(seed)
    model = random_model(rng)
    events = random_input(rng)
    expected = sinabs_counts(model, events)
    got = speksim_counts(model, events)
    assert len(got) == len(expected)
    for layer, (a, b) in enumerate(zip(got, expected)):
        assert a.shape == b.shape, layer
        np.testing.assert_array_equal(a, b, err_msg=f"seed {seed}, layer {layer}")
    assert sum(c.sum() for c in got) > 0  # the networks do spike: the comparison is not of zeros


def test_a_weight_above_the_threshold_makes_them_differ():
    # one 1x1 layer, weight 3, threshold 1: each input event is one SynOp; the chip fires at most
    # once per SynOp and keeps the rest (v = 3 -> spike, v = 2; next 2 + 3 = 5 -> spike, v = 4 ...),
    # so 1 spike per event; sinabs' MultiSpike emits floor(v / 1) = 3 spikes for the first event
    conv = nn.Conv2d(2, 1, 1, bias=False)
    conv.weight.data = torch.full((1, 2, 1, 1), 3.0)
    model = nn.Sequential(conv, sl.IAFSqueeze(batch_size=1, spike_threshold=1.0, min_v_mem=None))
    events = make_events("dvs", t=np.arange(10) * 5 * BIN_US, x=np.full(10, 3), y=np.full(10, 4), p=np.ones(10))
    chip = speksim_counts(model, events)[0]
    steps = sinabs_counts(model, events)[0]
    assert chip[0, 4, 3] == 10
    assert steps[0, 4, 3] == 30
