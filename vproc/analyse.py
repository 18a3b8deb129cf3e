"""The vproc stage job: decode a game once and find the ball and the rallies.

`analyse(path)` is a plain function over a file path; it reports progress
through a callable and does no other I/O than reading the video.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from volley import defaults
from volley.exceptions import TruncatedVideo, VideoTooShort
from volley.payloads import BallPoint, Rally, VideoInfo
from volley.progress import Progress, silent
from vproc.decode import FrameSource
from vproc.detector import BallDetector
from vproc.probe import probe
from vproc.rallies import describe, find_rallies
from vproc.tracker import BallTracker, Flight

STAGE = "analysing"


@dataclass
class Analysis:
    """What vproc hands on: the video as decoded, the ball track and the rallies."""

    video: VideoInfo
    track: list[BallPoint]
    rallies: list[Rally]


def analyse(
    path: Path,
    progress: Progress = silent,
    *,
    gap: float = defaults.RALLY_GAP,
    min_rally: float = defaults.MIN_RALLY,
) -> Analysis:
    path = Path(path)
    video = probe(path)
    if video.duration < defaults.MIN_VIDEO_SECONDS:
        raise VideoTooShort(f"{path.name}: the video is {video.duration:.2f} s long; a rally needs more")
    source = FrameSource(path, rotation=video.rotation)
    detector = BallDetector()
    tracker: BallTracker | None = None
    height = width = 0
    for frame in source:
        if tracker is None:
            height, width = frame.image.shape
            tracker = BallTracker(height)
        tracker.update(detector.process_frame(frame.t, frame.image))
        if source.stats.analysed % 30 == 0:
            progress(STAGE, frame.t / max(video.duration, 1e-3))
    video = _as_decoded(path, video, source)
    flights = tracker.finish() if tracker else []
    scale = video.width / width if width else 1.0
    rallies = find_rallies(flights, height, video.duration, gap=gap, min_rally=min_rally, source_scale=scale)
    progress(STAGE, 1.0)
    return Analysis(video=video, track=_track(flights, height, scale), rallies=rallies)


def _as_decoded(path: Path, video: VideoInfo, source: FrameSource) -> VideoInfo:
    """The header's duration and rate corrected by what was actually decoded."""
    stats = source.stats
    if stats.frames == 0:
        raise TruncatedVideo(f"{path.name}: no frame of the video could be decoded")
    decoded = stats.last_t + stats.frame_step
    if decoded < defaults.TRUNCATION_TOLERANCE * video.duration - 1.0:
        raise TruncatedVideo(
            f"{path.name}: the video is truncated: frames stop at {decoded:.1f} s of {video.duration:.1f} s"
        )
    if decoded < defaults.MIN_VIDEO_SECONDS:
        raise VideoTooShort(f"{path.name}: the video is {decoded:.2f} s long; a rally needs more")
    return dataclasses.replace(
        video, duration=decoded, fps=stats.frames / decoded if decoded else video.fps, frame_count=stats.frames
    )


def _track(flights: list[Flight], height: int, scale: float) -> list[BallPoint]:
    """The ball in source pixels, from the flights that look like play."""
    points = [
        BallPoint(float(t), float(x) * scale, float(y) * scale)
        for flight in flights
        if describe(flight, height).is_play
        for t, x, y in zip(flight.t, flight.x, flight.y)
    ]
    points.sort(key=lambda p: p.t)
    return points
