"""Tests of speksim.io.fit on small hand-computed examples."""

from __future__ import annotations

import numpy as np
import pytest

from speksim.errors import EventError
from speksim.events import DVS_EVENT, validate_events
from speksim.io import fit


def ev(*rows) -> np.ndarray:
    """Events from (t, x, y, p) tuples."""
    return np.array(list(rows), dtype=DVS_EVENT)


def rows(arr) -> list:
    assert arr.dtype == DVS_EVENT
    return arr.tolist()


def test_time_window_is_half_open():
    e = ev((0, 1, 1, 1), (5, 2, 2, 0), (10, 3, 3, 1), (15, 4, 4, 0))
    assert rows(fit.time_window(e, 5, 15)) == [(5, 2, 2, 0), (10, 3, 3, 1)]
    assert rows(fit.time_window(e, None, 5)) == [(0, 1, 1, 1)]
    assert rows(fit.time_window(e, 15)) == [(15, 4, 4, 0)]
    assert len(fit.time_window(e, 6, 6)) == 0
    with pytest.raises(EventError, match="before t_start_us"):
        fit.time_window(e, 10, 5)
    with pytest.raises(EventError):
        fit.time_window(e, 1.5, 5)


def test_rezero_shifts_to_the_earliest_event_and_copies():
    e = ev((100, 0, 0, 1), (150, 1, 0, 0), (400, 2, 0, 1))
    out = fit.rezero(e)
    assert out["t"].tolist() == [0, 50, 300]
    assert e["t"].tolist() == [100, 150, 400]  # the input is untouched
    # a small step back (as in EVT 3.0 recordings) never yields negative times
    assert fit.rezero(ev((100, 0, 0, 1), (97, 0, 0, 1), (120, 0, 0, 1)))["t"].tolist() == [3, 0, 23]
    assert len(fit.rezero(np.empty(0, dtype=DVS_EVENT))) == 0


def test_crop_keeps_the_window_and_moves_the_origin():
    e = ev((1, 10, 20, 1), (2, 14, 24, 0), (3, 15, 20, 1), (4, 12, 19, 0), (5, 9, 22, 1), (6, 11, 25, 1))
    assert rows(fit.crop(e, 10, 20, 5, 5)) == [(1, 0, 0, 1), (2, 4, 4, 0)]
    assert e["x"].tolist() == [10, 14, 15, 12, 9, 11]
    with pytest.raises(EventError):
        fit.crop(e, -1, 0)
    with pytest.raises(EventError):
        fit.crop(e, 0, 0, width=0)


def test_center_crop_346x260():
    # window origin: ((346 - 128) // 2, (260 - 128) // 2) = (109, 66)
    e = ev((1, 109, 66, 1), (2, 236, 193, 0), (3, 237, 100, 1), (4, 108, 100, 0), (5, 200, 65, 1),
           (6, 200, 194, 1), (7, 150, 130, 0))
    assert rows(fit.center_crop(e, 346, 260)) == [(1, 0, 0, 1), (2, 127, 127, 0), (7, 41, 64, 0)]


def test_center_crop_smaller_sensor_is_not_moved():
    e = ev((1, 0, 0, 1), (2, 33, 33, 0))
    assert rows(fit.center_crop(e, 34, 34)) == [(1, 0, 0, 1), (2, 33, 33, 0)]
    with pytest.raises(EventError, match="sensor"):
        fit.center_crop(ev((1, 34, 0, 1)), 34, 34)


def test_downscale():
    e = ev((1, 5, 7, 1), (2, 127, 126, 0), (3, 0, 1, 1))
    assert rows(fit.downscale(e, 2)) == [(1, 2, 3, 1), (2, 63, 63, 0), (3, 0, 0, 1)]
    assert rows(fit.downscale(e, 4)) == [(1, 1, 1, 1), (2, 31, 31, 0), (3, 0, 0, 1)]
    assert rows(fit.downscale(e, 1)) == rows(e)
    for bad in (0, 3, -2, 2.0, True):
        with pytest.raises(EventError):
            fit.downscale(e, bad)


def test_flip():
    e = ev((1, 0, 3, 1), (2, 127, 9, 0))
    assert rows(fit.flip(e, x=True, width=128)) == [(1, 127, 3, 1), (2, 0, 9, 0)]
    assert rows(fit.flip(e, y=True, height=10)) == [(1, 0, 6, 1), (2, 127, 0, 0)]
    assert rows(fit.flip(e, x=True, y=True, width=128, height=10)) == [(1, 127, 6, 1), (2, 0, 0, 0)]
    assert rows(fit.flip(e)) == rows(e)
    with pytest.raises(EventError, match="width"):
        fit.flip(e, x=True)
    with pytest.raises(EventError, match="outside"):
        fit.flip(e, x=True, width=100)


def test_map_polarity_modes():
    e = ev((1, 0, 0, 1), (2, 1, 0, 0), (3, 2, 0, 1))
    assert fit.map_polarity(e, "keep")["p"].tolist() == [1, 0, 1]
    assert fit.map_polarity(e, "merge")["p"].tolist() == [0, 0, 0]
    assert rows(fit.map_polarity(e, "on_only")) == [(1, 0, 0, 1), (3, 2, 0, 1)]
    assert rows(fit.map_polarity(e, "off_only")) == [(2, 1, 0, 0)]
    assert fit.map_polarity(e, "invert")["p"].tolist() == [0, 1, 0]
    assert e["p"].tolist() == [1, 0, 1]
    with pytest.raises(EventError, match="on_only"):
        fit.map_polarity(e, "both")


def test_scale_factor():
    assert fit.scale_factor((128, 128)) == 1
    assert fit.scale_factor((34, 34)) == 1
    assert fit.scale_factor((346, 260)) == 4    # 260 / 2 = 130 > 128, 260 / 4 = 65
    assert fit.scale_factor((640, 480)) == 4    # 480 / 4 = 120
    assert fit.scale_factor((1280, 720)) == 8   # 720 / 4 = 180, 720 / 8 = 90
    assert fit.scale_factor((240, 180), size=64) == 4


def test_fit_to_chip_davis346():
    e = ev((1, 0, 0, 1), (2, 345, 259, 0), (3, 109, 66, 1), (4, 236, 193, 0), (5, 237, 66, 1))
    # crop: the central 128 x 128 window at (109, 66)
    assert rows(fit.fit_to_chip(e, (346, 260))) == [(3, 0, 0, 1), (4, 127, 127, 0)]
    # scale: factor 4 gives 87 x 65, which fits: nothing is cropped, and it is centred on the
    # chip at ((128 - 87) // 2, (128 - 65) // 2) = (20, 31)
    assert rows(fit.fit_to_chip(e, (346, 260), mode="scale")) == [
        (1, 20, 31, 1), (2, 106, 95, 0), (3, 47, 47, 1), (4, 79, 79, 0), (5, 79, 47, 1)]


def test_fit_to_chip_vga_scale():
    # factor 4 gives 160 x 120; the central 128 columns start at (160 - 128) // 2 = 16, and the
    # 120 rows are centred: y + (128 - 120) // 2 = y + 4
    e = ev((1, 639, 479, 1), (2, 64, 8, 0), (3, 575, 479, 1), (4, 63, 0, 0))
    assert rows(fit.fit_to_chip(e, (640, 480), mode="scale")) == [(2, 0, 6, 0), (3, 127, 123, 1)]
    # an explicit factor: 8 gives 80 x 60, all kept, centred at (24, 34)
    assert rows(fit.fit_to_chip(e, (640, 480), mode="scale", factor=8)) == [
        (1, 103, 93, 1), (2, 32, 35, 0), (3, 95, 93, 1), (4, 31, 34, 0)]


def test_fit_to_chip_flip_and_polarity():
    e = ev((1, 0, 0, 1), (2, 345, 66, 0), (3, 236, 66, 1))
    # flip x first (x -> 345 - x): 345, 0, 109; then crop at (109, 66)
    assert rows(fit.fit_to_chip(e, (346, 260), flip_x=True)) == [(3, 0, 0, 1)]
    out = fit.fit_to_chip(ev((1, 120, 70, 1), (2, 121, 70, 0)), (346, 260), polarity="merge")
    assert rows(out) == [(1, 11, 4, 0), (2, 12, 4, 0)]


def test_fit_to_chip_output_is_valid_chip_input():
    rng = np.random.default_rng(1)
    for (w, h) in ((346, 260), (640, 480), (1280, 720), (128, 128), (34, 34)):
        n = 5000
        e = np.empty(n, dtype=DVS_EVENT)
        e["t"] = np.sort(rng.integers(0, 10**6, n))
        e["t"][100] = e["t"][99] - 3 if e["t"][99] >= 3 else 0  # a small step back
        e["x"] = rng.integers(0, w, n)
        e["y"] = rng.integers(0, h, n)
        e["p"] = rng.integers(0, 2, n)
        for mode in ("crop", "scale"):
            out = fit.fit_to_chip(e, (w, h), mode=mode)
            validate_events(out, "dvs", width=128, height=128)
            assert len(out) > 0
        if (w, h) in ((128, 128), (34, 34)):
            assert len(fit.fit_to_chip(e, (w, h))) == n


def test_fit_to_chip_sorts_or_refuses():
    e = ev((10, 0, 0, 1), (7, 1, 1, 0), (12, 2, 2, 1))
    assert fit.fit_to_chip(e, (128, 128))["t"].tolist() == [7, 10, 12]
    with pytest.raises(EventError, match="sort"):
        fit.fit_to_chip(e, (128, 128), sort=False)


def test_fit_to_chip_argument_errors():
    e = ev((1, 0, 0, 1))
    with pytest.raises(EventError, match="sensor_size"):
        fit.fit_to_chip(e, None)
    with pytest.raises(EventError):
        fit.fit_to_chip(e, (128,))
    with pytest.raises(EventError, match="mode"):
        fit.fit_to_chip(e, (128, 128), mode="stretch")
    with pytest.raises(EventError, match="polarity"):
        fit.fit_to_chip(e, (128, 128), polarity="all")
    with pytest.raises(EventError, match="scale"):
        fit.fit_to_chip(e, (346, 260), factor=2)
    with pytest.raises(EventError, match="outside"):
        fit.fit_to_chip(ev((1, 346, 0, 1)), (346, 260))
    with pytest.raises(EventError):
        fit.fit_to_chip(np.zeros(3), (128, 128))


def test_accepts_other_event_layouts():
    tonic = np.array([(3, 4, 5, True), (1, 2, 6, False)], dtype=[("x", "<i2"), ("y", "<i2"), ("t", "<i8"),
                                                                 ("p", "?")])
    out = fit.crop(tonic, 1, 2, 10, 10)
    assert rows(out) == [(5, 2, 2, 1), (6, 0, 0, 0)]


def test_command_line_wording_of_errors_the_command_line_can_reach():
    """Sizes and times come from flags there: the errors' `cli` twin names the flags."""
    e = ev((0, 300, 5, 1))
    for call in (lambda: fit.fit_to_chip(e, (240, 180)), lambda: fit.center_crop(e, 240, 180),
                 lambda: fit.flip(e, x=True, width=240)):
        with pytest.raises(EventError) as exc:
            call()
        assert "event 0 has x=300, outside the sensor" in str(exc.value)
        assert exc.value.cli.endswith("; pass the recording's real sensor size with --sensor-size W H")
    with pytest.raises(EventError) as exc:
        fit.fit_to_chip(e, None)
    assert "sensor_size" in str(exc.value) and exc.value.cli == "the sensor size is unknown; pass --sensor-size W H"
    with pytest.raises(EventError) as exc:
        fit.time_window(e, 10, 5)
    assert exc.value.cli == "--t-end-us (5) is before --t-start-us (10); the window is [--t-start-us, --t-end-us)"
