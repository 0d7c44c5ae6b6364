"""Placement of a network's layers on the chip's cores: the same cores as sinabs' own search,
errors that say what to change, fixed cores, and the load-balanced mode."""

from __future__ import annotations

import importlib.util
import itertools
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from speksim.chip import load_chip
from speksim.errors import PlacementError
from speksim.importers.graph import SpikingLayer
from speksim.importers.placement import layer_needs, place, placement_table

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT.parent / "shared" / "models"


def load_dynapcnn_module(name):
    """sinabs.backend.dynapcnn.<name>, loaded from its file without running the package's
    __init__ (which tries to install samna). Its relative imports resolve inside a stand-in
    package that points at the same folder."""
    sinabs = pytest.importorskip("sinabs", reason="sinabs is not installed (pip install speksim[sinabs])")
    folder = Path(sinabs.__file__).parent / "backend" / "dynapcnn"
    package = "_sinabs_dynapcnn_parts"
    if package not in sys.modules:
        stand_in = types.ModuleType(package)
        stand_in.__path__ = [str(folder)]
        sys.modules[package] = stand_in
    full = f"{package}.{name}"
    if full not in sys.modules:
        spec = importlib.util.spec_from_file_location(full, folder / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[full] = module
        spec.loader.exec_module(module)
    return sys.modules[full]


@pytest.fixture(scope="module")
def chip():
    return load_chip("speck2f")


@pytest.fixture(scope="module")
def sinabs_mapping():
    return load_dynapcnn_module("mapping")


def sinabs_place(mapping, needs, chip):
    """sinabs' get_valid_mapping on layers whose memory summary is `needs`, with the chip's
    memory tables as its constraints; None where sinabs finds no assignment."""
    base = mapping.DynapcnnLayer

    class Summarised(base):
        def __init__(self, summary):  # no torch layers: get_valid_mapping only reads the summary
            object.__setattr__(self, "_summary", summary)

        def memory_summary(self):
            return self._summary

    constraints = [mapping.LayerConstraints(k, n, b)
                   for k, n, b in zip(chip.kernel_words, chip.neuron_words, chip.bias_words)]
    layers = {i: Summarised(dict(need)) for i, need in enumerate(needs)}
    try:
        found = mapping.get_valid_mapping(layers, constraints)
    except ValueError:
        return None
    return [found[i] for i in range(len(needs))]


def geometry(name, c_out, c_in, k, hw, padding=0, stride=1, bias=None):
    """The needs of a convolution (weights are never read, so zeros do)."""
    return layer_needs(SpikingLayer(name, np.zeros((c_out, c_in, k, k)), bias, (c_in,) + tuple(hw),
                                    stride=(stride, stride), padding=(padding, padding)))


def tiny(i):
    # 2 in ch x 1 x 8 out ch = 16 kernel words, 8 x 4 x 4 = 128 neuron words: fits every core
    return geometry(f"tiny{i}", 8, 2, 1, (4, 4))


def random_needs(rng, n):
    """Needs around the cores' sizes, so that the cores a layer fits vary widely."""
    sizes, odds = [2**10, 2**14, 2**15, 2**16, 2**17], [0.3, 0.3, 0.2, 0.17, 0.03]
    out = []
    for _ in range(n):
        out.append({"kernel": int(rng.choice(sizes, p=odds) * rng.uniform(0.6, 1.0)),
                    "neuron": int(rng.choice(sizes, p=odds) * rng.uniform(0.6, 1.0)),
                    "bias": int(rng.choice([0, 16, 1024, 1500], p=[0.4, 0.4, 0.18, 0.02]))})
    return out


# ---------------------------------------------------------------------------------------------
# the same cores as sinabs


def test_random_needs_place_like_sinabs(chip, sinabs_mapping):
    rng = np.random.default_rng(9)
    agreed = failed = 0
    greedy_differs = 0
    for _ in range(600):
        needs = random_needs(rng, int(rng.integers(1, 10)))
        theirs = sinabs_place(sinabs_mapping, needs, chip)
        if theirs is None:
            with pytest.raises(PlacementError):
                place(needs, chip)
            failed += 1
            continue
        ours = place(needs, chip)
        assert ours == theirs, needs
        agreed += 1
        greedy_differs += ours != _lowest_free_core(needs, chip)
    # both outcomes are common, and often the search moves layers a plain greedy pass would not
    assert agreed > 150 and failed > 150
    assert greedy_differs > 25


def _lowest_free_core(needs, chip):
    taken, out = set(), []
    for need in needs:
        free = [c for c in range(9) if c not in taken and need["kernel"] <= chip.kernel_words[c]
                and need["neuron"] <= chip.neuron_words[c] and need["bias"] <= chip.bias_words[c]]
        out.append(free[0] if free else None)
        taken.update(free[:1])
    return out


def test_random_chips_place_like_sinabs(chip, sinabs_mapping):
    # other memory tables give other competitions between layers than the stock chip's
    rng = np.random.default_rng(13)
    agreed = 0
    for _ in range(300):
        other = chip.replace(kernel_words=_random_table(rng), neuron_words=_random_table(rng),
                             bias_words={c: int(v) for c, v in enumerate(rng.choice([0, 1024, 2048], 9))})
        needs = random_needs(rng, int(rng.integers(1, 10)))
        theirs = sinabs_place(sinabs_mapping, needs, other)
        if theirs is None:
            with pytest.raises(PlacementError):
                place(needs, other)
        else:
            assert place(needs, other) == theirs, (needs, other.kernel_words, other.neuron_words)
            agreed += 1
    assert agreed > 60


def _random_table(rng):
    return {c: int(v) for c, v in enumerate(rng.choice([2**10, 2**14, 2**15, 2**16, 2**17], 9))}


# The DVS Gesture network of ../shared/models/README.md, as (c_in, c_out, k, stride, padding,
# input h=w, Linear?): input 2x128x128, a k=2 stride-2 convolution to 64x64, sum-pooling 2 after
# layers 1..5, the Linear layers convolutions covering their 1x1 input.
GESTURE = [(2, 16, 2, 2, 0, 128, False), (16, 16, 3, 1, 1, 64, False), (16, 32, 3, 1, 1, 32, False),
           (32, 32, 3, 1, 1, 16, False), (32, 64, 3, 1, 1, 8, False), (64, 64, 3, 1, 1, 4, False),
           (64, 256, 2, 1, 0, 2, False), (256, 128, 1, 1, 0, 1, True), (128, 11, 1, 1, 0, 1, True)]
# SPEC §1 by hand, kernel = c_in * 2**(ceil(log2(k*k)) + ceil(log2(c_out))), neuron =
# c_out * 2**(ceil(log2 h) + ceil(log2 w)), no biases:
#   0: 2*4*16 = 128,        16*64*64 = 65536      5: 64*16*64 = 65536,  64*4*4 = 1024
#   1: 16*16*16 = 4096,     16*64*64 = 65536      6: 64*4*256 = 65536,  256*1*1 = 256
#   2: 16*16*32 = 8192,     32*32*32 = 32768      7: 256*1*128 = 32768, 128
#   3: 32*16*32 = 16384,    32*16*16 = 8192       8: 128*1*16 = 2048,   11
#   4: 32*16*64 = 32768,    64*8*8 = 4096
GESTURE_NEEDS = [(128, 65536), (4096, 65536), (8192, 32768), (16384, 8192), (32768, 4096), (65536, 1024),
                 (65536, 256), (32768, 128), (2048, 11)]


def gesture_needs():
    return [geometry(f"layer{i}", c_out, c_in, k, (hw, hw), padding=p, stride=s)
            for i, (c_in, c_out, k, s, p, hw, _) in enumerate(GESTURE)]


def test_gesture_network_places_like_sinabs(chip, sinabs_mapping):
    torch = pytest.importorskip("torch")
    sl = pytest.importorskip("sinabs.layers")
    dynapcnn_layer = load_dynapcnn_module("dynapcnn_layer")
    layers = {}
    for i, (c_in, c_out, k, s, p, hw, linear) in enumerate(GESTURE):
        conv = (torch.nn.Linear(c_in * hw * hw, c_out, bias=False) if linear
                else torch.nn.Conv2d(c_in, c_out, k, stride=s, padding=p, bias=False))
        layers[i] = dynapcnn_layer.DynapcnnLayer(conv, sl.IAFSqueeze(batch_size=1), (c_in, hw, hw), pool=[[1, 1]],
                                                 discretize=False)
    needs = gesture_needs()
    assert [(n["kernel"], n["neuron"], n["bias"]) for n in needs] == [(k, n, 0) for k, n in GESTURE_NEEDS]
    assert [{k: int(v) for k, v in layers[i].memory_summary().items()} for i in range(9)] == \
        [{"kernel": k, "neuron": n, "bias": 0} for k, n in GESTURE_NEEDS]
    found = sinabs_mapping.get_valid_mapping(layers, [sinabs_mapping.LayerConstraints(k, n, b) for k, n, b in
                                                      zip(chip.kernel_words, chip.neuron_words, chip.bias_words)])
    cores = place(needs, chip)
    assert cores == [found[i] for i in range(9)]
    assert sorted(cores) == list(range(9))
    for core, row in zip(cores, placement_table(needs, chip)):
        assert core in row["cores"]


def test_gesture_shapes_match_the_shared_weights():
    path = MODELS / "dvs_gesture_params.pt"
    if not path.is_file():
        pytest.skip(f"../shared/models not found ({path}): the trained networks sit next to the project")
    torch = pytest.importorskip("torch")
    state = torch.load(path, map_location="cpu")
    weights = [tuple(v.shape) for k, v in state.items() if k.endswith("weight")]
    expected = [(c_out, c_in * hw * hw) if linear else (c_out, c_in, k, k)
                for c_in, c_out, k, _, _, hw, linear in GESTURE]
    assert weights == expected
    assert not [k for k in state if k.endswith("bias")]


def test_needs_equal_sinabs_memory_summary():
    # the SPEC §1 formulas and sinabs' own, on random convolutions with biases
    torch = pytest.importorskip("torch")
    sl = pytest.importorskip("sinabs.layers")
    dynapcnn_layer = load_dynapcnn_module("dynapcnn_layer")
    rng = np.random.default_rng(5)
    for _ in range(40):
        c_in, c_out, k = int(rng.integers(1, 300)), int(rng.integers(1, 300)), int(rng.integers(1, 8))
        s, p = int(rng.choice([1, 2, 4])), int(rng.integers(0, 3))
        h, w = int(rng.integers(k, 70)), int(rng.integers(k, 70))
        conv = torch.nn.Conv2d(c_in, c_out, k, stride=s, padding=p, bias=True)
        torch.nn.init.constant_(conv.bias, 0.5)
        theirs = dynapcnn_layer.DynapcnnLayer(conv, sl.IAFSqueeze(batch_size=1), (c_in, h, w), pool=[[1, 1]],
                                              discretize=False).memory_summary()
        ours = SpikingLayer("c", np.zeros((c_out, c_in, k, k)), np.full(c_out, 0.5), (c_in, h, w),
                            stride=(s, s), padding=(p, p)).memory_needs()
        assert ours == {key: int(v) for key, v in theirs.items()}


# ---------------------------------------------------------------------------------------------
# what the user is told when it does not fit


def test_a_layer_too_big_for_every_neuron_memory(chip):
    # 64 output channels on a 64x32 map: 64 * 64 * 32 = 131072 neuron words, twice the largest core
    needs = [tiny(0), tiny(1), tiny(2), geometry("conv3", 64, 16, 3, (64, 32), padding=1)]
    with pytest.raises(PlacementError) as info:
        place(needs, chip, names=["a", "b", "c", "conv3"])
    text = str(info.value)
    assert ("layer 3 ('conv3') fits no core: it needs 131072 neuron words (64 ch x 64 x 32, the 64x32 output "
            "rounded to powers of two); the largest core has 65536 neuron words (cores 0, 1 and 2): use stride 2, "
            "or at most 32 output channels") in text
    # every layer is listed with its needs and the cores it fits
    assert "layer 0 ('a'): kernel 16, neuron 128, bias 0: cores 0, 1, 2, 3, 4, 5, 6, 7 and 8" in text
    assert "layer 3 ('conv3'): kernel 16384, neuron 131072, bias 0: no core" in text
    assert [r["cores"] for r in info.value.needs] == [list(range(9))] * 3 + [[]]
    assert info.value.needs[3] == {"layer": 3, "name": "conv3", "kernel": 16384, "neuron": 131072, "bias": 0,
                                   "cores": []}
    # each suggestion fits: stride 2 makes a 32x16 map (32768 words), 32 channels need 65536
    for changed in (geometry("conv3", 64, 16, 3, (64, 32), padding=1, stride=2),
                    geometry("conv3", 32, 16, 3, (64, 32), padding=1)):
        place(needs[:3] + [changed], chip)


def test_a_layer_too_big_for_every_kernel_memory(chip):
    # 64 in ch x 16 (3x3 rounded) x 128 out ch = 131072 kernel words; the largest core has 65536.
    # 64 out ch halve it; a 2x2 kernel needs 64*4*128 = 32768 (its 3x3 output 128*4*4 neuron
    # words); 32 in ch need 32*16*128 = 65536.
    needs = [geometry("fc", 128, 64, 3, (4, 4))]
    with pytest.raises(PlacementError) as info:
        place(needs, chip)
    assert str(info.value).startswith(
        "the layer does not fit the cores of speck2f:\n  - layer 0 fits no core: it needs 131072 kernel words (64 in "
        "ch x 16 (3x3 rounded) x 128 (128 out ch rounded)); the largest core has 65536 kernel words (cores 5 and 6): "
        "use at most 64 output channels, or a kernel of at most 2, or at most 32 input channels (fewer output "
        "channels in the layer before)\n")
    for changed in (geometry("fc", 64, 64, 3, (4, 4)), geometry("fc", 128, 64, 2, (4, 4)),
                    geometry("fc", 128, 32, 3, (4, 4))):
        place([changed], chip)


def test_a_layer_no_core_has_both_memories_for(chip):
    # 32768 kernel words (32 x 16 x 64) need cores 3..6, 65536 neuron words (64 x 32 x 32) cores
    # 0..2. Cores 0..2 take it with 32 out ch (32*16*32 = 16384) or 16 in ch (16*16*64 = 16384);
    # cores 3 and 4 with stride 2 (64*16*16 = 16384) or 32 out ch (32*32*32 = 32768).
    needs = [geometry("c", 64, 32, 3, (32, 32), padding=1)]
    with pytest.raises(PlacementError) as info:
        place(needs, chip)
    assert ("layer 0 fits no core: it needs 32768 kernel words (32 in ch x 16 (3x3 rounded) x 64 (64 out ch "
            "rounded)) and 65536 neuron words (64 ch x 32 x 32, the 32x32 output rounded to powers of two), and no "
            "core has all of it: cores 0, 1 and 2 have 16384 kernel words; cores 3 and 4 have 32768 neuron words; "
            "to fit cores 0, 1 and 2: at most 32 output channels, or at most 16 input channels (fewer output channels "
            "in the layer before); to fit cores 3 and 4: stride 2, or at most 32 output channels") in str(info.value)


def test_layers_competing_for_too_few_cores(chip):
    # three layers of 64 x 16 x 64 = 65536 kernel words fit only cores 5 and 6
    big = [geometry(f"big{i}", 64, 64, 3, (4, 4)) for i in (3, 4, 5)]
    needs = [tiny(0), tiny(1), tiny(2)] + big
    with pytest.raises(PlacementError) as info:
        place(needs, chip)
    text = str(info.value)
    assert ("layers 3, 4 and 5 can only use cores 5 and 6: to free a core, make one of them fit another: layer 3 "
            "needs 65536 kernel words (64 in ch x 16 (3x3 rounded) x 64 (64 out ch rounded)); cores 3 and 4 have "
            "32768 kernel words: use at most 32 output channels") in text
    assert "(likewise layers 4 and 5)" in text
    place(needs[:3] + [geometry("big3", 32, 64, 3, (4, 4))] + big[1:], chip)


def test_two_groups_short_of_cores_are_both_named(chip):
    needs = [tiny(0), tiny(1), tiny(2)] + [geometry(f"big{i}", 64, 64, 3, (4, 4)) for i in (3, 4, 5, 6)]
    with pytest.raises(PlacementError) as info:
        place(needs, chip)
    text = str(info.value)
    assert "layers 3, 4 and 5 can only use cores 5 and 6: " in text
    assert "layer 6 can only use cores 5 and 6, and cores 5 and 6 are needed by layers 3, 4 and 5: " in text


def test_needs_without_geometry_still_say_what_is_short(chip):
    needs = [{"kernel": 70000, "neuron": 10, "bias": 0}]
    with pytest.raises(PlacementError) as info:
        place(needs, chip)
    assert ("layer 0 fits no core: it needs 70000 kernel words; the largest core has 65536 kernel words "
            "(cores 5 and 6)\n") in str(info.value)


def test_more_layers_than_cores(chip):
    with pytest.raises(PlacementError) as info:
        place([tiny(i) for i in range(11)], chip)
    assert str(info.value).startswith("the model has 11 layers but speck2f has 9 cores, each holding one layer: "
                                      "use at most 9 layers (2 fewer)\n")
    assert len(info.value.needs) == 11


@pytest.mark.parametrize("needs, problem", [
    ({"kernel": 1, "neuron": 1, "bias": 0}, "one dict per layer"),
    ([{"kernel": 1, "neuron": 1}], "needs[0] must be a dict with 'kernel', 'neuron' and 'bias'"),
    ([{"kernel": 1.5, "neuron": 1, "bias": 0}], "needs[0]['kernel'] is 1.5; it must be a whole number"),
    ([{"kernel": 1, "neuron": -4, "bias": 0}], "needs[0]['neuron'] is -4"),
])
def test_malformed_needs(chip, needs, problem):
    with pytest.raises(PlacementError, match=problem.replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")):
        place(needs, chip)


def test_sinabs_float_needs_are_accepted(chip):
    needs = [{"kernel": float(n["kernel"]), "neuron": float(n["neuron"]), "bias": 0.0} for n in gesture_needs()]
    assert place(needs, chip) == place(gesture_needs(), chip)


# ---------------------------------------------------------------------------------------------
# fixed cores


def test_fixed_cores_are_kept_and_the_rest_placed_around_them(chip):
    needs = gesture_needs()
    # "auto" alone puts layer 3 on core 8 and layer 8 on core 7
    assert place(needs, chip)[3] == 8
    cores = place(needs, chip, fixed={3: 7, "layer8": 8}, names=[f"layer{i}" for i in range(9)])
    assert cores[3] == 7 and cores[8] == 8
    assert sorted(cores) == list(range(9))
    for core, row in zip(cores, placement_table(needs, chip)):
        assert core in row["cores"]


def test_fixed_core_too_small(chip):
    # layer 4 needs 32 x 16 x 64 = 32768 kernel words; core 7 has 16384 (and 16384 neuron words),
    # which fit 32 out ch (32*16*32 = 16384; 32*8*8 neuron), a 2x2 kernel (32*4*64 = 8192; its
    # 9x9 output 64*16*16 = 16384 neuron words) or 16 in ch (16*16*64 = 16384)
    with pytest.raises(PlacementError) as info:
        place(gesture_needs(), chip, fixed={4: 7})
    assert str(info.value) == (
        "fixed puts layer 4 on core 7, but it needs 32768 kernel words (32 in ch x 16 (3x3 rounded) x 64 (64 out ch "
        "rounded)); core 7 has 16384 kernel words: cores 3, 4, 5 and 6 fit it; to fit core 7: at most 32 output "
        "channels, or a kernel of at most 2, or at most 16 input channels (fewer output channels in the layer "
        "before)")


@pytest.mark.parametrize("fixed, problem", [
    ({0: 1, 2: 1}, "fixed puts layer 0 and layer 2 both on core 1; a core holds one layer"),
    ({9: 1}, "fixed names layer 9, which does not exist; use an index 0..8"),
    ({0: 9}, "fixed puts layer 0 on core 9; cores are 0..8"),
    ([1, 2], "fixed must map layers"),
])
def test_fixed_mistakes(chip, fixed, problem):
    with pytest.raises(PlacementError, match=problem):
        place(gesture_needs(), chip, fixed=fixed)


def test_fixed_cores_that_others_need(chip):
    # layers 0 and 1 fit only cores 0..2; with layers 3 and 8 fixed on cores 0 and 1 they share core 2
    with pytest.raises(PlacementError) as info:
        place(gesture_needs(), chip, fixed={3: 0, 8: 1})
    text = str(info.value)
    assert "layers 0 and 1 can only use core 2, and cores 0 and 1 are fixed to layer 3 and layer 8" in text
    assert "without fixed every layer has a core (layer 0 on core 0, layer 1 on core 1, " in text


# ---------------------------------------------------------------------------------------------
# balanced by load


def test_balanced_cannot_change_anything_on_the_stock_chips():
    # all cores share one synop_ns, so every complete assignment has the same busiest ratio
    rng = np.random.default_rng(3)
    for name in ("speck2f", "speck2e", "dynapcnn"):
        stock = load_chip(name)
        assert len(set(stock.synop_ns)) == 1
        for _ in range(40):
            needs = random_needs(rng, int(rng.integers(1, 10)))
            try:
                auto = place(needs, stock)
            except PlacementError:
                continue
            load = rng.uniform(0, 5e7, len(needs))
            assert place(needs, stock, load=load, mode="balanced") == auto


def test_balanced_moves_the_busy_layer_off_the_slow_core(chip):
    # two small layers: "auto" gives layer 0 core 0 and layer 1 core 1. With core 0 five times
    # slower (100 ns per SynOp) layer 0's 1e6 SynOps/s would keep it 10 % busy there and 2 % on
    # any other core; layer 1 (1e5 SynOps/s) is 1 % busy on core 0, so the best busiest core is
    # 2 %: layer 0 on core 1, layer 1 on core 0.
    slow = chip.replace(synop_ns={0: 100})
    needs = [tiny(0), tiny(1)]
    assert place(needs, slow) == [0, 1]
    assert place(needs, slow, load=[1e6, 1e5], mode="balanced") == [1, 0]
    # when "auto" is already among the best it is kept: layer 1 is now the busier one
    assert place(needs, slow, load=[1e5, 1e6], mode="balanced") == [0, 1]


def test_balanced_finds_the_least_busy_assignment():
    # against every assignment, on chips whose cores differ in speed
    rng = np.random.default_rng(21)
    base = load_chip("speck2f")
    checked = 0
    for _ in range(60):
        other = base.replace(synop_ns={c: int(v) for c, v in enumerate(rng.integers(10, 60, 9))})
        needs = random_needs(rng, int(rng.integers(1, 6)))
        try:
            place(needs, other)
        except PlacementError:
            continue
        load = rng.uniform(0, 5e7, len(needs))
        cores = place(needs, other, load=load, mode="balanced")
        fits = [row["cores"] for row in placement_table(needs, other)]
        best = min(max(load[i] * other.synop_ns[c] for i, c in enumerate(choice))
                   for choice in itertools.permutations(range(9), len(needs))
                   if all(c in f for c, f in zip(choice, fits)))
        assert all(c in f for c, f in zip(cores, fits)) and len(set(cores)) == len(cores)
        assert max(load[i] * other.synop_ns[c] for i, c in enumerate(cores)) == best
        checked += 1
    assert checked > 20


def test_balanced_keeps_fixed_cores(chip):
    slow = chip.replace(synop_ns={0: 100})
    assert place([tiny(0), tiny(1)], slow, load=[1e6, 1e5], mode="balanced", fixed={0: 0}) == [0, 1]


@pytest.mark.parametrize("kwargs, problem", [
    (dict(mode="balanced"), "mode='balanced' needs load"),
    (dict(mode="balanced", load=[1.0]), "load has 1 values; it needs one per layer"),
    (dict(mode="balanced", load=[1.0, float("nan")]), r"load\[1\] is nan"),
    (dict(load=[1.0, 2.0]), "load is used only by mode='balanced'"),
    (dict(mode="fast"), "placement mode 'fast' is not known"),
])
def test_balanced_mistakes(chip, kwargs, problem):
    with pytest.raises(PlacementError, match=problem):
        place([tiny(0), tiny(1)], chip, **kwargs)


# ---------------------------------------------------------------------------------------------
# the table and determinism


def test_placement_table(chip):
    rows = placement_table(gesture_needs(), "speck2f", names=[f"n{i}" for i in range(9)])
    assert rows[5] == {"layer": 5, "name": "n5", "kernel": 65536, "neuron": 1024, "bias": 0, "cores": [5, 6]}
    # layer 2: 8192 kernel and 32768 neuron words fit cores 0..4 (neuron 65536 or 32768 there)
    assert rows[2]["cores"] == [0, 1, 2, 3, 4]


DETERMINISM = """
import numpy as np
from speksim.chip import load_chip
from speksim.errors import PlacementError
from speksim.importers.placement import place
rng = np.random.default_rng(4)
chip = load_chip("speck2f")
for _ in range(200):
    n = int(rng.integers(1, 10))
    needs = [{"kernel": int(rng.choice([2**10, 2**15, 2**16, 2**17])), "neuron": int(rng.choice([2**10, 2**15, 2**16])),
              "bias": 0} for _ in range(n)]
    try:
        print(place(needs, chip, names=[f"layer {i}" for i in range(n)]))
    except PlacementError as exc:
        print(exc)
"""


def test_same_input_same_answer_across_processes():
    # a fresh interpreter with another hash seed must give the same cores and the same messages
    outputs = []
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        done = subprocess.run([sys.executable, "-c", DETERMINISM], cwd=ROOT, env=env, capture_output=True, text=True,
                              check=True)
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1] and "do not fit" in outputs[0] and "[" in outputs[0]


def test_no_layers_no_cores(chip):
    assert place([], chip) == [] and place([], chip, mode="balanced", load=[]) == []
