"""A chip configuration from a file, whatever the file holds: a configuration JSON, or a trained
model imported on the way (a NIR graph, a whole PyTorch module saved with `torch.save(model,
path)`, or `FILE.py:FUNCTION` returning a module). The command line's `--config`/`--model` and the
regression scenarios both come through here."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Optional

from ..errors import ModelError


def source_path(source: str) -> Path:
    """The file of a source: `FILE.py:FUNCTION` names FILE.py, anything else is the path itself."""
    return Path(source.split(":", 1)[0] if ".py:" in source else source)


def config_from_source(source: str, chip, *, input_shape: Optional[tuple] = None, reset: Optional[str] = None,
                       min_v_mem: Optional[str] = None, **options):
    """The ChipConfig of `source` on `chip`: `.json` is read with `load_config`; `.nir` is imported
    with `from_nir` (with `reset`, `min_v_mem`, `input_shape`); `.pt`/`.pth` and `FILE.py:FUNCTION`
    give a PyTorch module imported with `from_torch`, which needs `input_shape` (C, H, W). `options`
    go to either importer (dvs_input, discretize, placement, readout). Raises ModelError when the
    file holds no model speksim reads, the function is missing, or a PyTorch model has no input
    shape; the importers' and `load_config`'s own errors otherwise."""
    path = source_path(source)
    if path.suffix.lower() == ".json":
        from ..config import load_config
        return load_config(path)
    from .build import from_nir, from_torch
    if path.suffix.lower() == ".nir":
        return from_nir(path, chip, reset=reset, min_v_mem=min_v_mem, input_shape=input_shape, **options)
    model = torch_model(source)
    if input_shape is None:
        raise ModelError(f"{source}: a PyTorch model does not record its input size; give its input shape "
                         "(channels, height, width), e.g. (2, 128, 128) for the full DVS sensor",
                         cli=f"{source}: a PyTorch model does not record its input size; give --input-shape C,H,W "
                             "(e.g. --input-shape 2,128,128 for the full DVS sensor)")
    return from_torch(model, input_shape, chip, **options)


def torch_model(source: str):
    """The PyTorch module of `FILE.py:FUNCTION` (what FUNCTION returns) or of a `.pt`/`.pth` file
    holding a whole module. Loading either runs code from the file: only load files you trust."""
    path = source_path(source)
    if path.suffix == ".py":
        func = source.split(":", 1)[1] if ":" in source else None
        if not func:
            raise ModelError(f"{source}: name the function that builds the model: {path}:make_model")
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        if not callable(getattr(module, func, None)):
            raise ModelError(f"{path} has no function {func!r}")
        return getattr(module, func)()
    if path.suffix.lower() not in (".pt", ".pth"):
        raise ModelError(f"{path}: not a model speksim reads (a NIR file (.nir), a whole PyTorch module saved with "
                         "torch.save(model, path) (.pt/.pth), or FILE.py:FUNCTION returning one), nor a "
                         "configuration (.json)")
    from .fromtorch import _torch
    torch = _torch()
    obj = torch.load(path, map_location="cpu", weights_only=False)
    if isinstance(obj, dict):
        raise ModelError(f"{path} holds a state dict (weights without the network that uses them); save the whole "
                         "model with torch.save(model, path), or give a Python file: net.py:make_model",
                         cli=f"{path} holds a state dict (weights without the network that uses them); save the "
                             "whole model with torch.save(model, path), or give a Python file: "
                             "--model net.py:make_model")
    return obj


__all__ = ["config_from_source", "torch_model", "source_path"]
