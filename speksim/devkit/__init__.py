"""The devkit side: speksim's configuration in samna's terms, and samna's output in speksim's.

- `to_samna(config, device)` / `from_samna(cfg)`: a `ChipConfig` to samna's configuration object
  (Speck2f, Speck2e, DYNAP-CNN devkit) and back, losslessly;
- `events_from_samna(events)`: samna's output `Spike` events to an `OUTPUT_EVENT` array;
- `capture_from_events(config, chip, inputs, samna_events)`: a devkit's output, collected by a
  script of your own, as a capture (a `Result` whose metadata says `source = "devkit"`) that
  `speksim.save_run` writes as a run file;
- `DevkitRunner(device).run(config, inputs)`: runs on a connected devkit and returns the capture;
  importing this package also registers it as the engine "devkit" (`engine="devkit:speck2f"`).

samna is optional: it is imported inside the functions that need it, and its absence is a
`MissingExtraError` saying how to install it.
"""

from .capture import NOT_MEASURED, capture_from_events, capture_result, is_capture
from .runner import DEVICE_TYPES, DevkitBackend, DevkitError, DevkitRunner
from .samna_config import DEVICES, from_samna, to_samna
from .samna_events import events_from_samna

__all__ = ["DEVICES", "to_samna", "from_samna", "events_from_samna", "NOT_MEASURED", "capture_from_events",
           "capture_result", "is_capture", "DEVICE_TYPES", "DevkitBackend", "DevkitError", "DevkitRunner"]
