"""The command line with a model instead of a configuration: `speksim check MODEL` (the
preflight) and `speksim run RECORDING --model MODEL`."""

import json

import numpy as np
import pytest

nir = pytest.importorskip("nir", reason="nir is not installed (pip install 'speksim[nir]')")

from speksim import load_run  # noqa: E402
from speksim.cli import main  # noqa: E402
from speksim.events import make_events  # noqa: E402


def run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def nir_file(path, channels=8, size=16):
    """Input 2 x size x size -> 3x3 conv (padding 1) -> IF -> 2x2 sum pool -> 1x1 conv -> IF."""
    rng = np.random.default_rng(0)
    half = size // 2
    nodes = {
        "input": nir.Input(np.array([2, size, size])),
        "c1": nir.Conv2d(input_shape=None, weight=rng.uniform(0, 1, (channels, 2, 3, 3)).astype(np.float32),
                         stride=1, padding=1, dilation=1, groups=1, bias=np.zeros(channels, np.float32)),
        "s1": nir.IF(r=np.ones((channels, size, size), np.float32),
                     v_threshold=np.full((channels, size, size), 2.0, np.float32)),
        "p1": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])),
        "c2": nir.Conv2d(input_shape=None, weight=rng.uniform(0, 1, (4, channels, 1, 1)).astype(np.float32),
                         stride=1, padding=0, dilation=1, groups=1, bias=np.zeros(4, np.float32)),
        "s2": nir.IF(r=np.ones((4, half, half), np.float32), v_threshold=np.full((4, half, half), 2.0, np.float32)),
        "output": nir.Output(np.array([4, half, half])),
    }
    names = list(nodes)
    nir.write(path, nir.NIRGraph(nodes=nodes, edges=list(zip(names, names[1:]))))
    return path


def recording(path, n=3000, size=16, seed=1):
    rng = np.random.default_rng(seed)
    ev = make_events("dvs", t=np.sort(rng.integers(0, 100_000, n)), x=rng.integers(0, size, n),
                     y=rng.integers(0, size, n), p=rng.integers(0, 2, n))
    np.savez(path, events=ev)
    return path


def test_check_a_nir_model_with_a_recording(tmp_path, capsys):
    model = nir_file(tmp_path / "net.nir")
    rec = recording(tmp_path / "rec.npz")
    code, out, err = run(["check", model, "--reset", "subtract", "--recording", rec], capsys)
    assert code == 0, err
    assert "valid for speck2f" in out and "memory on speck2f" in out and "load offered by the recording" in out
    code, out, err = run(["check", model, "--reset", "subtract", "--recording", rec, "--json"], capsys)
    doc = json.loads(out)
    assert code == 0 and doc["problems"] == []
    cores = [row["core"] for row in doc["memory"]]
    first = doc["load"][0]
    # every event reaches the first core; its SynOps: 8 channels x the valid 3x3 offsets (fewer at
    # the border), so between 8 x 4 and 8 x 9 per event
    assert first["core"] == cores[0] and first["events_in"] == 3000
    assert 8 * 4 * 3000 <= first["synops"] <= 8 * 9 * 3000
    assert first["synops_per_s_formula"] == pytest.approx(first["events_per_s"] * 8 * 9)


def test_the_nir_reset_meaning_is_warned_about_when_taken_from_the_file(tmp_path, capsys):
    model = nir_file(tmp_path / "net.nir")
    code, out, err = run(["check", model], capsys)
    assert code == 0 and "speksim: warning:" in err and "reset" in err


def test_run_a_recording_through_a_nir_model(tmp_path, capsys):
    model = nir_file(tmp_path / "net.nir")
    rec = recording(tmp_path / "rec.npz")
    code, out, err = run(["run", rec, "--model", model, "--reset", "subtract", "-o", tmp_path / "r.h5", "--quiet"],
                         capsys)
    assert code == 0, err
    res = load_run(tmp_path / "r.h5")
    meta = res.metadata["config"]["model"]
    assert meta["importer"] == "nir" and meta["notes"]["reset"] == {"applied": "subtract", "from": "argument"}
    out_core = [layer["core"] for layer in meta["layers"] if layer["output"]]
    assert len(res.outputs) > 0 and set(np.unique(res.outputs["layer"])) == set(out_core)


def test_a_model_that_does_not_fit_is_refused_with_its_needs(tmp_path, capsys):
    model = nir_file(tmp_path / "big.nir", channels=128, size=128)   # 128 x 128 x 128 neurons: no core has them
    code, out, err = run(["check", model, "--reset", "subtract"], capsys)
    assert code == 2 and "neuron" in err
    code, out, err = run(["check", model, "--reset", "subtract", "--json"], capsys)
    doc = json.loads(out)
    assert code == 2 and doc["ok"] is False and doc["placement"][0]["neuron"] == 128 * 128 * 128


def test_a_pytorch_state_dict_is_refused_with_what_to_save_instead(tmp_path, capsys):
    torch = pytest.importorskip("torch", reason="torch is not installed")
    torch.save({"0.weight": torch.zeros(2, 2, 1, 1)}, tmp_path / "w.pt")
    code, out, err = run(["check", tmp_path / "w.pt", "--input-shape", "2,8,8"], capsys)
    assert code == 2 and "state dict" in err and "torch.save(model, path)" in err


def test_a_python_function_builds_the_model(tmp_path, capsys):
    pytest.importorskip("sinabs.layers", reason="sinabs is not installed")
    (tmp_path / "net.py").write_text(
        "import torch.nn as nn\nimport sinabs.layers as sl\n\n"
        "def make():\n    return nn.Sequential(nn.Conv2d(2, 4, 3), sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0))\n")
    code, out, err = run(["check", f"{tmp_path / 'net.py'}:make", "--input-shape", "2,16,16"], capsys)
    assert code == 0 and "valid for speck2f" in out, err
    code, out, err = run(["check", f"{tmp_path / 'net.py'}:make"], capsys)
    assert code == 2 and "--input-shape" in err
