"""Real footage from ../shared/realdata (see its README for licences and labels)."""

from __future__ import annotations

import csv

import av
import numpy as np
import pytest

from tests.conftest import realdata
from vproc.analyse import analyse
from vproc.decode import FrameSource
from vproc.detector import BallDetector
from vproc.probe import probe


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


def labelled_frames(video, labels):
    """(time, x, y) of the 21 labelled frames; in this file visible=0 means visible."""
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        times = [float(f.pts * stream.time_base) for f in container.decode(stream)]
    times = [t - times[0] for t in times]
    info = probe(video)
    with open(labels) as fh:
        rows = list(csv.DictReader(fh))
    return [
        (times[int(r["frame_num"])], float(r["x"]) * info.width, float(r["y"]) * info.height)
        for r in rows
        if r["visible"] == "0"
    ], info


def test_it_finds_the_ball_candidate_in_many_of_the_tracknet_frames():
    video = realdata("tracknet-beach-21f", "VolleyballShortClip.mp4")
    labels, info = labelled_frames(video, realdata("tracknet-beach-21f", "VolleyballShortClip.csv"))
    detector, hits = BallDetector(), 0
    truth = {round(t, 3): (x, y) for t, x, y in labels}
    source = FrameSource(video)
    for frame in source:
        found = detector.process_frame(frame.t, frame.image)
        if found is None or round(found.t, 3) not in truth:
            continue
        x, y = truth[round(found.t, 3)]
        hits += any(np.hypot(b.x * source.scale - x, b.y * source.scale - y) <= 10 for b in found.blobs)
    assert hits >= 0.4 * len(labels), f"ball among the candidates in {hits} of {len(labels)} frames"
