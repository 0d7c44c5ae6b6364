"""The devkit side: speksim's configuration in samna's terms, and samna's output in speksim's.

- `to_samna(config, device)` / `from_samna(cfg)`: a `ChipConfig` to samna's configuration object
  (Speck2f, Speck2e, DYNAP-CNN devkit) and back, losslessly;
- `events_from_samna(events)`: samna's output `Spike` events to an `OUTPUT_EVENT` array.

samna is optional: it is imported inside the functions that need it, and its absence is a
`MissingExtraError` saying how to install it.
"""

from .samna_config import DEVICES, from_samna, to_samna
from .samna_events import events_from_samna

__all__ = ["DEVICES", "to_samna", "from_samna", "events_from_samna"]
