"""The chip configuration, shaped like samna's `SpeckConfiguration` so a devkit adapter maps it
field to field, plus the options of one run.

Differences from samna, on purpose: weights are int8 in PyTorch layout `[out, in, ky, kx]` (samna:
`[out][in][kx][ky]`), and `neurons_initial_value` is `[feature, y, x]` (samna: `[feature][x][y]`).
A core is *in use* when its input feature count is non-zero; unused cores keep the defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

N_CORES = 9


@dataclass
class Vec2:
    """An (x, y) pair, as samna's Vec2."""

    x: int = 0
    y: int = 0


@dataclass
class Shape:
    """A map shape: `size.x` (width), `size.y` (height) and `feature_count` (channels)."""

    size: Vec2 = field(default_factory=Vec2)
    feature_count: int = 0


@dataclass
class CnnLayerDimensions:
    input_shape: Shape = field(default_factory=Shape)
    output_shape: Shape = field(default_factory=Shape)
    padding: Vec2 = field(default_factory=Vec2)
    stride: Vec2 = field(default_factory=lambda: Vec2(1, 1))
    kernel_size: int = 0


@dataclass
class CnnLayerDestination:
    """Where a core's spikes go: core `layer` (0..8) or the readout (12); sum-pooling and channel shift."""

    layer: int = 0
    enable: bool = False
    pooling: int = 1
    feature_shift: int = 0


def _two_destinations():
    return [CnnLayerDestination(), CnnLayerDestination()]


@dataclass
class CnnLayerConfig:
    """One core. Arrays: weights int8 [out, in, ky, kx]; biases int16 [out]; neurons_initial_value
    int16 [out, h_out, w_out] or None for all zeros."""

    dimensions: CnnLayerDimensions = field(default_factory=CnnLayerDimensions)
    weights: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0, 0), np.int8))
    biases: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int16))
    leak_enable: bool = False
    threshold_high: int = 1
    threshold_low: int = -32768
    return_to_zero: bool = False
    neurons_initial_value: Optional[np.ndarray] = None
    monitor_enable: bool = False
    destinations: list = field(default_factory=_two_destinations)
    output_decimator_enable: bool = False
    output_decimator_interval: int = 0
    input_congestion_balancer_enable: bool = False

    @property
    def in_use(self) -> bool:
        return self.dimensions.input_shape.feature_count > 0

    @classmethod
    def conv(cls, weights, input_size, *, stride=1, padding=0, threshold_high=1, threshold_low=-32768,
             return_to_zero=False, biases=None, leak_enable=False, monitor_enable=False, destinations=(),
             output_decimator_enable=False, output_decimator_interval=0,
             input_congestion_balancer_enable=False, neurons_initial_value=None) -> "CnnLayerConfig":
        """A core computing a convolution of an input map `input_size` = (height, width).

        `weights` is [out, in, k, k]; stride and padding are an int or (y, x); `destinations` is a
        sequence of `CnnLayerDestination` or (layer, pooling, feature_shift) tuples, enabled.
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
                layer, pooling, shift = (tuple(d) + (1, 0))[:3] if isinstance(d, (tuple, list)) else (d, 1, 0)
                d = CnnLayerDestination(layer=int(layer), enable=True, pooling=int(pooling), feature_shift=int(shift))
            dests[i] = d
        return cls(dimensions=dims, weights=w,
                   biases=np.zeros(w.shape[0], np.int16) if biases is None else np.asarray(biases),
                   leak_enable=leak_enable, threshold_high=threshold_high, threshold_low=threshold_low,
                   return_to_zero=return_to_zero, neurons_initial_value=neurons_initial_value,
                   monitor_enable=monitor_enable, destinations=dests,
                   output_decimator_enable=output_decimator_enable,
                   output_decimator_interval=output_decimator_interval,
                   input_congestion_balancer_enable=input_congestion_balancer_enable)


@dataclass
class DvsDestination:
    layer: int = 0
    enable: bool = False


@dataclass
class DvsLayerConfig:
    """The DVS pre-processing layer (SPEC F6). cut is inclusive; mirror.x / mirror.y are flags."""

    merge: bool = False
    on_channel: bool = True
    off_channel: bool = True
    pooling: Vec2 = field(default_factory=lambda: Vec2(1, 1))
    origin: Vec2 = field(default_factory=Vec2)
    cut: Vec2 = field(default_factory=lambda: Vec2(127, 127))
    mirror: Vec2 = field(default_factory=Vec2)
    mirror_diagonal: bool = False
    destinations: list = field(default_factory=lambda: [DvsDestination(), DvsDestination()])
    monitor_enable: bool = False
    pass_sensor_events: bool = True


@dataclass
class ReadoutConfig:
    """The readout block (SPEC F7), fed by destinations with layer 12."""

    enable: bool = False
    readout_configuration_sel: int = 0
    output_mode_sel: int = 0
    threshold: int = 0
    low_pass_filter_disable: bool = False
    low_pass_filter32_not16: bool = False
    monitor_enable: bool = False
    readout_pin_monitor_enable: bool = False


@dataclass
class ChipConfig:
    """A whole chip: nine cores, the DVS layer and the readout."""

    cnn_layers: list = field(default_factory=lambda: [CnnLayerConfig() for _ in range(N_CORES)])
    dvs_layer: DvsLayerConfig = field(default_factory=DvsLayerConfig)
    readout: ReadoutConfig = field(default_factory=ReadoutConfig)

    def used_cores(self) -> list[int]:
        return [k for k, layer in enumerate(self.cnn_layers) if layer.in_use]


@dataclass(frozen=True)
class RunOptions:
    """Options of one run (not part of the chip configuration).

    input_path: "host" (events written by the host, SPEC T1) or "sensor" (the on-chip DVS).
    slow_clock_hz: slow-clock rate for leak and readout (F4, F7); 0 turns the slow clock off.
    bin_ns: width of the utilisation / FIFO-occupancy time-series bins.
    end_ns: simulate slow-clock ticks up to this time even after the input ends (None: stop
    when the chip is idle after the last input).
    """

    input_path: str = "host"
    slow_clock_hz: float = 1000.0
    bin_ns: int = 1_000_000
    end_ns: Optional[int] = None


def conv_out(n: int, k: int, s: int, p: int) -> int:
    """Convolution output length (PyTorch floor formula, SPEC §1)."""
    return (n + 2 * p - k) // s + 1


def _pair(v):
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"expected an int or a pair, got {v!r}")
        return int(v[0]), int(v[1])
    return int(v), int(v)
