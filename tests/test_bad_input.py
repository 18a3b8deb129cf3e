"""Bad input gets one clear line on stderr, exit status 2, and no traceback."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ffmpeg


def run_volley(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "volley.cli", *args], capture_output=True, text=True, timeout=300
    )


def assert_rejected(game: Path, out: Path, words: str) -> None:
    done = run_volley("process", str(game), "--out", str(out), "--quiet")
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert words in lines[0].lower()
    assert not (out / "rallies.json").exists()


def test_it_rejects_a_file_that_is_not_a_video(tmp_path):
    game = tmp_path / "notes.mp4"
    game.write_text("this is a shopping list, not a volleyball game\n" * 50)
    assert_rejected(game, tmp_path / "out", "not a video")


def test_it_rejects_a_zero_byte_upload(tmp_path):
    game = tmp_path / "empty.mp4"
    game.touch()
    assert_rejected(game, tmp_path / "out", "empty")


def test_it_rejects_a_missing_file(tmp_path):
    assert_rejected(tmp_path / "nowhere.mp4", tmp_path / "out", "no such file")


def test_it_rejects_a_video_truncated_before_its_index(tmp_path, still_video):
    game = tmp_path / "cut.mp4"
    data = still_video.read_bytes()  # moov at the end: cutting loses the index
    game.write_bytes(data[: len(data) // 2])
    assert_rejected(game, tmp_path / "out", "truncated")


def test_it_rejects_a_faststart_video_cut_short(tmp_path, still_video):
    fast = tmp_path / "fast.mp4"
    ffmpeg("-i", str(still_video), "-c", "copy", "-movflags", "+faststart", str(fast))
    game = tmp_path / "cut.mp4"
    data = fast.read_bytes()  # index first: the header promises frames that are gone
    game.write_bytes(data[: len(data) // 3])
    assert_rejected(game, tmp_path / "out", "truncated")


def test_it_rejects_audio_only(tmp_path):
    game = tmp_path / "sound.mp4"
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=300:duration=5", "-c:a", "aac", str(game))
    assert_rejected(game, tmp_path / "out", "only audio")


def test_it_rejects_an_image_renamed_to_mp4(tmp_path):
    png = tmp_path / "photo.png"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=640x360", "-frames:v", "1", str(png))
    game = tmp_path / "photo.mp4"
    shutil.copy(png, game)
    assert_rejected(game, tmp_path / "out", "image")


def test_it_rejects_a_video_too_short_to_hold_a_rally(tmp_path):
    game = tmp_path / "blink.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30:duration=0.4", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(game))
    assert_rejected(game, tmp_path / "out", "s long; a rally needs more")


def test_it_succeeds_with_an_empty_list_when_a_game_has_no_rallies(tmp_path, still_video):
    out = tmp_path / "out"
    done = run_volley("process", str(still_video), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "No rallies" in done.stdout
    result = json.loads((out / "rallies.json").read_text())
    assert result["rallies"] == []
    assert result["video"]["width"] == 640 and result["video"]["height"] == 360
    assert abs(result["video"]["duration"] - 10.0) < 0.1
    assert not (out / "clips").exists() or not any((out / "clips").iterdir())
    assert not (out / "digest.mp4").exists()


@pytest.mark.parametrize("flag", [["--pad-before", "-1"], ["--best", "-3"]])
def test_it_refuses_nonsense_options(tmp_path, still_video, flag):
    done = run_volley("process", str(still_video), "--out", str(tmp_path), *flag)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
