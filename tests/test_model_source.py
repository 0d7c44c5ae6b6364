"""A configuration from a file, whatever it holds (speksim.importers.source): what `--config` and
`--model` on the command line and the regression scenarios all read through."""

import pytest

from speksim.config import config_to_dict, demo_config, save_config
from speksim.errors import ModelError
from speksim.importers.source import config_from_source


def test_a_configuration_file_is_read_as_it_is(tmp_path):
    save_config(demo_config(), tmp_path / "net.json")
    got = config_from_source(str(tmp_path / "net.json"), "speck2f")
    assert config_to_dict(got) == config_to_dict(demo_config())


def test_a_file_that_holds_no_model_is_refused_saying_what_is_read(tmp_path):
    (tmp_path / "net.txt").write_text("hello")
    with pytest.raises(ModelError, match=r"not a model speksim reads.*\.nir.*\.pt"):
        config_from_source(str(tmp_path / "net.txt"), "speck2f")


def test_a_python_file_must_name_an_existing_function(tmp_path):
    (tmp_path / "net.py").write_text("def other():\n    return None\n")
    with pytest.raises(ModelError, match="name the function"):
        config_from_source(str(tmp_path / "net.py"), "speck2f")
    with pytest.raises(ModelError, match="has no function 'make'"):
        config_from_source(f"{tmp_path / 'net.py'}:make", "speck2f")


def test_a_pytorch_model_needs_its_input_shape_and_a_state_dict_is_not_a_model(tmp_path):
    torch = pytest.importorskip("torch", reason="torch is not installed (pip install 'speksim[torch]')")
    (tmp_path / "net.py").write_text("import torch\n\n\ndef make():\n"
                                     "    return torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3))\n")
    with pytest.raises(ModelError, match="does not record its input size") as e:
        config_from_source(f"{tmp_path / 'net.py'}:make", "speck2f")
    assert "--input-shape" in e.value.cli and "--input-shape" not in str(e.value)
    torch.save(torch.nn.Conv2d(2, 4, 3).state_dict(), tmp_path / "w.pt")
    with pytest.raises(ModelError, match="holds a state dict"):
        config_from_source(str(tmp_path / "w.pt"), "speck2f", input_shape=(2, 8, 8))
