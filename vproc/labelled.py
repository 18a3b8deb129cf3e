"""The ball found against a ball labelled frame by frame in real footage: how often
the detector has it among its candidates, the tracker follows it, and a flight the
flight model takes for play does. Used by the tests and the benchmarks (see
bench/tracknet.py, bench/kats_ball.py)."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from vproc.analyse import analysed_rate
from vproc.audio import listen
from vproc.decode import FrameSource
from vproc.detector import BallDetector, is_duplicate
from vproc.probe import probe
from vproc.rallies import play_flights
from vproc.tracker import BallTracker, Flight

#: Labels: {time (s from the first frame, rounded to ms): (x, y) in source pixels} of
#: the frames where the ball is visible.
Labels = dict[float, tuple[float, float]]


@dataclass(frozen=True)
class BallHits:
    """How often the ball was found near a labelled position, in labelled frames."""

    labelled: int
    #: Labelled frames that repeat the previous picture (a 25 fps camera stored at 30
    #: fps): they show the ball where it was a frame before, so no flight is judged on them.
    repeated: int
    among_candidates: int  # a detector candidate within `within` px
    followed: int  # a tracked flight's position within `within` px, in the frames not repeated
    in_play: int  # ...of a flight the flight model takes for the ball in play
    candidates_per_frame: float

    @property
    def judged(self) -> int:
        """The labelled frames the flights are judged on."""
        return self.labelled - self.repeated


def ball_hits(video: Path, truth: Labels, within: float = 10.0) -> BallHits:
    """Score the detector, the tracker and the flight model on a clip whose ball is
    labelled (`tracknet_labels`, `frame_labels`). Frames are matched by their PTS time."""
    source, detector, tracker = FrameSource(video), BallDetector(), None
    among, blobs, width, previous, repeats, taken = 0, 0, 0, None, set(), {}
    for frame in source:
        tracker, width = tracker or BallTracker(frame.image.shape[0]), frame.image.shape[1]
        if previous is not None and round(frame.t, 3) in truth and is_duplicate(previous, frame.image):
            repeats.add(round(frame.t, 3))
        previous = frame.image.copy()  # the decoder reuses its buffers
        found = detector.process_frame(frame.t, frame.image)
        tracker.update(found)
        pts = None if found is None else round(found.t if found.pts is None else found.pts, 3)
        if pts not in truth:
            continue
        taken[pts] = found.t  # flights are in the times frames were taken (vproc.cadence)
        x, y = truth[pts]
        blobs += len(found.blobs)
        among += any(np.hypot(b.x * source.scale - x, b.y * source.scale - y) <= within for b in found.blobs)
    if tracker is None:
        return BallHits(len(truth), 0, 0, 0, 0, 0.0)
    flights = tracker.finish()
    play = play_flights(flights, width, tracker.height, analysed_rate(tracker.frame_times), sound=listen(video))
    fresh = {taken.get(t, t): xy for t, xy in truth.items() if t not in repeats}
    return BallHits(
        len(truth), len(repeats), among, _followed(flights, fresh, source.scale, within),
        _followed(play, fresh, source.scale, within), blobs / max(len(truth), 1),
    )


def _followed(flights: list[Flight], truth: Labels, scale: float, within: float) -> int:
    """In how many labelled frames one of `flights` (analysis pixels) is within `within` source px of the ball."""
    return sum(
        any(
            f.start - 1e-6 <= t <= f.end + 1e-6
            and np.hypot(f.position(t)[0] * scale - x, f.position(t)[1] * scale - y) <= within
            for f in flights
        )
        for t, (x, y) in truth.items()
    )


def tracknet_labels(video: Path, labels: Path) -> Labels:
    """TrackNet's CSV (`frame_num,x,y,visible`, x and y as fractions of the frame; in the
    shared clip `visible=0` means visible, see ../shared/realdata/README.md)."""
    info = probe(video)
    with open(labels) as fh:
        rows = list(csv.DictReader(fh))
    times = _frame_times(video)
    return {
        times[int(r["frame_num"])]: (float(r["x"]) * info.width, float(r["y"]) * info.height)
        for r in rows
        if r["visible"] == "0"
    }


def frame_labels(video: Path, labels: Path) -> Labels:
    """Our JSON labels (`{"frames": [{"frame": n, "ball": [x, y] or null}, ...]}`, source
    pixels, frames counted in decode order): the frames where the ball is visible."""
    times = _frame_times(video)
    rows = json.loads(Path(labels).read_text())["frames"]
    return {times[r["frame"]]: (float(r["ball"][0]), float(r["ball"][1])) for r in rows if r["ball"] is not None}


def _frame_times(video: Path) -> list[float]:
    """Each decoded frame's time (s from the first frame, rounded to ms), from its PTS."""
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        times = [float(f.pts * stream.time_base) for f in container.decode(stream)]
    return [round(t - times[0], 3) for t in times]
