"""Videos with no volleyball in them give an empty rally list: a test pattern, a
cellular automaton, a fractal zoom, a drawn street with cars and people walking, and
a drawn talking head. Each is made here with ffmpeg (from its own sources or from
frames drawn with OpenCV) and analysed as a user's upload would be."""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import ffmpeg
from vproc.analyse import analyse

SIZE = (640, 360)
FPS = 30


def from_lavfi(path: Path, source: str, seconds: float) -> Path:
    ffmpeg("-f", "lavfi", "-i", source, "-t", str(seconds), "-pix_fmt", "yuv420p", "-c:v", "libx264", str(path))
    return path


def from_frames(path: Path, frames) -> Path:
    """Encode BGR frames (SIZE) at FPS with x264."""
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24",
           "-s", f"{SIZE[0]}x{SIZE[1]}", "-r", str(FPS), "-i", "-", "-pix_fmt", "yuv420p", "-c:v", "libx264", str(path)]
    with subprocess.Popen(cmd, stdin=subprocess.PIPE) as encoder:
        for frame in frames:
            encoder.stdin.write(frame.tobytes())
        encoder.stdin.close()
    assert encoder.returncode == 0
    return path


def street(seconds: float, seed: int = 3):
    """A street seen from a pavement: cars drive across at steady speeds, people walk
    with a bob in their step, a traffic light blinks."""
    rng = np.random.default_rng(seed)
    cars = [(rng.uniform(-300, 640), rng.choice([-1, 1]) * rng.uniform(60, 200), rng.uniform(190, 260),
             tuple(int(c) for c in rng.integers(40, 230, 3))) for _ in range(5)]
    people = [(rng.uniform(0, 640), rng.choice([-1, 1]) * rng.uniform(20, 50), rng.uniform(270, 330)) for _ in range(6)]
    for i in range(int(seconds * FPS)):
        t = i / FPS
        frame = np.full((SIZE[1], SIZE[0], 3), (150, 140, 130), np.uint8)
        frame[:150] = (200, 170, 120)  # buildings
        cv2.rectangle(frame, (0, 180), (SIZE[0], 280), (70, 70, 70), -1)  # road
        for k in range(0, SIZE[0], 80):
            cv2.rectangle(frame, (k, 228), (k + 40, 232), (230, 230, 230), -1)
        cv2.circle(frame, (600, 60), 8, (0, 0, 255) if int(t) % 4 < 2 else (0, 255, 0), -1)
        for x0, v, y, colour in cars:
            x = (x0 + v * t) % 940 - 150
            cv2.rectangle(frame, (int(x), int(y)), (int(x) + 90, int(y) + 30), colour, -1)
            for wheel in (15, 75):
                cv2.circle(frame, (int(x) + wheel, int(y) + 30), 8, (20, 20, 20), -1)
        for x0, v, y in people:
            x = (x0 + v * t) % 700 - 30
            bob = 3 * abs(np.sin(2 * np.pi * 1.8 * t))
            cv2.circle(frame, (int(x), int(y - 45 - bob)), 7, (170, 190, 220), -1)  # head
            cv2.rectangle(frame, (int(x) - 6, int(y - 38 - bob)), (int(x) + 6, int(y)), (90, 60, 40), -1)
        yield frame


def talking_head(seconds: float):
    """A presenter in front of a plain wall: the head sways, the eyes blink, the
    mouth opens and closes with the words, the hands move now and then."""
    for i in range(int(seconds * FPS)):
        t = i / FPS
        frame = np.full((SIZE[1], SIZE[0], 3), (180, 190, 200), np.uint8)
        cx = 320 + int(8 * np.sin(2 * np.pi * 0.3 * t))
        cy = 150 + int(3 * np.sin(2 * np.pi * 0.5 * t))
        cv2.rectangle(frame, (cx - 110, cy + 90), (cx + 110, SIZE[1]), (60, 40, 100), -1)  # shoulders
        cv2.ellipse(frame, (cx, cy), (60, 80), 0, 0, 360, (140, 170, 210), -1)
        eye = 1 if (t % 3.0) < 0.15 else 7
        for side in (-22, 22):
            cv2.ellipse(frame, (cx + side, cy - 15), (9, eye), 0, 0, 360, (40, 30, 30), -1)
        mouth = int(4 + 10 * abs(np.sin(2 * np.pi * 3.0 * t)) * (np.sin(2 * np.pi * 0.4 * t) > -0.3))
        cv2.ellipse(frame, (cx, cy + 40), (22, mouth), 0, 0, 360, (60, 40, 120), -1)
        hand = int(40 * max(np.sin(2 * np.pi * 0.25 * t), 0))
        cv2.circle(frame, (cx + 150, SIZE[1] - 20 - hand), 18, (140, 170, 210), -1)
        yield frame


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("not-volleyball")


def rallies_in(path: Path) -> list[tuple[float, float]]:
    return [(r.start, r.end) for r in analyse(path).rallies]


def test_a_test_pattern_has_no_rally_and_no_court(folder):
    analysis = analyse(from_lavfi(folder / "testsrc2.mp4", f"testsrc2=size={SIZE[0]}x{SIZE[1]}:rate={FPS}", 8))
    assert analysis.rallies == [] and analysis.court is None


def test_the_game_of_life_has_no_rally(folder):
    source = f"life=s={SIZE[0]}x{SIZE[1]}:mold=10:r={FPS}:ratio=0.1:death_color=#C83232:life_color=#00ff00"
    assert rallies_in(from_lavfi(folder / "life.mp4", source, 8)) == []


def test_a_fractal_zoom_has_no_rally(folder):
    assert rallies_in(from_lavfi(folder / "mandelbrot.mp4", f"mandelbrot=s={SIZE[0]}x{SIZE[1]}:r={FPS}", 8)) == []


def test_a_street_with_cars_and_people_has_no_rally(folder):
    assert rallies_in(from_frames(folder / "street.mp4", street(20))) == []


def test_a_talking_head_has_no_rally(folder):
    assert rallies_in(from_frames(folder / "talking-head.mp4", talking_head(15))) == []
