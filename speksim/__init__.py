"""speksim: an event-driven, cycle-approximate simulator of SynSense Speck / DYNAP-CNN chips.

    import speksim
    chip = speksim.load_chip("speck2f")
    result = speksim.simulate(config, events, chip)
"""

__version__ = "0.1.0"

from .chip import Chip, builtin_chips, load_chip  # noqa: E402
from .config import (ChipConfig, CnnLayerConfig, CnnLayerDestination, DvsLayerConfig,  # noqa: E402
                     ReadoutConfig, RunOptions)
from .errors import (ChipFileError, ConfigError, DeadlockError, EventError, ReaderError,  # noqa: E402
                     RunFileError, SpeksimError, UnknownChipError)
from .events import DVS_EVENT, OUTPUT_EVENT, SPIKE_EVENT, make_events, validate_events  # noqa: E402
from .result import Result  # noqa: E402
from .runfile import load_run, save_run  # noqa: E402
from .simulation import Simulation, simulate  # noqa: E402

__all__ = [
    "Chip", "load_chip", "builtin_chips", "ChipConfig", "CnnLayerConfig", "CnnLayerDestination",
    "DvsLayerConfig", "ReadoutConfig", "RunOptions", "SpeksimError", "ChipFileError", "UnknownChipError",
    "ConfigError", "EventError", "ReaderError", "DeadlockError", "RunFileError", "DVS_EVENT",
    "SPIKE_EVENT", "OUTPUT_EVENT", "make_events", "validate_events", "Result", "Simulation", "simulate",
    "load_run", "save_run",
]
