"""Event-camera sensor sizes, for recordings whose file does not say which camera made them."""

from __future__ import annotations

#: Sensors whose size a file may not record, smallest first: (width, height, name).
KNOWN_SENSORS = ((128, 128, "DVS128 / Speck"), (240, 180, "DAVIS240"), (304, 240, "ATIS"),
                 (320, 240, "DVXplorer Lite"), (346, 260, "DAVIS346"), (640, 480, "DVXplorer / Prophesee Gen3"),
                 (1280, 720, "Prophesee Gen4 / IMX636"))


def guess_sensor(max_x: int, max_y: int) -> tuple[int, int, str]:
    """The smallest known sensor holding pixel (max_x, max_y), else exactly that extent.

    Returns (width, height, name); the name is "the events' extent" when no known sensor fits.
    """
    for w, h, name in KNOWN_SENSORS:
        if max_x < w and max_y < h:
            return w, h, name
    return max_x + 1, max_y + 1, "the events' extent"


__all__ = ["KNOWN_SENSORS", "guess_sensor"]
