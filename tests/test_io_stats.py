"""Tests of speksim.io.describe_recording on small hand-made recordings."""

from __future__ import annotations

import struct
import tracemalloc

import numpy as np
import pytest

import speksim.io as sio
from speksim.errors import EventError, ReaderError
from speksim.events import DVS_EVENT
from speksim.io.sensors import KNOWN_SENSORS, guess_sensor
from speksim.io.stats import JUMP_US, PEAK_REORDER_US, TimeStep

from recording_files import aedat4_bytes, evt2_bytes


def npy(tmp_path, t, x=None, y=None, p=None, name="rec.npy"):
    """An .npy recording with times `t` (µs); x counts up, y = 0, p alternates 1, 0, ... by default."""
    n = len(t)
    ev = np.zeros(n, dtype=DVS_EVENT)
    ev["t"] = t
    ev["x"] = np.arange(n) if x is None else x
    ev["y"] = 0 if y is None else y
    ev["p"] = (np.arange(n) + 1) % 2 if p is None else p
    path = tmp_path / name
    np.save(path, ev)
    return path


def same_for_every_chunking(path, sizes=(1, 2, 3, 5, 1 << 20)):
    first = sio.describe_recording(path, chunk_events=sizes[0])
    for size in sizes[1:]:
        assert sio.describe_recording(path, chunk_events=size) == first, size
    return first


def test_sorted_recording(tmp_path):
    path = npy(tmp_path, [0, 100, 999, 1000, 1500, 2999, 5000], x=[3, 1, 4, 1, 5, 9, 2], y=[2, 7, 1, 8, 2, 8, 1])
    s = same_for_every_chunking(path)
    assert (s.format, s.events, s.on, s.off) == ("npy", 7, 4, 3)  # p = 1, 0, 1, 0, 1, 0, 1
    assert (s.t_first, s.t_last, s.t_min, s.t_max, s.duration_us) == (0, 5000, 0, 5000, 5000)
    assert (s.x_min, s.x_max, s.y_min, s.y_max) == (1, 9, 1, 8)
    assert s.sensor_size is None and s.extent == (10, 9) and s.fits()
    # 1 ms windows from the first event: [0, 1000) holds 0, 100, 999; [1000, 2000) holds 1000,
    # 1500; [2000, 3000) holds 2999; [5000, 6000) holds 5000: the busiest has 3 events
    assert s.peak_events_per_ms == 3 and s.peak_rate == 3000 and s.peak_exact and s.late_events == 0
    assert s.time_sorted and s.backward_steps == 0 and s.forward_jumps == 0
    assert s.mean_rate == pytest.approx(1400.0)     # 7 events in 5 ms
    lines = s.lines()
    assert lines[0] == "rec.npy: npy recording (" + sio.FORMATS["npy"] + ")"
    assert "  events       7 (ON 4, OFF 3)" in lines
    assert "  duration     5.000 ms (t = 0 .. 5,000 µs)" in lines
    assert "  mean rate    1.4 kevents/s" in lines
    assert "  peak rate    3.0 kevents/s (busiest 1 ms)" in lines
    assert "  chip input   fits 128x128" in lines
    assert not any("warning" in line for line in lines)


def test_peak_window_split_across_chunks(tmp_path):
    # all four events lie in the first millisecond; fed one per chunk, the window must carry over
    path = npy(tmp_path, [10, 20, 30, 40, 2000])
    assert same_for_every_chunking(path).peak_events_per_ms == 4


def test_steps_back_within_the_reorder_span(tmp_path):
    path = npy(tmp_path, [500, 100, 1200, 1100, 300])
    s = same_for_every_chunking(path)
    # windows from t_first = 500: 500, 1200 and 1100 fall in [500, 1500); 100 and 300 in
    # [-500, 500): the busiest holds 3, counted exactly as every step back is under 1 s
    assert s.peak_events_per_ms == 3 and s.peak_exact
    assert s.t_first == 500 and s.t_last == 300 and s.t_min == 100 and s.t_max == 1200
    assert s.backward_steps == 3 and not s.time_sorted
    assert s.backward_examples == (TimeStep(1, 500, 100), TimeStep(3, 1200, 1100), TimeStep(4, 1100, 300))
    warning = [line for line in s.lines() if "go back" in line]
    assert warning == ["  warning      timestamps go back 3 times: event 1 at 100 µs after 500 µs, event 3 at "
                       "1,100 µs after 1,200 µs, event 4 at 300 µs after 1,100 µs; the simulator needs "
                       "time-ordered events"]


def test_one_outlier_far_in_the_future_costs_no_memory(tmp_path):
    """A single t = 1e14 µs (about 3 years) among events at 0..50 µs: 1e11 windows of span."""
    path = npy(tmp_path, [0, 10, 20, 10**14, 30, 40, 50])
    tracemalloc.start()
    try:
        s = same_for_every_chunking(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20
    # 30, 40, 50 come 1e14 µs behind the outlier, more than PEAK_REORDER_US: left out, so the
    # count is the lower bound 3 (0, 10, 20), and it says so
    assert PEAK_REORDER_US < 10**14
    assert s.peak_events_per_ms == 3 and not s.peak_exact and s.late_events == 3
    assert s.backward_examples == (TimeStep(4, 10**14, 30),) and s.backward_steps == 1
    assert s.jump_examples == (TimeStep(3, 20, 10**14),) and s.forward_jumps == 1
    lines = s.lines()
    assert any(line.startswith("  peak rate    at least 3.0 kevents/s") and "3 events" in line for line in lines)
    assert any("jump forward by more than 10 s once: event 3 at 100,000,000,000,000 µs after 20 µs" in line
               for line in lines)


def test_sorted_recording_with_a_huge_span(tmp_path):
    # one event every 1e9 µs: the span is 1e12 µs (1e9 windows), yet memory stays small
    path = npy(tmp_path, np.arange(100, dtype=np.int64) * 10**9)
    tracemalloc.start()
    try:
        s = sio.describe_recording(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20
    assert s.peak_events_per_ms == 1 and s.peak_exact
    assert s.forward_jumps == 99 and len(s.jump_examples) == 5  # the first few only
    assert s.jump_examples[0] == TimeStep(1, 0, 10**9)
    # the text shows three and counts the rest
    assert any("99 times: event 1 at 1,000,000,000 µs after 0 µs, " in line and ", and 96 more; " in line
               for line in s.lines())


def test_jump_threshold_is_strict(tmp_path):
    path = npy(tmp_path, [0, JUMP_US, 2 * JUMP_US + 1])
    s = sio.describe_recording(path)
    assert s.forward_jumps == 1 and s.jump_examples == (TimeStep(2, JUMP_US, 2 * JUMP_US + 1),)


def test_empty_recording(tmp_path):
    s = sio.describe_recording(npy(tmp_path, []))
    assert s.events == 0 and s.t_first is None and s.peak_events_per_ms is None and s.fits() is None
    assert s.lines()[1:] == ["  events       0", "  sensor size  not recorded in the file"]


def test_sensor_from_the_file_and_the_chip_input_line(tmp_path):
    ev = np.array([(1000, 0, 0, 1), (1001, 239, 179, 0)], dtype=DVS_EVENT)
    path = tmp_path / "cam.aedat4"
    path.write_bytes(aedat4_bytes(ev, compression=0, width=240, height=180))
    s = sio.describe_recording(path)
    assert s.format == "aedat4" and s.sensor_size == (240, 180) and s.extent == (240, 180) and not s.fits()
    line = [line for line in s.lines() if line.startswith("  chip input")]
    assert line == ["  chip input   240x180, larger than 128x128: use speksim run --fit crop (keep the central "
                    "128x128) or --fit scale (downscale by a power of two, then crop)"]
    assert "  sensor size  240x180" in s.lines()


def test_events_fit_but_the_recorded_sensor_does_not(tmp_path):
    ev = np.array([(5, 3, 4, 1)], dtype=DVS_EVENT)
    path = tmp_path / "cam.aedat4"
    path.write_bytes(aedat4_bytes(ev, compression=0, width=346, height=260))
    s = sio.describe_recording(path)
    assert s.extent == (346, 260) and not s.fits() and s.fits(346)


def test_events_outside_the_recorded_sensor(tmp_path):
    ev = np.array([(64, 3, 4, 1), (70, 400, 5, 0)], dtype=DVS_EVENT)
    path = tmp_path / "cam.raw"
    path.write_bytes(evt2_bytes(ev, width=320, height=240))  # EVT 2.0 does not check the geometry
    s = sio.describe_recording(path)
    assert s.sensor_size == (320, 240) and s.extent == (401, 240)
    assert "  warning      events reach x = 400, y = 5, outside the 320x240 sensor the file records" in s.lines()


def test_unknown_sensor_is_guessed_for_the_text(tmp_path):
    s = sio.describe_recording(npy(tmp_path, [0, 1], x=[0, 200], y=[0, 100]))
    assert s.sensor_size is None and s.extent == (201, 101)
    assert any("events reach x = 200, y = 100 (taken as 240x180, DAVIS240" in line for line in s.lines())


def test_errors_propagate(tmp_path):
    bad = tmp_path / "bad.aedat4"
    bad.write_bytes(b"#!AER-DAT4.0\r\n" + struct.pack("<i", 5))
    with pytest.raises(ReaderError):
        sio.describe_recording(bad)
    with pytest.raises(EventError):
        sio.describe_recording(npy(tmp_path, [0]), chunk_events=0)
    with pytest.raises(ReaderError):
        sio.describe_recording(tmp_path / "missing.npy")


def test_format_name_is_canonical(tmp_path):
    path = npy(tmp_path, [0, 1])
    assert sio.describe_recording(path, format="NPY").format == "npy"


def test_guess_sensor():
    assert guess_sensor(127, 127) == (128, 128, "DVS128 / Speck")
    assert guess_sensor(128, 0) == (240, 180, "DAVIS240")
    assert guess_sensor(300, 250) == (346, 260, "DAVIS346")   # 304x240 (ATIS) is too short
    assert guess_sensor(2000, 5) == (2001, 6, "the events' extent")
    assert [w * h for w, h, _ in KNOWN_SENSORS] == sorted(w * h for w, h, _ in KNOWN_SENSORS)
