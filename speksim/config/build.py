"""Builders: working cores and whole configurations from a few arguments, with sensible
defaults (the configuration file reader has none; see `speksim.config.jsonio`).

    layer = conv_layer(weights, (64, 64), stride=2, threshold_high=10, destinations=[(1, 2)])
    config = chain_config([layer0, layer1, layer2])
"""

from __future__ import annotations

import copy
from typing import Optional

import numpy as np

from ..errors import ConfigError
from .model import (ChipConfig, CnnLayerConfig, CnnLayerDestination, CnnLayerDimensions, DvsDestination, Shape,
                    Vec2, _two_destinations, conv_out)


def conv_layer(weights, input_size, *, stride=1, padding=0, threshold_high=1, threshold_low=-32768,
               return_to_zero=False, biases=None, leak_enable=False, monitor_enable=False, destinations=(),
               output_decimator_enable=False, output_decimator_interval=0,
               input_congestion_balancer_enable=False, neurons_initial_value=None) -> CnnLayerConfig:
    """A core computing a convolution of an input map `input_size` = (height, width) in pixels.

    weights: int8 [out, in, k, k] (PyTorch layout; square kernel). stride, padding: an int or a
    (y, x) pair, in pixels. threshold_high / threshold_low: int16 membrane thresholds (SPEC F3).
    biases: int16 [out], added at each slow-clock tick when `leak_enable` (F4); default zeros.
    destinations: up to two `CnnLayerDestination`, or tuples (layer[, pooling[, feature_shift]])
    that are enabled: `layer` a core 0..8 or 12 (readout), `pooling` 1, 2 or 4 (sum-pooling by
    address remap, F5), `feature_shift` added to the channel index at the target.
    neurons_initial_value: int16 [out, h_out, w_out], or None for zeros (F8).
    The output size is computed (PyTorch's floor formula); `validate` checks the rest.
    """
    w = np.asarray(weights)
    if w.ndim != 4:
        raise ValueError(f"weights must be 4-D [out, in, ky, kx], got shape {w.shape}")
    sy, sx = _pair(stride)
    py, px = _pair(padding)
    h, wd = _pair(input_size)
    k = int(w.shape[-1])
    dims = CnnLayerDimensions(
        input_shape=Shape(Vec2(wd, h), int(w.shape[1])),
        output_shape=Shape(Vec2(conv_out(wd, k, sx, px), conv_out(h, k, sy, py)), int(w.shape[0])),
        padding=Vec2(px, py), stride=Vec2(sx, sy), kernel_size=k)
    dests = _two_destinations()
    for i, d in enumerate(destinations):
        if i >= 2:
            raise ValueError("a core has at most two destinations")
        if not isinstance(d, CnnLayerDestination):
            parts = tuple(d) if isinstance(d, (tuple, list)) else (d,)
            if not 1 <= len(parts) <= 3:
                raise ValueError(f"a destination is (layer[, pooling[, feature_shift]]), got {d!r}")
            layer, pooling, shift = parts + (1, 0)[len(parts) - 1:]
            d = CnnLayerDestination(layer=int(layer), enable=True, pooling=int(pooling), feature_shift=int(shift))
        dests[i] = d
    return CnnLayerConfig(dimensions=dims, weights=w,
                          biases=np.zeros(w.shape[0], np.int16) if biases is None else np.asarray(biases),
                          leak_enable=leak_enable, threshold_high=threshold_high, threshold_low=threshold_low,
                          return_to_zero=return_to_zero, neurons_initial_value=neurons_initial_value,
                          monitor_enable=monitor_enable, destinations=dests,
                          output_decimator_enable=output_decimator_enable,
                          output_decimator_interval=output_decimator_interval,
                          input_congestion_balancer_enable=input_congestion_balancer_enable)


def chain_config(layers: list, cores: Optional[list] = None, monitor="last") -> ChipConfig:
    """Place `layers` (CnnLayerConfig) on `cores` (default 0, 1, 2, ...) and wire destination 0 of
    each to the next core (pooling 1, feature shift 0). `monitor`: "last", "all", None, or a list
    of core numbers to monitor. The layers are copied; destination 1 and the last layer's
    destination 0 are kept as given."""
    cores = list(range(len(layers))) if cores is None else [int(c) for c in cores]
    if len(cores) != len(layers):
        raise ConfigError(f"chain_config: {len(layers)} layers but {len(cores)} cores")
    if len(set(cores)) != len(cores) or any(c < 0 for c in cores):
        raise ConfigError(f"chain_config: cores {cores} must be distinct numbers >= 0")
    if monitor == "last":
        watched = set(cores[-1:])
    elif monitor == "all":
        watched = set(cores)
    elif monitor is None:
        watched = set()
    else:
        watched = {int(c) for c in monitor}
        if not watched <= set(cores):
            raise ConfigError(f"chain_config: monitor lists cores {sorted(watched - set(cores))} that hold no layer")
    config = ChipConfig()
    if cores and max(cores) >= len(config.cnn_layers):
        config.cnn_layers += [CnnLayerConfig() for _ in range(max(cores) + 1 - len(config.cnn_layers))]
    for i, (layer, core) in enumerate(zip(layers, cores)):
        layer = copy.deepcopy(layer)
        layer.destinations = list(layer.destinations)
        if i + 1 < len(cores):
            layer.destinations[0] = CnnLayerDestination(layer=cores[i + 1], enable=True, pooling=1, feature_shift=0)
        layer.monitor_enable = core in watched
        config.cnn_layers[core] = layer
    return config


def demo_config():
    """The bundled example network (three cores, all monitored):

    DVS (ON and OFF) → core 0: 2→8 channels, 3x3 stride 2 on 128x128 → 64x64, oriented-edge kernels;
    → core 1: 8→16 channels, 3x3 stride 2 → 32x32; → (sum-pooled 4x4) core 2: 16→4 channels,
    3x3 padding 1 on 8x8. Weights are small integers (core 1 and 2 seeded random), thresholds
    6, 12, 24, so each layer spikes on the bundled recordings.
    """
    lines = np.zeros((4, 3, 3), np.int8)
    lines[0, :, 1] = 1                       # vertical
    lines[1, 1, :] = 1                       # horizontal
    lines[2] = np.eye(3, dtype=np.int8)      # diagonal
    lines[3] = np.fliplr(np.eye(3, dtype=np.int8))
    w0 = np.zeros((8, 2, 3, 3), np.int8)
    for o in range(4):
        for pol in range(2):                  # feature 2·o + pol prefers polarity pol, orientation o
            w0[2 * o + pol, pol] = 2 * lines[o]
            w0[2 * o + pol, 1 - pol] = -lines[o]
    rng = np.random.default_rng(0)
    w1 = rng.integers(-1, 3, (16, 8, 3, 3)).astype(np.int8)
    w2 = rng.integers(-1, 3, (4, 16, 3, 3)).astype(np.int8)
    cfg = ChipConfig()
    cfg.dvs_layer.destinations[0] = DvsDestination(layer=0, enable=True)
    cfg.cnn_layers[0] = conv_layer(w0, (128, 128), stride=2, padding=1, threshold_high=6, threshold_low=-8,
                                            destinations=[(1, 1, 0)], monitor_enable=True)
    cfg.cnn_layers[1] = conv_layer(w1, (64, 64), stride=2, padding=1, threshold_high=12,
                                            threshold_low=-16, destinations=[(2, 4, 0)], monitor_enable=True)
    cfg.cnn_layers[2] = conv_layer(w2, (8, 8), padding=1, threshold_high=24, threshold_low=-16,
                                            monitor_enable=True)
    return cfg


def _pair(v):
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"expected an int or a pair, got {v!r}")
        return int(v[0]), int(v[1])
    return int(v), int(v)
