"""Flights in court metres (vproc.physics): known 3-D balls seen by the generator's
cameras, through a court calibrated from its four corners as a user would mark them."""

from __future__ import annotations

import numpy as np
import pytest

from volley.synth.camera import place_camera
from vproc.court import from_corners
from vproc.physics import GRAVITY, court_agrees, fit_path
from vproc.rallies import SURE_SPEED, court_stats
from vproc.tracker import Flight

SIZE = (640, 360)  # analysis pixels
HALF = (4.5, 9.0)
#: (start position, start velocity): a serve from behind the far end line, a set, a
#: spike down into the near court, a free ball across.
BALLS = [((1.0, 10.0, 2.8), (-0.5, -19.0, 3.0)), ((0.0, -2.0, 2.5), (1.0, 1.0, 6.0)),
         ((2.0, 1.0, 3.2), (-1.0, -9.0, -6.0)), ((-3.0, -6.0, 1.5), (2.0, 11.0, 6.5))]


def calibrated_camera(view: str, seed: int):
    """A generated camera and the court a user would get by clicking its corners
    (to within half a pixel)."""
    camera, _ = place_camera(view, *HALF, 2.43, *SIZE, np.random.default_rng(seed), margin_px=12)
    camera.cx, camera.cy = SIZE[0] / 2, SIZE[1] / 2
    corners = np.array([(sx * HALF[0], sy * HALF[1], 0.0) for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1))])
    pixels, _ = camera.project(corners)
    court = from_corners(pixels + np.random.default_rng(seed).normal(0, 0.5, pixels.shape), SIZE)
    return camera, court


def seen(camera, start, velocity, seconds: float, seed: int, fps: float = 30.0):
    """Times, the true path, and the tracked points (0.7 px of noise)."""
    t = np.arange(0.0, seconds, 1.0 / fps)
    xyz = np.array(start) + np.array(velocity) * t[:, None] + 0.5 * GRAVITY * t[:, None] ** 2
    pixels, _ = camera.project(xyz)
    return t, xyz, pixels + np.random.default_rng(seed).normal(0, 0.7, pixels.shape)


@pytest.mark.parametrize("view", ["endline", "corner", "side"])
def test_a_speed_given_as_sure_is_within_ten_percent_and_heights_are_within_a_metre(view):
    sure, height_errors = 0, []
    for seed in range(5):
        camera, court = calibrated_camera(view, seed)
        for k, (start, velocity) in enumerate(BALLS):
            t, xyz, uv = seen(camera, start, velocity, 0.7, seed * 10 + k)
            path = fit_path(t, uv, court.projection(), SIZE[1])
            assert path is not None
            height_errors.append(abs(path.top() - xyz[:, 2].max()))
            if path.speed_error() <= SURE_SPEED * path.speed(0.0):
                sure += 1
                assert path.speed(0.0) == pytest.approx(np.linalg.norm(velocity), rel=0.1)
    assert sure >= (4 if view == "endline" else 12)  # seen across, most speeds are sure
    assert np.median(height_errors) <= 0.25 and max(height_errors) <= 1.0


def test_the_flight_says_where_it_lands_and_whether_it_crossed_the_net():
    camera, court = calibrated_camera("side", 1)
    t, xyz, uv = seen(camera, (-3.0, -6.0, 1.5), (2.0, 11.0, 6.5), 1.2, 7)
    path = fit_path(t, uv, court.projection(), SIZE[1])
    assert path.crosses_net()
    landing = path.landing()
    assert landing is not None
    truth = np.array([-3.0, -6.0]) + np.array([2.0, 11.0]) * ((6.5 + np.sqrt(6.5**2 + 2 * 9.81 * 1.5)) / 9.81)
    assert np.hypot(*(landing - truth)) < 0.5


def test_what_no_parabola_under_gravity_explains_gets_no_path():
    camera, court = calibrated_camera("corner", 2)
    t = np.arange(0.0, 0.8, 1 / 30)
    zigzag = np.c_[200 + 150 * t, 180 + 40 * np.sign(np.sin(2 * np.pi * 3 * t))]
    assert fit_path(t, zigzag, court.projection(), SIZE[1]) is None
    assert fit_path(t[:4], zigzag[:4], court.projection(), SIZE[1]) is None  # too short to tell


def test_a_rallys_court_stats_give_the_serve_speed_in_kmh_and_the_landing():
    camera, court = calibrated_camera("side", 3)
    flights = []
    for k, (start, velocity, seconds) in enumerate([((-1.0, -10.0, 2.8), (0.5, 19.0, 3.0), 0.85),
                                                    ((1.0, 6.0, 0.8), (-0.5, -1.0, 6.0), 1.1),
                                                    ((0.0, 3.0, 3.0), (1.0, -12.0, -2.0), 0.5)]):
        t, _, uv = seen(camera, start, velocity, seconds, k)
        flights.append(Flight(t + 2.0 * k, uv[:, 0], uv[:, 1], 4.0))
    stats = court_stats(flights, court, SIZE[1])
    assert stats["serve_kmh"] == pytest.approx(np.linalg.norm((0.5, 19.0, 3.0)) * 3.6, rel=0.1)
    assert stats["net_crossings"] == 2
    assert stats["landing_in"] is True and abs(stats["landing_m"][1]) < 9.0


def flights_seen(camera, count: int = 8) -> list[Flight]:
    """Balls in play over the court as the camera tracks them (analysis pixels)."""
    rng = np.random.default_rng(5)
    flights = []
    for k in range(count):
        start = (rng.uniform(-4, 4), rng.uniform(-8, 8), rng.uniform(1.0, 3.0))
        velocity = (rng.uniform(-2, 2), -np.sign(start[1]) * rng.uniform(3, 15), rng.uniform(2, 8))
        t, _, uv = seen(camera, start, velocity, 0.8, k)
        flights.append(Flight(t + 3.0 * k, uv[:, 0], uv[:, 1], 4.0))
    return flights


def test_a_court_is_believed_when_the_balls_flights_fly_where_balls_can_through_it():
    for view in ("endline", "corner", "side"):
        camera, court = calibrated_camera(view, 4)
        assert court_agrees(court.projection(), flights_seen(camera), SIZE[1])


def test_a_court_laid_on_the_wrong_lines_is_not_believed():
    camera, _ = calibrated_camera("side", 1)
    # the picture's lines taken for a court far smaller than it is (the attack zone
    # between the near side line and a point a metre in): flights come out at
    # impossible speeds and places
    small = np.array([(-4.5, -3.0, 0.0), (-3.5, -3.0, 0.0), (-3.5, 3.0, 0.0), (-4.5, 3.0, 0.0)])
    pixels, _ = camera.project(small)
    wrong = from_corners(pixels, SIZE)
    assert not court_agrees(wrong.projection(), flights_seen(camera), SIZE[1])


def test_with_too_few_flights_to_judge_by_the_court_stands():
    camera, _ = calibrated_camera("side", 1)
    small = np.array([(-4.5, -3.0, 0.0), (-3.5, -3.0, 0.0), (-3.5, 3.0, 0.0), (-4.5, 3.0, 0.0)])
    wrong = from_corners(camera.project(small)[0], SIZE)
    assert court_agrees(wrong.projection(), flights_seen(camera, count=2), SIZE[1])
