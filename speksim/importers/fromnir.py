"""NIR graphs (https://neuroir.org) to a `Network`.

Accepted nodes: Input, Output, Conv2d, Affine and Linear (a convolution whose kernel covers its
whole input map), IF, SumPool2d, AvgPool2d and Flatten. Several edges into one node mean a sum, as
in NIR: a convolution with several input edges becomes one layer that several sources route to.

What the chip cannot do is refused with a `ModelError` that names the node. Choices this module
makes where NIR and the chip differ:

* IF reset. Up to nir 1.0.5 an IF subtracts its threshold; from nir 1.0.6 it resets to `v_reset`
  (zeros when the file has none), and sinabs exports IF nodes without `v_reset` while pinning an
  old nir. The meaning applied comes from `reset=`, else from a sidecar file, else from the nir
  version recorded in the file (with a `NirResetWarning`); `Network.notes["reset"]` says which.
* IF input resistance `r`: dv/dt = r·I with no leak, so r is folded into the weights and bias of
  the convolution before the IF; it must be uniform within each output channel.
* AvgPool2d: sum-pooling on the route, the following layer's weights multiplied by 1/area.
* NIR fires when v > threshold; the chip fires when v >= threshold. With float parameters the
  two differ only when v lands exactly on the threshold; the threshold is kept as it is.
* Arrays keep the file's float precision (float32 for a sinabs export).

The sidecar file is TOML, like the chip files: comments can say where the model came from, and
TOML writes `-inf` for "no lower bound", which JSON cannot.
"""

from __future__ import annotations

import inspect
import math
import re
import warnings
from dataclasses import dataclass
from typing import Optional
from pathlib import Path

import numpy as np

from ..config.model import conv_out
from ..errors import MissingExtraError, ModelError
from .graph import DVS_MAX_SIZE, DvsInput, Network, Route, SpikingLayer

RESETS = ("subtract", "zero")

#: The last nir release whose IF subtracts the threshold on a spike (1.0.6 added v_reset).
LAST_SUBTRACT_VERSION = (1, 0, 5)

#: A core's configuration has two destination slots (config.model.CnnLayer.destinations), and so
#: has the DVS layer's.
_DESTINATIONS = 2

_KINDS = {"Input": "input", "Output": "output", "Conv2d": "weight", "Affine": "weight", "Linear": "weight",
          "IF": "spike", "SumPool2d": "pool", "AvgPool2d": "pool", "Flatten": "flatten"}

#: Node types the chip cannot compute: why, and what to do instead.
_LEAK = ("its membrane leaks, which the chip's neurons cannot do", "train with IF neurons (sinabs IAF) instead")
_SILENT = ("it integrates without spiking, and a core only outputs spikes", "end with an IF node and count its spikes")
_REFUSED = {
    "LIF": _LEAK, "CubaLIF": _LEAK, "LI": _SILENT, "CubaLI": _SILENT, "I": _SILENT,
    "Threshold": ("it spikes without a membrane, and the chip's neurons integrate", "use an IF node"),
    "Conv1d": ("the chip convolves 2-D maps with square kernels", "use Conv2d, or Flatten and Affine"),
    "Delay": ("the chip has no synaptic delays", "remove the delay"),
    "Scale": ("the chip has no scaling stage between layers", "fold the scale into the weights before it"),
    "NIRGraph": ("nested graphs are not read", "export the model as one flat graph"),
}


class NirResetWarning(UserWarning):
    """The meaning of NIR's IF reset was taken from the file's nir version, or an explicit choice
    (argument or sidecar file) disagrees with what the file's version or its v_reset say."""


@dataclass(frozen=True)
class _Signal:
    """What flows out of a node: a map (c, h, w) as the chip sees it, and whether NIR sees it as a
    flat vector (after Flatten or Affine)."""

    shape: tuple
    flat: bool = False


def network_from_nir(graph_or_path, *, reset=None, min_v_mem=None, input_shape=None, dvs_input=None) -> Network:
    """Read a NIR graph (a `nir.NIRGraph` or the path of a .nir file) into a `Network`.

    reset: "subtract" (subtract the threshold on a spike), "zero" (reset to 0), or None: from the
    sidecar file `<model>.nir.toml` when it says, else from the nir version the file records
    (with a `NirResetWarning`); an in-memory graph with neither needs it explicitly.
    min_v_mem: the lower bound of every membrane (float), `-math.inf` for none, a dict
    {IF node name: bound} for per-layer bounds (unnamed layers get none), or None: from the
    sidecar file, else no bound.
    input_shape: (c, h, w) of the input, needed when the Input node has no 3-D shape (a flat
    vector is read as (n, 1, 1) otherwise).
    dvs_input: True puts the chip's DVS layer in front (polarity merge when the model takes one
    channel; pooling right after the Input becomes the DVS layer's pooling); False: the host
    writes the input spikes; None: the DVS layer when the input has 1 or 2 channels and fits the
    128 x 128 sensor.

    Raises MissingExtraError without the nir package and ModelError for anything the chip cannot
    compute. The result's `notes` say which reset and lower bound were applied and why.
    """
    nir = _import_nir()
    graph, path, version = _load(nir, graph_or_path)
    sidecar = _read_sidecar(path) if path is not None else {}
    g = _Graph(graph, from_file=path is not None)
    g.check_structure()
    g.infer_shapes(_input_shape(g, input_shape))
    notes = {"source": "nir", "file": None if path is None else path.name, "nir_version": version}
    if sidecar:
        notes["sidecar"] = sidecar["file"]
    applied, notes["reset"] = _choose_reset(reset, sidecar, version, g)
    bounds, notes["min_v_mem"] = _choose_min_v_mem(min_v_mem, sidecar, g)
    return g.network(applied, bounds, None if dvs_input is None else bool(dvs_input), notes)


def _import_nir():
    try:
        import nir
    except ImportError as exc:
        raise MissingExtraError("reading NIR graphs needs the nir package: pip install 'speksim[nir]'") from exc
    return nir


def _load(nir, graph_or_path):
    """(graph, path or None, nir version recorded in the file or None)."""
    if hasattr(graph_or_path, "nodes") and hasattr(graph_or_path, "edges"):
        return graph_or_path, None, None
    if not isinstance(graph_or_path, (str, Path)):
        raise ModelError(f"expected a nir.NIRGraph or the path of a .nir file, got {type(graph_or_path).__name__}")
    path = Path(graph_or_path)
    if not path.is_file():
        raise ModelError(f"{path}: no such NIR file")
    import h5py

    try:
        with h5py.File(path, "r") as f:
            version = f["version"][()] if "version" in f else f.attrs.get("version")
    except OSError as exc:
        raise ModelError(f"{path}: not a NIR file (NIR files are HDF5): {exc}") from None
    if isinstance(version, bytes):
        version = version.decode("utf8", "replace")
    # Type checking in nir >= 1.0.6 refuses some files older nirs wrote; this module checks the
    # shapes itself, node by node, with messages that name the node.
    kwargs = {"type_check": False} if "type_check" in inspect.signature(nir.read).parameters else {}
    try:
        graph = nir.read(path, **kwargs)
    except Exception as exc:  # nir raises ValueError, KeyError, AssertionError... on a bad file
        written = f" (written by nir {version})" if version is not None else ""
        raise ModelError(f"{path}: nir {nir.version} cannot read it{written}: {type(exc).__name__}: {exc}; "
                         f"try another nir version") from None
    return graph, path, None if version is None else str(version)


def _read_sidecar(path: Path) -> dict:
    """The sidecar file `<model>.nir.toml` next to the model: `reset` and `min_v_mem` only."""
    side = path.with_name(path.name + ".toml")
    if not side.is_file():
        return {}
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    try:
        with open(side, "rb") as fh:
            doc = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ModelError(f"{side}: not valid TOML: {exc}") from None
    unknown = sorted(set(doc) - {"reset", "min_v_mem"})
    if unknown:
        raise ModelError(f"{side}: unknown key(s) {', '.join(unknown)}; a sidecar file may give 'reset' "
                         f"(\"subtract\" or \"zero\") and 'min_v_mem' (a number, -inf, or a table by IF node)")
    doc["file"] = side.name
    return doc


def _choose_reset(reset, sidecar: dict, version, g: "_Graph"):
    """(applied reset, note). Warns where the choice comes from the version or disagrees with it."""
    implied = _version_reset(version)
    meaning = "subtracts the threshold" if implied == "subtract" else "resets to v_reset"
    if reset is not None or "reset" in sidecar:
        applied, source = (reset, "argument") if reset is not None else (sidecar["reset"], "sidecar")
        if applied not in RESETS:
            where = "reset=" if reset is not None else f"{sidecar['file']}: reset"
            raise ModelError(f"{where} must be 'subtract' or 'zero', got {applied!r}")
    elif implied is not None:
        applied, source = implied, f"file version {version}"
        warnings.warn(f"NIR IF reset: the file was written by nir {version}, whose IF {meaning}, so "
                      f"reset='{implied}' is applied; pass reset= (or write it in a .nir.toml sidecar) to "
                      f"state it, since exporters such as sinabs mean 'subtract' whatever nir they ran with",
                      NirResetWarning, stacklevel=3)
    else:
        why = ("records no nir version" if version is None and g.from_file else
               f"records nir version {version!r}, which is not a version number" if g.from_file else
               "was built in memory, so no nir version says what its IF reset means")
        raise ModelError(f"the graph {why}: pass reset='subtract' (nir <= 1.0.5, and every sinabs export) "
                         f"or reset='zero' (nir >= 1.0.6 with v_reset = 0)")
    if source in ("argument", "sidecar") and implied is not None and implied != applied:
        warnings.warn(f"NIR IF reset: reset='{applied}' ({source}) disagrees with the file's nir version "
                      f"{version}, whose IF {meaning}; '{applied}' is applied", NirResetWarning, stacklevel=3)
    for name in g.spiking:
        v_reset = g.v_reset[name]
        if v_reset is None or not np.any(v_reset != 0):
            continue
        if applied == "zero":
            raise ModelError(f"NIR node '{name}' (IF): v_reset is {_describe(v_reset)}, and the chip resets to 0 "
                             f"or subtracts the threshold; retrain with v_reset = 0 or pass reset='subtract'")
        warnings.warn(f"NIR node '{name}' (IF): v_reset is {_describe(v_reset)} but reset='subtract' ({source}) "
                      f"ignores it", NirResetWarning, stacklevel=3)
    return applied, {"applied": applied, "from": source}


def _version_reset(version):
    """The reset meaning of a nir version string, or None when it is not a version number."""
    m = re.match(r"\s*(\d+)\.(\d+)(?:\.(\d+))?", version or "")
    if m is None:
        return None
    return "subtract" if tuple(int(x or 0) for x in m.groups()) <= LAST_SUBTRACT_VERSION else "zero"


def _choose_min_v_mem(min_v_mem, sidecar: dict, g: "_Graph"):
    """({IF name: bound or None}, note)."""
    if min_v_mem is not None:
        value, source, where = min_v_mem, "argument", "min_v_mem="
    elif "min_v_mem" in sidecar:
        value, source, where = sidecar["min_v_mem"], "sidecar", f"{sidecar['file']}: min_v_mem"
    else:
        return {name: None for name in g.spiking}, {"applied": None, "from": "default (no lower bound)"}
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(g.spiking))
        if unknown:
            raise ModelError(f"{where} names {', '.join(map(repr, unknown))}, which are not IF nodes of the graph "
                             f"(its IF nodes: {', '.join(g.spiking)})")
        bounds = {name: _check_bound(value[name], f"{where}[{name!r}]") if name in value else None
                  for name in g.spiking}
        return bounds, {"applied": bounds, "from": source}
    bound = _check_bound(value, where)
    return {name: bound for name in g.spiking}, {"applied": bound, "from": source}


def _check_bound(value, where: str):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or math.isnan(value) or value == math.inf:
        raise ModelError(f"{where} must be a number (the membrane's lower bound) or -inf for none, got {value!r}")
    return None if value == -math.inf else float(value)


def _input_shape(g: "_Graph", input_shape):
    """The Input node's signal: its map (c, h, w), and whether NIR feeds it as a flat vector."""
    shape = (getattr(g.nodes[g.input], "input_type", None) or {}).get("input")
    shape = None if shape is None else tuple(int(x) for x in _array(shape).reshape(-1))
    if input_shape is None:
        if shape is None or len(shape) not in (1, 3):
            raise g.error(g.input, f"its shape is {shape}, not (channels, height, width)", "pass input_shape=(c, h, w)")
        return _Signal((shape[0], 1, 1), flat=True) if len(shape) == 1 else _Signal(shape)
    given = tuple(int(x) for x in input_shape) if isinstance(input_shape, (tuple, list)) else ()
    if len(given) != 3 or min(given) < 1:
        raise ModelError(f"input_shape must be (channels, height, width), got {input_shape!r}")
    if shape is not None and (math.prod(shape) != math.prod(given) or (len(shape) == 3 and shape != given)):
        raise g.error(g.input, f"its shape {shape} disagrees with input_shape={given}", "fix input_shape")
    return _Signal(given, flat=shape is not None and len(shape) == 1)


def _array(x) -> np.ndarray:
    """A numpy array from a numpy value, a Python number or a torch tensor (sinabs exports
    tensors), without importing torch."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _describe(a: np.ndarray) -> str:
    a = np.asarray(a).reshape(-1)
    return f"{a[0]:g}" if np.all(a == a[0]) else f"between {a.min():g} and {a.max():g}"


def _natural(name: str):
    """Sort key that puts '2' before '10' and 'conv2' before 'conv10': exporters number nodes."""
    return [int(t) if i % 2 else t for i, t in enumerate(re.split(r"(\d+)", name))], name


def _node_error(name, node, why, fix) -> ModelError:
    return ModelError(f"NIR node '{name}' ({type(node).__name__}): {why}; {fix}")


def _pair(value, what: str, name, node) -> tuple:
    a = _array(value).reshape(-1)
    if a.size == 1:
        a = np.repeat(a, 2)
    if a.size != 2 or not np.all(a == np.round(a)):
        raise _node_error(name, node, f"{what} is {value!r}, not one integer or a pair", f"give {what} as (y, x)")
    return int(a[0]), int(a[1])


def _float(value, what: str, name, node) -> np.ndarray:
    """A copy in the array's own float precision (float64 for integers); finite values only."""
    a = _array(value)
    a = a.astype(np.float64) if not np.issubdtype(a.dtype, np.floating) else a.copy()
    if not np.all(np.isfinite(a)):
        raise _node_error(name, node, f"{what} has NaN or infinite values", "fix the trained parameters")
    return a


def _shape_text(s: _Signal) -> str:
    return f"{s.shape} (flat)" if s.flat else str(s.shape)


class _Graph:
    """A NIR graph's nodes by kind, its edges both ways, a deterministic order and the signal (map
    shape) at every node, with the checks that refuse what the chip cannot compute."""

    def __init__(self, graph, from_file: bool):
        self.from_file = from_file
        self.nodes = {str(k): v for k, v in graph.nodes.items()}
        self.kind = {}
        for name in sorted(self.nodes, key=_natural):
            t = type(self.nodes[name]).__name__
            if t not in _KINDS:
                unknown = ("the chip has no equivalent of this node type", f"use only {', '.join(_KINDS)}")
                raise self.error(name, *_REFUSED.get(t, unknown))
            self.kind[name] = _KINDS[t]
        self.preds, self.succs = {n: [] for n in self.nodes}, {n: [] for n in self.nodes}
        for a, b in graph.edges:
            a, b = (x.decode() if isinstance(x, bytes) else str(x) for x in (a, b))
            for end in (a, b):
                if end not in self.nodes:
                    raise ModelError(f"the NIR edge ({a!r}, {b!r}) names '{end}', which is not a node of the graph")
            if b in self.succs[a]:
                raise ModelError(f"the NIR edge ({a!r}, {b!r}) appears twice; remove one")
            self.succs[a].append(b)
            self.preds[b].append(a)
        for adjacency in (self.preds, self.succs):
            for n in adjacency:
                adjacency[n].sort(key=_natural)
        inputs = [n for n in sorted(self.nodes, key=_natural) if self.kind[n] == "input"]
        if len(inputs) != 1:
            raise ModelError(f"the NIR graph has {len(inputs)} Input nodes ({', '.join(inputs) or 'none'}); the chip "
                             f"takes one input: {'add a nir.Input node' if not inputs else 'merge them into one'}")
        self.input = inputs[0]

    def error(self, name, why, fix) -> ModelError:
        return _node_error(name, self.nodes[name], why, fix)

    def check_structure(self):
        """The chip's layer structure: every Conv2d/Affine/Linear feeds exactly one IF, every IF is
        fed by exactly one of them; then the order."""
        for n in sorted(self.nodes, key=_natural):
            kind, preds, succs = self.kind[n], self.preds[n], self.succs[n]
            if kind == "input" and preds:
                raise self.error(n, f"it has input edges (from {', '.join(preds)})", "remove them")
            if kind == "output" and succs:
                raise self.error(n, f"it has output edges (to {', '.join(succs)})", "remove them")
            if kind == "weight" and not (len(succs) == 1 and self.kind[succs[0]] == "spike"):
                convs = [s for s in succs if self.kind[s] == "weight"]
                if convs:
                    raise self.error(n, f"two convolutions without an IF between them ('{n}' feeds '{convs[0]}')",
                                     "put an IF node between them, or fold them into one convolution")
                raise self.error(n, f"it feeds {', '.join(succs) or 'nothing'}, and a core's convolution feeds exactly "
                                    f"one IF, its neurons (pooling and routing come after the spikes)",
                                 "make one IF node its only successor")
            if kind == "spike" and not (len(preds) == 1 and self.kind[preds[0]] == "weight"):
                if not any(self.kind[p] == "weight" for p in preds):
                    raise self.error(n, "an IF with no convolution before it, and a core's neurons integrate its "
                                        "convolution", "put a Conv2d or Affine node right before it")
                raise self.error(n, f"it sums the outputs of {', '.join(preds)}; a core's neurons integrate one "
                                    f"convolution", "send those inputs to one convolution (its input edges sum)")
        self.order, self.position = self._order()
        self.spiking = [n for n in self.order if self.kind[n] == "spike"]
        if not self.spiking:
            raise ModelError("the NIR graph has no Conv2d, Affine or Linear node, so nothing runs on the cores")

    def _order(self):
        """Kahn's topological order, ties broken by natural name order (edge lists and node dicts are
        in no reliable order in exported files); a cycle is entered at its first node by name that an
        ordered node feeds, so recurrent edges go backwards."""
        import heapq

        remaining = {n: len(self.preds[n]) for n in self.nodes}
        for n in sorted(self.nodes, key=_natural):
            if remaining[n] == 0 and n != self.input:
                raise self.error(n, "nothing feeds it", f"connect it to the input '{self.input}' or remove it")
        heap, order, position = [(_natural(self.input), self.input)], [], {}
        while len(order) < len(self.nodes):
            if not heap:
                entries = [n for n in self.nodes if n not in position and any(p in position for p in self.preds[n])]
                if not entries:
                    lost = sorted((n for n in self.nodes if n not in position), key=_natural)
                    raise ModelError(f"NIR nodes {', '.join(lost)} form a cycle that the input "
                                     f"'{self.input}' does not reach; connect it or remove it")
                first = min(entries, key=_natural)
                heap.append((_natural(first), first))
            _, n = heapq.heappop(heap)
            if n in position:
                continue
            position[n] = len(order)
            order.append(n)
            for s in self.succs[n]:
                remaining[s] -= 1
                if remaining[s] == 0 and s not in position:
                    heapq.heappush(heap, (_natural(s), s))
        return order, position

    def infer_shapes(self, input_signal: _Signal):
        """The signal out of every node, in order; inputs that are summed must agree, and so must
        the recurrent edges, checked once every signal is known."""
        self.signal, self.incoming = {self.input: input_signal}, {}
        self.conv, self.pool, self.threshold, self.r, self.v_reset = {}, {}, {}, {}, {}
        for n in self.order[1:]:
            earlier = [p for p in self.preds[n] if self.position[p] < self.position[n]]
            incoming = self._agree(n, earlier)
            self.incoming[n] = incoming
            kind = self.kind[n]
            if kind == "weight":
                self.signal[n] = self._weight(n, incoming)
            elif kind == "spike":
                self.signal[n] = incoming
                self._neurons(n, incoming)
            elif kind == "pool":
                self.signal[n] = self._pool(n, incoming)
            elif kind == "flatten":
                self.signal[n] = _Signal(incoming.shape, flat=True)
            else:
                self.signal[n] = incoming
        for n in self.order[1:]:
            self._agree(n, self.preds[n])

    def _agree(self, n, preds) -> _Signal:
        signals = [self.signal[p] for p in preds]
        for p, s in zip(preds[1:], signals[1:]):
            if s != signals[0]:
                raise self.error(n, f"it sums inputs of different shapes ('{preds[0]}' gives "
                                    f"{_shape_text(signals[0])}, '{p}' gives {_shape_text(s)})",
                                 "give every input of a sum the same shape (pool or flatten them alike)")
        return signals[0]

    def _weight(self, n, incoming: _Signal) -> _Signal:
        node, t = self.nodes[n], type(self.nodes[n]).__name__
        c, h, w = incoming.shape
        weight = _float(node.weight, "weight", n, node)
        if t == "Conv2d":
            if incoming.flat:
                raise self.error(n, f"its input is a flat vector {_shape_text(incoming)}, and a convolution needs "
                                    f"a (channels, height, width) map", "remove the Flatten before it")
            groups, dilation = int(_array(node.groups).reshape(-1)[0]), _pair(node.dilation, "dilation", n, node)
            if groups != 1 or dilation != (1, 1):
                raise self.error(n, f"groups={groups}, dilation={dilation}: a core's kernels are dense and connect "
                                    f"every input channel", "train with groups=1 and dilation 1")
            if weight.ndim != 4 or weight.shape[2] != weight.shape[3]:
                raise self.error(n, f"weight of shape {weight.shape}: the chip's kernels are square "
                                    f"(out, in, k, k)", "train with a square kernel")
            k = weight.shape[2]
            if weight.shape[1] != c:
                raise self.error(n, f"its weight takes {weight.shape[1]} input channels and its input "
                                    f"{_shape_text(incoming)} has {c}", "fix the graph's shapes")
            stride = _pair(node.stride, "stride", n, node)
            if isinstance(node.padding, str):
                if node.padding == "same" and (stride != (1, 1) or k % 2 == 0):
                    raise self.error(n, f"padding 'same' with stride {stride} and kernel {k} pads unevenly, and "
                                        f"the chip pads both sides alike", "give the padding as numbers")
                padding = ((k - 1) // 2,) * 2 if node.padding == "same" else (0, 0)
            else:
                padding = _pair(node.padding, "padding", n, node)
            declared = getattr(node, "input_shape", None)
            declared = None if declared is None else tuple(int(x) for x in _array(declared).reshape(-1))
            if declared is not None and declared != (h, w):
                raise self.error(n, f"its input_shape {declared} disagrees with its "
                                    f"input {_shape_text(incoming)}", "fix the graph's shapes")
            out = (weight.shape[0], conv_out(h, k, stride[0], padding[0]), conv_out(w, k, stride[1], padding[1]))
            if min(out) < 1:
                raise self.error(n, f"its output {out} is empty for the input {incoming.shape}",
                                 "use a smaller kernel or stride, or more padding")
        else:
            if weight.ndim != 2:
                raise self.error(n, f"weight has shape {weight.shape}, not (out, in)", "export a 2-D weight")
            if weight.shape[1] != c * h * w:
                raise self.error(n, f"its weight takes {weight.shape[1]} inputs and its input "
                                    f"{_shape_text(incoming)} has {c * h * w}", "fix the graph's shapes")
            if not incoming.flat and h * w > 1:
                raise self.error(n, f"it is applied to a {incoming.shape} map without Flatten (NIR would apply it "
                                    f"along the last axis only)", "put a Flatten node before it")
            if h != w:
                raise self.error(n, f"it reads a {h}x{w} map, so its kernel would be {h}x{w}, and the chip's kernels "
                                    f"are square", "pool or crop to a square map before it, or use a Conv2d")
            # PyTorch's Flatten (and NIR's) orders the vector (c, h, w): reshaping in C order undoes it.
            weight, k, stride, padding = weight.reshape(weight.shape[0], c, h, w), h, (1, 1), (0, 0)
            out = (weight.shape[0], 1, 1)
        bias = getattr(node, "bias", None) if t != "Linear" else None
        if bias is not None:
            bias = _float(bias, "bias", n, node).reshape(-1)
            if bias.size not in (1, out[0]):
                raise self.error(n, f"bias has {bias.size} values for {out[0]} output channels", "fix the export")
            bias = np.broadcast_to(bias, (out[0],)).copy()
        self.conv[n] = {"weight": weight, "bias": bias, "stride": stride, "padding": padding}
        return _Signal(out, flat=t != "Conv2d")

    def _neurons(self, n, incoming: _Signal):
        """Threshold (uniform), r (uniform per channel, folded into the weights) and v_reset."""
        node, size = self.nodes[n], math.prod(incoming.shape)

        def param(what):
            a = _float(getattr(node, what), what, n, node).reshape(-1)
            if a.size not in (1, size):
                raise self.error(n, f"{what} has {a.size} values for {size} neurons {incoming.shape}",
                                 "fix the export")
            return np.broadcast_to(a, (size,)).reshape(incoming.shape)

        threshold = param("v_threshold")
        if np.any(threshold != threshold.reshape(-1)[0]):
            raise self.error(n, f"per-neuron thresholds {_describe(threshold)}: a core has one threshold",
                             "train with one threshold for the whole layer")
        self.threshold[n] = float(threshold.reshape(-1)[0])
        r = param("r").reshape(incoming.shape[0], -1)
        if np.any(r != r[:, :1]):
            raise self.error(n, f"r (input resistance) varies within a channel ({_describe(r)}); it is folded "
                                f"into the weights of the convolution before it, which are shared over the map",
                             "use one r per channel, or r = 1")
        self.r[n] = r[:, 0]
        self.v_reset[n] = None if getattr(node, "v_reset", None) is None else param("v_reset")

    def _pool(self, n, incoming: _Signal) -> _Signal:
        node = self.nodes[n]
        if incoming.flat:
            raise self.error(n, f"it pools a flat vector {_shape_text(incoming)}", "pool before the Flatten")
        k = _pair(node.kernel_size, "kernel_size", n, node)
        stride = k if getattr(node, "stride", None) is None else _pair(node.stride, "stride", n, node)
        padding = (0, 0) if getattr(node, "padding", None) is None else _pair(node.padding, "padding", n, node)
        if k[0] != k[1]:
            raise self.error(n, f"non-square pooling {k[0]}x{k[1]}: a route pools both axes alike",
                             "use a square pooling kernel")
        if stride != k:
            raise self.error(n, f"pooling stride {stride} differs from its kernel {k}: the chip pools by dividing "
                                f"addresses, which is a stride equal to the kernel", "use stride = kernel_size")
        if padding != (0, 0):
            raise self.error(n, f"pooling padding {padding}: the chip's pooling does not pad", "use padding 0")
        c, h, w = incoming.shape
        if h < k[0] or w < k[0]:
            raise self.error(n, f"it pools a {h}x{w} map by {k[0]}", "use a smaller pooling")
        self.pool[n] = (k[0], type(node).__name__ == "AvgPool2d")
        return _Signal((c, h // k[0], w // k[0]))  # PyTorch floors; the chip's rounding up is the builder's

    def _output(self, n):
        """An Output reads an IF's spikes, maybe flattened; the chip monitors spikes before pooling."""
        for p, _, _, via in self._sources(n):
            pools = [m for m in via if self.kind[m] == "pool"]
            if pools or p == self.input:
                what = f"the pooled spikes of '{pools[0]}'" if pools else "the input"
                raise self.error(n, f"it reads {what}, and the chip monitors a layer's spikes before the pooling "
                                    f"of its routes",
                                 "take the output from an IF node")

    def _sources(self, target):
        """[(IF or Input node, pooling, AvgPool factor, nodes passed)] of every path into `target`
        through pooling and Flatten nodes."""
        found = []

        def walk(n, pooling, factor, via):
            for p in self.preds[n]:
                kind = self.kind[p]
                if kind in ("spike", "input"):
                    found.append((p, pooling, factor, via))
                elif p in via:
                    raise self.error(p, f"it is on a cycle with no neurons ({' -> '.join(via)})", "remove the cycle")
                elif kind == "pool":
                    k, avg = self.pool[p]
                    walk(p, pooling * k, factor / (k * k) if avg else factor, via + (p,))
                else:
                    walk(p, pooling, factor, via + (p,))

        walk(target, 1, 1.0, ())
        return found

    def _is_output(self, spike) -> bool:
        todo = list(self.succs[spike])
        if not todo:
            return True  # NIR's own type inference puts an Output after every leaf
        while todo:
            m = todo.pop()
            if self.kind[m] == "output":
                return True
            if self.kind[m] == "flatten":
                todo.extend(self.succs[m])
        return False

    def network(self, reset: str, bounds: dict, dvs: Optional[bool], notes: dict) -> Network:
        weighted = [n for n in self.order if self.kind[n] == "weight"]
        for n in self.order:
            if self.kind[n] == "output":
                self._output(n)
        index = {n: i for i, n in enumerate(weighted)}
        routes = {n: [] for n in weighted}
        input_routes, avg_notes, r_notes = [], {}, {}
        for n in weighted:
            paths = self._sources(n)
            factors = sorted({f for _, _, f, _ in paths})
            if len(factors) > 1:
                described = ", ".join(f"'{src}' x{f:g}" for src, _, f, _ in paths)
                raise self.error(n, f"it receives different AvgPool factors ({described}), and one layer's weights "
                                    f"can absorb only one", "use the same pooling on every input, or SumPool2d")
            sources = [src for src, _, _, _ in paths]
            for src in sources:
                if sources.count(src) > 1:
                    raise self.error(n, f"'{src}' reaches it by {sources.count(src)} paths", "keep one path")
            for src, pooling, _, _ in paths:
                route = Route(target=index[n], pooling=pooling)
                (input_routes if src == self.input else routes[self.preds[src][0]]).append(route)
            if factors[0] != 1.0:
                self.conv[n]["weight"] = self.conv[n]["weight"] * factors[0]
                avg_notes[n] = factors[0]
        for n in weighted:
            if len(routes[n]) > _DESTINATIONS:
                spike = self.succs[n][0]
                targets = ", ".join(weighted[r.target] for r in routes[n])
                raise self.error(spike, f"it sends to {len(routes[n])} layers ({targets}), and a core has "
                                        f"{_DESTINATIONS} destinations", "give that layer at most two successors")
        c, h, w = self.signal[self.input].shape
        dvs_layer = None
        if dvs is None:
            # as for PyTorch models: camera events enter through the DVS layer when it can take them
            dvs = c in (1, 2) and h <= DVS_MAX_SIZE and w <= DVS_MAX_SIZE
            notes["dvs_input"] = {"applied": bool(dvs), "from": "input shape"}
        else:
            notes["dvs_input"] = {"applied": bool(dvs), "from": "argument"}
        if dvs:
            input_routes, dvs_layer = self._dvs(input_routes, (c, h, w))
        layers = []
        for n in weighted:
            spike, conv = self.succs[n][0], self.conv[n]
            weight, bias, r = conv["weight"], conv["bias"], self.r[spike]
            if np.any(r != 1):
                # dv/dt = r * I with no leak: scaling the input current is scaling the weights and bias
                weight = weight * r.astype(weight.dtype)[:, None, None, None]
                bias = None if bias is None else bias * r.astype(bias.dtype)
                r_notes[spike] = float(r[0]) if np.all(r == r[0]) else [float(x) for x in r]
            layers.append(SpikingLayer(
                name=n, weight=weight, bias=bias if bias is not None and np.any(bias != 0) else None,
                input_shape=self.incoming[n].shape, stride=conv["stride"], padding=conv["padding"],
                threshold=self.threshold[spike], min_v_mem=bounds[spike], reset=reset, spiking_name=spike,
                routes=sorted(routes[n], key=lambda r: (r.target, r.pooling)), is_output=self._is_output(spike)))
        if avg_notes:
            notes["avg_pool_weight_factor"] = avg_notes
        if r_notes:
            notes["r_folded_into_weights"] = r_notes
        return Network(input_shape=(c, h, w), layers=layers, dvs=dvs_layer, notes=notes,
                       input_routes=sorted(input_routes, key=lambda r: (r.target, r.pooling)))

    def _dvs(self, input_routes: list, shape: tuple):
        """The DVS layer in front: it pools once for all its destinations, which take no pooling."""
        c, h, w = shape
        if c not in (1, 2):
            raise self.error(self.input, f"dvs_input=True with {c} input channels; the DVS layer gives 2 polarities, "
                                         f"or 1 merged", "use 1 or 2 input channels, or dvs_input=False")
        poolings = sorted({r.pooling for r in input_routes})
        if len(poolings) > 1:
            raise self.error(self.input, f"the input reaches layers with poolings {poolings}, and the DVS layer pools "
                                         f"once for all its destinations", "pool every input path alike")
        if len(input_routes) > _DESTINATIONS:
            raise self.error(self.input, f"the input feeds {len(input_routes)} layers, and the DVS layer has "
                                         f"{_DESTINATIONS} destinations", "feed at most two layers from the input")
        p = poolings[0] if poolings else 1
        return [Route(r.target) for r in input_routes], DvsInput((2, h, w), merge_polarity=c == 1, pooling=(p, p))
