"""The ball found against a ball labelled frame by frame in real footage: how often
the detector has it among its candidates and the tracker follows it. Used by the
tests and the benchmarks (see bench/tracknet.py)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from vproc.decode import FrameSource
from vproc.detector import BallDetector
from vproc.probe import probe
from vproc.tracker import BallTracker


@dataclass(frozen=True)
class BallHits:
    """How often the ball was found near a labelled position, in labelled frames."""

    labelled: int
    among_candidates: int  # a detector candidate within `within` px
    followed: int  # a tracked flight's position within `within` px
    candidates_per_frame: float


def ball_hits(video: Path, labels: Path, within: float = 10.0) -> BallHits:
    """Score the detector and the tracker on a clip whose ball is labelled per frame
    (TrackNet's CSV: `frame_num,x,y,visible`, x and y as fractions of the frame; in
    the shared clip `visible=0` means visible, see ../shared/realdata/README.md).
    Frames are matched by their PTS time, never by counting decoded frames."""
    info = probe(video)
    truth = _labelled_times(video, labels, info.width, info.height)
    source, detector, tracker = FrameSource(video), BallDetector(), None
    among, blobs = 0, 0
    for frame in source:
        tracker = tracker or BallTracker(frame.image.shape[0])
        found = detector.process_frame(frame.t, frame.image)
        tracker.update(found)
        if found is None or round(found.t, 3) not in truth:
            continue
        x, y = truth[round(found.t, 3)]
        blobs += len(found.blobs)
        among += any(np.hypot(b.x * source.scale - x, b.y * source.scale - y) <= within for b in found.blobs)
    flights = tracker.finish() if tracker else []
    followed = sum(
        any(
            f.start - 1e-6 <= t <= f.end + 1e-6
            and np.hypot(f.position(t)[0] * source.scale - x, f.position(t)[1] * source.scale - y) <= within
            for f in flights
        )
        for t, (x, y) in truth.items()
    )
    return BallHits(len(truth), among, followed, blobs / max(len(truth), 1))


def _labelled_times(video: Path, labels: Path, width: int, height: int) -> dict[float, tuple[float, float]]:
    """{time (s, rounded to ms): (x, y) in source pixels} of the frames where the ball is visible."""
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        times = [float(f.pts * stream.time_base) for f in container.decode(stream)]
    with open(labels) as fh:
        rows = list(csv.DictReader(fh))
    return {
        round(times[int(r["frame_num"])] - times[0], 3): (float(r["x"]) * width, float(r["y"]) * height)
        for r in rows
        if r["visible"] == "0"
    }
