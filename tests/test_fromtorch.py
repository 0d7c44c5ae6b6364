"""PyTorch / sinabs models to a Network: the graph is read from forward (branches, merges, skips,
concatenation), each module means what it means in sinabs, and what the chip cannot do is
refused with a message that names the module and says what to do."""

import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch is not installed (pip install 'speksim[torch]')")
sl = pytest.importorskip("sinabs.layers", reason="sinabs is not installed (pip install sinabs --no-deps)")
import sinabs.activation as sa  # noqa: E402
from torch import nn  # noqa: E402

from speksim.errors import MissingExtraError, ModelError  # noqa: E402
from speksim.importers.fromtorch import network_from_torch  # noqa: E402


def iaf(**kw):
    return sl.IAFSqueeze(batch_size=1, **kw)


def conv(c_in, c_out, k=3, **kw):
    return nn.Conv2d(c_in, c_out, k, bias=False, **kw)


def routes(net):
    """{layer name: [(target layer name or 'readout', pooling, shift)]}, and the input's."""
    name = {i: layer.name for i, layer in enumerate(net.layers)}
    out = {"input": [(name[r.target], r.pooling, r.feature_shift) for r in net.input_routes]}
    for layer in net.layers:
        out[layer.name] = [(name.get(r.target, r.target), r.pooling, r.feature_shift) for r in layer.routes]
    return out


def test_sequential_shapes_pooling_and_avgpool_scale():
    torch.manual_seed(0)
    model = nn.Sequential(conv(2, 4, 3, padding=1), iaf(), nn.AvgPool2d(2), conv(4, 8, 3, stride=2), iaf(),
                          sl.SumPool2d(2), nn.Flatten(), nn.Linear(8 * 3 * 3, 5), iaf(min_v_mem=-1.0))
    net = network_from_torch(model, (2, 32, 32))
    assert [layer.name for layer in net.layers] == ["0", "3", "7"]
    assert [layer.spiking_name for layer in net.layers] == ["1", "4", "8"]
    # 32x32 -> conv k3 p1 -> 32x32; pool 2 -> 16; conv k3 s2 -> (16-3)//2+1 = 7; pool 2 -> 3 (floor)
    assert [layer.input_shape for layer in net.layers] == [(2, 32, 32), (4, 16, 16), (8, 3, 3)]
    assert [layer.output_shape for layer in net.layers] == [(4, 32, 32), (8, 7, 7), (5, 1, 1)]
    assert routes(net) == {"input": [("0", 1, 0)], "0": [("3", 2, 0)], "3": [("7", 2, 0)], "7": []}
    # AvgPool2d(2) turns into sum-pooling, so the next weights carry its 1/4; SumPool2d does not
    np.testing.assert_allclose(net.layers[1].weight, model[3].weight.detach().double().numpy() * 0.25)
    # a Linear after Flatten is a convolution whose kernel covers the whole 8x3x3 map, channels first
    lin = model[7].weight.detach().double().numpy()
    assert net.layers[2].weight.shape == (5, 8, 3, 3)
    np.testing.assert_array_equal(net.layers[2].weight[2, 5, 1, 0], lin[2, 5 * 9 + 1 * 3 + 0])
    np.testing.assert_array_equal(net.layers[2].bias, model[7].bias.detach().double().numpy())
    assert [layer.is_output for layer in net.layers] == [False, False, True]
    assert net.layers[2].min_v_mem == -1.0 and net.layers[0].min_v_mem is None
    assert net.dvs is not None and net.dvs.merge_polarity is False


class Branches(nn.Module):
    """Split after the first layer, a residual skip merged with `+`, a sinabs Merge, and a channel
    concatenation: every way a forward can join two paths."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(conv(1, 4, 3, padding=1), iaf())
        self.a = nn.Sequential(conv(4, 4, 3, padding=1), iaf())
        self.b = nn.Sequential(conv(4, 4, 3, padding=1), iaf())
        self.merge = sl.Merge()
        self.c = nn.Sequential(conv(4, 6, 1), iaf())
        self.head = nn.Sequential(conv(10, 3, 1), iaf())

    def forward(self, x):
        s = self.stem(x)
        a = self.a(s)
        b = self.b(a + s)              # residual: a and the skip from s both reach b
        c = self.c(self.merge(a, b))   # a second merge, sinabs' way
        return self.head(torch.cat([b, c], dim=1))


def test_branches_merges_and_concatenation_become_routes():
    net = network_from_torch(Branches(), (1, 16, 16))
    assert [layer.name for layer in net.layers] == ["stem.0", "a.0", "b.0", "c.0", "head.0"]
    # b's 4 channels come first in the concatenation, c's 6 follow them: shift 4
    assert routes(net) == {
        "input": [("stem.0", 1, 0)],
        "stem.0": [("a.0", 1, 0), ("b.0", 1, 0)],
        "a.0": [("b.0", 1, 0), ("c.0", 1, 0)],
        "b.0": [("c.0", 1, 0), ("head.0", 1, 0)],
        "c.0": [("head.0", 1, 4)],
        "head.0": [],
    }
    assert net.layers[4].input_shape == (10, 16, 16)
    assert net.dvs.merge_polarity is True  # one input channel: the DVS layer merges ON and OFF


def test_batchnorm_is_folded_into_the_convolution():
    torch.manual_seed(1)
    c, bn = nn.Conv2d(2, 3, 3, bias=True), nn.BatchNorm2d(3)
    bn.running_mean.uniform_(-1, 1)
    bn.running_var.uniform_(0.5, 2)
    bn.weight.data.uniform_(0.5, 1.5)
    bn.bias.data.uniform_(-0.5, 0.5)
    model = nn.Sequential(c, bn, iaf()).eval()
    net = network_from_torch(model, (2, 8, 8))
    x = torch.rand(1, 2, 8, 8)
    expected = bn(c(x)).detach().double().numpy()
    layer = net.layers[0]
    folded = torch.nn.functional.conv2d(x.double(), torch.from_numpy(layer.weight),
                                        torch.from_numpy(layer.bias)).numpy()
    np.testing.assert_allclose(folded, expected, rtol=1e-5, atol=1e-6)


def test_dvs_layer_takes_pooling_before_the_first_layer():
    model = nn.Sequential(nn.AvgPool2d(4), conv(2, 4, 3), iaf())
    net = network_from_torch(model, (2, 128, 128))
    assert net.dvs.pooling == (4, 4)
    assert net.layers[0].input_shape == (2, 32, 32)
    np.testing.assert_allclose(net.layers[0].weight, model[1].weight.detach().double().numpy() / 16)


def test_host_input_when_the_input_cannot_enter_the_dvs_layer():
    net = network_from_torch(nn.Sequential(conv(3, 4), iaf()), (3, 16, 16))
    assert net.dvs is None and net.notes["dvs_input"]["applied"] is False
    with pytest.raises(ModelError, match="dvs_input=True"):
        network_from_torch(nn.Sequential(nn.AvgPool2d(2), conv(3, 4), iaf()), (3, 16, 16))


@pytest.mark.parametrize("model, words", [
    (nn.Sequential(conv(2, 4), iaf(), nn.MaxPool2d(2), conv(4, 4), iaf()), ["'2'", "MaxPool2d", "AvgPool2d"]),
    (nn.Sequential(conv(2, 4), sl.LIF(tau_mem=10.0)), ["'1'", "LIF", "leak", "IAF"]),
    (nn.Sequential(conv(2, 4), conv(4, 4), iaf()), ["'0'", "two convolutions", "IAF"]),
    (nn.Sequential(iaf(), conv(2, 4), iaf()), ["'0'", "no convolution"]),
    (nn.Sequential(conv(2, 4), nn.ReLU()), ["'1'", "from_model"]),
    (nn.Sequential(conv(2, 4), iaf(spike_threshold=torch.tensor([1.0, 2.0, 1.0, 1.0]).view(4, 1, 1))),
     ["'1'", "spike_threshold", "uniform"]),
    (nn.Sequential(conv(2, 4), iaf(reset_fn=sa.MembraneSubtract(subtract_value=0.5))),
     ["'1'", "subtract_value", "threshold"]),
    (nn.Sequential(nn.Conv2d(2, 4, (3, 5)), iaf()), ["'0'", "square"]),
    (nn.Sequential(nn.Conv2d(2, 4, 3, dilation=2), iaf()), ["'0'", "dilation"]),
    (nn.Sequential(conv(2, 4), iaf(), nn.AvgPool2d(2, stride=1), conv(4, 4), iaf()), ["'2'", "stride"]),
    (nn.Sequential(conv(2, 4)), ["'0'", "no spiking layer", "add_spiking_output"]),
])
def test_unsupported_modules_are_named_with_what_to_do(model, words):
    with pytest.raises(ModelError) as err:
        network_from_torch(model, (2, 16, 16))
    for w in words:
        assert w in str(err.value)


class ThreeWays(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(conv(2, 4, 1), iaf())
        self.x, self.y, self.z = (nn.Sequential(conv(4, 4, 1), iaf()) for _ in range(3))

    def forward(self, x):
        s = self.stem(x)
        return self.x(s) + self.y(s) + self.z(s)


def test_more_than_two_destinations_is_refused():
    with pytest.raises(ModelError, match=r"'stem\.1'.*3 layers.*at most two destinations"):
        network_from_torch(ThreeWays(), (2, 8, 8))


def test_a_layer_fed_through_two_different_average_poolings_is_refused():
    class Mixed(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Sequential(conv(2, 4, 1), iaf())
            self.p2, self.p4 = nn.AvgPool2d(2), nn.AvgPool2d(4)
            self.b = nn.Sequential(conv(4, 4, 1), iaf(), nn.AvgPool2d(2))
            self.head = nn.Sequential(conv(4, 4, 1), iaf())

        def forward(self, x):
            a = self.a(x)
            return self.head(self.p4(a) + self.b(a))

    with pytest.raises(ModelError, match="different average-pooling factors"):
        network_from_torch(Mixed(), (2, 16, 16))


def test_importer_without_torch_says_which_extra_to_install():
    code = ("import sys; sys.modules['torch'] = None\n"
            "import speksim\n"
            "from speksim.errors import MissingExtraError\n"
            "try:\n"
            "    speksim.from_torch(object(), (2, 8, 8))\n"
            "except MissingExtraError as e:\n"
            "    print('ok', e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.startswith("ok") and "speksim[torch]" in out
    assert issubclass(MissingExtraError, ImportError)


def test_import_speksim_does_not_import_the_optional_extras():
    code = ("import sys, speksim, speksim.importers.build, speksim.cli\n"
            "print([m for m in ('torch', 'sinabs', 'nir') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
