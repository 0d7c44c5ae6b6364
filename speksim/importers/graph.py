"""A trained network as the chip sees it, before discretisation and placement.

Every importer (PyTorch/sinabs, NIR) produces a `Network`: a list of `SpikingLayer`s, each one
convolution followed by integrate-and-fire neurons (what one core computes), with float
parameters and the routes between them. `speksim.importers.discretize` turns the floats into
the chip's integers, `speksim.importers.placement` picks a core for each layer, and
`speksim.importers.build` writes the `ChipConfig`.

Shapes are (channels, height, width); pairs are (y, x).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Union

import numpy as np

from ..chip import kernel_memory_words, neuron_memory_words
from ..config.model import conv_out

#: Route targets that are not layers.
READOUT = "readout"

#: The largest input the chip's DVS layer takes (1 or 2 channels of at most this side): an
#: importer puts the DVS layer in front of a model whose input fits, unless told otherwise.
DVS_MAX_SIZE = 128


def fits_dvs(shape) -> bool:
    """Whether an input of shape (c, h, w) can come through the chip's DVS layer."""
    c, h, w = shape
    return c in (1, 2) and h <= DVS_MAX_SIZE and w <= DVS_MAX_SIZE


@dataclass
class Route:
    """Where a layer's spikes (or the input's events) go: `target` is the index of a layer in
    `Network.layers` or `READOUT`; `pooling` is the sum-pooling on the way (1, 2 or 4) and
    `feature_shift` is added to the channel index at the target (concatenation)."""

    target: Union[int, str]
    pooling: int = 1
    feature_shift: int = 0


@dataclass
class SpikingLayer:
    """One convolution and the integrate-and-fire layer after it.

    weight: float [c_out, c_in, k, k] (a Linear layer is a convolution whose kernel covers its
    whole input map); bias: float [c_out] or None; input_shape: (c_in, h, w) as the convolution
    sees it (after the pooling of the routes that feed it); threshold: the firing threshold;
    min_v_mem: the lower bound of the membrane (None: sinabs' default, no bound above int16);
    reset: "subtract" (subtract the threshold) or "zero".
    `name` is the module (or NIR node) of the convolution, `spiking_name` that of the neurons,
    both as the user wrote them, for messages.
    """

    name: str
    weight: np.ndarray
    bias: Optional[np.ndarray]
    input_shape: tuple
    stride: tuple = (1, 1)
    padding: tuple = (0, 0)
    threshold: float = 1.0
    min_v_mem: Optional[float] = None
    reset: str = "subtract"
    spiking_name: str = ""
    routes: list = field(default_factory=list)
    #: True when the layer's output is an output of the model (monitored on the chip)
    is_output: bool = False

    @property
    def label(self) -> str:
        """The layer's name in messages: 'conv+neurons' modules, or the convolution's alone."""
        return f"{self.name}+{self.spiking_name}" if self.spiking_name else self.name

    @property
    def kernel_size(self) -> int:
        return int(self.weight.shape[-1])

    @property
    def output_shape(self) -> tuple:
        """(c_out, h_out, w_out): the convolution's output, before any pooling on a route."""
        _, h, w = self.input_shape
        k = self.kernel_size
        return (int(self.weight.shape[0]), conv_out(h, k, self.stride[0], self.padding[0]),
                conv_out(w, k, self.stride[1], self.padding[1]))

    def memory_needs(self) -> dict:
        """Kernel, neuron and bias words this layer needs on a core (SPEC §1); a layer with a
        bias tensor needs its bias words even when they are all zero, as sinabs counts them."""
        c_out, h, w = self.output_shape
        return {"kernel": kernel_memory_words(int(self.weight.shape[1]), c_out, self.kernel_size),
                "neuron": neuron_memory_words(c_out, h, w),
                "bias": c_out if self.bias is not None else 0}


@dataclass
class DvsInput:
    """The chip's DVS layer in front of the network (SPEC F6), in sinabs' order: polarity merge,
    pooling, crop, flip. `crop` is ((y0, y1), (x0, x1)) in pooled pixels, end exclusive, or None
    for the whole pooled map."""

    input_shape: tuple = (2, 128, 128)
    merge_polarity: bool = False
    pooling: tuple = (1, 1)
    crop: Optional[tuple] = None
    flip_x: bool = False
    flip_y: bool = False
    swap_xy: bool = False


@dataclass
class Network:
    """A whole network: its input (a DVS layer or spikes written by the host), the routes from the
    input to the first layers, and the layers in an order where every route goes forward except
    deliberate recurrences."""

    input_shape: tuple
    layers: list
    input_routes: list
    dvs: Optional[DvsInput] = None
    #: where the model came from and what the importer decided, for the run's metadata
    notes: dict = field(default_factory=dict)
