"""A `ChipConfig` to samna's configuration object and back, field by field.

    cfg = to_samna(config, "speck2f")         # samna.speck2f.configuration.SpeckConfiguration
    config = from_samna(cfg)                  # a ChipConfig again; configs_equal(config, original)

samna is imported only here, and only when a function needs it; `samna=` takes a module of the
same shape instead (the tests pass a stand-in). The two layouts differ in three places:

- weights: speksim int8 [out, in, ky, kx] (PyTorch), samna [out][in][x][y] (kernel axes swapped);
- neurons_initial_value: speksim int16 [feature, y, x] or None (all zeros), samna [feature][x][y];
- DVS mirror flags: speksim 0/1, samna bool.

Fields samna has and speksim does not model (the leak's internal slow clock, the DVS noise
filter, raw DVS monitoring, the readout's interrupt override, the factory settings) are left at
samna's defaults by `to_samna` and listed by `from_samna` in `config.model["not_modelled"]` when
they are set. A field speksim uses that the device's configuration object lacks (the DYNAP-CNN
devkit has no output decimator) is an error naming the field, never a silent drop; which fields
a device has is read from samna's object, not assumed here.
"""

from __future__ import annotations

import numpy as np

from ..blocks import N_CORES
from ..chip import load_chip
from ..errors import ConfigError, MissingExtraError
from ..config.model import (ChipConfig, CnnLayerConfig, CnnLayerDestination, CnnLayerDimensions, DvsDestination,
                            DvsLayerConfig, ReadoutConfig, Vec2)
from ..config.options import RunOptions
from ..config.rules import validate

#: The devices `to_samna` writes for: speksim chip name -> (samna sub-module, configuration class).
DEVICES = {
    "speck2f": ("speck2f", "SpeckConfiguration"),
    "speck2e": ("speck2e", "SpeckConfiguration"),
    "dynapcnn": ("dynapcnn", "DynapcnnConfiguration"),
}

_INT8 = (-128, 127)
_INT16 = (-32768, 32767)
_DIM_FIELDS = ("input_shape.size.x", "input_shape.size.y", "input_shape.feature_count",
               "output_shape.size.x", "output_shape.size.y", "output_shape.feature_count",
               "padding.x", "padding.y", "stride.x", "stride.y", "kernel_size")
_LAYER_FLAGS = ("leak_enable", "return_to_zero", "monitor_enable")
_LAYER_INTS = ("threshold_high", "threshold_low")
#: Core fields that only some devices have, with the value that means "not used".
_LAYER_OPTIONAL = (("output_decimator_enable", False), ("output_decimator_interval", 0),
                   ("input_congestion_balancer_enable", False))
#: The C types of samna's integer fields (a used core is range-checked by `validate` already;
#: these catch an unused core's stray values before samna's bindings do, less clearly).
_RANGES = {"threshold_high": _INT16, "threshold_low": _INT16, "output_decimator_interval": (0, 7),
           "layer": (0, 255), "pooling": (0, 255), "feature_shift": (0, 65535)}
_DVS_FLAGS = ("merge", "on_channel", "off_channel", "mirror_diagonal", "monitor_enable", "pass_sensor_events")
_DVS_VECS = ("pooling", "origin", "cut")
_READOUT_FIELDS = ("enable", "readout_configuration_sel", "output_mode_sel", "threshold", "low_pass_filter_disable",
                   "low_pass_filter32_not16", "monitor_enable", "readout_pin_monitor_enable")
#: samna fields speksim does not model, with the value that changes nothing speksim simulates.
_UNMODELLED = {
    "cnn_layers": (("leak_internal_slow_clk_enable", False),),
    "dvs_layer": (("raw_monitor_enable", False),),
    "dvs_filter": (("enable", False), ("hot_pixel_filter_enable", False), ("low_pass_mode_enable", False)),
    "readout": (("override_threshold_max", False),),
}


def samna_module(samna=None):
    """samna itself (imported now), or the module given; `MissingExtraError` without samna."""
    if samna is not None:
        return samna
    try:
        import samna as module
    except ImportError:
        raise MissingExtraError("talking to a devkit needs samna, SynSense's devkit library: "
                                "pip install 'speksim[devkit]' (or pip install samna)") from None
    return module


def _device(device: str):
    if device not in DEVICES:
        raise ConfigError(f"device {device!r} is not one samna configures; use one of {', '.join(DEVICES)}")
    return DEVICES[device]


def to_samna(config: ChipConfig, device: str = "speck2f", samna=None):
    """samna's configuration object for `config` on `device` ("speck2f", "speck2e", "dynapcnn").

    `config` is checked first against the chip of the same name (`speksim.validate`; the slow
    clock is the devkit's, set outside the configuration, so the leak-versus-clock rule is left
    out). Every core is written, used or not, so `from_samna` gives `config` back. Raises
    `ConfigError` naming each field samna cannot take (and `validate`'s problems), and
    `MissingExtraError` without samna.
    """
    module_name, class_name = _device(device)
    samna = samna_module(samna)
    chip = load_chip(device)
    validate(config, chip, RunOptions(slow_clock_hz=0))
    try:
        cfg = getattr(getattr(samna, module_name).configuration, class_name)()
    except AttributeError:
        raise ConfigError(f"this samna has no {module_name}.configuration.{class_name}; update samna or pick another "
                          "device") from None
    problems: list[str] = []
    for k, layer in enumerate(config.cnn_layers):
        _write_layer(k, layer, cfg.cnn_layers[k], problems)
    _write_dvs(config.dvs_layer, cfg.dvs_layer)
    if hasattr(cfg, "readout"):
        for name in _READOUT_FIELDS:
            setattr(cfg.readout, name, _native(getattr(config.readout, name)))
    else:
        _refuse_readout(config, device, chip.readout_layer, problems)
    if problems:
        raise ConfigError(problems)
    check = getattr(getattr(samna, module_name), "validate_configuration", None)
    if check is not None:
        ok, message = check(cfg)
        if not ok:
            raise ConfigError(f"samna's validate_configuration rejects the configuration: {message}")
    return cfg


def _native(v):
    """A Python bool or int: samna's bindings take no numpy scalars."""
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    return int(v)


def _int(where, name, value, problems):
    """`value` as a Python int within the C type of samna's field `name`, or None with a problem."""
    lo, hi = _RANGES[name]
    if not isinstance(value, (int, np.integer)) or isinstance(value, (bool, np.bool_)) or not lo <= value <= hi:
        problems.append(f"{where}.{name} is {value!r}; samna stores a whole number in [{lo}, {hi}] there")
        return None
    return int(value)


def _write_layer(k, layer: CnnLayerConfig, out, problems):
    p = f"cnn_layers[{k}]"
    d = layer.dimensions
    for path in _DIM_FIELDS:
        _set_path(out.dimensions, path, int(_get_path(d, path)))
    c_out, c_in, ks = d.output_shape.feature_count, d.input_shape.feature_count, d.kernel_size
    h, w = d.output_shape.size.y, d.output_shape.size.x
    weights = _checked(p, "weights", layer.weights, (c_out, c_in, ks, ks), _INT8, problems)
    biases = _checked(p, "biases", layer.biases, (c_out,), _INT16, problems)
    state = (np.zeros((c_out, h, w), np.int16) if layer.neurons_initial_value is None else
             _checked(p, "neurons_initial_value", layer.neurons_initial_value, (c_out, h, w), _INT16, problems))
    if weights is not None:
        out.weights = weights.transpose(0, 1, 3, 2).tolist()
    if biases is not None:
        out.biases = biases.tolist()
    if state is not None:
        out.neurons_initial_value = state.transpose(0, 2, 1).tolist()
    if hasattr(out, "weights_kill_bit") and weights is not None and biases is not None:
        # the DYNAP-CNN devkit stores a kill bit (1 disables) beside each weight and bias: a
        # zero weight or bias is killed, as sinabs writes it, and nothing else
        out.weights_kill_bit = (weights == 0).transpose(0, 1, 3, 2).tolist()
        out.biases_kill_bit = (biases == 0).tolist()
        out.neurons_value_kill_bit = np.zeros((c_out, w, h), bool).tolist()
    for name in _LAYER_FLAGS:
        setattr(out, name, bool(getattr(layer, name)))
    for name in _LAYER_INTS:
        _set_int(out, p, name, getattr(layer, name), problems)
    for name, unused in _LAYER_OPTIONAL:
        value = getattr(layer, name)
        if not hasattr(out, name):
            if value != unused:
                problems.append(f"{p}.{name} is {value!r} but samna's {type(out).__name__} has no {name}; "
                                f"set it to {unused!r} for this device")
        elif name in _RANGES:
            _set_int(out, p, name, value, problems)
        else:
            setattr(out, name, bool(value))
    if len(layer.destinations) != len(out.destinations):
        problems.append(f"{p}.destinations has {len(layer.destinations)} entries; samna has "
                        f"{len(out.destinations)} slots (unused ones with enable=False)")
        return
    for i, dest in enumerate(layer.destinations):
        target = out.destinations[i]
        target.enable = bool(dest.enable)
        for name in ("layer", "pooling", "feature_shift"):
            _set_int(target, f"{p}.destinations[{i}]", name, getattr(dest, name), problems)


def _set_int(obj, where, name, value, problems):
    value = _int(where, name, value, problems)
    if value is not None:
        setattr(obj, name, value)


def _checked(p, name, value, shape, bounds, problems):
    """`value` as an integer array of `shape` within `bounds`, or None with a problem added."""
    a = np.asarray(value)
    if a.dtype.kind not in "iu":
        problems.append(f"{p}.{name} has dtype {a.dtype}; samna takes whole numbers: cast it to an integer array")
        return None
    if a.shape != shape:
        problems.append(f"{p}.{name} has shape {list(a.shape)} but the core's dimensions make it {list(shape)}; "
                        "samna sizes it from the dimensions (an unused core is CnnLayerConfig())")
        return None
    if a.size and (a.min() < bounds[0] or a.max() > bounds[1]):
        problems.append(f"{p}.{name} spans [{a.min()}, {a.max()}]; samna stores it in [{bounds[0]}, {bounds[1]}]")
        return None
    return a.astype(np.int64)


def _write_dvs(dvs: DvsLayerConfig, out):
    for name in _DVS_FLAGS:
        setattr(out, name, bool(getattr(dvs, name)))
    for name in _DVS_VECS:
        vec = getattr(out, name)
        vec.x, vec.y = int(getattr(dvs, name).x), int(getattr(dvs, name).y)
    out.mirror.x, out.mirror.y = bool(dvs.mirror.x), bool(dvs.mirror.y)
    for i, dest in enumerate(dvs.destinations):
        target = out.destinations[i]
        target.layer = int(dest.layer)
        target.enable = bool(dest.enable)
        # DVS destinations neither pool nor shift (SPEC F6); samna's may have the fields
        if hasattr(target, "pooling"):
            target.pooling = 1
        if hasattr(target, "feature_shift"):
            target.feature_shift = 0


def _refuse_readout(config, device, readout_layer, problems):
    if config.readout != ReadoutConfig():
        problems.append(f"readout: {device}'s samna configuration has no readout block; leave readout at "
                        "ReadoutConfig() (and send the last core's spikes to the host with monitor_enable)")
    for k, layer in enumerate(config.cnn_layers):
        for i, dest in enumerate(layer.destinations):
            if dest.enable and dest.layer == readout_layer:
                problems.append(f"cnn_layers[{k}].destinations[{i}].layer is {readout_layer} (the readout), which "
                                f"{device} lacks; disable this destination or send to a core")


def from_samna(cfg) -> ChipConfig:
    """The `ChipConfig` of samna's configuration object `cfg` (Speck2e/2f or DYNAP-CNN).

    Arrays come back in speksim's layouts and dtypes (int8 weights [out, in, ky, kx], int16 biases
    [out], int16 neurons_initial_value [feature, y, x], None when all zero); a DYNAP-CNN weight or
    bias whose kill bit is set reads 0; DVS mirror flags come back as 0/1. Fields the device lacks
    keep speksim's defaults. `config.model` says where the configuration came from and lists the
    samna fields that were set but that speksim does not simulate. Raises `ConfigError` naming
    each field that speksim cannot hold (an array that does not match its core's dimensions, a
    DVS destination that pools or shifts).
    """
    problems: list[str] = []
    layers = list(cfg.cnn_layers)
    if len(layers) != N_CORES:
        raise ConfigError(f"cnn_layers has {len(layers)} entries; speksim models {N_CORES} cores")
    config = ChipConfig(cnn_layers=[_read_layer(k, layer, problems) for k, layer in enumerate(layers)],
                        dvs_layer=_read_dvs(cfg.dvs_layer, problems),
                        readout=_read_readout(getattr(cfg, "readout", None)))
    if problems:
        raise ConfigError(problems)
    config.model = {"importer": "samna", "samna_class": type(cfg).__name__, "not_modelled": _unmodelled(cfg)}
    return config


def _read_layer(k, src, problems) -> CnnLayerConfig:
    p = f"cnn_layers[{k}]"
    dims = CnnLayerDimensions()
    for path in _DIM_FIELDS:
        _set_path(dims, path, int(_get_path(src.dimensions, path)))
    c_out, c_in, ks = dims.output_shape.feature_count, dims.input_shape.feature_count, dims.kernel_size
    h, w = dims.output_shape.size.y, dims.output_shape.size.x
    weights = _read_array(p, "weights", src.weights, (c_out, c_in, ks, ks), np.int8, problems)
    biases = _read_array(p, "biases", src.biases, (c_out,), np.int16, problems)
    state = _read_array(p, "neurons_initial_value", src.neurons_initial_value, (c_out, w, h), np.int16, problems)
    if hasattr(src, "weights_kill_bit"):
        killed_w = _read_array(p, "weights_kill_bit", src.weights_kill_bit, (c_out, c_in, ks, ks), bool, problems)
        killed_b = _read_array(p, "biases_kill_bit", src.biases_kill_bit, (c_out,), bool, problems)
        if weights is not None and killed_w is not None:
            weights[killed_w] = 0
        if biases is not None and killed_b is not None:
            biases[killed_b] = 0
    layer = CnnLayerConfig(dimensions=dims)
    if weights is not None:
        layer.weights = np.ascontiguousarray(weights.transpose(0, 1, 3, 2))
    if biases is not None:
        layer.biases = biases
    if state is not None and state.any():
        layer.neurons_initial_value = np.ascontiguousarray(state.transpose(0, 2, 1))
    for name in _LAYER_FLAGS:
        setattr(layer, name, bool(getattr(src, name)))
    for name in _LAYER_INTS:
        setattr(layer, name, int(getattr(src, name)))
    for name, unused in _LAYER_OPTIONAL:
        if hasattr(src, name):
            setattr(layer, name, type(unused)(getattr(src, name)))
    layer.destinations = [CnnLayerDestination(layer=int(d.layer), enable=bool(d.enable), pooling=int(d.pooling),
                                              feature_shift=int(d.feature_shift)) for d in src.destinations]
    return layer


def _read_array(p, name, value, shape, dtype, problems):
    """samna's nested list `value` as an array of `shape` (samna's axis order) and `dtype`."""
    try:
        a = np.array(value)
    except ValueError:
        a = None
    n = int(np.prod(shape))
    if a is None or a.dtype == object or (a.size and a.dtype.kind not in "biu"):
        problems.append(f"{p}.{name} is not a regular nested list of whole numbers; samna's arrays are")
        return None
    if a.size == 0 and n == 0:
        return np.zeros(shape, dtype)
    if a.shape != shape:
        problems.append(f"{p}.{name} has shape {list(a.shape)} but the core's dimensions make it {list(shape)} "
                        "in samna's axis order; rewrite the array or the dimensions")
        return None
    if dtype is not bool:
        info = np.iinfo(dtype)
        if a.min() < info.min or a.max() > info.max:
            problems.append(f"{p}.{name} spans [{a.min()}, {a.max()}], outside {np.dtype(dtype).name}")
            return None
    return a.astype(dtype)


def _read_dvs(src, problems) -> DvsLayerConfig:
    dvs = DvsLayerConfig()
    for name in _DVS_FLAGS:
        setattr(dvs, name, bool(getattr(src, name)))
    for name in _DVS_VECS:
        vec = getattr(src, name)
        setattr(dvs, name, Vec2(int(vec.x), int(vec.y)))
    dvs.mirror = Vec2(int(bool(src.mirror.x)), int(bool(src.mirror.y)))
    dests = []
    for i, d in enumerate(src.destinations):
        if d.enable and (int(getattr(d, "pooling", 1)) != 1 or int(getattr(d, "feature_shift", 0)) != 0):
            problems.append(f"dvs_layer.destinations[{i}] pools ({getattr(d, 'pooling', 1)}) or shifts "
                            f"({getattr(d, 'feature_shift', 0)}) its events; speksim's DVS destinations do "
                            "neither: use dvs_layer.pooling instead, and feature_shift 0")
        dests.append(DvsDestination(layer=int(d.layer), enable=bool(d.enable)))
    dvs.destinations = dests
    return dvs


def _read_readout(src) -> ReadoutConfig:
    readout = ReadoutConfig()
    if src is None:
        return readout
    for name in _READOUT_FIELDS:
        default = getattr(readout, name)
        setattr(readout, name, type(default)(getattr(src, name)))
    return readout


def _unmodelled(cfg) -> list[str]:
    """'section.field = value' for each samna field set away from the value speksim simulates."""
    out = []
    for section, names in _UNMODELLED.items():
        obj = getattr(cfg, section, None)
        if obj is None:
            continue
        items = list(enumerate(obj)) if section == "cnn_layers" else [(None, obj)]
        for k, item in items:
            where = section if k is None else f"{section}[{k}]"
            for name, neutral in names:
                value = getattr(item, name, neutral)
                if value != neutral:
                    out.append(f"{where}.{name} = {value!r}")
    for k, layer in enumerate(cfg.cnn_layers):
        # a killed neuron (DYNAP-CNN) never changes; speksim has no such neuron
        killed = int(np.count_nonzero(np.array(getattr(layer, "neurons_value_kill_bit", []), bool)))
        if killed:
            out.append(f"cnn_layers[{k}].neurons_value_kill_bit: {killed} neuron(s) killed")
    return out


def _get_path(obj, path):
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def _set_path(obj, path, value):
    *head, last = path.split(".")
    for part in head:
        obj = getattr(obj, part)
    setattr(obj, last, value)
