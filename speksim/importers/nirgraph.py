"""The graph walk behind `speksim.importers.fromnir`: a NIR graph's nodes and edges checked
against what the chip can compute, its shapes inferred, and the layers and routes of a `Network`
built, once the reset meaning and lower bounds are chosen.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..config.model import conv_out
from ..errors import ModelError
from .graph import DvsInput, Network, Route, SpikingLayer, fits_dvs

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


@dataclass(frozen=True)
class Signal:
    """What flows out of a node: a map (c, h, w) as the chip sees it, and whether NIR sees it as a
    flat vector (after Flatten or Affine)."""

    shape: tuple
    flat: bool = False


def as_array(x) -> np.ndarray:
    """A numpy array from a numpy value, a Python number or a torch tensor (sinabs exports
    tensors), without importing torch."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def describe_array(a: np.ndarray) -> str:
    a = np.asarray(a).reshape(-1)
    return f"{a[0]:g}" if np.all(a == a[0]) else f"between {a.min():g} and {a.max():g}"


def _natural(name: str):
    """Sort key that puts '2' before '10' and 'conv2' before 'conv10': exporters number nodes."""
    return [int(t) if i % 2 else t for i, t in enumerate(re.split(r"(\d+)", name))], name


def _node_error(name, node, why, fix) -> ModelError:
    return ModelError(f"NIR node '{name}' ({type(node).__name__}): {why}; {fix}")


def _pair(value, what: str, name, node) -> tuple:
    a = as_array(value).reshape(-1)
    if a.size == 1:
        a = np.repeat(a, 2)
    if a.size != 2 or not np.all(a == np.round(a)):
        raise _node_error(name, node, f"{what} is {value!r}, not one integer or a pair", f"give {what} as (y, x)")
    return int(a[0]), int(a[1])


def _float(value, what: str, name, node) -> np.ndarray:
    """A copy in the array's own float precision (float64 for integers); finite values only."""
    a = as_array(value)
    a = a.astype(np.float64) if not np.issubdtype(a.dtype, np.floating) else a.copy()
    if not np.all(np.isfinite(a)):
        raise _node_error(name, node, f"{what} has NaN or infinite values", "fix the trained parameters")
    return a


def _shape_text(s: Signal) -> str:
    return f"{s.shape} (flat)" if s.flat else str(s.shape)


class NirGraph:
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

    def infer_shapes(self, input_signal: Signal):
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
                self.signal[n] = Signal(incoming.shape, flat=True)
            else:
                self.signal[n] = incoming
        for n in self.order[1:]:
            self._agree(n, self.preds[n])

    def _agree(self, n, preds) -> Signal:
        signals = [self.signal[p] for p in preds]
        for p, s in zip(preds[1:], signals[1:]):
            if s != signals[0]:
                raise self.error(n, f"it sums inputs of different shapes ('{preds[0]}' gives "
                                    f"{_shape_text(signals[0])}, '{p}' gives {_shape_text(s)})",
                                 "give every input of a sum the same shape (pool or flatten them alike)")
        return signals[0]

    def _weight(self, n, incoming: Signal) -> Signal:
        node, t = self.nodes[n], type(self.nodes[n]).__name__
        c, h, w = incoming.shape
        weight = _float(node.weight, "weight", n, node)
        if t == "Conv2d":
            if incoming.flat:
                raise self.error(n, f"its input is a flat vector {_shape_text(incoming)}, and a convolution needs "
                                    f"a (channels, height, width) map", "remove the Flatten before it")
            groups, dilation = int(as_array(node.groups).reshape(-1)[0]), _pair(node.dilation, "dilation", n, node)
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
            declared = None if declared is None else tuple(int(x) for x in as_array(declared).reshape(-1))
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
        return Signal(out, flat=t != "Conv2d")

    def _neurons(self, n, incoming: Signal):
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
            raise self.error(n, f"per-neuron thresholds {describe_array(threshold)}: a core has one threshold",
                             "train with one threshold for the whole layer")
        self.threshold[n] = float(threshold.reshape(-1)[0])
        r = param("r").reshape(incoming.shape[0], -1)
        if np.any(r != r[:, :1]):
            raise self.error(n, f"r (input resistance) varies within a channel ({describe_array(r)}); it is folded "
                                f"into the weights of the convolution before it, which are shared over the map",
                             "use one r per channel, or r = 1")
        self.r[n] = r[:, 0]
        self.v_reset[n] = None if getattr(node, "v_reset", None) is None else param("v_reset")

    def _pool(self, n, incoming: Signal) -> Signal:
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
        return Signal((c, h // k[0], w // k[0]))  # PyTorch floors; the chip's rounding up is the builder's

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
            dvs = fits_dvs((c, h, w))
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
