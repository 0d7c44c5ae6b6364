"""The samna adapter (`speksim.devkit`): a ChipConfig to samna's configuration object and back, and
samna's output events to an OUTPUT_EVENT array.

samna itself is not installed here (it cannot be, on the machines speksim is developed on). These
tests drive the adapter through `tests/samna_standin.py`, a stand-in that reproduces samna's object
structure, field names and C types as sinabs and samna's reference use them; it is not samna, and
passing here does not prove that a real devkit accepts the configuration.
"""

from __future__ import annotations

import copy
import json
import sys

import numpy as np
import pytest

import samna_standin
from speksim.config import (ChipConfig, CnnLayerConfig, DvsDestination, Vec2, chain_config, config_to_dict,
                            configs_equal, demo_config, validate)
from speksim.devkit import events_from_samna, from_samna, to_samna
from speksim.errors import ConfigError, EventError, MissingExtraError
from speksim.events import validate_events

SAMNA = samna_standin


def _w(out, inp, k, seed):
    return np.random.default_rng(seed).integers(-20, 21, (out, inp, k, k)).astype(np.int8)


def full_config() -> ChipConfig:
    """Every optional feature on: a DVS layer that keeps ON events only, pools 2x2, crops 40x32 (x
    by y), mirrors x and swaps the axes (so it sends 32x40), monitored and without the sensor,
    feeding cores 0 and 1; core 0 (stride and padding differ per axis) and core 1 both go to core
    2 pooled by 2, core 1's channels shifted by 8 behind core 0's; core 2 leaks, resets to zero,
    starts from a non-zero state, decimates, balances its input, is monitored and sends to core 7
    (pooled by 4) and to the readout, whose every field is set."""
    cfg = ChipConfig()
    dvs = cfg.dvs_layer
    dvs.on_channel, dvs.off_channel, dvs.merge = True, False, False
    dvs.pooling, dvs.origin, dvs.cut = Vec2(2, 2), Vec2(2, 4), Vec2(41, 35)
    dvs.mirror, dvs.mirror_diagonal = Vec2(1, 0), True
    dvs.destinations = [DvsDestination(layer=0, enable=True), DvsDestination(layer=1, enable=True)]
    dvs.monitor_enable, dvs.pass_sensor_events = True, False
    # core 0: input 32 wide, 40 high; output (40 + 2 - 3) // 2 + 1 = 20 high, (32 - 3) // 1 + 1 = 30 wide
    cfg.cnn_layers[0] = CnnLayerConfig.conv(_w(8, 2, 3, 0), (40, 32), stride=(2, 1), padding=(1, 0),
                                            threshold_high=40, threshold_low=-50, destinations=[(2, 2, 0)])
    # core 1: output 20 high, 16 wide; pooled by 2: 10 x 8, inside core 2's 10 x 15
    cfg.cnn_layers[1] = CnnLayerConfig.conv(_w(4, 2, 2, 1), (40, 32), stride=2, threshold_high=30,
                                            threshold_low=-7, destinations=[(2, 2, 8)])
    state = np.random.default_rng(2).integers(-100, 100, (6, 10, 15)).astype(np.int16)
    cfg.cnn_layers[2] = CnnLayerConfig.conv(
        _w(6, 12, 3, 3), (10, 15), padding=1, threshold_high=100, threshold_low=-300, return_to_zero=True,
        biases=np.array([-3, 2, 0, 1, -1, 5], np.int16), leak_enable=True, monitor_enable=True,
        destinations=[(7, 4, 0), (12, 1, 0)], output_decimator_enable=True, output_decimator_interval=3,
        input_congestion_balancer_enable=True, neurons_initial_value=state)
    cfg.cnn_layers[7] = CnnLayerConfig.conv(_w(16, 6, 3, 4), (3, 4), padding=1, threshold_high=9,
                                            threshold_low=-9, monitor_enable=True, output_decimator_interval=7)
    ro = cfg.readout
    ro.enable, ro.readout_configuration_sel, ro.output_mode_sel, ro.threshold = True, 2, 3, 500
    ro.low_pass_filter_disable, ro.low_pass_filter32_not16 = False, True
    ro.monitor_enable, ro.readout_pin_monitor_enable = True, True
    return cfg


def random_chain(seed: int) -> ChipConfig:
    """A seeded chain of 1 to 4 cores on random distinct cores, random kernels, strides, paddings,
    thresholds and flags (no readout, no decimator: it also fits the DYNAP-CNN devkit)."""
    rng = np.random.default_rng(seed)
    h, w, c = int(rng.integers(8, 20)), int(rng.integers(8, 20)), int(rng.integers(1, 4))
    layers = []
    for i in range(int(rng.integers(1, 5))):
        k, s, p = int(rng.integers(1, 4)), int(rng.choice([1, 2])), int(rng.integers(0, 2))
        out = int(rng.integers(1, 7))
        hi = int(rng.integers(1, 200))
        state = None if rng.random() < 0.5 else rng.integers(-5, 5, (out, (h + 2 * p - k) // s + 1,
                                                                     (w + 2 * p - k) // s + 1)).astype(np.int16)
        layers.append(CnnLayerConfig.conv(
            _w(out, c, k, seed * 10 + i), (h, w), stride=s, padding=p, threshold_high=hi,
            threshold_low=-int(rng.integers(1, 1000)), return_to_zero=bool(rng.random() < 0.5),
            biases=rng.integers(-4, 5, out).astype(np.int16), leak_enable=bool(rng.random() < 0.5),
            neurons_initial_value=state))
        h, w, c = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1, out
    cores = [int(x) for x in rng.permutation(9)[:len(layers)]]
    return chain_config(layers, cores, monitor="all")


def _all_configs():
    return [("demo", demo_config()), ("full", full_config())] + [(f"chain{s}", random_chain(s)) for s in range(6)]


@pytest.mark.parametrize("name,config", _all_configs(), ids=[n for n, _ in _all_configs()])
@pytest.mark.parametrize("device", ["speck2f", "speck2e"])
def test_round_trip_is_lossless(name, config, device):
    before = copy.deepcopy(config)
    back = from_samna(to_samna(config, device, samna=SAMNA))
    assert configs_equal(back, config)
    assert configs_equal(config, before)            # to_samna leaves its input alone
    json.dumps(config_to_dict(back))                 # and what comes back can be saved


@pytest.mark.parametrize("seed", range(6))
def test_round_trip_on_the_dynapcnn_devkit(seed):
    config = random_chain(seed)
    cfg = to_samna(config, "dynapcnn", samna=SAMNA)
    assert type(cfg).__name__ == "DynapcnnConfiguration"
    assert configs_equal(from_samna(cfg), config)


def test_weights_and_initial_state_are_transposed_to_samnas_axes():
    # weights W[f, c, ky, kx] = 1000·f + 100·c + 10·ky + kx (int16 here for the arithmetic, int8 below):
    # samna's weights[f][c][x][y] must hold W[f, c, y, x]
    w = np.zeros((2, 1, 3, 3), np.int8)
    w[1, 0, 0, 2] = 7        # f 1, ky 0, kx 2: samna [1][0][2][0]
    w[0, 0, 2, 1] = -5       # f 0, ky 2, kx 1: samna [0][0][1][2]
    # a non-square output, 3 high and 5 wide, so a missed transpose changes the shape
    state = np.zeros((2, 3, 5), np.int16)
    state[1, 2, 4] = 300     # f 1, y 2, x 4: samna [1][4][2]
    cfg = ChipConfig()
    cfg.cnn_layers[3] = CnnLayerConfig.conv(w, (5, 7), threshold_high=10, threshold_low=-10, monitor_enable=True,
                                            neurons_initial_value=state)
    out = to_samna(cfg, "speck2f", samna=SAMNA).cnn_layers[3]
    assert out.weights[1][0][2][0] == 7 and out.weights[0][0][1][2] == -5
    assert sum(abs(v) for f in out.weights for c in f for row in c for v in row) == 12
    assert np.shape(out.neurons_initial_value) == (2, 5, 3)
    assert out.neurons_initial_value[1][4][2] == 300
    d = out.dimensions
    # input 5 high, 7 wide; output (5 - 3) + 1 = 3 high, (7 - 3) + 1 = 5 wide
    assert (d.input_shape.size.x, d.input_shape.size.y, d.input_shape.feature_count) == (7, 5, 1)
    assert (d.output_shape.size.x, d.output_shape.size.y, d.output_shape.feature_count) == (5, 3, 2)


def test_fields_sinabs_never_writes_are_written():
    cfg = to_samna(full_config(), "speck2f", samna=SAMNA)
    c0, c1, c2 = cfg.cnn_layers[0], cfg.cnn_layers[1], cfg.cnn_layers[2]
    assert (c0.dimensions.stride.x, c0.dimensions.stride.y, c0.dimensions.padding.x, c0.dimensions.padding.y) == \
        (1, 2, 0, 1)
    assert [(d.layer, d.enable, d.pooling, d.feature_shift) for d in c1.destinations] == \
        [(2, True, 2, 8), (0, False, 1, 0)]
    assert [(d.layer, d.enable, d.pooling) for d in c2.destinations] == [(7, True, 4), (12, True, 1)]
    assert (c2.output_decimator_enable, c2.output_decimator_interval) == (True, 3)
    assert c2.input_congestion_balancer_enable and c2.leak_enable and c2.return_to_zero and c2.monitor_enable
    assert c2.biases == [-3, 2, 0, 1, -1, 5]
    assert (c2.threshold_high, c2.threshold_low) == (100, -300)
    assert not c0.monitor_enable and cfg.cnn_layers[7].monitor_enable
    ro = cfg.readout
    assert (ro.enable, ro.readout_configuration_sel, ro.output_mode_sel, ro.threshold) == (True, 2, 3, 500)
    assert (ro.low_pass_filter_disable, ro.low_pass_filter32_not16, ro.monitor_enable,
            ro.readout_pin_monitor_enable) == (False, True, True, True)
    dvs = cfg.dvs_layer
    assert (dvs.on_channel, dvs.off_channel, dvs.merge, dvs.mirror_diagonal) == (True, False, False, True)
    assert (dvs.pooling.x, dvs.pooling.y, dvs.origin.x, dvs.origin.y, dvs.cut.x, dvs.cut.y) == (2, 2, 2, 4, 41, 35)
    assert (dvs.mirror.x, dvs.mirror.y) == (True, False)
    assert [(d.layer, d.enable) for d in dvs.destinations] == [(0, True), (1, True)]
    assert dvs.monitor_enable and not dvs.pass_sensor_events


def test_the_standin_refuses_what_samna_refuses():
    # what makes the tests above mean something: numpy values and unknown fields do not pass
    layer = SAMNA.speck2f.configuration.SpeckConfiguration().cnn_layers[0]
    with pytest.raises(TypeError):
        layer.threshold_high = np.int16(3)
    with pytest.raises(TypeError):
        layer.weights = np.zeros((1, 1, 1, 1), np.int8)
    with pytest.raises(TypeError):
        layer.leak_enable = 1
    with pytest.raises(AttributeError):
        layer.kill_switch = True


def test_without_samna_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "samna", None)     # makes `import samna` fail
    with pytest.raises(MissingExtraError, match=r"pip install 'speksim\[devkit\]'"):
        to_samna(demo_config(), "speck2f")
    assert issubclass(MissingExtraError, ImportError)


def test_an_unknown_device_is_named_with_the_known_ones():
    with pytest.raises(ConfigError, match="speck2f, speck2e, dynapcnn"):
        to_samna(demo_config(), "speck3", samna=SAMNA)


def test_a_configuration_the_chip_refuses_is_refused_with_the_checks_words():
    cfg = demo_config()
    cfg.cnn_layers[1].threshold_low = 0
    with pytest.raises(ConfigError) as info:
        to_samna(cfg, "speck2f", samna=SAMNA)
    with pytest.raises(ConfigError) as direct:
        validate(cfg, "speck2f")
    assert info.value.problems == direct.value.problems


def test_an_unused_cores_stray_values_are_named_before_samna_sees_them():
    # the chip check passes over unused cores; samna sizes every array from the dimensions and
    # stores thresholds in int16, so these cannot be written
    cfg = demo_config()
    cfg.cnn_layers[5].weights = np.zeros((2, 2, 3, 3), np.int8)
    cfg.cnn_layers[6].threshold_high = 40_000
    with pytest.raises(ConfigError) as info:
        to_samna(cfg, "speck2f", samna=SAMNA)
    assert [p.split(" ")[0] for p in info.value.problems] == ["cnn_layers[5].weights", "cnn_layers[6].threshold_high"]
    assert "[0, 0, 0, 0]" in info.value.problems[0] and "[-32768, 32767]" in info.value.problems[1]


def test_dynapcnn_lacks_the_readout_and_the_balancer():
    cfg = full_config()
    cfg.cnn_layers[2].output_decimator_enable = False     # the chip check refuses it first otherwise
    with pytest.raises(ConfigError) as info:
        to_samna(cfg, "dynapcnn", samna=SAMNA)
    problems = info.value.problems
    assert any(p.startswith("cnn_layers[2].input_congestion_balancer_enable") and "set it to False" in p
               for p in problems)
    # the interval alone is a field the devkit lacks too, unless it is the neutral 0
    assert any(p.startswith("cnn_layers[2].output_decimator_interval is 3") for p in problems)
    assert any(p.startswith("readout:") for p in problems)
    assert any(p.startswith("cnn_layers[2].destinations[1].layer is 12") for p in problems)


def test_dynapcnn_kill_bits_kill_the_zero_weights_and_a_killed_weight_reads_zero():
    w = np.array([[[[0, 3], [4, 0]]]], np.int8)       # 1 out, 1 in, 2x2
    cfg = ChipConfig()
    cfg.cnn_layers[0] = CnnLayerConfig.conv(w, (4, 4), threshold_high=5, threshold_low=-5, monitor_enable=True,
                                            biases=np.array([2], np.int16))
    out = to_samna(cfg, "dynapcnn", samna=SAMNA)
    layer = out.cnn_layers[0]
    # samna order [f][c][x][y]: W[ky=0, kx=1] = 3 sits at [0][0][1][0]
    assert layer.weights == [[[[0, 4], [3, 0]]]]
    assert layer.weights_kill_bit == [[[[True, False], [False, True]]]]
    assert layer.biases_kill_bit == [False]
    layer.weights_kill_bit = [[[[False, False], [True, True]]]]   # now kills the 3 and the second 0
    back = from_samna(out)
    assert back.cnn_layers[0].weights.tolist() == [[[[0, 0], [4, 0]]]]
    assert back.model["not_modelled"] == []
    layer.neurons_value_kill_bit = [[[True, False, False], [False, False, True], [False] * 3]]
    assert from_samna(out).model["not_modelled"] == ["cnn_layers[0].neurons_value_kill_bit: 2 neuron(s) killed"]


def test_from_samna_names_an_array_that_does_not_fit_its_dimensions():
    cfg = to_samna(demo_config(), "speck2f", samna=SAMNA)
    cfg.cnn_layers[1].biases = [1, 2, 3]
    with pytest.raises(ConfigError, match=r"cnn_layers\[1\]\.biases has shape \[3\] but .* \[16\]"):
        from_samna(cfg)


def test_from_samna_refuses_a_dvs_destination_that_pools():
    cfg = to_samna(demo_config(), "speck2f", samna=SAMNA)
    cfg.dvs_layer.destinations[0].pooling = 2
    with pytest.raises(ConfigError, match=r"dvs_layer\.destinations\[0\] pools"):
        from_samna(cfg)


def test_from_samna_lists_the_settings_speksim_does_not_simulate():
    cfg = to_samna(demo_config(), "speck2f", samna=SAMNA)
    assert from_samna(cfg).model["not_modelled"] == []
    cfg.dvs_filter.enable = True
    cfg.cnn_layers[4].leak_internal_slow_clk_enable = True
    assert from_samna(cfg).model["not_modelled"] == ["cnn_layers[4].leak_internal_slow_clk_enable = True",
                                                     "dvs_filter.enable = True"]


def test_samnas_own_check_is_asked_and_its_refusal_raised(monkeypatch):
    monkeypatch.setattr(SAMNA.speck2e, "validate_configuration", lambda cfg: (False, "core 0 is broken"),
                        raising=False)
    with pytest.raises(ConfigError, match="samna's validate_configuration rejects the configuration: core 0 is "
                                          "broken"):
        to_samna(demo_config(), "speck2e", samna=SAMNA)


def _spike(layer, feature, x, y, timestamp):
    return SAMNA.speck2f.event.Spike(layer=layer, feature=feature, x=x, y=y, timestamp=timestamp)


def test_samna_spikes_become_output_events_in_ns_sorted_by_time():
    ev = [_spike(2, 5, 3, 4, 120), _spike(13, 1, 7, 8, 100), _spike(0, 0, 0, 0, 120)]
    out = events_from_samna(ev)
    validate_events(out, "output")
    # µs -> ns (x1000); sorted stably: the 100 µs spike first, then the two at 120 µs in input order
    assert out["t_ns"].tolist() == [100_000, 120_000, 120_000]
    assert out["layer"].tolist() == [13, 2, 0]
    assert out[["feature", "x", "y"]].tolist() == [(1, 7, 8), (5, 3, 4), (0, 0, 0)]
    assert out["root"].tolist() == [-1, -1, -1]
    assert events_from_samna([]).dtype == out.dtype and len(events_from_samna([])) == 0


def test_the_devkits_32_bit_microsecond_counter_is_unwrapped():
    # 2**32 - 10 µs, then the counter wraps and reads 5: 15 µs later, at 2**32 + 5 µs
    out = events_from_samna([_spike(0, 0, 0, 0, 2**32 - 10), _spike(0, 0, 0, 0, 5)])
    assert out["t_ns"].tolist() == [(2**32 - 10) * 1000, (2**32 + 5) * 1000]


def test_other_samna_events_are_refused_or_skipped():
    ev = [_spike(1, 0, 0, 0, 10), SAMNA.speck2f.event.ReadoutValue(value=3), _spike(1, 0, 0, 0, 20)]
    with pytest.raises(EventError, match="event 1 is a ReadoutValue.*skip_other=True"):
        events_from_samna(ev)
    assert events_from_samna(ev, skip_other=True)["t_ns"].tolist() == [10_000, 20_000]
