"""The chip configuration, shaped like samna's `SpeckConfiguration` so a devkit adapter maps it
field to field.

Differences from samna, on purpose: weights are int8 in PyTorch layout `[out, in, ky, kx]` (samna:
`[out][in][kx][ky]`), and `neurons_initial_value` is `[feature, y, x]` (samna: `[feature][x][y]`).
A core is *in use* when its input feature count is non-zero. The defaults of these dataclasses
describe an unused block; `speksim.config.build` makes working cores and `speksim.config.rules`
checks a whole configuration against a chip.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ..blocks import N_CORES


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
    """A core's geometry: input and output maps (the output before destination pooling), padding
    and stride per axis in pixels, and the side of its square kernel."""

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
        """A core is in use when its input has at least one feature channel."""
        return self.dimensions.input_shape.feature_count > 0

    @classmethod
    def conv(cls, weights, input_size, **options) -> "CnnLayerConfig":
        """A core computing a convolution of an input map `input_size` = (height, width); see
        `speksim.config.build.conv_layer` for the options."""
        from .build import conv_layer
        return conv_layer(weights, input_size, **options)


@dataclass
class DvsDestination:
    """Where the DVS layer's events go: core `layer` (0..8), when `enable`d."""

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
    #: What the configuration was made from, when an importer made it (`speksim.from_torch`,
    #: `speksim.from_nir`): the layers, their cores and discretisation scales, and the decisions
    #: taken. JSON-ready; None for a configuration written by hand. It changes nothing on the chip.
    model: Optional[dict] = None

    def used_cores(self) -> list[int]:
        """The ids of the cores in use, ascending."""
        return [k for k, layer in enumerate(self.cnn_layers) if layer.in_use]


def conv_out(n: int, k: int, s: int, p: int) -> int:
    """Convolution output length (PyTorch floor formula, SPEC §1)."""
    return (n + 2 * p - k) // s + 1
