"""The ball tracker: candidates in, flights out, on balls thrown through a pinhole
camera placed as users place theirs (behind the end line, a few metres up)."""

from __future__ import annotations

import numpy as np

from vproc.detector import Blob, FrameBlobs
from vproc.tracker import BallTracker

FPS = 30.0
WIDTH, HEIGHT = 640, 360
#: A camera 3 m behind the end line and 3 m up, looking down the court (metres; x across,
#: y along the court away from the camera, z up), focal length in analysis pixels.
CAMERA = np.array([0.0, -3.0, 3.0])
FOCAL = 350.0
HORIZON = 100.0
G = 9.81


def _seen(points: np.ndarray) -> np.ndarray:
    """World points (n x 3) as the camera sees them (n x 2 analysis pixels)."""
    d = points - CAMERA
    return np.stack([WIDTH / 2 + FOCAL * d[:, 0] / d[:, 1], HORIZON - FOCAL * d[:, 2] / d[:, 1]], axis=1)


def _arc(t: np.ndarray, start, velocity) -> np.ndarray:
    """A ball in free flight (no drag): world positions at times `t` since the contact."""
    p = np.asarray(start, float)[None, :] + np.outer(t, velocity)
    p[:, 2] -= 0.5 * G * t * t
    return p


def _frames(times: np.ndarray, ball: np.ndarray, clutter: int, seed: int) -> list[FrameBlobs]:
    """One frame of candidates per time: the ball (with half a pixel of noise) and
    `clutter` blobs at random places, as heads and hands give."""
    rng = np.random.default_rng(seed)
    frames = []
    for t, (x, y) in zip(times, ball):
        blobs = [Blob(float(t), float(x + rng.normal(0, 0.5)), float(y + rng.normal(0, 0.5)), 5.0)]
        blobs += [Blob(float(t), float(rng.uniform(0, WIDTH)), float(rng.uniform(150, HEIGHT)), 6.0) for _ in range(clutter)]
        frames.append(FrameBlobs(float(t), blobs))
    return frames


def _track(frames: list[FrameBlobs]):
    tracker = BallTracker(HEIGHT)
    for found in frames:
        tracker.update(found)
    return tracker.finish()


def _covering(flights, start: float, end: float) -> float:
    """The longest share of [start, end] that one flight covers."""
    return max((min(f.end, end) - max(f.start, start)) / (end - start) for f in flights) if flights else 0.0


def test_a_long_pass_flying_away_from_an_endline_camera_stays_one_flight():
    # Perspective bends this 1.5 s pass several pixels off any parabola in time: a
    # tracker that expects a parabola in the picture cuts it into pieces and drops them.
    t = np.arange(0, 1.5, 1 / FPS)
    ball = _seen(_arc(t, (-2.0, 4.0, 1.0), (1.5, 3.0, 9.0)))
    flights = _track(_frames(t + 10.0, ball, clutter=3, seed=1))
    assert _covering(flights, 10.0, 10.0 + t[-1]) >= 0.9, [(f.start, f.end) for f in flights]


def test_a_slow_high_ball_moving_mostly_away_from_the_camera_is_a_flight():
    # A free ball sent high down the court: from behind the end line it hardly moves
    # across the picture, yet it is the ball in play.
    t = np.arange(0, 1.0, 1 / FPS)
    ball = _seen(_arc(t, (0.5, 10.0, 2.5), (0.2, 3.0, 5.0)))
    speed = np.median(np.hypot(*np.diff(ball, axis=0).T)) * FPS / HEIGHT
    assert speed < 0.2  # slower, in frame heights per second, than a flight once had to be
    flights = _track(_frames(t + 3.0, ball, clutter=2, seed=2))
    assert _covering(flights, 3.0, 3.0 + t[-1]) >= 0.8, [(f.start, f.end) for f in flights]


def test_a_touch_that_turns_the_ball_ends_one_flight_and_starts_the_next():
    first_t = np.arange(0, 1.0, 1 / FPS)
    first = _arc(first_t, (-1.0, 3.0, 1.0), (0.5, 3.0, 7.0))
    contact = first[-1]
    # The setter sends it back towards the camera side and up again.
    second = _arc(np.arange(1 / FPS, 1.0, 1 / FPS), contact, (2.0, -1.0, 6.0))
    times = np.concatenate([first_t, first_t[-1] + np.arange(1 / FPS, 1.0, 1 / FPS)])
    flights = _track(_frames(times, _seen(np.concatenate([first, second])), clutter=0, seed=3))
    touch = float(first_t[-1])
    assert not any(f.start < touch - 0.1 and f.end > touch + 0.1 for f in flights), [(f.start, f.end) for f in flights]
    assert _covering(flights, 0.0, touch) >= 0.8 and _covering(flights, touch, times[-1]) >= 0.8


def test_a_flight_seen_only_now_and_then_before_it_could_start_a_track_begins_where_the_ball_was_first_seen():
    # A serve seen in every third frame at first (lost against the crowd), then in
    # every frame: a track can start only once the ball shows in three frames of four,
    # and is then extended back through the earlier sightings.
    t = np.arange(0, 1.0, 1 / FPS)
    ball = _seen(_arc(t, (-3.0, 12.0, 3.0), (6.0, -8.0, 3.0)))
    frames = _frames(t + 5.0, ball, clutter=3, seed=5)
    for i in (1, 2, 4, 5, 7):  # seen in frames 0, 3 and 6 only, then from frame 8 on
        frames[i] = FrameBlobs(frames[i].t, frames[i].blobs[1:])
    flights = _track(frames)
    assert flights and min(f.start for f in flights if f.end > 5.5) <= 5.0 + 3 / FPS + 1e-6, [(f.start, f.end) for f in flights]


def test_one_badly_centred_blob_does_not_throw_the_track_off_the_ball_among_a_crowd_of_blobs():
    # A high set seen from behind the end line at 25 fps, in front of a crowd that
    # gives 20 blobs a frame. One blob of the ball is centred 4 px off (the motion mask
    # of a slow ball is a crescent); a prediction from the last three points alone
    # turned that into a 10 px miss, the track lost the ball, and crowd tracks took it.
    fps = 25.0
    t = np.arange(0, 1.2, 1 / fps)
    ball = _seen(_arc(t, (0.0, 4.0, 1.5), (0.3, 0.5, 6.0)))
    top = int(np.argmin(np.hypot(*np.diff(ball, axis=0).T)))
    ball[top + 6, 1] += 4.0  # falling again, a few pixels a frame
    flights = _track(_frames(t + 2.0, ball, clutter=20, seed=4))
    assert _covering(flights, 2.0, 2.0 + t[-1]) >= 0.95, [(f.start, f.end) for f in flights]


def test_the_quick_join_test_never_rejects_a_join_that_the_full_fit_accepts():
    # Stitching first bounds a join's error by a fit through the few points around
    # the join alone; that must never exceed the fit through all the joined points,
    # or pieces of one flight would stay apart. Random pieces, near and far apart.
    from vproc.tracker import CUBIC_POINTS, Flight, _join_gap_error, _path_errors

    rng = np.random.default_rng(7)
    for _ in range(400):
        n_a, n_b = rng.integers(4, 12, size=2)
        t = np.cumsum(rng.uniform(0.02, 0.08, n_a + n_b)) + 100.0
        t[n_a:] += rng.uniform(0.0, 0.3)  # the gap where the ball was lost
        xy = np.stack([300 + 200 * t - 100 * t[0], 100 + 50 * (t - t[0]) ** 2], axis=1)
        xy += rng.normal(0, rng.choice([0.3, 3.0, 30.0]), xy.shape)
        a = Flight(t[:n_a], xy[:n_a, 0], xy[:n_a, 1], 5.0)
        b = Flight(t[n_a:], xy[n_a:, 0], xy[n_a:, 1], 5.0)
        degree = 3 if n_a + n_b >= CUBIC_POINTS else 2
        full = float(np.sum(_path_errors(t - t[0], xy)))
        assert _join_gap_error(a, b, degree) <= full * (1 + 1e-9) + 1e-9
