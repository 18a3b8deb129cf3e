"""Small pieces: the time type, settings, scoring."""

from __future__ import annotations

from fractions import Fraction

import pytest

from volley import settings
from volley.evaluation import iou, score
from volley.exceptions import FFmpegError, SettingError
from volley.ffmpeg import run_ffmpeg
from volley.timecode import Timecode


def test_it_keeps_pts_times_exact():
    t = Timecode.from_pts(1001, Fraction(1, 30000))
    assert t.value == Fraction(1001, 30000)
    assert t.ffmpeg() == "0.033367"
    assert t.to_pts(Fraction(1, 90000)) == 3003


def test_it_orders_and_shifts_timecodes():
    a, b = Timecode.from_seconds(1.5), Timecode.from_seconds(2.0)
    assert a < b
    assert (b - a).seconds == pytest.approx(0.5)
    assert (a + 0.25).seconds == pytest.approx(1.75)
    assert str(Timecode.from_seconds(75.25)) == "01:15.250"


def test_it_reads_typed_settings_and_fails_loudly(monkeypatch):
    monkeypatch.setenv("VOLLEY_JOBS", "4")
    assert settings.env_int("JOBS", 1) == 4
    monkeypatch.setenv("VOLLEY_JOBS", "four")
    with pytest.raises(SettingError, match="VOLLEY_JOBS"):
        settings.env_int("JOBS", 1)
    monkeypatch.setenv("VOLLEY_FAST", "maybe")
    with pytest.raises(SettingError, match="true or false"):
        settings.env_bool("FAST", False)
    monkeypatch.delenv("VOLLEY_FAST")
    assert settings.env_bool("FAST", True) is True


def test_it_scores_rallies_one_to_one_by_temporal_iou():
    true = [(10.0, 20.0), (30.0, 35.0), (50.0, 52.0)]
    found = [(10.4, 19.5), (11.0, 18.0), (30.2, 36.0), (70.0, 80.0)]
    result = score(found, true)
    assert result.matched == 2
    assert result.precision == pytest.approx(2 / 4)
    assert result.recall == pytest.approx(2 / 3)
    assert result.median_start_error == pytest.approx(0.3)
    assert iou((0, 10), (5, 15)) == pytest.approx(1 / 3)


def test_an_ffmpeg_failure_carries_its_exit_code_and_stderr_tail(tmp_path):
    with pytest.raises(FFmpegError) as caught:
        run_ffmpeg(["-i", str(tmp_path / "missing.mp4"), str(tmp_path / "out.mp4")])
    assert caught.value.returncode != 0
    assert "missing.mp4" in caught.value.stderr_tail


def test_the_evaluate_command_scores_found_rallies_against_known_ones(tmp_path):
    import json
    import subprocess
    import sys

    (tmp_path / "rallies.json").write_text(json.dumps({"rallies": [{"start": 10.2, "end": 19.8}]}))
    (tmp_path / "truth.json").write_text(json.dumps({"rallies": [[10.0, 20.0], [30.0, 35.0]]}))
    done = subprocess.run(
        [sys.executable, "-m", "volley.cli", "evaluate", str(tmp_path / "rallies.json"), str(tmp_path / "truth.json")],
        capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "F1 0.667" in done.stdout and "1/2 true" in done.stdout
