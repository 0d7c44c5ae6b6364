"""Configuration validation (SPEC §1), JSON I/O and chain_config."""

from __future__ import annotations

import copy
import dataclasses
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import speksim
from speksim.chip import kernel_memory_words, load_chip, neuron_memory_words
from speksim.config import (
    ChipConfig,
    CnnLayerConfig,
    CnnLayerDestination,
    DvsDestination,
    Vec2,
    chain_config,
    config_from_dict,
    config_to_dict,
    configs_equal,
    load_config,
    save_config,
    validate,
)
from speksim.errors import ConfigError


@pytest.fixture(scope="module")
def chip():
    return load_chip("speck2f")


def _w(out, inp, k, seed=0):
    return np.random.default_rng(seed).integers(-5, 6, (out, inp, k, k)).astype(np.int8)


def valid_config() -> ChipConfig:
    """DVS (pooled to 32x32, ON/OFF) -> core 0 -> core 1 -> core 5 -> readout; core 5 monitored."""
    cfg = ChipConfig()
    cfg.dvs_layer.pooling = Vec2(4, 4)
    cfg.dvs_layer.destinations[0] = DvsDestination(layer=0, enable=True)
    cfg.cnn_layers[0] = CnnLayerConfig.conv(_w(8, 2, 3, 1), (32, 32), padding=1, threshold_low=-100,
                                            destinations=[(1, 2, 0)])
    cfg.cnn_layers[1] = CnnLayerConfig.conv(_w(16, 8, 3, 2), (16, 16), padding=1, leak_enable=True,
                                            biases=np.arange(-8, 8, dtype=np.int16), destinations=[(5, 2, 0)])
    cfg.cnn_layers[5] = CnnLayerConfig.conv(_w(10, 16, 8, 3), (8, 8), monitor_enable=True,
                                            destinations=[(12, 1, 0)])
    cfg.readout.enable = True
    return cfg


def _problems(cfg, chip):
    with pytest.raises(ConfigError) as info:
        validate(cfg, chip)
    return info.value.problems


def test_valid_multi_core_config_passes(chip):
    cfg = valid_config()
    assert validate(cfg, chip) == []
    assert validate(cfg, "speck2f") == []
    assert cfg.used_cores() == [0, 1, 5]


def test_validate_does_not_modify_the_config(chip):
    cfg = valid_config()
    before = config_to_dict(cfg)
    validate(cfg, chip)
    assert config_to_dict(cfg) == before


def _set(path, value):
    """A mutation setting the attribute path (e.g. 'cnn_layers[0].dimensions.stride.y')."""
    def mutate(cfg, chip):
        obj = cfg
        parts = path.replace("]", "").replace("[", ".").split(".")
        for p in parts[:-1]:
            obj = obj[int(p)] if p.isdigit() else getattr(obj, p)
        last = parts[-1]
        if last.isdigit():
            obj[int(last)] = value
        else:
            setattr(obj, last, value)
        return chip
    return mutate


def _chip(**values):
    return lambda cfg, chip: chip.replace(reason="test", **values)


def _both(*mutations):
    def mutate(cfg, chip):
        for m in mutations:
            chip = m(cfg, chip) or chip
        return chip
    return mutate


def _rebuild_core0_one_channel(cfg, chip):
    cfg.cnn_layers[0] = CnnLayerConfig.conv(_w(8, 1, 3), (32, 32), padding=1, threshold_low=-100,
                                            destinations=[(1, 2, 0)])
    return chip


# Each case breaks one rule; the error must name the core (or section) and the field.
RULES = [
    ("kernel memory", _chip(kernel_words={1: 1024}),
     ["core 1: kernel memory needs 2048 words", "core 1 has 1024: 1024 short", "cores"]),
    ("neuron memory", _chip(neuron_words={0: 4096}),
     ["core 0: neuron memory needs 8192 words", "core 0 has 4096: 4096 short"]),
    ("bias memory", _chip(bias_words={1: 8}), ["core 1: bias memory needs 16 words", "8 short"]),
    ("input size", _chip(max_input_size=24), ["core 0", "input_shape.size.x", "1..24"]),
    ("output size", _chip(max_output_size=16), ["core 0", "output_shape.size", "at most 16"]),
    ("output shape formula", _set("cnn_layers[5].dimensions.output_shape.size.x", 2),
     ["core 5", "output_shape.size is 2x1", "give 1x1"]),
    ("no output channels", _set("cnn_layers[1].dimensions.output_shape.feature_count", 0),
     ["core 1", "output_shape.feature_count is 0", "1..1024"]),
    ("too many channels", _chip(max_features=12), ["core 1", "output_shape.feature_count is 16", "1..12"]),
    ("kernel size", _set("cnn_layers[5].dimensions.kernel_size", 17), ["core 5", "kernel_size is 17", "1..16"]),
    ("kernel size 0", _set("cnn_layers[5].dimensions.kernel_size", 0), ["core 5", "kernel_size is 0"]),
    ("stride", _set("cnn_layers[0].dimensions.stride.y", 3), ["core 0", "stride.y is 3", "[1, 2, 4, 8]"]),
    ("padding", _set("cnn_layers[1].dimensions.padding.x", 8), ["core 1", "padding.x is 8", "0..7"]),
    ("negative padding", _set("cnn_layers[1].dimensions.padding.y", -1), ["core 1", "padding.y is -1"]),
    ("dimension type", _set("cnn_layers[1].dimensions.stride.x", 1.0), ["core 1", "stride.x is 1.0", "whole number"]),
    ("weights dtype", lambda cfg, chip: setattr(cfg.cnn_layers[0], "weights",
                                                cfg.cnn_layers[0].weights.astype(np.float32)),
     ["core 0", "weights has dtype float32", "integer"]),
    ("weights range", lambda cfg, chip: setattr(cfg.cnn_layers[0], "weights",
                                                cfg.cnn_layers[0].weights.astype(np.int16) * 40),
     ["core 0", "weights spans", "int8"]),
    ("weights shape", _set("cnn_layers[1].weights", _w(16, 8, 5)), ["core 1", "weights has shape [16, 8, 5, 5]",
                                                                    "[16, 8, 3, 3]"]),
    ("weights not square", _set("cnn_layers[1].weights", np.zeros((16, 8, 3, 5), np.int8)),
     ["core 1", "weights has shape", "square"]),
    ("biases range", _set("cnn_layers[1].biases", np.full(16, 40000, np.int32)), ["core 1", "biases spans", "int16"]),
    ("biases shape", _set("cnn_layers[1].biases", np.zeros(15, np.int16)), ["core 1", "biases has shape [15]", "[16]"]),
    ("threshold_high range", _set("cnn_layers[0].threshold_high", 40000), ["core 0", "threshold_high is 40000"]),
    ("threshold_low range", _set("cnn_layers[0].threshold_low", -40000), ["core 0", "threshold_low is -40000"]),
    ("threshold_high type", _set("cnn_layers[0].threshold_high", 1.5), ["core 0", "threshold_high is 1.5"]),
    ("threshold_low zero", _set("cnn_layers[0].threshold_low", 0), ["core 0", "threshold_low is 0", "-1"]),
    ("threshold order", _both(_set("cnn_layers[1].threshold_low", 5), _set("cnn_layers[1].threshold_high", 5)),
     ["core 1", "threshold_low (5) must be below threshold_high (5)"]),
    ("initial value shape", _set("cnn_layers[0].neurons_initial_value", np.zeros((8, 32, 31), np.int16)),
     ["core 0", "neurons_initial_value has shape [8, 32, 31]", "[8, 32, 32]"]),
    ("initial value range", _set("cnn_layers[0].neurons_initial_value", np.full((8, 32, 32), -40000, np.int32)),
     ["core 0", "neurons_initial_value spans", "int16"]),
    ("decimator interval", _set("cnn_layers[5].output_decimator_interval", 8),
     ["core 5", "output_decimator_interval is 8", "0..7"]),
    ("decimator absent", _both(_set("cnn_layers[5].output_decimator_enable", True),
                               lambda cfg, chip: load_chip("dynapcnn")),
     ["core 5", "output_decimator_enable", "no output decimator"]),
    ("three destination slots", lambda cfg, chip: cfg.cnn_layers[0].destinations.append(CnnLayerDestination()),
     ["core 0", "destinations has 3 slots", "exactly 2"]),
    ("too many destinations", _chip(max_destinations=0), ["core 0", "max_destinations"]),
    ("destination beyond cores", _set("cnn_layers[1].destinations[0].layer", 9),
     ["core 1", "destinations[0].layer is 9", "0..8", "12"]),
    ("destination to unused core", _set("cnn_layers[1].destinations[0].layer", 7),
     ["core 1", "destinations[0].layer is 7", "core 7 is not in use"]),
    ("readout disabled", _set("readout.enable", False), ["core 5", "destinations[0]", "readout.enable"]),
    ("pooling", _set("cnn_layers[0].destinations[0].pooling", 3), ["core 0", "destinations[0].pooling is 3",
                                                                   "[1, 2, 4]"]),
    ("negative feature shift", _set("cnn_layers[0].destinations[0].feature_shift", -1),
     ["core 0", "destinations[0].feature_shift is -1", ">= 0"]),
    ("channels after shift", _set("cnn_layers[0].destinations[0].feature_shift", 1),
     ["core 0", "destinations[0]", "feature_shift 1", "need 9", "core 1 has 8"]),
    ("pooled map too big", _set("cnn_layers[0].destinations[0].pooling", 1),
     ["core 0", "destinations[0]", "pooled map is 32x32", "16x16", "x (32 > 16) and y (32 > 16)"]),
    ("unused core destination", _set("cnn_layers[7].destinations[1].enable", True),
     ["core 7", "destinations[1].enable", "not in use"]),
    ("unused core monitor", _set("cnn_layers[7].monitor_enable", True), ["core 7", "monitor_enable", "not in use"]),
    ("dvs pooling", _set("dvs_layer.pooling.x", 3), ["dvs_layer", "pooling.x is 3"]),
    ("dvs origin beyond cut", _both(_set("dvs_layer.origin.x", 20), _set("dvs_layer.cut.x", 10)),
     ["dvs_layer", "origin.x (20)", "cut.x (10)"]),
    ("dvs cut beyond sensor", _set("dvs_layer.cut.y", 128), ["dvs_layer", "cut.y is 128", "128"]),
    ("dvs destination unused", _set("dvs_layer.destinations[1]", DvsDestination(layer=7, enable=True)),
     ["dvs_layer", "destinations[1].layer is 7", "not in use"]),
    ("dvs destination readout", _set("dvs_layer.destinations[1]", DvsDestination(layer=12, enable=True)),
     ["dvs_layer", "destinations[1].layer is 12"]),
    ("dvs map too big", _set("dvs_layer.pooling", Vec2(2, 4)),
     ["dvs_layer", "destinations[0]", "64x32", "core 0", "x (64 > 32)"]),
    ("dvs channels", _rebuild_core0_one_channel, ["dvs_layer", "destinations[0]", "2 channel(s)", "core 0 has 1"]),
    ("dvs slots", lambda cfg, chip: cfg.dvs_layer.destinations.__delitem__(1),
     ["dvs_layer", "destinations has 1 slots"]),
    ("readout sel", _set("readout.readout_configuration_sel", 4),
     ["readout", "readout_configuration_sel is 4", "0..3"]),
]


@pytest.mark.parametrize("name, mutate, expected", RULES, ids=[r[0] for r in RULES])
def test_each_rule_is_reported(chip, name, mutate, expected):
    cfg = valid_config()
    chip = mutate(cfg, chip) or chip
    problems = _problems(cfg, chip)
    assert any(all(s in p for s in expected) for p in problems), problems
    assert all(p.startswith(("core ", "dvs_layer:", "readout:", "cnn_layers:")) for p in problems), problems


def test_every_problem_is_listed(chip):
    cfg = valid_config()
    cfg.cnn_layers[5].dimensions.kernel_size = 17
    cfg.cnn_layers[0].threshold_low = 0
    cfg.cnn_layers[1].destinations[0].pooling = 3
    cfg.readout.readout_configuration_sel = 9
    cfg.dvs_layer.cut.x = 500
    with pytest.raises(ConfigError) as info:
        validate(cfg, chip)
    problems = info.value.problems
    for needle in ("core 5: dimensions.kernel_size is 17", "core 0: threshold_low is 0",
                   "core 1: destinations[0].pooling is 3", "readout: readout_configuration_sel is 9",
                   "dvs_layer: cut.x is 500"):
        assert sum(needle in p for p in problems) == 1, (needle, problems)
        assert needle in str(info.value)
    assert len(problems) == 5
    assert "5 problems" in str(info.value)


def test_no_core_in_use_is_an_error(chip):
    assert any("no core is in use" in p for p in _problems(ChipConfig(), chip))


def test_core_beyond_the_chip_is_an_error(chip):
    cfg = valid_config()
    cfg.cnn_layers.append(CnnLayerConfig.conv(_w(2, 2, 1), (4, 4), monitor_enable=True))
    assert any(p.startswith("cnn_layers has 10 entries; speck2f has 9 cores") for p in _problems(cfg, chip))


def test_too_few_cores_is_an_error_not_a_crash(chip):
    cfg = valid_config()
    cfg.cnn_layers = cfg.cnn_layers[:5]
    problems = _problems(cfg, chip)
    assert any(p.startswith("cnn_layers has 5 entries; speck2f has 9 cores") for p in problems), problems


def test_datasheet_memory_example_fits_no_core(chip):
    """Conv 16->32, 3x3, stride 1, pad 1 on 64x64: kernel 8192 words, neuron 131072 words."""
    layer = CnnLayerConfig.conv(np.ones((32, 16, 3, 3), np.int8), (64, 64), padding=1, monitor_enable=True)
    assert kernel_memory_words(16, 32, 3) == 8192
    assert neuron_memory_words(32, 64, 64) == 131072
    for core in range(chip.n_cores):
        cfg = ChipConfig()
        cfg.cnn_layers[core] = layer
        problems = _problems(cfg, chip)
        assert len(problems) == 1, problems
        msg = problems[0]
        assert msg.startswith(f"core {core}: neuron memory needs 131072 words (32 ch x 64 x 64 rounded)")
        assert f"core {core} has {chip.neuron_words[core]}: {131072 - chip.neuron_words[core]} short" in msg
        assert "kernel memory" not in msg
    # with half the output channels it fits cores 0-2 only, and the error says so
    cfg = ChipConfig()
    cfg.cnn_layers[3] = CnnLayerConfig.conv(np.ones((16, 16, 3, 3), np.int8), (64, 64), padding=1,
                                            monitor_enable=True)
    (msg,) = _problems(cfg, chip)
    assert "core 3: neuron memory needs 65536 words" in msg and "cores 0-2 have 65536" in msg
    cfg.cnn_layers[0], cfg.cnn_layers[3] = cfg.cnn_layers[3], CnnLayerConfig()
    assert validate(cfg, chip) == []


def test_bias_memory_only_counts_when_biases_are_used(chip):
    no_bias = chip.replace(reason="test", bias_words=0)
    cfg = ChipConfig()
    cfg.cnn_layers[0] = CnnLayerConfig.conv(_w(4, 2, 3), (8, 8), monitor_enable=True)
    assert validate(cfg, no_bias) == []
    cfg.cnn_layers[0].leak_enable = True
    (msg,) = _problems(cfg, no_bias)
    assert msg.startswith("core 0: bias memory needs 4 words")
    cfg.cnn_layers[0].leak_enable = False
    cfg.cnn_layers[0].biases = np.array([0, 0, 3, 0], np.int16)
    (msg,) = _problems(cfg, no_bias)
    assert msg.startswith("core 0: bias memory needs 4 words")


def test_pooled_map_error_names_the_axis_too_big(chip):
    cfg = ChipConfig()
    cfg.cnn_layers[0] = CnnLayerConfig.conv(_w(2, 1, 1), (16, 32), destinations=[(1, 1, 0)])  # 32 wide, 16 high
    cfg.cnn_layers[1] = CnnLayerConfig.conv(_w(2, 2, 1), (16, 16), monitor_enable=True)
    (msg,) = _problems(cfg, chip)
    assert msg.startswith("core 0: destinations[0]")
    assert "too big along x (32 > 16)" in msg and "y (" not in msg
    cfg.cnn_layers[0].destinations[0].pooling = 2
    assert validate(cfg, chip) == []


def test_dvs_map_size_follows_crop_pooling_and_mirroring(chip):
    cfg = ChipConfig()
    cfg.cnn_layers[0] = CnnLayerConfig.conv(_w(2, 2, 1), (48, 64), monitor_enable=True)  # 64 wide, 48 high
    dvs = cfg.dvs_layer
    dvs.destinations[0] = DvsDestination(layer=0, enable=True)
    dvs.pooling = Vec2(2, 2)
    dvs.origin, dvs.cut = Vec2(0, 8), Vec2(127, 55)  # the pooled sensor ends at 63: 64 x 48
    assert validate(cfg, chip) == []
    dvs.mirror = Vec2(1, 0)  # mirrored x addresses reach cut - origin = 127
    (msg,) = _problems(cfg, chip)
    assert "dvs_layer: destinations[0]" in msg and "128x48" in msg and "x (128 > 64)" in msg
    dvs.mirror, dvs.cut.x = Vec2(1, 0), 63
    assert validate(cfg, chip) == []
    dvs.mirror_diagonal = True  # 48 x 64 now: y is too big
    (msg,) = _problems(cfg, chip)
    assert "y (64 > 48)" in msg and "x (" not in msg


def test_dvs_merge_needs_one_input_channel(chip):
    cfg = ChipConfig()
    cfg.cnn_layers[0] = CnnLayerConfig.conv(_w(2, 1, 1), (128, 128), stride=2, monitor_enable=True)
    cfg.dvs_layer.destinations[0] = DvsDestination(layer=0, enable=True)
    (msg,) = _problems(cfg, chip)
    assert "2 channel(s)" in msg and "merge" in msg
    cfg.dvs_layer.merge = True
    assert validate(cfg, chip) == []


def test_cycle_is_a_warning_not_an_error(chip):
    cfg = ChipConfig()
    cfg.cnn_layers[2] = CnnLayerConfig.conv(_w(4, 4, 1), (8, 8), destinations=[(3, 1, 0)], monitor_enable=True)
    cfg.cnn_layers[3] = CnnLayerConfig.conv(_w(4, 4, 1), (8, 8), destinations=[(2, 1, 0), (3, 1, 0)])
    warnings = validate(cfg, chip)
    assert "cores 2 -> 3 -> 2 form a cycle; the chip can deadlock (SPEC T9)" in warnings
    assert "cores 3 -> 3 form a cycle; the chip can deadlock (SPEC T9)" in warnings
    assert len(warnings) == 2


def test_core_whose_spikes_go_nowhere_is_a_warning(chip):
    cfg = ChipConfig()
    cfg.cnn_layers[4] = CnnLayerConfig.conv(_w(4, 4, 1), (8, 8))
    (warning,) = validate(cfg, chip)
    assert warning.startswith("core 4:") and "go nowhere" in warning and "monitor_enable" in warning


def test_core_that_nothing_reaches_is_fine(chip):
    cfg = ChipConfig()
    cfg.cnn_layers[6] = CnnLayerConfig.conv(_w(4, 4, 1), (8, 8), monitor_enable=True)
    assert validate(cfg, chip) == []


# ----------------------------------------------------------------------------------- JSON I/O

def assert_same(a, b, path="config"):
    """Independent deep comparison: every dataclass field, array dtype, shape and value, scalar type."""
    if dataclasses.is_dataclass(a):
        assert type(a) is type(b), path
        for f in dataclasses.fields(a):
            assert_same(getattr(a, f.name), getattr(b, f.name), f"{path}.{f.name}")
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray), path
        assert (a.dtype, a.shape) == (b.dtype, b.shape), path
        assert np.array_equal(a, b), path
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{path}[{i}]")
    else:
        assert type(a) is type(b) and a == b, (path, a, b)


def rich_config() -> ChipConfig:
    cfg = valid_config()
    cfg.cnn_layers[0].neurons_initial_value = np.arange(8 * 32 * 32, dtype=np.int16).reshape(8, 32, 32) - 4000
    cfg.cnn_layers[0].destinations[1] = CnnLayerDestination(layer=5, enable=False, pooling=4, feature_shift=3)
    cfg.cnn_layers[1].return_to_zero = True
    cfg.cnn_layers[1].input_congestion_balancer_enable = True
    cfg.cnn_layers[5].output_decimator_enable = True
    cfg.cnn_layers[5].output_decimator_interval = 6
    cfg.cnn_layers[7].threshold_high = 7  # an unused core that is not all defaults
    cfg.dvs_layer.merge = False
    cfg.dvs_layer.on_channel = False
    cfg.dvs_layer.origin, cfg.dvs_layer.cut = Vec2(1, 2), Vec2(30, 31)
    cfg.dvs_layer.mirror = Vec2(1, 0)
    cfg.dvs_layer.mirror_diagonal = True
    cfg.dvs_layer.monitor_enable = True
    cfg.dvs_layer.pass_sensor_events = False
    cfg.readout = dataclasses.replace(cfg.readout, readout_configuration_sel=2, output_mode_sel=3, threshold=5,
                                      low_pass_filter32_not16=True, monitor_enable=True)
    return cfg


def test_json_round_trip_is_exact(tmp_path):
    cfg = rich_config()
    path = tmp_path / "config.json"
    save_config(cfg, path)
    back = load_config(path)
    assert_same(cfg, back)
    assert configs_equal(cfg, back)
    assert back.cnn_layers[0].weights.dtype == np.int8 and back.cnn_layers[1].biases.dtype == np.int16
    assert validate(back, "speck2f") == validate(cfg, "speck2f")
    d = json.loads(path.read_text())
    assert d["cnn_layers"][2] is None  # an all-default core is written compactly
    assert d["cnn_layers"][7]["threshold_high"] == 7
    assert d["cnn_layers"][0]["weights"]["dtype"] == "int8"
    assert d["cnn_layers"][0]["weights"]["shape"] == [8, 2, 3, 3]


def test_json_is_deterministic_and_readable(tmp_path):
    save_config(rich_config(), tmp_path / "a.json")
    save_config(rich_config(), tmp_path / "b.json")
    save_config(load_config(tmp_path / "a.json"), tmp_path / "c.json")
    a = (tmp_path / "a.json").read_bytes()
    assert a == (tmp_path / "b.json").read_bytes() == (tmp_path / "c.json").read_bytes()
    assert a.endswith(b"\n") and b"\n  " in a  # indented
    assert not list(tmp_path.glob("*.tmp"))


def test_dict_round_trip_through_json_text():
    cfg = rich_config()
    d = config_to_dict(cfg)
    assert_same(config_from_dict(json.loads(json.dumps(d))), cfg)


def test_configs_equal_sees_every_difference():
    a, b = rich_config(), rich_config()
    assert configs_equal(a, b)
    b.cnn_layers[0].weights = b.cnn_layers[0].weights.astype(np.int16)
    assert not configs_equal(a, b)
    b = rich_config()
    b.cnn_layers[0].weights[0, 0, 0, 0] += 1
    assert not configs_equal(a, b)
    b = rich_config()
    b.dvs_layer.destinations[1].enable = True
    assert not configs_equal(a, b)


def test_unknown_key_names_the_key_path(tmp_path):
    d = config_to_dict(valid_config())
    d["cnn_layers"][0]["dimensions"]["stride"]["z"] = 1
    d["readout"]["colour"] = "red"
    d["extra"] = 1
    with pytest.raises(ConfigError) as info:
        config_from_dict(d)
    text = str(info.value)
    for key in ("cnn_layers[0].dimensions.stride.z", "readout.colour", "extra"):
        assert key in text
    assert "x, y" in text  # says which keys are allowed
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(d))
    with pytest.raises(ConfigError, match="bad.json: cnn_layers\\[0\\].dimensions.stride.z"):
        load_config(path)


@pytest.mark.parametrize("mutate, needle", [
    (lambda d: d["cnn_layers"][0]["weights"].update(shape=[8, 2, 3, 4]), "cnn_layers[0].weights.data: has shape"),
    (lambda d: d["cnn_layers"][0]["weights"].update(dtype="object"), "cnn_layers[0].weights.dtype"),
    (lambda d: d["cnn_layers"][0]["weights"].pop("dtype"), "cnn_layers[0].weights: an array"),
    (lambda d: d["cnn_layers"][1]["biases"].update(dtype="int8", data=[300] * 16), "do not fit dtype int8"),
    (lambda d: d["cnn_layers"][0].update(threshold_high="1"), "cnn_layers[0].threshold_high"),
    (lambda d: d["cnn_layers"][0].update(destinations={}), "cnn_layers[0].destinations"),
    (lambda d: d.update(cnn_layers=5), "cnn_layers: must be a list"),
    (lambda d: d.update(version=99), "version"),
    (lambda d: d.update(format="other"), "format"),
])
def test_malformed_json_is_a_config_error(mutate, needle):
    d = config_to_dict(valid_config())
    mutate(d)
    with pytest.raises(ConfigError) as info:
        config_from_dict(d)
    assert needle in str(info.value)


def test_bad_json_file_is_a_config_error(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="broken.json: not valid JSON"):
        load_config(path)
    with pytest.raises(ConfigError, match="cannot be read"):
        load_config(tmp_path / "missing.json")


def test_unsaveable_value_is_a_config_error():
    cfg = valid_config()
    cfg.cnn_layers[0].threshold_high = 1.5
    with pytest.raises(ConfigError, match="cnn_layers\\[0\\].threshold_high"):
        config_to_dict(cfg)


@st.composite
def layers(draw):
    c_in, c_out = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    k, h, w = draw(st.integers(1, 3)), draw(st.integers(3, 9)), draw(st.integers(3, 9))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    layer = CnnLayerConfig.conv(rng.integers(-128, 128, (c_out, c_in, k, k)).astype(np.int8), (h, w),
                                padding=draw(st.integers(0, 1)), threshold_high=draw(st.integers(1, 32767)),
                                biases=rng.integers(-32768, 32768, c_out).astype(np.int16),
                                leak_enable=draw(st.booleans()), monitor_enable=draw(st.booleans()))
    if draw(st.booleans()):
        oh, ow = layer.dimensions.output_shape.size.y, layer.dimensions.output_shape.size.x
        layer.neurons_initial_value = rng.integers(-32768, 32768, (c_out, oh, ow)).astype(np.int16)
    return layer


@settings(max_examples=40, derandomize=True, deadline=None)
@given(st.lists(layers(), min_size=1, max_size=9))
def test_json_round_trip_property(chain):
    cfg = chain_config(chain, monitor=None)
    back = config_from_dict(json.loads(json.dumps(config_to_dict(cfg))))
    assert_same(cfg, back)


# ------------------------------------------------------------------------------ chain_config

def test_chain_config_wires_and_monitors_the_last(chip):
    layer = CnnLayerConfig.conv(np.ones((1, 1, 3, 3), np.int8), (16, 16), padding=1)
    original = copy.deepcopy(layer)
    cfg = chain_config([layer] * 9)
    assert_same(layer, original)  # the inputs are copied, not changed
    assert cfg.used_cores() == list(range(9))
    for k in range(8):
        d = cfg.cnn_layers[k].destinations[0]
        assert (d.layer, d.enable, d.pooling, d.feature_shift) == (k + 1, True, 1, 0)
        assert not cfg.cnn_layers[k].monitor_enable
    assert cfg.cnn_layers[8].monitor_enable and not cfg.cnn_layers[8].destinations[0].enable
    assert validate(cfg, chip) == []


def test_chain_config_cores_and_monitor_options(chip):
    a = CnnLayerConfig.conv(_w(4, 2, 3), (16, 16), padding=1)
    b = CnnLayerConfig.conv(_w(8, 4, 3), (16, 16), padding=1)
    cfg = chain_config([a, b], cores=[3, 0], monitor="all")
    assert cfg.used_cores() == [0, 3]
    assert cfg.cnn_layers[3].destinations[0].layer == 0
    assert cfg.cnn_layers[3].monitor_enable and cfg.cnn_layers[0].monitor_enable
    assert validate(cfg, chip) == []
    cfg = chain_config([a, b], cores=[3, 0], monitor=[3])
    assert cfg.cnn_layers[3].monitor_enable and not cfg.cnn_layers[0].monitor_enable
    assert any("go nowhere" in w for w in validate(cfg, chip))
    for bad in (dict(cores=[1]), dict(cores=[1, 1]), dict(cores=[0, 1], monitor=[5])):
        with pytest.raises(ConfigError):
            chain_config([a, b], **bad)


def test_conv_destination_shorthand_defaults():
    """(layer), (layer, pooling) and (layer, pooling, shift) fill in pooling 1 and shift 0."""
    w = np.zeros((2, 1, 3, 3), np.int8)
    layer = CnnLayerConfig.conv(w, (8, 8), destinations=[3, (4, 2)])
    d0, d1 = layer.destinations
    assert (d0.layer, d0.enable, d0.pooling, d0.feature_shift) == (3, True, 1, 0)
    assert (d1.layer, d1.enable, d1.pooling, d1.feature_shift) == (4, True, 2, 0)
    d = CnnLayerConfig.conv(w, (8, 8), destinations=[(5, 4, 7)]).destinations[0]
    assert (d.layer, d.pooling, d.feature_shift) == (5, 4, 7)


def test_pooled_map_overhanging_by_the_rounding_is_a_warning_and_drops_count(chip):
    """SPEC §1: 15 / 2 rounds up to 8 on the chip (address remap), down to 7 in PyTorch. A target
    input of 7 x 7 is a warning; the events of the 8th row and column are dropped under F1."""
    cfg = ChipConfig()
    one = np.ones((1, 1, 1, 1), np.int8)   # 1x1 kernel, weight 1, threshold 1: every input spikes once
    cfg.cnn_layers[0] = CnnLayerConfig.conv(one, (15, 15), threshold_high=1, destinations=[(1, 2, 0)])
    cfg.cnn_layers[1] = CnnLayerConfig.conv(one, (7, 7), threshold_high=100, monitor_enable=True)
    (warning,) = validate(cfg, chip)
    assert warning.startswith("core 0: destinations[0]: the pooled map is 8x8") and "dropped" in warning
    x = np.arange(15).repeat(15)
    y = np.tile(np.arange(15), 15)
    ev = speksim.make_events("spike", t=np.arange(225) * 10, layer=np.zeros(225), feature=np.zeros(225), x=x, y=y)
    res = speksim.simulate(cfg, ev, chip)
    # pooled x = x // 2 is 7 (outside 0..6) exactly when x == 14; likewise y
    outside = int(np.count_nonzero((x == 14) | (y == 14)))
    assert res.stats[1]["dropped_out_of_range"] == outside == 29
    assert res.stats[1]["events_in"] == 225
    # a target too small by more than the rounding stays an error
    cfg.cnn_layers[1] = CnnLayerConfig.conv(one, (6, 6), threshold_high=100, monitor_enable=True)
    assert any("too big along x (8 > 6)" in p for p in _problems(cfg, chip))


@pytest.mark.parametrize("remove, needle", [
    (lambda d: d["cnn_layers"][1].pop("threshold_high"), "cnn_layers[1].threshold_high: missing"),
    (lambda d: d["cnn_layers"][0]["dimensions"]["stride"].pop("y"), "cnn_layers[0].dimensions.stride.y: missing"),
    (lambda d: d["cnn_layers"][0].pop("neurons_initial_value"), "null means all zeros"),
    (lambda d: d["cnn_layers"][0]["destinations"][0].pop("feature_shift"),
     "cnn_layers[0].destinations[0].feature_shift: missing"),
    (lambda d: d.pop("dvs_layer"), "dvs_layer: missing"),
    (lambda d: d["dvs_layer"].pop("merge"), "dvs_layer.merge: missing"),
    (lambda d: d.pop("readout"), "readout: missing"),
    (lambda d: d.pop("version"), "version: missing"),
])
def test_configuration_file_must_state_every_field(remove, needle):
    """A field left out of a file is an error naming it, never a silent default: a core without
    threshold_high used to load with threshold 1 and fire on every input."""
    d = config_to_dict(valid_config())
    remove(d)
    with pytest.raises(ConfigError) as info:
        config_from_dict(d)
    assert needle in str(info.value)
