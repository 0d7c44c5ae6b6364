"""PyTorch / sinabs models to a `Network` (see `speksim.importers.graph`).

The model's graph is found by tracing it with torch.fx, not by reading its module order, so a
`forward` that splits, merges (`+`, `torch.add`, `sinabs.layers.Merge`), skips or concatenates
channels (`torch.cat` over dim 1, made with a destination's `feature_shift`) is read as written.
Modules from torch and sinabs are kept whole; the user's own modules are traced through.

What each module means, as in sinabs:
- Conv2d (square kernel, no dilation, no groups) and Linear (a convolution whose kernel covers
  the whole input map, after a Flatten) start a layer; BatchNorm2d/1d right after one is folded
  into it.
- sinabs IAF / IAFSqueeze end the layer: spike_threshold, min_v_mem, MembraneSubtract (the chip
  always subtracts threshold_high) or MembraneReset.
- SumPool2d and AvgPool2d after a spiking layer pool its spikes on the way to the next layer (a
  destination's pooling); AvgPool also multiplies the next layer's weights by 1/area.
- Flatten, Dropout and Identity change nothing on the chip.
- Before the first layer, pooling, Crop2d and FlipDims (and sinabs' DVSLayer) make the chip's DVS
  layer: polarity merge, pooling, crop, flip, in that order.
Anything else raises `ModelError` naming the module, why, and what to do instead.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ..errors import MissingExtraError, ModelError
from .graph import DVS_MAX_SIZE, DvsInput, Network, Route, SpikingLayer, fits_dvs


def _torch():
    try:
        import torch
    except ImportError:
        raise MissingExtraError("importing a PyTorch model needs torch: pip install 'speksim[torch]'") from None
    return torch


def _sinabs_layers():
    try:
        import sinabs.layers as sl
        import sinabs.activation as sa
    except ImportError:
        return None, None
    return sl, sa


@dataclass
class _Stream:
    """Spikes on their way: the (summed) outputs of some sources, each with its pooling and
    channel shift so far. `shape` is (c, h, w) as the next layer sees it; `scale` the product of
    the AvgPool factors since the spiking layers (it multiplies the next weights); `flat` marks a
    flattened map (a Linear may follow); `names` the modules that made the stream, for messages."""

    sources: list  # [(source, pooling, feature_shift)], source = "input" or a layer index
    shape: tuple
    scale: float = 1.0
    flat: bool = False
    names: tuple = ()


@dataclass
class _PreSpike:
    """A convolution's output before its spiking layer."""

    name: str
    weight: np.ndarray
    bias: Optional[np.ndarray]
    stride: tuple
    padding: tuple
    stream: _Stream
    folded: list = field(default_factory=list)


@dataclass
class _Builder:
    input_shape: tuple
    layers: list = field(default_factory=list)
    input_routes: list = field(default_factory=list)
    dvs_ops: list = field(default_factory=list)  # ("pool", (py, px), scale) | ("crop", ...) | ("flip", ...)
    input_consumed: bool = False
    notes: dict = field(default_factory=dict)


def network_from_torch(model, input_shape, *, dvs_input: Optional[bool] = None) -> Network:
    """The `Network` of a PyTorch / sinabs model taking input of shape `input_shape` = (c, h, w).

    `model` is an nn.Module (an nn.Sequential, or a module whose forward branches and merges),
    or what `sinabs.from_torch.from_model` returns (its `spiking_model` is used).
    `dvs_input`: put the chip's DVS layer in front (camera events enter through it); None means
    yes when the input has 1 or 2 channels and fits the 128 x 128 sensor.
    """
    torch = _torch()
    model = getattr(model, "spiking_model", model)
    if not isinstance(model, torch.nn.Module):
        raise ModelError(f"the model is a {type(model).__name__}; from_torch takes a torch.nn.Module "
                         "(an nn.Sequential or a module with a forward)")
    shape = _shape3(input_shape)
    b = _Builder(input_shape=shape)
    graph, modules = _trace(model)
    values = {}
    outputs = []
    for node in graph.nodes:
        if node.op == "placeholder":
            if values:
                raise ModelError(f"the model's forward takes more than one input ({node.name}); "
                                 "a chip has one input: give forward a single tensor")
            values[node] = _Stream(sources=[("input", 1, 0)], shape=shape, names=("input",))
        elif node.op == "output":
            outputs = _flat_args(node.args[0])
        elif node.op == "call_module":
            mod = modules[node.target]
            args = [values[a] for a in node.args if hasattr(a, "op")]
            values[node] = _module(b, node.target, mod, args)
        elif node.op == "call_function":
            values[node] = _function(node, values)
        elif node.op == "call_method":
            values[node] = _method(node, values)
        else:
            raise ModelError(f"the model's forward reads {node.op} {node.target!r} directly; the chip can only "
                             "compute modules: wrap it in a module")
    if not outputs:
        raise ModelError("the model's forward returns nothing")
    for out in outputs:
        v = values.get(out)
        if isinstance(v, _PreSpike):
            raise ModelError(f"module '{v.name}' is the model's output but has no spiking layer after it; the chip "
                             "only sends spikes: add an IAF (sinabs from_model(..., add_spiking_output=True))")
        if not isinstance(v, _Stream) or any(src == "input" for src, _, _ in v.sources):
            raise ModelError("the model's output is its input, untouched; there is nothing for the chip to compute")
        for src, _, _ in v.sources:
            b.layers[src].is_output = True
    dvs = _dvs(b, dvs_input)
    for layer in b.layers:
        routes = layer.routes
        if len(routes) > 2:
            names = ", ".join(b.layers[r.target].name if isinstance(r.target, int) else str(r.target)
                              for r in routes)
            raise ModelError(f"layer '{layer.spiking_name or layer.name}' sends its spikes to {len(routes)} layers "
                             f"({names}); a core has at most two destinations: merge branches earlier or insert "
                             "a layer that relays to the others")
    return Network(input_shape=shape, layers=b.layers, input_routes=b.input_routes, dvs=dvs, notes=b.notes)


def _shape3(input_shape):
    try:
        shape = tuple(int(v) for v in input_shape)
    except (TypeError, ValueError):
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        raise ModelError(f"input_shape is {input_shape!r}; give (channels, height, width), e.g. (2, 128, 128)")
    return shape


def _trace(model):
    import torch
    from torch import fx

    class _Tracer(fx.Tracer):
        def is_leaf_module(self, m, qualname):
            if isinstance(m, (torch.nn.Sequential, torch.nn.ModuleList, torch.nn.ModuleDict)):
                return False
            top = type(m).__module__.split(".")[0]
            return top in ("torch", "sinabs")

    try:
        graph = _Tracer().trace(model)
    except Exception as exc:  # torch.fx raises many types; the user needs the cause
        raise ModelError(f"cannot trace the model's forward with torch.fx ({type(exc).__name__}: {exc}); the chip runs "
                         "a fixed graph: remove data-dependent control flow from forward, or use an nn.Sequential"
                         ) from None
    return graph, dict(model.named_modules())


def _flat_args(a):
    if isinstance(a, (tuple, list)):
        return [x for item in a for x in _flat_args(item)]
    return [a] if hasattr(a, "op") else []


def _kind(mod) -> str:
    """A short name for what a module is, by class, without importing optional packages."""
    import torch.nn as nn
    sl, sa = _sinabs_layers()
    if sl is not None:
        if isinstance(mod, sl.IAF):
            return "iaf"
        if isinstance(mod, (sl.LIF, sl.ExpLeak, sl.ALIF)) or type(mod).__name__.startswith(("LIF", "ALIF", "ExpLeak")):
            return "leaky"
        if isinstance(mod, sl.SumPool2d):
            return "sumpool"
        if isinstance(mod, sl.Merge):
            return "merge"
    name = type(mod).__name__
    if name in ("DVSLayer", "Crop2d", "FlipDims"):
        return name.lower()
    table = [(nn.Conv2d, "conv"), (nn.Linear, "linear"), ((nn.BatchNorm2d, nn.BatchNorm1d), "bn"),
             (nn.AvgPool2d, "avgpool"), (nn.LPPool2d, "lppool"), ((nn.MaxPool2d, nn.AdaptiveMaxPool2d), "maxpool"),
             (nn.Flatten, "flatten"), ((nn.Dropout, nn.Dropout2d, nn.Dropout1d, nn.Identity), "pass"),
             ((nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.Sigmoid, nn.Tanh, nn.GELU, nn.SiLU), "activation"),
             (nn.AdaptiveAvgPool2d, "adaptiveavg")]
    for cls, kind in table:
        if isinstance(mod, cls):
            return kind
    return "unknown"


def _module(b: _Builder, name: str, mod, args):
    kind = _kind(mod)
    what = f"module '{name}' ({type(mod).__name__})"
    if kind == "pass":
        return _one(args, what)
    if kind == "merge":
        return _merge(args, what)
    x = _one(args, what)
    if kind == "conv":
        return _conv(name, mod, _need_stream(x, what, "a convolution"), what)
    if kind == "linear":
        return _linear(name, mod, _need_stream(x, what, "a Linear layer"), what)
    if kind == "bn":
        return _fold_bn(name, mod, x, what)
    if kind == "iaf":
        return _spiking(b, name, mod, x, what)
    if kind in ("sumpool", "avgpool", "lppool"):
        return _pool(b, name, mod, kind, _need_stream(x, what, "pooling", after_spikes=True), what)
    if kind == "flatten":
        s = _need_stream(x, what, "Flatten", after_spikes=True)
        return _Stream(s.sources, s.shape, s.scale, True, s.names)
    if kind in ("crop2d", "flipdims", "dvslayer"):
        return _dvs_module(b, name, mod, kind, _need_stream(x, what, type(mod).__name__), what)
    if kind == "maxpool":
        raise ModelError(f"{what}: the chip cannot max-pool; use AvgPool2d or sinabs.layers.SumPool2d "
                         "(sum-pooling of spikes) and retrain")
    if kind == "leaky":
        raise ModelError(f"{what}: a leaky neuron (tau_mem) is not something the chip can do (its only leak is a "
                         "constant added per slow-clock tick); use sinabs.layers.IAF or IAFSqueeze and retrain")
    if kind == "activation":
        raise ModelError(f"{what}: an analogue activation; convert the ANN to spiking layers first "
                         "(sinabs.from_torch.from_model(model, add_spiking_output=True)) and import the result")
    if kind == "adaptiveavg":
        raise ModelError(f"{what}: adaptive pooling has no fixed window; use AvgPool2d with kernel = stride")
    raise ModelError(f"{what}: not a module the chip can compute; speksim reads Conv2d, Linear, BatchNorm, sinabs "
                     "IAF/IAFSqueeze, SumPool2d, AvgPool2d, Flatten, Dropout, Identity and sinabs Merge")


def _one(args, what):
    if len(args) != 1:
        raise ModelError(f"{what} takes {len(args)} inputs; speksim expects one here")
    return args[0]


def _need_stream(x, what, op, after_spikes=False):
    if isinstance(x, _PreSpike):
        if after_spikes:
            raise ModelError(f"{what}: {op} between convolution '{x.name}' and its spiking layer; on the chip "
                             f"{op} acts on spikes: move it after the IAF")
        raise ModelError(f"{what}: two convolutions ('{x.name}' and this one) without a spiking layer between them; "
                         "the chip needs an IAF after every convolution: add one, or fold the two into one")
    return x


def _tensor(t):
    return None if t is None else t.detach().cpu().double().numpy().copy()


def _conv(name, mod, x: _Stream, what):
    k = tuple(mod.kernel_size)
    if k[0] != k[1]:
        raise ModelError(f"{what}: kernel {k[0]}x{k[1]}; the chip's kernels are square: use {max(k)}x{max(k)}")
    if tuple(mod.dilation) != (1, 1):
        raise ModelError(f"{what}: dilation {tuple(mod.dilation)}; the chip cannot dilate a kernel: use dilation 1")
    if mod.groups != 1:
        raise ModelError(f"{what}: groups={mod.groups}; the chip has no grouped convolution: use groups=1")
    if isinstance(mod.padding, str) or mod.padding_mode != "zeros":
        raise ModelError(f"{what}: padding {mod.padding!r} ({mod.padding_mode}); give explicit zero padding as "
                         "integers")
    if x.flat:
        raise ModelError(f"{what}: a convolution after a Flatten; remove the Flatten or use Linear")
    if mod.in_channels != x.shape[0]:
        raise ModelError(f"{what}: takes {mod.in_channels} channels but its input has {x.shape[0]}")
    w = _tensor(mod.weight) * x.scale
    return _PreSpike(name, w, _tensor(mod.bias), tuple(mod.stride), tuple(mod.padding), x)


def _linear(name, mod, x: _Stream, what):
    c, h, w = x.shape
    if not x.flat and (h, w) != (1, 1):
        raise ModelError(f"{what}: a Linear layer on a {c}x{h}x{w} map without Flatten; add nn.Flatten() before it")
    if mod.in_features != c * h * w:
        raise ModelError(f"{what}: takes {mod.in_features} features but its input has {c}x{h}x{w} = {c * h * w}")
    if h != w:
        raise ModelError(f"{what}: a Linear layer on a {h}x{w} map is a {h}x{w} kernel; the chip's kernels are "
                         "square: make the map square before the Flatten (pooling or cropping)")
    weight = _tensor(mod.weight).reshape(mod.out_features, c, h, w) * x.scale
    return _PreSpike(name, weight, _tensor(mod.bias), (1, 1), (0, 0), x)


def _fold_bn(name, mod, x, what):
    if not isinstance(x, _PreSpike) or x.folded:
        raise ModelError(f"{what}: batch normalisation must follow a convolution or Linear directly, to be folded "
                         "into its weights (the chip has no normalisation)")
    if mod.running_mean is None or mod.running_var is None:
        raise ModelError(f"{what}: has no running statistics (track_running_stats=False); the chip needs fixed "
                         "weights: train with running statistics")
    if len(mod.running_mean) != x.weight.shape[0]:
        raise ModelError(f"{what}: normalises {len(mod.running_mean)} channels but '{x.name}' has "
                         f"{x.weight.shape[0]}")
    gamma = _tensor(mod.weight) if mod.weight is not None else np.ones(len(mod.running_mean))
    beta = _tensor(mod.bias) if mod.bias is not None else np.zeros(len(mod.running_mean))
    factor = gamma / np.sqrt(_tensor(mod.running_var) + mod.eps)
    bias = x.bias if x.bias is not None else np.zeros(len(factor))
    new_bias = (bias - _tensor(mod.running_mean)) * factor + beta
    return _PreSpike(x.name, x.weight * factor[:, None, None, None], new_bias, x.stride, x.padding, x.stream,
                     x.folded + [name])


def _scalar(value, what, field_name):
    """A uniform parameter of a spiking layer as a float (None stays None)."""
    if value is None:
        return None
    arr = np.asarray(value.detach().cpu().double().numpy() if hasattr(value, "detach") else value, float)
    if arr.size == 0:
        return None
    if not np.all(arr == arr.flat[0]):
        raise ModelError(f"{what}: {field_name} differs between neurons ({arr.min():g} .. {arr.max():g}); a core "
                         f"has one {field_name}: make it uniform and retrain")
    return float(arr.flat[0])


def _spiking(b: _Builder, name, mod, x, what):
    if isinstance(x, _Stream):
        raise ModelError(f"{what}: a spiking layer with no convolution or Linear before it; the chip's neurons sit "
                         "behind a convolution: add one (a 1x1 convolution with identity weights relays spikes)")
    _, sa = _sinabs_layers()
    threshold = _scalar(mod.spike_threshold, what, "spike_threshold")
    min_v_mem = _scalar(mod.min_v_mem, what, "min_v_mem")
    reset_fn = mod.reset_fn
    if isinstance(reset_fn, sa.MembraneReset):
        if getattr(reset_fn, "reset_value", 0) not in (0, 0.0):
            raise ModelError(f"{what}: MembraneReset(reset_value={reset_fn.reset_value}); the chip resets to 0 only")
        reset = "zero"
    elif isinstance(reset_fn, sa.MembraneSubtract):
        sub = reset_fn.subtract_value
        if sub is not None and float(sub) != threshold:
            raise ModelError(f"{what}: MembraneSubtract(subtract_value={float(sub):g}) with spike_threshold "
                             f"{threshold:g}; the chip always subtracts its threshold: use subtract_value=None")
        reset = "subtract"
    else:
        raise ModelError(f"{what}: reset_fn {type(reset_fn).__name__}; the chip does MembraneSubtract or "
                         "MembraneReset")
    if threshold is None or threshold <= 0:
        raise ModelError(f"{what}: spike_threshold {threshold}; the chip needs a positive threshold")
    s = x.stream
    index = len(b.layers)
    layer = SpikingLayer(name=x.name, weight=x.weight, bias=x.bias, input_shape=s.shape, stride=x.stride,
                         padding=x.padding, threshold=threshold, min_v_mem=min_v_mem, reset=reset, spiking_name=name)
    c_out, h, w = layer.output_shape
    if h < 1 or w < 1:
        raise ModelError(f"module '{x.name}': its {s.shape[1]}x{s.shape[2]} input is smaller than its "
                         f"{layer.kernel_size}x{layer.kernel_size} kernel")
    b.layers.append(layer)
    for src, pooling, shift in s.sources:
        route = Route(target=index, pooling=pooling, feature_shift=shift)
        if src == "input":
            b.input_consumed = True
            b.input_routes.append(route)
        else:
            b.layers[src].routes.append(route)
    return _Stream(sources=[(index, 1, 0)], shape=(c_out, h, w), names=(name,))


def _pool(b: _Builder, name, mod, kind, x: _Stream, what):
    ks = _pair(mod.kernel_size)
    stride = _pair(mod.stride if mod.stride is not None else mod.kernel_size)
    if kind == "lppool" and float(mod.norm_type) != 1:
        raise ModelError(f"{what}: LP pooling with p={mod.norm_type}; only sum-pooling (p=1) runs on the chip")
    if stride != ks:
        raise ModelError(f"{what}: pooling {ks} with stride {stride}; the chip pools without overlap: "
                         "use stride = kernel_size")
    if getattr(mod, "ceil_mode", False):
        raise ModelError(f"{what}: ceil_mode=True; use ceil_mode=False (PyTorch's default)")
    if kind == "avgpool" and _pair(mod.padding) != (0, 0):
        raise ModelError(f"{what}: padding {mod.padding}; the chip pools without padding")
    scale = 1.0 / (ks[0] * ks[1]) if kind == "avgpool" else 1.0
    c, h, w = x.shape
    if all(src == "input" for src, _, _ in x.sources):
        b.dvs_ops.append(("pool", ks, name))
        return _Stream(x.sources, (c, h // ks[0], w // ks[1]), x.scale * scale, x.flat, x.names)
    if ks[0] != ks[1]:
        raise ModelError(f"{what}: pooling {ks[0]}x{ks[1]}; a destination pools squares: use {ks[0]}x{ks[0]}")
    if any(src == "input" for src, _, _ in x.sources):
        raise ModelError(f"{what}: pools a sum of the input and spikes; pool each before they meet")
    sources = [(src, pool * ks[0], shift) for src, pool, shift in x.sources]
    return _Stream(sources, (c, h // ks[0], w // ks[1]), x.scale * scale, x.flat, x.names)


def _pair(v):
    if isinstance(v, (tuple, list)):
        return (int(v[0]), int(v[1]))
    return (int(v), int(v))


def _merge(args, what):
    if len(args) < 2:
        return _one(args, what)
    for a in args:
        if isinstance(a, _PreSpike):
            raise ModelError(f"{what}: adds the output of convolution '{a.name}' before its spiking layer; the "
                             "chip sums spikes: put an IAF before the sum")
        if not isinstance(a, _Stream):
            raise ModelError(f"{what}: adds something that is not a spike map")
    if len({a.shape[0] for a in args}) > 1:
        raise ModelError(f"{what}: adds maps of {' and '.join(str(a.shape[0]) for a in args)} channels; "
                         "a sum needs equal channel counts")
    if len({a.scale for a in args}) > 1:
        raise ModelError(f"{what}: adds maps with different average-pooling factors "
                         f"({', '.join(f'{a.scale:g}' for a in args)}); the next layer's weights can take only one: "
                         "use SumPool2d, or the same AvgPool on every branch")
    if any(a.flat for a in args) != all(a.flat for a in args):
        raise ModelError(f"{what}: adds a flattened map to an unflattened one")
    shape = (args[0].shape[0], max(a.shape[1] for a in args), max(a.shape[2] for a in args))
    sources = [s for a in args for s in a.sources]
    return _Stream(sources, shape, args[0].scale, args[0].flat, tuple(n for a in args for n in a.names))


def _concat(args, dim, what):
    if dim not in (1, -3):
        raise ModelError(f"{what}: concatenates along dimension {dim}; the chip concatenates channels only (dim=1)")
    for a in args:
        if not isinstance(a, _Stream) or a.flat:
            raise ModelError(f"{what}: concatenates something that is not a spike map after a spiking layer")
    if len({a.scale for a in args}) > 1:
        raise ModelError(f"{what}: concatenates maps with different average-pooling factors; use SumPool2d or the "
                         "same AvgPool on every branch")
    sources = []
    offset = 0
    for a in args:
        if any(src == "input" for src, _, _ in a.sources) and offset:
            raise ModelError(f"{what}: shifts the input's channels; the DVS layer cannot: put the input first")
        sources += [(src, pool, shift + offset) for src, pool, shift in a.sources]
        offset += a.shape[0]
    shape = (offset, max(a.shape[1] for a in args), max(a.shape[2] for a in args))
    return _Stream(sources, shape, args[0].scale, False, tuple(n for a in args for n in a.names))


def _function(node, values):
    import torch
    what = f"operation '{node.name}' ({getattr(node.target, '__name__', node.target)})"
    args = [values[a] for a in _flat_args(node.args)]
    if node.target in (operator.add, torch.add, operator.iadd):
        if any(not hasattr(a, "op") for a in node.args):
            raise ModelError(f"{what}: adds a constant; the chip sums spike maps only")
        return _merge(args, what)
    if node.target is torch.cat:
        dim = node.kwargs.get("dim", node.args[1] if len(node.args) > 1 else 0)
        return _concat(args, dim, what)
    if node.target is torch.flatten:
        x = _need_stream(_one(args, what), what, "flatten", after_spikes=True)
        return _Stream(x.sources, x.shape, x.scale, True, x.names)
    raise ModelError(f"{what}: a function the chip cannot compute; use modules speksim reads (see from_torch)")


def _method(node, values):
    what = f"operation '{node.name}' (.{node.target})"
    args = [values[a] for a in _flat_args(node.args)]
    if node.target in ("flatten", "view", "reshape"):
        x = _need_stream(args[0], what, node.target, after_spikes=True)
        return _Stream(x.sources, x.shape, x.scale, True, x.names)
    if node.target in ("add", "add_"):
        return _merge(args, what)
    raise ModelError(f"{what}: a tensor method the chip cannot compute")


def _dvs_module(b: _Builder, name, mod, kind, x: _Stream, what):
    if not all(src == "input" for src, _, _ in x.sources) or b.input_consumed:
        raise ModelError(f"{what}: only the DVS layer can crop or flip, so it must come before the first layer")
    if kind == "crop2d":
        b.dvs_ops.append(("crop", ((mod.top_crop, mod.bottom_crop), (mod.left_crop, mod.right_crop)), name))
        c = x.shape[0]
        return _Stream(x.sources, (c, mod.bottom_crop - mod.top_crop, mod.right_crop - mod.left_crop), x.scale,
                       x.flat, x.names)
    if kind == "flipdims":
        b.dvs_ops.append(("flip", (bool(mod.flip_x), bool(mod.flip_y), bool(mod.swap_xy)), name))
        c, h, w = x.shape
        return _Stream(x.sources, (c, w, h) if mod.swap_xy else (c, h, w), x.scale, x.flat, x.names)
    # sinabs' DVSLayer: merge -> pool -> crop -> flip, as one module
    shape = x.shape
    if mod.merge_polarities:
        b.dvs_ops.append(("merge", True, name))
        shape = (1,) + shape[1:]
    pool = _pair(mod.pool_layer.kernel_size)
    b.dvs_ops.append(("pool", pool, name))
    shape = (shape[0], shape[1] // pool[0], shape[2] // pool[1])
    crop = ((mod.crop_layer.top_crop, mod.crop_layer.bottom_crop), (mod.crop_layer.left_crop,
                                                                     mod.crop_layer.right_crop))
    b.dvs_ops.append(("crop", crop, name))
    shape = (shape[0], crop[0][1] - crop[0][0], crop[1][1] - crop[1][0])
    fl = mod.flip_layer
    b.dvs_ops.append(("flip", (bool(fl.flip_x), bool(fl.flip_y), bool(fl.swap_xy)), name))
    if fl.swap_xy:
        shape = (shape[0], shape[2], shape[1])
    return _Stream(x.sources, shape, x.scale, x.flat, x.names)


def _dvs(b: _Builder, dvs_input: Optional[bool]) -> Optional[DvsInput]:
    """The DVS layer in front of the network, from the operations on the input before the first
    layer, in sinabs' order (merge -> pool -> crop -> flip)."""
    c, h, w = b.input_shape
    fits = fits_dvs(b.input_shape)
    if dvs_input is None:
        dvs_input = fits
        b.notes["dvs_input"] = {"applied": bool(fits), "from": "input shape"}
    else:
        b.notes["dvs_input"] = {"applied": bool(dvs_input), "from": "argument"}
    for r in b.input_routes:
        if r.feature_shift:
            raise ModelError("the input is concatenated after another map; the DVS layer cannot shift channels: "
                             "put the input first in torch.cat")
    if not dvs_input:
        if b.dvs_ops:
            kinds = sorted({op for op, _, _ in b.dvs_ops})
            raise ModelError(f"the model {', '.join(kinds)}s its input before the first layer ({b.dvs_ops[0][2]}); "
                             "only the DVS layer can: pass dvs_input=True (input of 1 or 2 channels, at most 128x128)")
        if len(b.input_routes) > 1:
            raise ModelError("the input feeds several layers; host-written spikes reach one core: pass "
                             "dvs_input=True so the DVS layer copies them (up to two layers)")
        return None
    if not fits:
        raise ModelError(f"dvs_input=True but the input is {c}x{h}x{w}; the DVS layer takes 1 or 2 channels of at "
                         f"most {DVS_MAX_SIZE}x{DVS_MAX_SIZE}: pass dvs_input=False (spikes written to the first core)")
    if len(b.input_routes) > 2:
        raise ModelError(f"the input feeds {len(b.input_routes)} layers; the DVS layer has two destinations")
    dvs = DvsInput(input_shape=(2, h, w), merge_polarity=(c == 1))
    pooled = False
    for op, value, name in b.dvs_ops:
        if op == "merge":
            dvs.merge_polarity = True
        elif op == "pool":
            if dvs.crop is not None or dvs.flip_x or dvs.flip_y or dvs.swap_xy or pooled:
                raise ModelError(f"module '{name}': the DVS layer pools once, before cropping and flipping; "
                                 "pool the input once, first")
            dvs.pooling = tuple(value)
            pooled = True
        elif op == "crop":
            if dvs.flip_x or dvs.flip_y or dvs.swap_xy or dvs.crop is not None:
                raise ModelError(f"module '{name}': the DVS layer crops once, after pooling and before flipping")
            dvs.crop = tuple(tuple(int(v) for v in pair) for pair in value)
        elif op == "flip":
            dvs.flip_x, dvs.flip_y, dvs.swap_xy = value
    for r in b.input_routes:
        r.pooling = 1
    return dvs
