"""The chip configuration and the options of a run.

- `model`: the samna-shaped dataclasses (`ChipConfig`, `CnnLayerConfig`, ...);
- `options`: `RunOptions`, each option declared once;
- `rules`: `validate(config, chip, options)`, every rule a run would refuse;
- `jsonio`: strict, versioned, byte-deterministic configuration files;
- `build`: builders with sensible defaults (`conv_layer`, `chain_config`, `demo_config`).
"""

from .build import chain_config, conv_layer, demo_config
from .jsonio import (CONFIG_FORMAT, CONFIG_VERSION, config_from_dict, config_to_dict, configs_equal, load_config,
                     save_config)
from .model import (ChipConfig, CnnLayerConfig, CnnLayerDestination, CnnLayerDimensions, DvsDestination,
                    DvsLayerConfig, ReadoutConfig, Shape, Vec2, conv_out)
from .options import OPTIONS, RunOptions, option_table
from .rules import check_spike_events, tick_period_ns, validate

__all__ = ["ChipConfig", "CnnLayerConfig", "CnnLayerDestination", "CnnLayerDimensions", "DvsDestination",
           "DvsLayerConfig", "ReadoutConfig", "Shape", "Vec2", "conv_out", "RunOptions", "OPTIONS", "option_table",
           "validate", "check_spike_events", "tick_period_ns", "config_to_dict", "config_from_dict", "save_config",
           "load_config", "configs_equal", "CONFIG_FORMAT", "CONFIG_VERSION", "chain_config", "conv_layer",
           "demo_config"]
