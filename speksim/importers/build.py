"""A `Network` on the chip: discretise each layer, place the layers on cores, write the
`ChipConfig`. `from_torch` and `from_nir` are the two doors in.

    config = speksim.from_torch(model, (2, 128, 128), chip="speck2f")
    result = speksim.simulate(config, events, "speck2f")

The configuration's `model` field records where it came from: each layer's module names, core,
discretisation scale and shapes, and every decision the importer took.
"""

from __future__ import annotations

import copy
import warnings
from typing import Optional, Union

import numpy as np

from .._text import plain
from ..chip import Chip, load_chip
from ..config.model import ChipConfig, DvsDestination, DvsLayerConfig, Vec2
from ..config.build import conv_layer
from ..errors import ModelError
from .graph import READOUT, Network

#: The destination layer number of the readout block (SPEC F7).
READOUT_LAYER = 12


class ModelWarning(UserWarning):
    """The model runs, but differently from what it says: precision lost in discretisation, a
    neuron that fires on every input, a choice the importer made for the user."""


def from_torch(model, input_shape, chip: Union[Chip, str] = "speck2f", *, dvs_input: Optional[bool] = None,
               discretize: bool = True, placement: Union[str, dict] = "auto", readout: bool = False,
               load=None) -> ChipConfig:
    """The chip configuration of a PyTorch / sinabs model (see `speksim.importers.fromtorch`).

    input_shape: (channels, height, width) of the model's input. dvs_input: put the DVS layer in
    front (None: when the input has 1 or 2 channels and fits the sensor). discretize: scale
    weights, biases and thresholds to the chip's integers as sinabs does; False requires them to
    be integers already. placement: "auto" (sinabs' assignment by memory), "balanced" (also
    spreads the SynOp load given by `load`, SynOps/s per layer), or {layer: core} with layers
    named by module or by position. readout: route the output layer to the readout block.
    """
    from .fromtorch import network_from_torch
    network = network_from_torch(model, input_shape, dvs_input=dvs_input)
    return network_to_config(network, chip, discretize=discretize, placement=placement, readout=readout,
                             load=load, importer="torch")


def from_nir(graph_or_path, chip: Union[Chip, str] = "speck2f", *, reset: Optional[str] = None,
             min_v_mem: Optional[float] = None, input_shape=None, dvs_input: Optional[bool] = None,
             discretize: bool = True, placement: Union[str, dict] = "auto", readout: bool = False,
             load=None) -> ChipConfig:
    """The chip configuration of a NIR graph or .nir file (see `speksim.importers.fromnir`).

    reset ("subtract" or "zero") and min_v_mem say what the graph's IF nodes mean, because NIR's
    IF changed meaning between versions; the other arguments are those of `from_torch`.
    """
    from .fromnir import network_from_nir
    network = network_from_nir(graph_or_path, reset=reset, min_v_mem=min_v_mem, input_shape=input_shape,
                               dvs_input=dvs_input)
    return network_to_config(network, chip, discretize=discretize, placement=placement, readout=readout,
                             load=load, importer="nir")


def network_to_config(network: Network, chip: Union[Chip, str] = "speck2f", *, discretize: bool = True,
                      placement: Union[str, dict] = "auto", readout: bool = False, load=None,
                      importer: str = "network") -> ChipConfig:
    """The `ChipConfig` of `network` on `chip` (see `from_torch` for the arguments)."""
    chip = chip if isinstance(chip, Chip) else load_chip(chip)
    layers = network.layers
    if not layers:
        raise ModelError("the model has no layer the chip can compute (a convolution or Linear with an IAF after it)")
    names = [layer.label for layer in layers]
    notes = []
    if readout:
        network = copy.deepcopy(network)   # the output layer may grow for the readout: not the caller's
        layers = network.layers
    readout_note = _prepare_readout(network, chip, names) if readout else None
    ints = [_integers(layer, discretize, notes) for layer in layers]
    cores = _place(network, chip, placement, load)
    config = ChipConfig()
    for i, layer in enumerate(layers):
        d = ints[i]
        dests = []
        for r in layer.routes:
            dests.append((READOUT_LAYER if r.target == READOUT else cores[r.target], r.pooling, r.feature_shift))
        if readout and layer.is_output:
            if len(dests) >= 2:
                raise ModelError(f"layer '{names[i]}' already sends to two layers; it has no destination left for "
                                 "the readout")
            dests.append((READOUT_LAYER, 1, 0))
        has_bias = d.bias is not None and bool(np.any(d.bias != 0))
        config.cnn_layers[cores[i]] = conv_layer(
            d.weight, layer.input_shape[1:], stride=layer.stride, padding=layer.padding,
            threshold_high=d.threshold_high, threshold_low=d.threshold_low, return_to_zero=layer.reset == "zero",
            biases=d.bias if has_bias else None, leak_enable=has_bias, monitor_enable=layer.is_output,
            destinations=dests)
    if readout:
        # one class per output channel, 1x1 map: 16 features in one place (SPEC F7, mode 3)
        config.readout.enable = True
        config.readout.monitor_enable = True
        config.readout.readout_configuration_sel = 3
    input_core = None
    if network.dvs is None and any(r.pooling != 1 or r.feature_shift for r in network.input_routes):
        raise ModelError("the model pools (or shifts the channels of) its input before the first layer; spikes the "
                         "host writes reach a core as they are: pool them before writing them, or put the DVS layer "
                         "in front (dvs_input=True, for an input of 1 or 2 channels of at most 128x128)")
    if network.dvs is not None:
        config.dvs_layer = _dvs_config(network, cores)
    else:
        input_core = cores[network.input_routes[0].target] if network.input_routes else None
    for text in notes:
        warnings.warn(text, ModelWarning, stacklevel=3)
    config.model = {
        "importer": importer,
        "input": {"shape": list(network.input_shape), "dvs": network.dvs is not None, "core": input_core},
        "layers": [{"name": layer.name, "spiking": layer.spiking_name, "core": int(cores[i]),
                    "input_shape": list(layer.input_shape), "output_shape": list(layer.output_shape),
                    "scale": float(ints[i].scale), "threshold_high": int(ints[i].threshold_high),
                    "threshold_low": int(ints[i].threshold_low), "reset": layer.reset,
                    "output": bool(layer.is_output)} for i, layer in enumerate(layers)],
        "discretized": bool(discretize),
        "placement": placement if isinstance(placement, str) else "given",
        "notes": plain(network.notes),
        "readout": readout_note,
        "warnings": list(notes),
    }
    return config


#: The readout's classes (SPEC F7): class i (1..15) reads feature i - 1 of a 1x1 map.
READOUT_CLASSES = 15


def _prepare_readout(network: Network, chip: Chip, names: list) -> dict:
    """Check that the output layer can feed the readout, and on a chip with the Speck2e/2f
    erratum (readout class i reads feature 4*(i - 1)) spread its channels to every fourth
    feature, as SynSense's own remedy does: the layer grows to 4*(n - 1) + 1 channels whose extra
    ones have zero weights and never fire. Returns what the readout's classes mean."""
    outputs = [i for i, layer in enumerate(network.layers) if layer.is_output]
    if len(outputs) != 1:
        raise ModelError(f"readout=True needs one output layer; the model has {len(outputs)}")
    i = outputs[0]
    layer = network.layers[i]
    c, h, w = layer.output_shape
    if (h, w) != (1, 1):
        raise ModelError(f"layer '{names[i]}' ends the model with a {c}x{h}x{w} map; the readout reads one class per "
                         "channel of a 1x1 map: end the model with a Linear layer (or a convolution covering its "
                         "input)")
    if c > READOUT_CLASSES:
        raise ModelError(f"layer '{names[i]}' has {c} output channels; the readout has {READOUT_CLASSES} classes: "
                         f"use at most {READOUT_CLASSES}, or read the output layer's monitored spikes instead")
    step = 4 if chip.readout_errata else 1
    if step > 1:
        weight = np.zeros((step * (c - 1) + 1,) + layer.weight.shape[1:], layer.weight.dtype)
        weight[::step] = layer.weight
        layer.weight = weight
        if layer.bias is not None:
            bias = np.zeros(weight.shape[0], layer.bias.dtype)
            bias[::step] = layer.bias
            layer.bias = bias
    return {"layer": names[i], "classes": c, "feature_of_class": [step * k for k in range(c)],
            "erratum": bool(chip.readout_errata),
            "meaning": "readout class k + 1 is the model's output channel k; class 0 is idle"}


class _AsIs:
    """A layer whose parameters are already the chip's integers (discretize=False)."""

    def __init__(self, weight, bias, threshold_high, threshold_low):
        self.weight, self.bias = weight, bias
        self.threshold_high, self.threshold_low = threshold_high, threshold_low
        self.scale = 1.0
        self.warnings = ()


def _integers(layer, discretize: bool, notes: list):
    name = layer.label
    if discretize:
        from .discretize import discretize_layer
        d = discretize_layer(layer.weight, layer.bias, layer.threshold, layer.min_v_mem, name=name)
        notes.extend(d.warnings)
        return d
    bad = []
    w = _exact_ints(layer.weight, -128, 127, "weights", "int8", bad)
    b = None if layer.bias is None else _exact_ints(layer.bias, -32768, 32767, "biases", "int16", bad)
    hi = _exact_ints(np.array([layer.threshold]), -32768, 32767, "the threshold", "int16", bad)
    lo = -32768 if layer.min_v_mem is None else _exact_ints(np.array([layer.min_v_mem]), -32768, 32767,
                                                            "min_v_mem", "int16", bad)
    if bad:
        raise ModelError(f"layer '{name}': {'; '.join(bad)}; with discretize=False the model must already hold the "
                         "chip's integers: pass discretize=True to scale and round them as sinabs does")
    return _AsIs(w.astype(np.int8), None if b is None else b.astype(np.int16), int(hi[0]),
                 int(lo if isinstance(lo, int) else lo[0]))


def _exact_ints(a, lo, hi, what, dtype, bad):
    a = np.asarray(a, float)
    if not np.all(a == np.round(a)) or a.min(initial=0) < lo or a.max(initial=0) > hi:
        bad.append(f"{what} are not all whole numbers in {dtype} ({lo}..{hi})")
        return np.zeros(a.shape, np.int64)
    return a.astype(np.int64)


def _place(network: Network, chip: Chip, placement, load) -> list:
    from .placement import layer_needs, place
    layers = network.layers
    needs = [layer_needs(layer) for layer in layers]
    names = [layer.name for layer in layers]
    if isinstance(placement, dict):
        fixed = {}
        for key, core in placement.items():
            if isinstance(key, str):
                if key not in names:
                    raise ModelError(f"placement names layer {key!r}, which is not in the model; its layers are "
                                     f"{', '.join(names)}")
                key = names.index(key)
            if not isinstance(key, (int, np.integer)) or not 0 <= key < len(layers):
                raise ModelError(f"placement names layer {key!r}; give a module name or a position "
                                 f"0..{len(layers) - 1}")
            fixed[int(key)] = int(core)
        return list(place(needs, chip, names=names, fixed=fixed))
    if placement not in ("auto", "balanced"):
        raise ModelError(f"placement is {placement!r}; use 'auto', 'balanced' or a dict {{layer: core}}")
    return list(place(needs, chip, names=names, load=load, mode=placement))


def _dvs_config(network: Network, cores: list) -> DvsLayerConfig:
    dvs = network.dvs
    py, px = dvs.pooling
    _, h, w = network.input_shape
    if dvs.crop is None:
        (y0, y1), (x0, x1) = (0, h // py), (0, w // px)
    else:
        (y0, y1), (x0, x1) = dvs.crop
    dests = [DvsDestination(layer=cores[r.target], enable=True) for r in network.input_routes]
    dests += [DvsDestination() for _ in range(2 - len(dests))]
    return DvsLayerConfig(merge=dvs.merge_polarity, pooling=Vec2(px, py), origin=Vec2(x0, y0),
                          cut=Vec2(x1 - 1, y1 - 1), mirror=Vec2(int(dvs.flip_x), int(dvs.flip_y)),
                          mirror_diagonal=dvs.swap_xy, destinations=dests, pass_sensor_events=True)
