"""The ball detector on drawn frames: what moves like a ball is a candidate, what
moves all the time is not."""

from __future__ import annotations

import cv2
import numpy as np

from vproc.detector import LINGER, BallDetector, is_duplicate

WIDTH, HEIGHT = 640, 360
FPS = 25.0


def _frame(ball: tuple[float, float] | None, blinker_on: bool = False, pattern: int = 0) -> np.ndarray:
    """A grey court with a camera's noise and, optionally, a ball (a bright disc with
    a dark seam that turns with `pattern`, as a spinning ball does) and a blinking
    light. Without noise, frames that differ only by a small ball would be taken for
    duplicates."""
    image = np.full((HEIGHT, WIDTH), 90, np.uint8)
    cv2.rectangle(image, (0, 200), (WIDTH, HEIGHT), 140, -1)  # the floor
    if blinker_on:
        cv2.rectangle(image, (500, 60), (507, 67), 250, -1)  # an LED about the ball's size
    if ball is not None:
        centre = (int(round(ball[0])), int(round(ball[1])))
        cv2.circle(image, centre, 6, 230, -1)
        angle = pattern * 0.6
        offset = (int(round(5 * np.cos(angle))), int(round(5 * np.sin(angle))))
        cv2.line(image, (centre[0] - offset[0], centre[1] - offset[1]), (centre[0] + offset[0], centre[1] + offset[1]), 40, 2)
    noise = np.random.default_rng(pattern).normal(0, 1.5, image.shape)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def _found(detector: BallDetector, t: float, image: np.ndarray):
    return detector.process_frame(t, image)


def _near(blobs, x: float, y: float, within: float = 5.0) -> bool:
    return any(np.hypot(b.x - x, b.y - y) <= within for b in blobs)


def test_it_finds_a_spinning_ball_hanging_at_the_top_of_its_arc_in_a_clip_s_first_frames():
    # A ball rising slowly to its apex from the clip's very first frame: no activity
    # map could yet tell its few frames in one place from a place that always moves.
    detector = BallDetector()
    path = [(320.0 + 0.5 * i, 150.0 - 30 * (i / 12) + 30 * (i / 12) ** 2) for i in range(24)]
    reported = {}
    for i, xy in enumerate(path):
        found = _found(detector, i / FPS, _frame(xy, pattern=i))
        if found is not None:
            reported[round(found.t * FPS)] = found.blobs
    assert len(reported) == len(path) - 4  # two frames of look-ahead and two behind
    hits = [i for i, blobs in reported.items() if _near(blobs, *path[i])]
    assert len(hits) == len(reported), f"ball found in frames {sorted(hits)} of {sorted(reported)}"


def test_it_ignores_a_light_that_blinks_all_the_time_but_not_a_ball_passing_it():
    # A place that moves in every frame is ignored once it has moved in more than
    # LINGER frames; the detector reports each frame two frames late.
    learned = LINGER + 1 + 2
    detector = BallDetector()
    frames = learned + 70
    ball_from = frames - 30
    blinker_seen_late, ball_hits = 0, 0
    for i in range(frames):
        ball = (100.0 + 12 * (i - ball_from), 120.0) if i >= ball_from else None
        found = _found(detector, i / FPS, _frame(ball, blinker_on=i % 2 == 0, pattern=i))
        if found is None:
            continue
        frame = round(found.t * FPS)
        if frame >= learned:
            blinker_seen_late += _near(found.blobs, 503.5, 63.5)
        if frame >= ball_from:
            ball_hits += _near(found.blobs, 100.0 + 12 * (frame - ball_from), 120.0)
    assert blinker_seen_late == 0
    assert ball_hits >= 24  # of the 26 frames the ball is reported in


def test_a_calm_wide_shot_where_only_a_small_ball_moves_is_not_taken_for_repeated_frames():
    # A clean encode of a still scene changes nothing but the ball: a small share of
    # the picture, yet a new frame every time.
    detector, reported = BallDetector(), 0
    for i in range(20):
        image = np.full((HEIGHT, WIDTH), 120, np.uint8)
        cv2.circle(image, (100 + 9 * i, 120), 2, 200, -1)  # a far ball, 5 px across
        reported += detector.process_frame(i / FPS, image) is not None
    assert reported == 20 - 4  # every frame but the first four (look-ahead and look-behind)


def test_a_repeated_frame_re_encoded_with_its_compression_noise_is_skipped():
    rng = np.random.default_rng(1)
    first = _frame((200.0, 150.0), pattern=1)
    again = np.clip(first + rng.integers(-6, 7, first.shape), 0, 255).astype(np.uint8)
    assert is_duplicate(first, again)
    assert not is_duplicate(first, _frame((209.0, 150.0), pattern=2))


def test_a_ball_stays_a_candidate_when_a_wobbling_camera_makes_every_line_move():
    # The camera shakes by a pixel or two between frames: every court line and board
    # edge moves, and grown, their thin traces would join into one shape around the ball.
    rng = np.random.default_rng(7)
    detector, balls, found = BallDetector(), [], []
    for i in range(16):
        dx, dy = (int(v) for v in rng.integers(-2, 3, 2))
        image = np.full((HEIGHT, WIDTH), 90, np.uint8)
        for k in range(0, WIDTH, 40):
            cv2.line(image, (k + dx, 0), (k + dx + 60, HEIGHT), 200, 1)  # lines all over the picture
        for k in range(20, HEIGHT, 30):
            cv2.line(image, (0, k + dy), (WIDTH, k + dy), 30, 1)
        balls.append((150 + 12 * i + dx, 100 + 3 * i + dy))
        cv2.circle(image, balls[-1], 3, 250, -1)
        reported = detector.process_frame(i / FPS, image)
        if reported is not None:
            found.append(_near(reported.blobs, *balls[i - 2], within=4.0))
    # It is lost only where it crosses a moving line and joins its trace.
    assert len(found) == 12 and sum(found) >= 8, found
