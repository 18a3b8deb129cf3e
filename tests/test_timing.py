"""Times come from PTS: rotated, variable-frame-rate and offset-start videos keep
Volley's timeline (0 = first frame) and display geometry right."""

from __future__ import annotations

import dataclasses

import pytest

from volley.synth import GameSpec, render_game
from vproc.analyse import analyse
from vproc.moments import STEP
from vproc.probe import probe

BASE = GameSpec(seed=31, width=480, height=270, fps=30.0, rallies=1, distractors=False)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    folder = tmp_path_factory.mktemp("timing")

    def render(name: str, **changes):
        path = folder / f"{name}.mp4"
        return path, render_game(path, dataclasses.replace(BASE, **changes))

    return render


def test_it_reads_a_rotated_phone_video_upright(rendered):
    # Stored as a 270x480 portrait picture with a display matrix turning it 90°.
    path, truth = rendered("rotated", rotation=90)
    info = probe(path)
    assert info.rotation in (90, 270)
    assert (info.width, info.height) == (truth.width, truth.height) == (480, 270)
    plain_path, plain_truth = rendered("plain")
    # The track lies on the ball in the upright picture as it does in the same game
    # filmed level (a picture turned the wrong way puts nearly every point elsewhere).
    rotated, level = on_the_ball(path, truth), on_the_ball(plain_path, plain_truth)
    assert rotated[0] >= 20 and rotated[0] / rotated[1] >= 0.8 * level[0] / level[1], (rotated, level)


def on_the_ball(path, truth) -> tuple[int, int]:
    """How many points of the track lie within 10 px of the true ball, and how many
    points the track has."""
    true_ball = {round(t, 2): (x, y) for t, x, y in truth.ball}
    track = analyse(path).track
    hits = sum(
        abs(p.x - true_ball[round(p.t, 2)][0]) + abs(p.y - true_ball[round(p.t, 2)][1]) <= 10
        for p in track
        if round(p.t, 2) in true_ball
    )
    return hits, max(len(track), 1)


def test_it_takes_times_from_pts_in_a_variable_frame_rate_video(rendered):
    path, truth = rendered("vfr", vfr=True)
    result = analyse(path)
    assert result.video.duration == pytest.approx(truth.duration, abs=0.1)
    assert result.video.frame_count < truth.duration * 30 * 0.95  # frames were dropped...
    assert result.video.fps == pytest.approx(result.video.frame_count / result.video.duration)  # ...and counted
    assert all(0 <= p.t <= truth.duration for p in result.track)


def test_it_counts_time_from_the_first_frame_when_the_file_starts_late(rendered):
    plain_path, _ = rendered("plain")
    late_path, truth = rendered("late", start_offset=7.5)
    plain, late = analyse(plain_path), analyse(late_path)
    assert late.video.duration == pytest.approx(truth.duration, abs=0.1)
    assert late.rallies, "the one rally of the game should be found"
    # Rally edges lie on the moment grid (STEP); the sound of the late copy is framed
    # from its own start, so an edge may move by one moment, never by the 7.5 s offset.
    assert [t for r in late.rallies for t in (r.start, r.end)] == pytest.approx(
        [t for r in plain.rallies for t in (r.start, r.end)], abs=STEP + 0.01
    )
    assert [p.t for p in late.track] == pytest.approx([p.t for p in plain.track], abs=0.002)
