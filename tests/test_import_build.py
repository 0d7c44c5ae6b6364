"""A Network on the chip: integers, cores, destinations, the DVS layer, and the record of what
the importer decided (`config.model`)."""

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch is not installed (pip install 'speksim[torch]')")
sl = pytest.importorskip("sinabs.layers", reason="sinabs is not installed (pip install sinabs --no-deps)")
from torch import nn  # noqa: E402

import speksim  # noqa: E402
from speksim.config.jsonio import config_from_dict, config_to_dict, configs_equal  # noqa: E402
from speksim.errors import ModelError, PlacementError  # noqa: E402


def int_model():
    """Two layers with integer weights, so discretize=False keeps them as they are."""
    c0, c1 = nn.Conv2d(2, 4, 3, padding=1, bias=False), nn.Conv2d(4, 3, 3, bias=True)
    c0.weight.data = torch.arange(72, dtype=torch.float32).reshape(4, 2, 3, 3) % 7 - 3
    c1.weight.data = torch.ones(3, 4, 3, 3)
    c1.bias.data = torch.tensor([0.0, 2.0, -1.0])
    return nn.Sequential(c0, sl.IAFSqueeze(batch_size=1, spike_threshold=5.0, min_v_mem=-5.0), sl.SumPool2d(2),
                         c1, sl.IAFSqueeze(batch_size=1, spike_threshold=3.0,
                                           reset_fn=__import__("sinabs").activation.MembraneReset()))


def test_integers_destinations_and_dvs_layer():
    model = int_model()
    config = speksim.from_torch(model, (2, 16, 16), discretize=False, placement={"0": 4, "3": 7})
    speksim.validate(config, "speck2f")
    a, b = config.cnn_layers[4], config.cnn_layers[7]
    np.testing.assert_array_equal(a.weights, model[0].weight.detach().numpy().astype(np.int8))
    assert (a.threshold_high, a.threshold_low, a.return_to_zero) == (5, -5, False)
    assert (b.threshold_high, b.threshold_low, b.return_to_zero) == (3, -32768, True)
    # a non-zero bias is the core's leak, added per slow-clock tick
    assert b.leak_enable and list(b.biases) == [0, 2, -1] and not a.leak_enable
    d = a.destinations[0]
    assert (d.enable, d.layer, d.pooling, d.feature_shift) == (True, 7, 2, 0) and not a.destinations[1].enable
    assert b.monitor_enable and not a.monitor_enable
    assert (b.dimensions.input_shape.size.x, b.dimensions.input_shape.size.y) == (8, 8)
    dvs = config.dvs_layer
    assert dvs.destinations[0].enable and dvs.destinations[0].layer == 4 and not dvs.merge
    assert (dvs.cut.x, dvs.cut.y, dvs.origin.x, dvs.origin.y) == (15, 15, 0, 0)
    assert [layer["core"] for layer in config.model["layers"]] == [4, 7]
    assert config.model["placement"] == "given" and config.model["discretized"] is False


def test_model_record_survives_a_configuration_file(tmp_path):
    config = speksim.from_torch(int_model(), (2, 16, 16), discretize=False)
    speksim.save_config(config, tmp_path / "net.json")
    back = speksim.load_config(tmp_path / "net.json")
    assert back.model == config.model
    assert configs_equal(back, config)
    # the record changes nothing on the chip: equal configurations with or without it
    bare = config_from_dict({k: v for k, v in config_to_dict(config).items() if k != "model"})
    assert bare.model is None and configs_equal(bare, config)


def test_discretize_false_refuses_fractions_and_says_what_to_do():
    model = nn.Sequential(nn.Conv2d(2, 2, 1, bias=False), sl.IAFSqueeze(batch_size=1))
    model[0].weight.data.fill_(0.3)
    with pytest.raises(ModelError, match="'0\\+1'.*whole numbers.*discretize=True"):
        speksim.from_torch(model, (2, 8, 8), discretize=False)


def test_discretised_scale_and_warning_are_recorded():
    model = nn.Sequential(nn.Conv2d(2, 2, 1, bias=False), sl.IAFSqueeze(batch_size=1, spike_threshold=1.0))
    model[0].weight.data = torch.tensor([0.2, 0.3, 0.1, 0.05]).reshape(2, 2, 1, 1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        config = speksim.from_torch(model, (2, 8, 8))   # min_v_mem None: the scale is capped at 1
    layer = config.model["layers"][0]
    assert layer["scale"] == 1.0
    assert any(issubclass(w.category, speksim.ModelWarning) for w in caught)
    assert config.model["warnings"] and "min_v_mem" in " ".join(config.model["warnings"])


def test_host_input_goes_to_the_first_core():
    model = nn.Sequential(nn.Conv2d(3, 4, 1, bias=False), sl.IAFSqueeze(batch_size=1))
    model[0].weight.data.fill_(1.0)
    config = speksim.from_torch(model, (3, 4, 4), discretize=False)
    core = config.model["layers"][0]["core"]
    assert config.model["input"] == {"shape": [3, 4, 4], "dvs": False, "core": core}
    assert not any(d.enable for d in config.dvs_layer.destinations)


def classifier(n_classes=3):
    """2x4x4 input -> Linear to n_classes, integer weights: class k sums the input of channel 0
    with weight k + 1, so a burst of events makes class n - 1 fire the most."""
    lin = nn.Linear(32, n_classes, bias=False)
    w = torch.zeros(n_classes, 2, 4, 4)
    for k in range(n_classes):
        w[k, 0] = k + 1
    lin.weight.data = w.reshape(n_classes, 32)
    return nn.Sequential(nn.Flatten(), lin, sl.IAFSqueeze(batch_size=1, spike_threshold=4.0))


@pytest.mark.parametrize("chip", ["speck2f", "dynapcnn"])
def test_readout_reports_the_model_class(chip):
    config = speksim.from_torch(classifier(), (2, 4, 4), chip, discretize=False, readout=True)
    speksim.validate(config, chip)
    core = config.model["layers"][0]["core"]
    layer = config.cnn_layers[core]
    assert layer.destinations[0].enable and layer.destinations[0].layer == 12
    assert config.readout.enable and config.readout.readout_configuration_sel == 3
    # on speck2f the erratum makes readout class i read feature 4(i - 1): channel k moves to 4k
    step = 4 if chip == "speck2f" else 1
    assert layer.dimensions.output_shape.feature_count == step * 2 + 1
    assert config.model["readout"]["feature_of_class"] == [0, step, 2 * step]
    # 20 OFF events at one pixel in each of 20 slow-clock ticks (1 ms): each adds k + 1 to class
    # k's neuron, threshold 4, so per tick class 2 fires 15 times, class 1 10, class 0 5; the
    # readout's 16-tick mean of class 2 reaches 15 once 16 ticks are in its window
    t = np.repeat(np.arange(20) * 1000 + 100, 20)
    events = speksim.make_events("dvs", t=t, x=np.ones(400), y=np.ones(400), p=np.zeros(400))
    result = speksim.simulate(config, events, chip)
    ticks = result.readout()
    # ticks at 1..19 ms; the run ends when the chip is idle after the last input (19.1 ms), and a
    # later tick alone does not keep it alive (T12)
    assert len(ticks) == 19
    assert ticks["class"][-1] == 3 and ticks["average"][-1] == 15   # readout class 3: the model's channel 2


def test_placement_errors_name_the_layer():
    model = nn.Sequential(nn.Conv2d(2, 64, 3, padding=1, bias=False), sl.IAFSqueeze(batch_size=1))
    with pytest.raises(PlacementError, match="neuron"):      # 64 x 128 x 128 neurons fit no core
        speksim.from_torch(model, (2, 128, 128))
    with pytest.raises(ModelError, match="'nope'.*not in the model"):
        speksim.from_torch(int_model(), (2, 16, 16), placement={"nope": 1})


@pytest.mark.filterwarnings("ignore:nirtorch.extract_nir_graph is being deprecated:DeprecationWarning")
def test_a_sinabs_nir_export_gives_the_configuration_of_from_torch():
    sinabs = pytest.importorskip("sinabs")
    pytest.importorskip("nir", reason="nir is not installed (pip install 'speksim[nir]')")
    torch.manual_seed(0)
    iaf = dict(batch_size=1, min_v_mem=-1.0)
    model = nn.Sequential(nn.Conv2d(2, 8, 3, padding=1, bias=False), sl.IAFSqueeze(**iaf), sl.SumPool2d(2),
                          nn.Conv2d(8, 16, 3, stride=2, bias=False), sl.IAFSqueeze(**iaf), sl.SumPool2d(2),
                          nn.Flatten(), nn.Linear(16 * 3 * 3, 10), sl.IAFSqueeze(**iaf))
    graph = sinabs.to_nir(model, torch.zeros(1, 2, 32, 32))
    # NIR's IF has no lower bound, and sinabs' export means "subtract" whatever the NIR version
    # says: both are given, as a user importing a sinabs export must
    from_nir = speksim.from_nir(graph, reset="subtract", min_v_mem=-1.0)
    from_torch = speksim.from_torch(model, (2, 32, 32))
    assert configs_equal(from_nir, from_torch)
    assert len(from_torch.used_cores()) == 3


def test_an_odd_map_pooled_the_pytorch_way_is_a_warning_and_its_edge_events_are_dropped():
    # 15x15 -> pooling 2: PyTorch sizes the next layer 7x7 (floor), the chip's address remap
    # reaches 8x8 (SPEC §1, F5): the last row and column of pooled spikes fall outside (F1)
    c0, c1 = nn.Conv2d(2, 1, 1, bias=False), nn.Conv2d(1, 1, 1, bias=False)
    c0.weight.data.fill_(1.0)
    c1.weight.data.fill_(1.0)
    model = nn.Sequential(c0, sl.IAFSqueeze(batch_size=1), sl.SumPool2d(2), c1, sl.IAFSqueeze(batch_size=1))
    config = speksim.from_torch(model, (2, 15, 15), discretize=False)
    warned = speksim.validate(config, "speck2f")
    assert any("rounded up" in w and "dropped" in w for w in warned)
    # one event per pixel: the 29 pixels of the last row and column (x or y = 14) land on pooled
    # row/column 7, outside core 1's 7x7 input
    xs, ys = np.meshgrid(np.arange(15), np.arange(15))
    events = speksim.make_events("dvs", t=np.arange(225) * 10, x=xs.ravel(), y=ys.ravel(), p=np.ones(225))
    result = speksim.simulate(config, events, "speck2f")
    second = config.model["layers"][1]["core"]
    assert result.core_stats(second)["dropped_out_of_range"] == 29
    assert result.core_stats(second)["events_in"] == 225
