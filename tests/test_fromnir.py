"""NIR graphs to a Network: shapes, routes, weight folding, the structural errors, and the IF
reset meaning taken from the argument, the sidecar file or the nir version the file records.

Expected shapes use PyTorch's size formula, out = (n + 2p - k) // s + 1, worked out in comments."""

from __future__ import annotations

import math
import random
import sys
import warnings

import numpy as np
import pytest

from speksim.errors import MissingExtraError, ModelError
from speksim.importers.fromnir import NirResetWarning, network_from_nir

nir = pytest.importorskip("nir")
h5py = pytest.importorskip("h5py")


# --- graph builders ---------------------------------------------------------------------------

def _w(*shape, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype(np.float32)


def _conv(weight, stride=1, padding=0, bias=None, dilation=1, groups=1, input_shape=None):
    bias = np.zeros(weight.shape[0], np.float32) if bias is None else bias
    return nir.Conv2d(input_shape=input_shape, weight=weight, stride=stride, padding=padding, dilation=dilation,
                      groups=groups, bias=bias)


def _if(shape, threshold=1.0, r=1.0, v_reset=None):
    return nir.IF(r=np.full(shape, r, np.float32), v_threshold=np.full(shape, threshold, np.float32),
                  v_reset=None if v_reset is None else np.full(shape, v_reset, np.float32))


def _pool(k, stride=None, avg=False, padding=0):
    kind = nir.AvgPool2d if avg else nir.SumPool2d
    return kind(kernel_size=np.array(k if isinstance(k, tuple) else (k, k)),
                stride=np.array(stride if isinstance(stride, tuple) else (stride or k,) * 2),
                padding=np.array((padding, padding)))


def _graph(nodes: dict, edges: list):
    """Without nir's own type check, so that graphs the chip refuses can be built too."""
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def _chain(*pairs):
    """Edges along a chain of names."""
    return [(a, b) for a, b in zip(pairs, pairs[1:])]


def _read(graph, **kw):
    kw.setdefault("reset", "subtract")
    return network_from_nir(graph, **kw)


def _sequential():
    """Input (2,10,10) -> c1 3x3 pad 1 -> s1 -> 2x2 sum pool -> c2 3x3 stride 2 -> s2 -> Output."""
    nodes = {"input": nir.Input(np.array([2, 10, 10])),
             "c1": _conv(_w(4, 2, 3, 3), padding=1, bias=np.arange(4, dtype=np.float32)),
             "s1": _if((4, 10, 10), threshold=2.0), "p1": _pool(2),
             "c2": _conv(_w(3, 4, 3, 3, seed=1), stride=2), "s2": _if((3, 2, 2), threshold=0.5),
             "output": nir.Output(np.array([3, 2, 2]))}
    return _graph(nodes, _chain("input", "c1", "s1", "p1", "c2", "s2", "output"))


def _routes(layer):
    return [(r.target, r.pooling) for r in layer.routes]


# --- what a graph becomes ---------------------------------------------------------------------

def test_a_sequential_graph_gives_its_layers_shapes_and_routes():
    g = _sequential()
    net = _read(g, min_v_mem=-1.0)
    assert net.input_shape == (2, 10, 10)
    assert [(r.target, r.pooling) for r in net.input_routes] == [(0, 1)]
    c1, c2 = net.layers
    assert (c1.name, c1.spiking_name, c2.name, c2.spiking_name) == ("c1", "s1", "c2", "s2")
    # c1: (10 + 2*1 - 3) // 1 + 1 = 10; the 2x2 pool on its route gives c2 a 5x5 input; c2:
    # (5 - 3) // 2 + 1 = 2
    assert (c1.input_shape, c1.output_shape, c1.padding) == ((2, 10, 10), (4, 10, 10), (1, 1))
    assert (c2.input_shape, c2.output_shape, c2.stride) == ((4, 5, 5), (3, 2, 2), (2, 2))
    assert _routes(c1) == [(1, 2)] and _routes(c2) == []
    assert (c1.is_output, c2.is_output) == (False, True)
    np.testing.assert_array_equal(c1.weight, g.nodes["c1"].weight)
    np.testing.assert_array_equal(c1.bias, [0, 1, 2, 3])
    assert c2.bias is None  # all-zero bias: no bias memory needed
    assert (c1.threshold, c2.threshold, c1.min_v_mem, c1.reset) == (2.0, 0.5, -1.0, "subtract")
    assert c1.weight.dtype == np.float32  # the file's precision is kept
    assert net.notes["reset"] == {"applied": "subtract", "from": "argument"}
    assert net.notes["min_v_mem"] == {"applied": -1.0, "from": "argument"}
    # a 2-channel 10x10 input fits the DVS layer: camera events enter through it by default
    assert net.dvs is not None and net.notes["dvs_input"] == {"applied": True, "from": "input shape"}


def test_the_graph_is_not_changed_and_reading_twice_gives_the_same_network():
    g = _sequential()
    before = g.nodes["c1"].weight.copy()
    a, b = _read(g), _read(g)
    np.testing.assert_array_equal(g.nodes["c1"].weight, before)
    assert a.notes == b.notes
    for la, lb in zip(a.layers, b.layers):
        assert la.weight.tobytes() == lb.weight.tobytes() and la.routes == lb.routes


def test_an_affine_after_flatten_is_a_convolution_over_the_whole_map_in_pytorch_order():
    weight, bias = _w(5, 12, seed=3), np.arange(5, dtype=np.float32) - 2
    nodes = {"input": nir.Input(np.array([2, 4, 4])), "conv": _conv(_w(3, 2, 2, 2), stride=2),
             "spk": _if((3, 2, 2)), "flat": nir.Flatten(input_type=None, start_dim=0, end_dim=-1),
             "fc": nir.Affine(weight=weight, bias=bias), "out_spk": _if((5,)), "output": nir.Output(np.array([5]))}
    net = _read(_graph(nodes, _chain("input", "conv", "spk", "flat", "fc", "out_spk", "output")))
    fc = net.layers[1]
    # conv: (4 - 2) // 2 + 1 = 2, so the Affine reads a (3, 2, 2) map: a 2x2 kernel, one output pixel
    assert (fc.input_shape, fc.kernel_size, fc.output_shape) == ((3, 2, 2), 2, (5, 1, 1))
    # PyTorch's Flatten numbers the input (c, y, x) as c*4 + y*2 + x for a 2x2 map
    for o in range(5):
        for c in range(3):
            for y in range(2):
                for x in range(2):
                    assert fc.weight[o, c, y, x] == weight[o, c * 4 + y * 2 + x]
    np.testing.assert_array_equal(fc.bias, bias)
    assert _routes(net.layers[0]) == [(1, 1)] and fc.is_output


def test_a_linear_node_has_no_bias_and_a_flat_input_is_a_one_by_one_map():
    nodes = {"input": nir.Input(np.array([8])), "fc1": nir.Linear(weight=_w(4, 8)), "s1": _if((4,)),
             "fc2": nir.Linear(weight=_w(2, 4, seed=1)), "s2": _if((2,))}
    net = _read(_graph(nodes, _chain("input", "fc1", "s1", "fc2", "s2")))
    assert net.input_shape == (8, 1, 1)
    assert [(lay.input_shape, lay.output_shape, lay.bias) for lay in net.layers] == [
        ((8, 1, 1), (4, 1, 1), None), ((4, 1, 1), (2, 1, 1), None)]
    # no Output node: NIR's own inference makes every leaf an output
    assert [lay.is_output for lay in net.layers] == [False, True]
    # input_shape says how the chip sees the vector: 8 = 2 * 2 * 2 values, so a 2x2 kernel
    net = _read(_graph(nodes, _chain("input", "fc1", "s1", "fc2", "s2")), input_shape=(2, 2, 2))
    assert net.input_shape == (2, 2, 2) and net.layers[0].kernel_size == 2


def test_avg_pooling_is_sum_pooling_with_the_next_weights_divided_by_its_area():
    nodes = {"input": nir.Input(np.array([1, 8, 8])), "c1": _conv(_w(2, 1, 1, 1)), "s1": _if((2, 8, 8)),
             "avg": _pool(2, avg=True), "sum": _pool(2), "s2": _if((3, 1, 1)),
             "c2": _conv(_w(3, 2, 2, 2, seed=4), bias=np.ones(3, np.float32))}
    g = _graph(nodes, _chain("input", "c1", "s1", "avg", "sum", "c2", "s2"))
    net = _read(g)
    c2 = net.layers[1]
    # a 2x2 average then a 2x2 sum: pooling 4 on the route (8 -> 2), and the average's 1/(2*2)
    assert _routes(net.layers[0]) == [(1, 4)] and c2.input_shape == (2, 2, 2)
    np.testing.assert_array_equal(c2.weight, g.nodes["c2"].weight * np.float32(0.25))
    np.testing.assert_array_equal(c2.bias, [1, 1, 1])  # the bias is not an input: not divided
    assert net.notes["avg_pool_weight_factor"] == {"c2": 0.25}


def _branches():
    """s1 splits into c2a and c2b, which merge (sum) into c3; s1 also skips to c3 by a 1x1 pool."""
    nodes = {"input": nir.Input(np.array([2, 6, 6])), "c1": _conv(_w(4, 2, 3, 3), padding=1), "s1": _if((4, 6, 6)),
             "c2a": _conv(_w(4, 4, 3, 3, seed=1), padding=1), "s2a": _if((4, 6, 6)),
             "c2b": _conv(_w(4, 4, 1, 1, seed=2)), "s2b": _if((4, 6, 6)),
             "c3": _conv(_w(5, 4, 3, 3, seed=3)), "s3": _if((5, 4, 4)), "output": nir.Output(np.array([5, 4, 4]))}
    edges = _chain("input", "c1", "s1", "c2a", "s2a", "c3", "s3", "output") + _chain("s1", "c2b", "s2b", "c3")
    return nodes, edges


def test_a_branch_and_merge_routes_several_layers_into_one():
    nodes, edges = _branches()
    net = _read(_graph(nodes, edges))
    assert [lay.name for lay in net.layers] == ["c1", "c2a", "c2b", "c3"]
    assert [_routes(lay) for lay in net.layers] == [[(1, 1), (2, 1)], [(3, 1)], [(3, 1)], []]
    assert net.layers[3].input_shape == (4, 6, 6)


def test_a_skip_connection_routes_a_layer_past_the_next():
    nodes = {"input": nir.Input(np.array([1, 4, 4])), "c1": _conv(_w(2, 1, 3, 3), padding=1), "s1": _if((2, 4, 4)),
             "c2": _conv(_w(2, 2, 3, 3, seed=1), padding=1), "s2": _if((2, 4, 4)),
             "c3": _conv(_w(3, 2, 1, 1, seed=2)), "s3": _if((3, 4, 4))}
    edges = _chain("input", "c1", "s1", "c2", "s2", "c3", "s3") + [("s1", "c3")]
    net = _read(_graph(nodes, edges))
    assert [_routes(lay) for lay in net.layers] == [[(1, 1), (2, 1)], [(2, 1)], []]


def test_the_layer_order_does_not_depend_on_the_order_of_nodes_or_edges():
    # exporters write nodes and edges in no reliable order (files list nodes by name); names are
    # ordered naturally, so 'c9' comes before 'c10'
    nodes, edges = _branches()
    nodes = {{"c2a": "c9", "c2b": "c10"}.get(k, k): v for k, v in nodes.items()}
    edges = [tuple({"c2a": "c9", "c2b": "c10"}.get(x, x) for x in e) for e in edges]
    rng = random.Random(5)
    for _ in range(4):
        names, shuffled = list(nodes), list(edges)
        rng.shuffle(names)
        rng.shuffle(shuffled)
        net = _read(_graph({k: nodes[k] for k in names}, shuffled))
        assert [lay.name for lay in net.layers] == ["c1", "c9", "c10", "c3"]
        assert [_routes(lay) for lay in net.layers] == [[(1, 1), (2, 1)], [(3, 1)], [(3, 1)], []]


def test_a_recurrent_edge_routes_a_layer_to_itself():
    nodes = {"input": nir.Input(np.array([1, 4, 4])), "c1": _conv(_w(2, 1, 3, 3), padding=1), "s1": _if((2, 4, 4)),
             "c2": _conv(_w(2, 2, 3, 3, seed=1), padding=1), "s2": _if((2, 4, 4))}
    net = _read(_graph(nodes, _chain("input", "c1", "s1", "c2", "s2") + [("s2", "c2")]))
    assert [lay.name for lay in net.layers] == ["c1", "c2"]
    assert [_routes(lay) for lay in net.layers] == [[(1, 1)], [(1, 1)]]


def test_input_resistance_is_folded_into_the_weights_and_bias_per_channel():
    r = np.array([2.0, 0.5], np.float32)[:, None, None] * np.ones((2, 3, 3), np.float32)
    weight, bias = _w(2, 1, 3, 3), np.array([1.0, 4.0], np.float32)
    nodes = {"input": nir.Input(np.array([1, 5, 5])), "c": _conv(weight, bias=bias),
             "s": nir.IF(r=r, v_threshold=np.ones((2, 3, 3), np.float32))}
    lay = _read(_graph(nodes, _chain("input", "c", "s"))).layers[0]
    # dv/dt = r * (W x + b): channel 0 doubles, channel 1 halves
    np.testing.assert_array_equal(lay.weight[0], weight[0] * 2)
    np.testing.assert_array_equal(lay.weight[1], weight[1] * 0.5)
    np.testing.assert_array_equal(lay.bias, [2.0, 2.0])


def test_a_dvs_input_merges_polarities_for_one_channel_and_takes_the_input_pooling():
    nodes = {"input": nir.Input(np.array([1, 16, 16])), "p": _pool(2), "c": _conv(_w(2, 1, 3, 3), padding=1),
             "s": _if((2, 8, 8))}
    net = _read(_graph(nodes, _chain("input", "p", "c", "s")), dvs_input=True)
    assert (net.dvs.input_shape, net.dvs.merge_polarity, net.dvs.pooling) == ((2, 16, 16), True, (2, 2))
    assert [(r.target, r.pooling) for r in net.input_routes] == [(0, 1)]  # the DVS layer pooled already
    assert net.input_shape == (1, 16, 16) and net.layers[0].input_shape == (1, 8, 8)
    # without the DVS layer the host writes the spikes and the route pools
    net = _read(_graph(nodes, _chain("input", "p", "c", "s")), dvs_input=False)
    assert net.dvs is None and [(r.target, r.pooling) for r in net.input_routes] == [(0, 2)]


def test_conv_padding_same_and_valid():
    nodes = {"input": nir.Input(np.array([1, 5, 5])), "c": _conv(_w(2, 1, 3, 3), padding="same"), "s": _if((2, 5, 5)),
             "d": _conv(_w(2, 2, 3, 3), padding="valid"), "t": _if((2, 3, 3))}
    a, b = _read(_graph(nodes, _chain("input", "c", "s", "d", "t"))).layers
    assert (a.padding, a.output_shape, b.padding, b.output_shape) == ((1, 1), (2, 5, 5), (0, 0), (2, 3, 3))


# --- what the chip cannot do ------------------------------------------------------------------

def _with(replace: dict, edges=None, drop=()):
    """The sequential graph with some nodes replaced or dropped, and optionally other edges."""
    g = _sequential()
    nodes = {k: v for k, v in {**g.nodes, **replace}.items() if k not in drop}
    return _graph(nodes, edges or list(g.edges))


_SEQ = ("input", "c1", "s1", "p1", "c2", "s2", "output")


@pytest.mark.parametrize("graph, words", [
    (lambda: _with({"s1": nir.LIF(tau=np.ones((4, 10, 10)), r=np.ones((4, 10, 10)), v_leak=np.zeros((4, 10, 10)),
                                  v_threshold=np.ones((4, 10, 10)))}), ["'s1' (LIF)", "leaks", "IF"]),
    (lambda: _with({"p1": nir.Delay(delay=np.ones(4))}), ["'p1' (Delay)", "delays"]),
    (lambda: _with({"p1": nir.Scale(scale=np.ones(4))}), ["'p1' (Scale)", "fold the scale"]),
    # c1 -> c2 straight: two convolutions without an IF between them
    (lambda: _with({}, _chain("input", "c1", "c2", "s2", "output")), ["'c1' (Conv2d)", "two convolutions"]),
    # the Input straight into s1: an IF with no convolution before it
    (lambda: _with({"s1": _if((2, 10, 10))}, _chain("input", "s1", "p1", "c2", "s2"), drop=("c1", "output")),
     ["'s1' (IF)", "no convolution before it"]),
    # pooling between a convolution and its IF
    (lambda: _with({}, _chain("input", "c1", "p1", "s1", "c2", "s2")), ["'c1' (Conv2d)", "feeds p1"]),
    (lambda: _with({"p1": _pool(2, stride=1)}), ["'p1' (SumPool2d)", "stride (1, 1) differs from its kernel (2, 2)"]),
    (lambda: _with({"p1": _pool((2, 1), stride=(2, 1))}), ["'p1' (SumPool2d)", "non-square pooling 2x1"]),
    (lambda: _with({"p1": _pool(2, padding=1)}), ["'p1' (SumPool2d)", "padding (1, 1)"]),
    (lambda: _with({"c2": _conv(_w(3, 4, 3, 1), stride=2)}), ["'c2' (Conv2d)", "kernels are square"]),
    (lambda: _with({"c2": _conv(_w(3, 4, 3, 3), stride=2, dilation=2)}), ["'c2' (Conv2d)", "dilation=(2, 2)"]),
    (lambda: _with({"c2": _conv(_w(3, 2, 3, 3), stride=2, groups=2)}), ["'c2' (Conv2d)", "groups=2"]),
    (lambda: _with({"c2": _conv(_w(3, 5, 3, 3), stride=2)}), ["'c2' (Conv2d)", "takes 5 input channels", "has 4"]),
    (lambda: _with({"s2": nir.IF(r=np.ones((3, 2, 2)), v_threshold=np.arange(12.0).reshape(3, 2, 2) + 1)}),
     ["'s2' (IF)", "per-neuron thresholds between 1 and 12", "one threshold"]),
    (lambda: _with({"s2": nir.IF(r=np.arange(12.0).reshape(3, 2, 2) + 1, v_threshold=np.ones((3, 2, 2)))}),
     ["'s2' (IF)", "r (input resistance) varies within a channel"]),
    (lambda: _with({"s2": _if((3, 3, 3))}), ["'s2' (IF)", "27 values for 12 neurons"]),
    # an Output after the pooling: the chip monitors spikes before pooling
    (lambda: _with({"p2": _pool(2)}, _chain(*_SEQ[:-1], "p2", "output")), ["'output' (Output)", "spikes of 'p2'"]),
    (lambda: _with({"extra": nir.Input(np.array([2, 10, 10]))}), ["2 Input nodes", "extra", "merge them"]),
    (lambda: _with({"input": _if((2, 10, 10))}), ["0 Input nodes", "add a nir.Input"]),
    (lambda: _with({}, _chain("c1", "s1", "p1", "c2", "s2", "output")), ["'c1' (Conv2d)", "nothing feeds it"]),
    (lambda: _with({}, list(_sequential().edges) + [("c2", "ghost")]), ["names 'ghost'", "not a node"]),
    (lambda: _with({"c1": _conv(_w(4, 2, 3, 3), padding=1, input_shape=(9, 9))}),
     ["'c1' (Conv2d)", "input_shape (9, 9) disagrees"]),
    (lambda: _graph({"input": nir.Input(np.array([1, 4, 4])), "output": nir.Output(np.array([1, 4, 4]))},
                    [("input", "output")]), ["no Conv2d, Affine or Linear node"]),
    # a cycle of pooling nodes feeds c2 spikes that never went through neurons
    (lambda: _with({"p1": _pool(1), "q": _pool(1), "s2": _if((3, 4, 4))},
                   list(_sequential().edges) + [("p1", "q"), ("q", "p1")]), ["cycle with no neurons"]),
])
def test_what_the_chip_cannot_compute_is_refused_naming_the_node(graph, words):
    with pytest.raises(ModelError) as err:
        _read(graph())
    for w in words:
        assert w in str(err.value)


def test_an_if_summing_two_convolutions_is_refused():
    nodes = {"input": nir.Input(np.array([1, 4, 4])), "a": _conv(_w(2, 1, 1, 1)), "b": _conv(_w(2, 1, 1, 1)),
             "s": _if((2, 4, 4))}
    with pytest.raises(ModelError, match=r"'s' \(IF\): it sums the outputs of a, b"):
        _read(_graph(nodes, [("input", "a"), ("input", "b"), ("a", "s"), ("b", "s")]))


def test_more_than_two_destinations_from_one_layer_is_refused():
    nodes = {"input": nir.Input(np.array([1, 4, 4])), "c": _conv(_w(2, 1, 1, 1)), "s": _if((2, 4, 4))}
    edges = _chain("input", "c", "s")
    for name in ("x", "y", "z"):
        nodes[name], nodes["s" + name] = _conv(_w(1, 2, 1, 1)), _if((1, 4, 4))
        edges += _chain("s", name, "s" + name)
    with pytest.raises(ModelError, match=r"'s' \(IF\): it sends to 3 layers \(x, y, z\).* 2 destinations"):
        _read(_graph(nodes, edges))
    del nodes["z"], nodes["sz"]
    assert len(_read(_graph(nodes, edges[:-2])).layers[0].routes) == 2


def test_a_layer_receiving_two_different_avg_pool_factors_is_refused():
    # s1 (2, 8, 8) reaches c3 through a 2x2 average (factor 1/4), s2 (2, 4, 4) directly (factor 1):
    # the shapes agree, but c3's weights could absorb only one factor
    nodes = {"input": nir.Input(np.array([1, 8, 8])), "c1": _conv(_w(2, 1, 1, 1)), "s1": _if((2, 8, 8)),
             "avg": _pool(2, avg=True), "c2": _conv(_w(2, 2, 2, 2), stride=2), "s2": _if((2, 4, 4)),
             "c3": _conv(_w(1, 2, 1, 1)), "s3": _if((1, 4, 4))}
    edges = _chain("input", "c1", "s1", "avg", "c3", "s3") + _chain("s1", "c2", "s2", "c3")
    with pytest.raises(ModelError, match=r"'c3' \(Conv2d\): it receives different AvgPool factors"):
        _read(_graph(nodes, edges))
    nodes["avg"] = _pool(2)  # sum pooling: no factor, accepted
    assert [_routes(lay) for lay in _read(_graph(nodes, edges)).layers] == [[(1, 1), (2, 2)], [(2, 1)], []]


def test_a_sum_of_different_shapes_is_refused():
    nodes = {"input": nir.Input(np.array([1, 8, 8])), "c1": _conv(_w(2, 1, 1, 1)), "s1": _if((2, 8, 8)),
             "c2": _conv(_w(2, 2, 1, 1)), "s2": _if((2, 8, 8)), "p": _pool(2), "c3": _conv(_w(1, 2, 1, 1)),
             "s3": _if((1, 4, 4))}
    edges = _chain("input", "c1", "s1", "c2", "s2", "c3", "s3") + _chain("s1", "p", "c3")
    with pytest.raises(ModelError, match=r"'c3' \(Conv2d\): it sums inputs of different shapes"):
        _read(_graph(nodes, edges))


@pytest.mark.parametrize("shape, fc_in, words", [
    ((2, 2, 2), 8, "without Flatten"),  # NIR would apply an Affine along the last axis only
    ((2, 2, 3), 12, "kernel would be 2x3"),
])
def test_an_affine_the_chip_cannot_express_as_a_square_kernel_is_refused(shape, fc_in, words):
    nodes = {"input": nir.Input(np.array(shape)), "fc": nir.Affine(weight=_w(3, fc_in), bias=np.zeros(3)),
             "s": _if((3,))}
    edges = _chain("input", "fc", "s")
    if words != "without Flatten":
        nodes["f"] = nir.Flatten(input_type=None, start_dim=0, end_dim=-1)
        edges = _chain("input", "f", "fc", "s")
    with pytest.raises(ModelError, match=rf"'fc' \(Affine\).*{words}"):
        _read(_graph(nodes, edges))


@pytest.mark.parametrize("kw, words", [
    ({"reset": "hard"}, "reset= must be 'subtract' or 'zero'"),
    ({"min_v_mem": "low"}, "min_v_mem= must be a number"),
    ({"min_v_mem": math.nan}, "min_v_mem= must be a number"),
    ({"min_v_mem": {"s9": -1.0}}, "names 's9', which are not IF nodes"),
    ({"input_shape": (2, 10)}, "input_shape must be (channels, height, width)"),
    ({"input_shape": (1, 10, 10)}, "disagrees with input_shape=(1, 10, 10)"),
    ({"dvs_input": True, "input_shape": (3, 10, 10)}, None),
])
def test_bad_arguments_are_refused(kw, words):
    g = _sequential()
    if "dvs_input" in kw:
        g.nodes["input"] = nir.Input(np.array([3, 10, 10]))
        g.nodes["c1"] = _conv(_w(4, 3, 3, 3), padding=1)
        words = "dvs_input=True with 3 input channels"
    with pytest.raises(ModelError) as err:
        _read(g, **kw)
    assert words in str(err.value)


def test_min_v_mem_per_layer_and_minus_infinity_for_none():
    net = _read(_sequential(), min_v_mem={"s1": -2.0})
    assert [lay.min_v_mem for lay in net.layers] == [-2.0, None]
    assert net.notes["min_v_mem"] == {"applied": {"s1": -2.0, "s2": None}, "from": "argument"}
    assert [lay.min_v_mem for lay in _read(_sequential(), min_v_mem=-math.inf).layers] == [None, None]
    assert _read(_sequential()).notes["min_v_mem"] == {"applied": None, "from": "default (no lower bound)"}


def test_an_in_memory_graph_needs_an_explicit_reset():
    with pytest.raises(ModelError, match="built in memory.*reset='subtract'.*reset='zero'"):
        network_from_nir(_sequential())
    assert network_from_nir(_sequential(), reset="zero").layers[0].reset == "zero"


def test_without_nir_the_error_says_which_extra_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "nir", None)  # makes `import nir` fail
    with pytest.raises(MissingExtraError, match=r"pip install 'speksim\[nir\]'"):
        network_from_nir("model.nir")


# --- files, versions and the sidecar ----------------------------------------------------------

def _file(tmp_path, version="keep", v_reset=None, name="net.nir"):
    """A two-layer graph written by the installed nir; `version` rewrites the version nir records
    (None: none, as before nir 0.2), and files of nir <= 1.0.5 have no v_reset (nir's IF had none)."""
    nodes = {"input": nir.Input(np.array([1, 6, 6])), "c1": _conv(_w(2, 1, 3, 3), input_shape=(6, 6)),
             "s1": _if((2, 4, 4), v_reset=v_reset), "c2": _conv(_w(2, 2, 3, 3), input_shape=(4, 4)),
             "s2": _if((2, 2, 2)), "output": nir.Output(np.array([2, 2, 2]))}
    path = tmp_path / name
    nir.write(path, nir.NIRGraph(nodes=nodes, edges=_chain("input", "c1", "s1", "c2", "s2", "output")))
    if version != "keep":
        with h5py.File(path, "r+") as f:
            # nir writes its version as a root dataset holding a variable-length string
            del f["version"]
            if version is not None:
                f.create_dataset("version", data=version)
            if version in ("0.2.0", "1.0.4", "1.0.5"):
                for node in f["node/nodes"].values():
                    if "v_reset" in node:
                        del node["v_reset"]
    return path


def _quietly(fn, *args, **kw):
    """fn's result and the NirResetWarnings it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn(*args, **kw)
    return result, [w for w in caught if issubclass(w.category, NirResetWarning)]


@pytest.mark.parametrize("version, applied", [("1.0.4", "subtract"), ("1.0.5", "subtract"), ("1.0.6", "zero"),
                                              ("0.2.0", "subtract"), ("1.0.8", "zero")])
def test_without_a_choice_the_reset_follows_the_file_version_with_a_warning(tmp_path, version, applied):
    net, caught = _quietly(network_from_nir, _file(tmp_path, version))
    assert [lay.reset for lay in net.layers] == [applied, applied]
    assert net.notes["reset"] == {"applied": applied, "from": f"file version {version}"}
    assert net.notes["nir_version"] == version and net.notes["file"] == "net.nir"
    assert len(caught) == 1 and f"nir {version}" in str(caught[0].message)


def test_the_installed_nir_records_its_version_and_it_decides_the_reset(tmp_path):
    net, caught = _quietly(network_from_nir, _file(tmp_path))
    assert net.notes["nir_version"] == nir.version and len(caught) == 1


def test_an_explicit_reset_that_disagrees_with_the_version_wins_with_a_warning(tmp_path):
    net, caught = _quietly(network_from_nir, _file(tmp_path, "1.0.8"), reset="subtract")
    assert net.notes["reset"] == {"applied": "subtract", "from": "argument"}
    assert len(caught) == 1 and "disagrees with the file's nir version 1.0.8" in str(caught[0].message)
    net, caught = _quietly(network_from_nir, _file(tmp_path, "1.0.4", name="old.nir"), reset="zero")
    assert net.layers[0].reset == "zero" and len(caught) == 1


def test_an_explicit_reset_that_agrees_with_the_version_gives_no_warning(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert network_from_nir(_file(tmp_path, "1.0.4"), reset="subtract").layers[0].reset == "subtract"
        assert network_from_nir(_file(tmp_path, "1.0.7", name="b.nir"), reset="zero").layers[0].reset == "zero"


def test_a_file_without_a_version_needs_an_explicit_reset(tmp_path):
    path = _file(tmp_path, None)
    with pytest.raises(ModelError, match="records no nir version"):
        network_from_nir(path)
    assert network_from_nir(path, reset="subtract").notes["nir_version"] is None
    with pytest.raises(ModelError, match="'unknown', which is not a version number"):
        network_from_nir(_file(tmp_path, "unknown", name="odd.nir"))


def test_a_reset_to_a_nonzero_v_reset_is_refused_unless_subtract_is_chosen(tmp_path):
    path = _file(tmp_path, "1.0.8", v_reset=0.5)
    with pytest.raises(ModelError, match=r"'s1' \(IF\): v_reset is 0.5"):
        _quietly(network_from_nir, path)
    net, caught = _quietly(network_from_nir, path, reset="subtract")
    assert net.layers[0].reset == "subtract" and any("ignores it" in str(w.message) for w in caught)


def test_the_sidecar_file_gives_reset_and_min_v_mem_and_arguments_win(tmp_path):
    path = _file(tmp_path, "1.0.4")
    (tmp_path / "net.nir.toml").write_text('# exported by sinabs\nreset = "subtract"\nmin_v_mem = -1.5\n')
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the sidecar agrees with nir 1.0.4: no warning
        net = network_from_nir(path)
    assert net.notes["reset"] == {"applied": "subtract", "from": "sidecar"}
    assert net.notes["min_v_mem"] == {"applied": -1.5, "from": "sidecar"} and net.notes["sidecar"] == "net.nir.toml"
    net = network_from_nir(path, reset="subtract", min_v_mem=-0.5)
    assert net.notes["min_v_mem"]["from"] == "argument" and net.layers[1].min_v_mem == -0.5
    (tmp_path / "net.nir.toml").write_text('reset = "zero"\n[min_v_mem]\ns1 = -inf\ns2 = -3.0\n')
    net, caught = _quietly(network_from_nir, path)
    assert [(lay.reset, lay.min_v_mem) for lay in net.layers] == [("zero", None), ("zero", -3.0)]
    assert len(caught) == 1 and "(sidecar) disagrees" in str(caught[0].message)


@pytest.mark.parametrize("text, words", [('reset = "subtract"\nthreshold = 2\n', "unknown key(s) threshold"),
                                         ('reset = "hard"\n', "net.nir.toml: reset must be"),
                                         ("reset = \n", "not valid TOML")])
def test_a_bad_sidecar_file_is_refused(tmp_path, text, words):
    path = _file(tmp_path, "1.0.4")
    (tmp_path / "net.nir.toml").write_text(text)
    with pytest.raises(ModelError) as err:
        network_from_nir(path)
    assert words in str(err.value)


def test_a_missing_or_foreign_file_is_refused(tmp_path):
    with pytest.raises(ModelError, match="no such NIR file"):
        network_from_nir(tmp_path / "absent.nir")
    (tmp_path / "text.nir").write_text("not hdf5")
    with pytest.raises(ModelError, match="not a NIR file"):
        network_from_nir(tmp_path / "text.nir")
    with pytest.raises(ModelError, match="expected a nir.NIRGraph or the path"):
        network_from_nir(42)


def test_a_file_reads_without_torch(tmp_path, monkeypatch):
    path = _file(tmp_path, "1.0.4")
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` fail
    assert len(network_from_nir(path, reset="subtract").layers) == 2


# --- a sinabs export --------------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore:nirtorch.extract_nir_graph is being deprecated:DeprecationWarning")
def test_a_sinabs_export_reads_back_as_the_sinabs_model(tmp_path):
    torch = pytest.importorskip("torch")
    sl = pytest.importorskip("sinabs.layers")
    sinabs_nir = pytest.importorskip("sinabs.nir")
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(2, 4, 3, bias=False), sl.IAFSqueeze(batch_size=1, spike_threshold=2.0),
        sl.SumPool2d(2), torch.nn.Conv2d(4, 8, 3, stride=2, padding=1), sl.IAFSqueeze(batch_size=1),
        torch.nn.Flatten(), torch.nn.Linear(8 * 4 * 4, 10), sl.IAFSqueeze(batch_size=1))
    graph = sinabs_nir.to_nir(model, torch.zeros(1, 2, 18, 18))
    net = network_from_nir(graph, reset="subtract", min_v_mem=-1.0)
    # 18 -> (18 - 3) + 1 = 16, pooled to 8 -> (8 + 2 - 3) // 2 + 1 = 4 -> Linear over (8, 4, 4)
    assert [(lay.input_shape, lay.output_shape) for lay in net.layers] == [
        ((2, 18, 18), (4, 16, 16)), ((4, 8, 8), (8, 4, 4)), ((8, 4, 4), (10, 1, 1))]
    assert [_routes(lay) for lay in net.layers] == [[(1, 2)], [(2, 1)], []]
    assert [lay.threshold for lay in net.layers] == [2.0, 1.0, 1.0]
    np.testing.assert_array_equal(net.layers[0].weight, model[0].weight.detach().numpy())
    np.testing.assert_array_equal(net.layers[2].weight, model[6].weight.detach().numpy().reshape(10, 8, 4, 4))
    np.testing.assert_array_equal(net.layers[1].bias, model[3].bias.detach().numpy())
    # through a file (nir needs its own shape inference to write sinabs' convolutions)
    graph.infer_types()
    nir.write(tmp_path / "sinabs.nir", graph)
    # the file records the installed nir, whose IF resets to v_reset: sinabs' meaning needs saying
    with pytest.warns(NirResetWarning, match="disagrees"):
        again = network_from_nir(tmp_path / "sinabs.nir", reset="subtract", min_v_mem=-1.0)
    for a, b in zip(net.layers, again.layers):
        assert (a.name, a.input_shape, a.routes, a.threshold) == (b.name, b.input_shape, b.routes, b.threshold)
        np.testing.assert_array_equal(a.weight, b.weight)


def test_a_pooled_odd_size_is_floored_as_pytorch_sizes_the_next_layer():
    nodes = {"input": nir.Input(np.array([1, 5, 5])), "c1": _conv(_w(2, 1, 1, 1)), "s1": _if((2, 5, 5)),
             "p": _pool(2), "c2": _conv(_w(2, 2, 1, 1)), "s2": _if((2, 2, 2))}
    net = _read(_graph(nodes, _chain("input", "c1", "s1", "p", "c2", "s2")))
    # 5 // 2 = 2 (the chip's address division would give 3 rows; SPEC lets that through with a warning)
    assert net.layers[1].input_shape == (2, 2, 2)
