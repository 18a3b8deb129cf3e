"""Real footage from ../shared/realdata (see its README for licences and labels)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import realdata
from vproc.analyse import analyse
from vproc.labelled import ball_hits, frame_labels, tracknet_labels


@pytest.mark.slow
def test_it_finds_the_one_rally_of_the_katowice_bedzin_clip():
    # The DataVolley file puts the serve at video second 1 and the last touch at 15.
    result = analyse(realdata("kats-beds-rally", "kats-beds-clip.mp4"))
    assert len(result.rallies) == 1
    rally = result.rallies[0]
    assert abs(rally.start - 1.0) <= 1.5
    assert rally.end >= 13.0
    assert result.video.width == 1280 and result.video.height == 720
    assert len(result.track) > 50  # the ball is followed for a good part of the rally


def test_it_finds_the_ball_within_10_px_in_most_of_the_tracknet_frames():
    # The detector reports a frame once it has seen two on either side, so the clip's
    # first two and last two of 21 frames can never count: 17 is the most possible.
    clip = realdata("tracknet-beach-21f")
    video = clip / "VolleyballShortClip.mp4"
    hits = ball_hits(video, tracknet_labels(video, clip / "VolleyballShortClip.csv"))
    assert hits.labelled == 21
    assert hits.among_candidates > hits.labelled / 2, hits


def test_a_flight_taken_for_play_follows_the_hand_labelled_ball_through_most_of_the_katowice_bedzin_rally():
    # tests/kats_ball_labels.json: the ball marked by hand in every third frame (null
    # where hidden or above the picture); bench/kats_ball.py prints the figures. The
    # clip is a 25 fps camera stored at 30 fps: timed by their PTS, the frames left
    # between the repeats made a flight taken for play follow the ball in 0.65 of them.
    video = realdata("kats-beds-rally", "kats-beds-clip.mp4")
    hits = ball_hits(video, frame_labels(video, Path(__file__).with_name("kats_ball_labels.json")))
    assert hits.labelled > 100 and 0 < hits.repeated < hits.labelled / 4
    assert hits.in_play > 0.65 * hits.judged, hits
