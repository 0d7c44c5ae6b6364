"""Where a chip configuration comes from on the command line: a configuration file, or a trained
model imported on the way (`--model`): a NIR file, a whole PyTorch module saved with
`torch.save(model, path)`, or `file.py:function` returning a module."""

from __future__ import annotations

import warnings
from pathlib import Path

from ._common import UsageError, warn

MODEL_HELP = ("trained model: a NIR file (.nir), a whole PyTorch module saved with torch.save(model, path) "
              "(.pt/.pth), or FILE.py:FUNCTION returning one")


def add_source_flags(parser, config_help: str = "chip configuration JSON (written by speksim.save_config)",
                     model_note: str = "imported on the way", required: bool = True) -> None:
    """--config FILE or --model MODEL, one of them (`required`): where the configuration comes from."""
    src = parser.add_mutually_exclusive_group(required=required)
    src.add_argument("--config", help=config_help)
    src.add_argument("--model", help=f"{MODEL_HELP}; {model_note}")


def add_model_flags(parser, positional: bool = False) -> None:
    """The flags that import a model: input shape, NIR meaning, placement, discretisation."""
    g = parser.add_argument_group("importing a model (--model, or a model file given to check)")
    g.add_argument("--input-shape", metavar="C,H,W",
                   help="the model's input (channels, height, width); PyTorch models need it, NIR files have it")
    g.add_argument("--reset", choices=("subtract", "zero"),
                   help="what a NIR IF node's reset means (default: from the file's NIR version, with a warning)")
    g.add_argument("--min-v-mem", type=float, help="lower bound of the membrane for NIR IF nodes (default: none)")
    g.add_argument("--placement", default="auto",
                   help="'auto' (as sinabs), 'balanced', or LAYER:CORE,... with layers by module name or position")
    g.add_argument("--no-discretize", dest="discretize", action="store_false",
                   help="the model already holds the chip's integers; do not scale and round")
    g.add_argument("--readout", action="store_true", help="route the output layer to the readout block")
    g.add_argument("--host-input", action="store_true",
                   help="input spikes go straight to the first core instead of through the DVS layer")


def is_config_file(path: Path) -> bool:
    return path.suffix.lower() == ".json"


def config_from_source(source: str, args, chip):
    """The ChipConfig of a configuration file or model (`source`), with the import flags; what the
    importer warns about is printed as speksim warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        config = _config_from_source(source, args, chip)
    for w in caught:
        warn(str(w.message))
    return config


def _config_from_source(source: str, args, chip):
    from ..importers.source import config_from_source as from_source
    from ..importers.source import source_path
    path = source_path(source)
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    if is_config_file(path):
        return from_source(source, chip)
    return from_source(source, chip, input_shape=_shape(args.input_shape), reset=args.reset, min_v_mem=args.min_v_mem,
                       dvs_input=False if args.host_input else None, discretize=args.discretize,
                       placement=_placement(args.placement), readout=args.readout)


def _shape(text):
    if text is None:
        return None
    try:
        shape = tuple(int(v) for v in text.split(","))
    except ValueError:
        shape = ()
    if len(shape) != 3:
        raise UsageError(f"--input-shape {text!r}: give three whole numbers C,H,W, e.g. 2,128,128")
    return shape


def _placement(text):
    if text in ("auto", "balanced"):
        return text
    out = {}
    for item in text.split(","):
        name, _, core = item.rpartition(":")
        try:
            out[int(name) if name.isdigit() else name] = int(core)
        except ValueError:
            raise UsageError(f"--placement: {item!r} is not LAYER:CORE (e.g. 0:2 or conv1:5)") from None
    return out
