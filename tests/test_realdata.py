"""Real footage from ../shared/realdata (see its README for licences and labels)."""

from __future__ import annotations

import pytest

from tests.conftest import realdata
from vproc.analyse import analyse
from vproc.labelled import ball_hits


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
    hits = ball_hits(clip / "VolleyballShortClip.mp4", clip / "VolleyballShortClip.csv")
    assert hits.labelled == 21
    assert hits.among_candidates > hits.labelled / 2, hits
