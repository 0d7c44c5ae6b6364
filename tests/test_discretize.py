"""Discretisation of a layer (speksim.importers.discretize) against sinabs' own function.

sinabs' `discretize_conv_spike` is loaded alone from its file (tests/sinabs_parts.py), so these
tests run without samna; they skip when torch or sinabs is missing. The real network lives in
../shared/models next to the checkout (see its README); that test skips when it is absent.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from speksim.errors import ModelError
from speksim.importers.discretize import Discretized, discretize_layer

from sinabs_parts import load_dynapcnn_module, require_sinabs

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT.parent / "shared" / "models"


# ------------------------------------------------------------------------------ sinabs' answer


def sinabs_discretized(weight, bias, threshold, min_v_mem):
    """What sinabs makes of one layer: (weight, bias or None, threshold_high, threshold_low,
    scale), the integers as int64 arrays / ints, through `discretize_conv_spike` on a Conv2d and
    an IAF built from the floats (float32, as a model holds them)."""
    require_sinabs()
    import torch
    import sinabs.layers as sl

    disc = load_dynapcnn_module("discretize")
    w = torch.from_numpy(np.ascontiguousarray(weight, dtype=np.float32))
    conv = torch.nn.Conv2d(w.shape[1], w.shape[0], tuple(w.shape[2:]), bias=bias is not None)
    with torch.no_grad():
        conv.weight.copy_(w)
        if bias is not None:
            conv.bias.copy_(torch.from_numpy(np.asarray(bias, dtype=np.float32)))
    spk = sl.IAF(spike_threshold=threshold, min_v_mem=min_v_mem)
    scale = _sinabs_scale(disc, conv.weight, conv.bias, spk)
    conv_d, spk_d = disc.discretize_conv_spike(conv, spk, to_int=False)
    return _ints(conv_d, spk_d) + (scale,)


def _sinabs_scale(disc, weight, bias, spk):
    # discretize_conv_spike applies the scale without returning it: the same groups, through
    # sinabs' own determine_discretization_scale, as its source forms them
    import torch

    weight = weight.detach()
    bias = torch.zeros(weight.shape[0]) if bias is None else bias.detach()
    low = -(2 ** 15) if spk.min_v_mem is None else spk.min_v_mem
    return float(min(disc.determine_discretization_scale(weight, 8),
                     disc.determine_discretization_scale(bias, 8),
                     disc.determine_discretization_scale(torch.tensor((low, spk.spike_threshold)), 16)))


def _ints(conv, spk):
    def as_int(t):
        a = t.detach().numpy()
        assert np.array_equal(a, np.round(a)), "sinabs returned a non-integer"
        return a.astype(np.int64)

    bias = None if conv.bias is None else as_int(conv.bias)
    return as_int(conv.weight), bias, int(spk.spike_threshold), int(spk.min_v_mem)


def assert_same_as_sinabs(weight, bias, threshold, min_v_mem, what=""):
    """discretize_layer gives sinabs' integers and scale; where sinabs writes a lower bound of 0,
    speksim writes -1 (the chip cannot use 0); where sinabs writes a configuration the chip
    refuses (threshold 0, or a lower bound not below the threshold), speksim raises."""
    s_w, s_b, s_hi, s_lo, s_scale = sinabs_discretized(weight, bias, threshold, min_v_mem)
    try:
        d = discretize_layer(weight, bias, threshold, min_v_mem, name="case")
    except ModelError:
        assert s_hi < 1 or (s_lo if s_lo != 0 else -1) >= s_hi, f"{what}: speksim refused a valid layer"
        return None
    assert d.scale == s_scale, what
    assert d.weight.dtype == np.int8 and np.array_equal(d.weight, s_w), what
    if bias is None:
        assert d.bias is None and s_b is None, what
    else:
        assert d.bias.dtype == np.int16 and np.array_equal(d.bias, s_b), what
    assert d.threshold_high == s_hi, what
    assert d.threshold_low == (-1 if s_lo == 0 else s_lo), what
    return d


# ------------------------------------------------------------------------------ random layers


def _random_case(rng, family):
    """(weight, bias, threshold, min_v_mem) of one kind of layer; float32 values."""
    c_out, c_in, k = (int(rng.integers(1, 9)), int(rng.integers(1, 7)), int(rng.integers(1, 6)))
    shape = (c_out, c_in, k, k)
    magnitude = 10.0 ** rng.uniform(-3, 2)
    threshold = float(np.float32(10.0 ** rng.uniform(-2, 3)))
    min_v_mem = [None, -threshold * rng.uniform(0.1, 4), -rng.uniform(0, 0.01), 0.0,
                 -10.0 ** rng.uniform(0, 4)][int(rng.integers(0, 5))]
    bias = None if rng.random() < 0.4 else rng.normal(0, magnitude * 10.0 ** rng.uniform(-3, 1), c_out)
    w = rng.normal(0, magnitude, shape)
    if family == "one-signed":
        w = np.abs(w) * rng.choice([-1, 1])
        if bias is not None:
            bias = np.abs(bias) * rng.choice([-1, 1])
    elif family == "sparse":
        w[rng.random(shape) < 0.8] = 0
        if rng.random() < 0.2:
            w[:] = 0
        if bias is not None and rng.random() < 0.3:
            bias[:] = 0
    elif family == "integers":
        # integer weights at scale 1: exact, nothing lost
        w = np.round(w * 100 / magnitude).clip(-127, 127)
        threshold, min_v_mem = float(rng.integers(1, 300)), None
    elif family == "ties":
        # the weights set the scale (largest weight W, so 127 * (1/W) in float32); the others sit
        # on k + 0.5 at that scale and one float32 step either side of it
        big = np.float32(magnitude)
        scale = (np.float32(1) / big) * np.float32(127)
        halves = (rng.integers(-127, 127, shape) + 0.5).astype(np.float32)
        w = (halves / scale).astype(np.float32)
        step = rng.integers(-1, 2, shape)
        w = np.where(step == 0, w, np.nextafter(w, np.where(step < 0, np.float32(-np.inf), np.float32(np.inf))))
        w.reshape(-1)[0] = big
        threshold, min_v_mem = float(big * np.float32(rng.uniform(1, 200))), -float(big) * rng.uniform(0.5, 2)
        bias = None if bias is None else (rng.integers(-127, 127, c_out) + 0.5).astype(np.float32) / scale
    elif family == "edges":
        # most negative value right at |hi| * 128/127 (or 32768/32767 for the thresholds), where the
        # choice between (n-1)/|hi| and n/|lo| flips, give or take one float32 step
        def edge(hi, n):
            lo = -(np.float32(hi) * np.float32(n / (n - 1)))
            return float(np.nextafter(lo, np.float32(rng.choice([-np.inf, np.inf]))) if rng.random() < 0.7 else lo)

        hi = np.float32(magnitude)
        w = rng.uniform(-magnitude, magnitude, shape)
        w.reshape(-1)[0] = hi
        w.reshape(-1)[-1] = edge(hi, 128) if w.size > 1 else hi
        if bias is not None:
            bias[0] = magnitude * 0.9
            bias[-1] = edge(bias[0], 128) if c_out > 1 else bias[0]
        min_v_mem = edge(threshold, 32768)
    return np.asarray(w, np.float32), None if bias is None else np.asarray(bias, np.float32), threshold, min_v_mem


@pytest.mark.parametrize("family", ["spread", "one-signed", "sparse", "integers", "ties", "edges"])
def test_random_layers_give_sinabs_integers(family):
    rng = np.random.default_rng(["spread", "one-signed", "sparse", "integers", "ties", "edges"].index(family))
    compared = 0
    for case in range(150):
        w, b, thr, low = _random_case(rng, family)
        what = f"{family} case {case}: weight {w.shape}, bias {b is not None}, threshold {thr!r}, min_v_mem {low!r}"
        compared += assert_same_as_sinabs(w, b, thr, low, what) is not None
    # most cases must be real comparisons, not refusals
    assert compared >= 100


def test_ties_round_half_to_even():
    # min_v_mem -16384 with threshold 1: the thresholds allow 32768 * (1/16384) = 2 exactly, the
    # weights (largest 63) allow 127/63 > 2, so the scale is 2 and w * 2 lands on exact halves:
    # 0.5 -> 0, 1.5 -> 2, 2.5 -> 2 (ties to even; rounding half away from zero would give 1, 2, 3)
    w = np.array([0.25, 0.75, 1.25, -0.25, -0.75, -1.25, 63.0], np.float32).reshape(1, 7, 1, 1)
    d = discretize_layer(w, None, 100.0, -16384.0)
    assert d.scale == 2.0
    assert d.weight.ravel().tolist() == [0, 2, 2, 0, -2, -2, 126]
    assert (d.threshold_high, d.threshold_low) == (200, -32768)


def test_scale_uses_the_reciprocal_in_float32():
    # largest weight 3: sinabs computes (1/3 in float32) * 127 = 42.33333206..., one float32 step
    # below 127/3 in float32 (42.33333587...); the integers here do not change, the scale does
    w = np.array([3.0, 1.0], np.float32).reshape(1, 2, 1, 1)
    d = discretize_layer(w, None, 1.0, -1.0)
    expected = float(np.float32(np.float32(1) / np.float32(3)) * np.float32(127))
    assert d.scale == expected and d.scale != float(np.float32(127) / np.float32(3))
    assert d.weight.ravel().tolist() == [127, 42] and (d.threshold_high, d.threshold_low) == (42, -42)


@pytest.mark.parametrize("weights, threshold, min_v_mem", [
    ([0.25, 0.75, 1.25, -0.25, -0.75, -1.25, 63.0], 100.0, -16384.0),
    ([3.0, 1.0], 1.0, -1.0),
    ([0.5, -0.25], 1.0, 0.0),
], ids=["ties", "reciprocal", "zero-low"])
def test_hand_computed_cases_are_sinabs_cases(weights, threshold, min_v_mem):
    assert_same_as_sinabs(np.array(weights, np.float32).reshape(1, -1, 1, 1), None, threshold, min_v_mem)


def test_result_is_read_only():
    d = discretize_layer(np.full((2, 1, 1, 1), 0.5), np.array([0.1, -0.1]), 1.0, -1.0)
    assert isinstance(d, Discretized)
    with pytest.raises(ValueError):
        d.weight[0] = 1
    with pytest.raises(ValueError):
        d.bias[0] = 1


# ------------------------------------------------------------------------------ DVS Gesture


def _gesture_ann(torch):
    nn = torch.nn
    conv = lambda i, o, k, **kw: nn.Conv2d(i, o, k, bias=False, **kw)  # noqa: E731
    # module indices as in ../shared/models/README.md (the state dict has weights only)
    return nn.Sequential(
        conv(2, 16, 2, stride=2), nn.ReLU(),
        conv(16, 16, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2),
        conv(16, 32, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2),
        conv(32, 32, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2),
        conv(32, 64, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2),
        conv(64, 64, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2),
        nn.Dropout2d(0.5), conv(64, 256, 2), nn.ReLU(), nn.Dropout2d(0.5), nn.Flatten(),
        nn.Linear(256, 128, bias=False), nn.ReLU(), nn.Linear(128, 11, bias=False))


def _layer_pairs(spiking_model, torch):
    """(weight module, IAF, weight factor) per layer: an AvgPool before a layer multiplies its
    weights by 1/area when sinabs turns it into the chip's sum-pooling (DynapcnnNetwork)."""
    import sinabs.layers as sl

    pairs, pending, factor = [], None, 1.0
    for module in spiking_model:
        if isinstance(module, torch.nn.AvgPool2d):
            k = module.kernel_size if isinstance(module.kernel_size, tuple) else (module.kernel_size,) * 2
            factor *= 1.0 / (k[0] * k[1])
        elif isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
            pending, layer_factor, factor = module, factor, 1.0
        elif isinstance(module, sl.IAF):
            pairs.append((pending, module, layer_factor))
    return pairs


@pytest.mark.parametrize("min_v_mem", [-1.0, None], ids=["from_model-default", "min_v_mem-None"])
def test_dvs_gesture_network_gives_sinabs_integers(min_v_mem):
    require_sinabs()
    path = MODELS / "dvs_gesture_params.pt"
    if not path.is_file():
        pytest.skip(f"../shared/models not found ({path}): the trained networks sit next to the project "
                    "checkout (see the README there)")
    import torch
    import sinabs

    dynapcnn_layer = load_dynapcnn_module("dynapcnn_layer")
    ann = _gesture_ann(torch)
    ann.load_state_dict(torch.load(path, map_location="cpu"), strict=True)
    # batch_size: IAFSqueeze needs one; it plays no part in discretisation
    snn = sinabs.from_torch.from_model(ann, add_spiking_output=True, min_v_mem=min_v_mem, batch_size=1)
    pairs = _layer_pairs(snn.spiking_model, torch)
    assert len(pairs) == 9
    assert [f for _, _, f in pairs] == [1.0, 1.0, 0.25, 0.25, 0.25, 0.25, 0.25, 1.0, 1.0]

    disc = load_dynapcnn_module("discretize")
    warned = 0
    for i, (module, spk, factor) in enumerate(pairs):
        # sinabs' side as its DynapcnnNetwork builds a core: Linear -> Conv2d over its input map,
        # weights times the pooling factor, then discretize_conv_spike_
        in_shape = (module.in_features, 1, 1) if isinstance(module, torch.nn.Linear) else None
        layer = dynapcnn_layer.DynapcnnLayer(module, spk, in_shape=in_shape, pool=[], discretize=True,
                                             rescale_weights=factor)
        s_w, s_b, s_hi, s_lo = _ints(layer.conv_layer, layer.spk_layer)
        # speksim's side: the same float32 product, the Linear weight reshaped to [out, in, 1, 1]
        w = (module.weight.detach() * factor) if factor != 1 else module.weight.detach()
        w = w.numpy().reshape(w.shape[0], -1, *(w.shape[2:] if w.ndim == 4 else (1, 1)))
        d = discretize_layer(w, None, float(spk.spike_threshold), None if spk.min_v_mem is None
                             else float(spk.min_v_mem), name=f"layer {i}")
        assert np.array_equal(d.weight, s_w) and d.bias is None and s_b is None, f"layer {i}"
        assert (d.threshold_high, d.threshold_low) == (s_hi, s_lo), f"layer {i}"
        assert d.scale == _sinabs_scale(disc, torch.from_numpy(w), None, spk), f"layer {i}"
        warned += any("min_v_mem=None" in m for m in d.warnings)
    # with min_v_mem=None every layer's scale is capped at 1 and its weights (fractions, largest
    # about 1.1 in this network) lose precision; with sinabs' from_model default there is no cap
    assert warned == (9 if min_v_mem is None else 0)


# ------------------------------------------------------------------------------ warnings


def _with(d, phrase):
    return [m for m in d.warnings if phrase in m]


def test_warning_min_v_mem_none_counts_the_weights_lost():
    # threshold group (-32768, 10): 32768 > 10 * 32768/32767, so it allows 32768 * (1/32768) = 1;
    # the weights allow 127/1.2 = 106: the scale is 1, and 0.15, -0.1, 0.35 round to 0, 1.2 to 1
    w = np.array([0.15, -0.1, 0.35, 0.0, 1.2], np.float32).reshape(1, 5, 1, 1)
    d = discretize_layer(w, None, 10.0, None, name="conv3")
    assert d.scale == 1.0 and d.weight.ravel().tolist() == [0, 0, 0, 0, 1]
    [m] = _with(d, "min_v_mem=None")
    assert "conv3" in m and "3 of 4 non-zero weights became 0" in m and "min_v_mem=-threshold" in m
    assert len(d.warnings) == 1


def test_no_min_v_mem_warning_when_nothing_is_lost():
    w = np.array([0.15, -0.1, 0.35, 0.6], np.float32).reshape(1, 4, 1, 1)
    # a lower bound near the threshold: the weights set the scale
    assert discretize_layer(w, None, 10.0, -10.0).warnings == ()
    # integer weights at scale 1 are exact
    assert discretize_layer(np.array([3.0, -2.0, 7.0]).reshape(1, 3, 1, 1), None, 10.0, None).warnings == ()
    # weights above 127 set a scale below 1 themselves: the default bound caps nothing
    d = discretize_layer(np.array([200.0, -50.3]).reshape(1, 2, 1, 1), None, 1000.0, None)
    assert d.scale < 1 and d.warnings == ()


def test_warning_lower_bound_or_threshold_limits_the_scale():
    w = np.array([0.3, -0.1, 0.004], np.float32).reshape(1, 3, 1, 1)
    # min_v_mem -1000 with threshold 1: thresholds allow 32768/1000 = 32.8, weights 127/0.3 = 423;
    # 0.004 * 32.8 = 0.13 rounds to 0
    [m] = discretize_layer(w, None, 1.0, -1000.0, name="c").warnings
    assert "min_v_mem=-1000" in m and "1 of 3 non-zero weights became 0" in m
    # threshold 100 = 333 times the largest weight, more than 32767/127 = 258: the threshold limits
    [m] = discretize_layer(w, None, 100.0, -1.0, name="c").warnings
    assert "The threshold 100" in m and "333 times the largest weight" in m
    # threshold 50 (167 times): the weights still set the scale
    assert discretize_layer(w, None, 50.0, -1.0).warnings == ()


def test_warning_weights_at_or_above_threshold():
    # weights [1.2, 0.5, -1.5, 1.0], threshold 1: -1.5 is beyond 1.2 * 128/127, so the weights allow
    # 128/1.5 = 85.33; ints 102, 43, -128, 85 and threshold 85: 1.2 and 1.0 (equal) are at or above it
    w = np.array([1.2, 0.5, -1.5, 1.0], np.float32).reshape(2, 2, 1, 1)
    d = discretize_layer(w, None, 1.0, -1.0, name="fc")
    assert d.weight.ravel().tolist() == [102, 43, -128, 85] and d.threshold_high == 85
    [m] = _with(d, "at or above the threshold")
    assert "fc" in m and "2 weights (in 2 of 2 output channels" in m
    assert len(d.warnings) == 1
    assert not _with(discretize_layer(w * np.float32(0.6), None, 1.0, -1.0), "at or above the threshold")


def test_warning_biases_that_vanish():
    w = np.array([1.0, -0.5], np.float32).reshape(2, 1, 1, 1)
    # scale 127: bias 0.003 * 127 = 0.38 -> 0, 0.5 -> 63.5 -> 64 (tie to even)
    d = discretize_layer(w, np.array([0.5, 0.003]), 2.0, -2.0, name="c")
    assert d.bias.tolist() == [64, 0]
    [m] = _with(d, "non-zero biases became 0")
    assert "1 of 2" in m and "no leak at all" not in m
    [m] = discretize_layer(w, np.array([0.002, -0.003]), 2.0, -2.0).warnings
    assert "2 of 2" in m and "no leak at all" in m
    assert discretize_layer(w, np.array([0.5, 0.0]), 2.0, -2.0).warnings == ()


def test_warning_biases_limit_the_scale():
    # bias 10 allows 12.7 against the weights' 127/0.1 = 1270: the weight 0.02 becomes 0.254 -> 0
    w = np.array([0.1, 0.02], np.float32).reshape(2, 1, 1, 1)
    d = discretize_layer(w, np.array([10.0, 0.0]), 1.0, -1.0, name="c")
    [m] = d.warnings
    assert "The scale is set by the biases" in m and "1 of 2 non-zero weights became 0" in m


def test_lower_bound_zero_becomes_minus_one():
    # min_v_mem 0: the chip cannot use threshold_low 0; sinabs writes 0, speksim -1 with a warning
    w = np.array([0.5, -0.25], np.float32).reshape(1, 2, 1, 1)
    d = discretize_layer(w, None, 1.0, 0.0)
    assert d.threshold_low == -1
    [m] = _with(d, "threshold_low is -1")
    assert "min_v_mem=0" in m
    # a bound so small it rounds to 0: -0.001 * 254 = -0.25
    assert discretize_layer(w, None, 1.0, -0.001).threshold_low == -1
    kept = discretize_layer(w, None, 1.0, 0.0, threshold_low_zero_forbidden=False)
    assert kept.threshold_low == 0 and kept.warnings == ()
    assert discretize_layer(w, None, 1.0, -1.0).threshold_low == -254


def test_layers_the_chip_cannot_run_are_refused():
    w = np.ones((1, 1, 1, 1), np.float32)
    cases = [
        (w, None, 0.001, -1.0, "becomes 0"),  # scale 127: threshold 0.127 -> 0
        (w * 0.1, None, 0.3, None, "min_v_mem=None"),  # scale 1: threshold 0.3 -> 0
        (w, None, 0.0, -1.0, "threshold > 0"),
        (w, None, 1.0, 2.0, "below the threshold"),
        (w * np.nan, None, 1.0, -1.0, "not finite"),
        (w[0], None, 1.0, -1.0, "c_out, c_in, k, k"),
        (w, np.zeros(2), 1.0, -1.0, "one per output channel"),
        (w, None, np.ones(2), -1.0, "one number"),
    ]
    for weight, bias, thr, low, phrase in cases:
        with pytest.raises(ModelError, match=phrase):
            discretize_layer(weight, bias, thr, low, name="conv")


# ------------------------------------------------------------------------------ no torch


def test_works_without_torch():
    # torch and sinabs made unimportable; 0.5 with threshold 1: scale 127 * (1/0.5) = 254
    code = ("import sys\n"
            "sys.modules['torch'] = None\n"
            "sys.modules['sinabs'] = None\n"
            "import speksim.importers.discretize as d\n"
            "r = d.discretize_layer([[[[0.5]]]], None, 1.0, -1.0)\n"
            "print(r.weight.ravel().tolist(), r.threshold_high, r.threshold_low, r.scale)\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["[127]", "254", "-254", "254.0"]
