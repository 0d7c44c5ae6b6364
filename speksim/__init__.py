"""speksim: an event-driven, cycle-approximate simulator of SynSense Speck / DYNAP-CNN chips.

    import speksim
    chip = speksim.load_chip("speck2f")
    result = speksim.simulate(config, events, chip)
"""

from ._version import __version__
from .chip import Chip, builtin_chips, load_chip
from .config import (ChipConfig, CnnLayerConfig, CnnLayerDestination, DvsDestination, DvsLayerConfig,
                     ReadoutConfig, RunOptions, chain_config, load_config, save_config, validate)
from .errors import (ChipFileError, ConfigError, DeadlockError, EventError, MissingExtraError, ModelError,
                     PlacementError, ReaderError, RunFileError, SpeksimError, UnknownChipError)
from .importers.build import ModelWarning, from_nir, from_torch
from .events import DVS_EVENT, OUTPUT_EVENT, SPIKE_EVENT, make_events, validate_events
from .result import Result
from .runfile import load_run, save_run
from .simulation import Simulation, simulate

__all__ = [
    "Chip", "load_chip", "builtin_chips", "ChipConfig", "CnnLayerConfig", "CnnLayerDestination",
    "DvsLayerConfig", "ReadoutConfig", "RunOptions", "SpeksimError", "ChipFileError", "UnknownChipError",
    "ConfigError", "EventError", "ReaderError", "DeadlockError", "RunFileError", "DVS_EVENT",
    "SPIKE_EVENT", "OUTPUT_EVENT", "make_events", "validate_events", "Result", "Simulation", "simulate",
    "load_run", "save_run", "DvsDestination", "chain_config", "load_config", "save_config", "validate",
    "ModelError", "PlacementError", "MissingExtraError", "ModelWarning", "from_torch", "from_nir", "__version__",
]
