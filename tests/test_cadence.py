"""When frames were taken, for footage whose frame rate was raised by repeating frames
(a 25 fps camera stored at 30 fps): the frames left are timed as the camera took
them, so a fast ball's path stays ballistic; footage without repeats keeps its PTS."""

from __future__ import annotations

import numpy as np

from tests.test_detector import _frame
from tests.test_tracker import HEIGHT, _arc, _covering, _seen
from vproc.cadence import Cadence
from vproc.detector import BallDetector, Blob, FrameBlobs
from vproc.tracker import BallTracker

TAKEN_FPS, STORED_FPS = 25.0, 30.0


def _converted(seconds: float) -> list[tuple[float, float, bool]]:
    """(PTS, when the frame shown was taken, whether it repeats the slot before) for
    each slot of a 30 fps stream showing a 25 fps camera's latest frame."""
    slots = []
    for k in range(int(seconds * STORED_FPS)):
        pts = k / STORED_FPS
        taken = np.floor(pts * TAKEN_FPS + 1e-9) / TAKEN_FPS
        slots.append((pts, taken, bool(slots) and slots[-1][1] == taken))
    return slots


def _timed(slots, cadence: Cadence, late: int = 2) -> dict[float, float]:
    """{time taken: time the cadence gives} for the frames kept, asked `late` frames late."""
    numbers, out = [], {}
    for pts, taken, repeat in slots:
        if repeat:
            cadence.repeated(pts)
            continue
        numbers.append((cadence.kept(pts), taken))
        if len(numbers) > late:
            n, when = numbers[-1 - late]
            out[when] = cadence.time(n)
    return out


def test_frames_of_footage_without_repeats_keep_their_pts_even_when_uneven():
    rng = np.random.default_rng(4)
    pts = np.cumsum(rng.uniform(0.025, 0.045, 200))  # a phone's variable frame rate
    timed = _timed([(t, t, False) for t in pts], Cadence())
    assert all(given == taken for taken, given in timed.items())


def test_frames_left_between_repeats_are_timed_as_the_camera_took_them():
    slots = _converted(20.0)
    timed = _timed(slots, Cadence())
    # Past the first window, where too few repeats have been seen yet.
    later = {taken: given for taken, given in timed.items() if taken > 2.5}
    errors = np.abs(np.subtract(list(later.values()), list(later.keys())) - (later[min(later)] - min(later)))
    pts_errors = [pts - taken for pts, taken, repeat in slots if not repeat and taken > 2.5]
    assert max(pts_errors) > 0.025  # the grid puts a frame up to a slot from when it was taken
    assert errors.max() < 0.004, errors.max()
    steps = np.diff(sorted(later.values()))
    assert np.allclose(steps, 1 / TAKEN_FPS, atol=0.002)


def _spike(times: dict[float, float]) -> list:
    """The flights tracked from a spike (net to back court, seen from behind the end
    line) whose frames, taken at the keys of `times`, are given the times it maps them to."""
    taken = np.array(sorted(t for t in times if 2.4 <= t <= 2.84))
    ball = _seen(_arc(taken - taken[0], [1.0, 9.0, 3.2], [0.5, -16.0, -4.0]))
    tracker = BallTracker(HEIGHT)
    for when, (x, y) in zip(taken, ball):
        t = times[when]
        tracker.update(FrameBlobs(t, [Blob(t, float(x), float(y), 5.0)]))
    return tracker.finish()


def test_a_spike_filmed_at_25_fps_and_stored_at_30_stays_one_flight():
    slots = _converted(4.0)
    by_pts = {taken: pts for pts, taken, repeat in slots if not repeat}
    timed = _timed(slots, Cadence())
    assert _covering(_spike(timed), timed[2.4], timed[2.84]) > 0.9
    # Timed by their PTS, the same frames make no flight that covers it.
    assert _covering(_spike(by_pts), by_pts[2.4], by_pts[2.84]) < 0.9


def test_the_detector_reports_a_repeating_clip_s_frames_when_taken_and_their_pts():
    detector, reported = BallDetector(), []
    for pts, taken, _ in _converted(4.0):
        ball = (100 + 120 * taken, 150 + 20 * taken)
        found = detector.process_frame(pts, _frame(ball, pattern=int(round(taken * TAKEN_FPS))))
        if found is not None:
            reported.append(found)
    late = [f for f in reported if f.t > 2.5]
    assert late and all(f.pts is not None and abs(f.pts - f.t) <= 1 / STORED_FPS for f in late)
    assert np.allclose(np.diff([f.t for f in late]), 1 / TAKEN_FPS, atol=0.002)
