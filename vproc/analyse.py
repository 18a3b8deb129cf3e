"""The vproc stage job: decode a game once and find the ball and the rallies.

`analyse(path)` is a plain function over a file path; it reports progress
through a callable and does no other I/O than reading the video. The court is
looked for in frames kept from that one decode (`CourtFrames`), unless the user
has marked it already.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from volley import defaults
from volley.exceptions import TruncatedVideo, VideoTooShort
from volley.payloads import BallPoint, CourtView, Rally, VideoInfo
from volley.progress import Progress, silent
from vproc.audio import AudioCues, listen
from vproc.court import Court, find_court, from_corners
from vproc.decode import FrameSource
from vproc.physics import court_agrees
from vproc.players import MotionLog, PlayersMotion
from vproc.detector import BallDetector
from vproc.probe import probe
from vproc.rallies import find_rallies, play_flights
from vproc.flightmodel import NEIGHBOURHOOD
from vproc.moments import CONTEXT
from vproc.tracker import BallTracker, Flight

STAGE = "analysing"


@dataclass
class Analysis:
    """What vproc hands on: the video as decoded, the ball track and the rallies."""

    video: VideoInfo
    track: list[BallPoint]
    rallies: list[Rally]
    court: CourtView | None = None  # None: no court could be found with confidence


@dataclass
class BallTrack:
    """The flights found in a video, in analysis pixels, and the frames they came from."""

    flights: list[Flight]
    frame_times: list[float]
    width: int  # analysis frame size
    height: int
    scale: float  # analysis pixels -> source (display) pixels
    source: FrameSource
    sound: AudioCues | None = None  # the game's audio cues, when it has sound
    motion: PlayersMotion | None = None  # the players' motion in the analysed frames
    court_frames: list[np.ndarray] = dataclasses.field(default_factory=list)  # grey analysis frames

    def court(self, given: CourtView | None = None) -> tuple[Court | None, CourtView | None]:
        """The court in analysis pixels (for the stats) and as users see it (source
        pixels): the one `given` by the user, else the one found in the frames kept
        for it when the ball's flights agree with it (`vproc.physics.court_agrees`),
        else (None, None)."""
        if given is not None:
            corners = np.asarray(given.corners, float) / self.scale
            return from_corners(corners, (self.width, self.height), beach=given.beach), given
        found = find_court(self.court_frames)
        if found is None or not court_agrees(found.projection(), self.play, self.height):
            return None, None
        corners = tuple((float(x) * self.scale, float(y) * self.scale) for x, y in found.corners)
        return found, CourtView(corners, found.camera_height_m, found.beach, by="engine")

    @property
    def frame_rate(self) -> float:
        """Analysed frames per second (fewer than the video's when frames are skipped)."""
        return analysed_rate(self.frame_times)

    @functools.cached_property
    def play(self) -> list[Flight]:
        """The flights the flight model takes for the ball in play (worked out once:
        the court check and the track both ask)."""
        return play_flights(self.flights, self.width, self.height, self.frame_rate, sound=self.sound)

    def points(self, play_only: bool = True) -> list[BallPoint]:
        """The ball in source pixels at every analysed frame inside a flight."""
        times = np.asarray(self.frame_times)
        points = []
        for flight in self.play if play_only else self.flights:
            inside = times[(times >= flight.start - 1e-6) & (times <= flight.end + 1e-6)]
            for t in inside:
                x, y = flight.position(float(t))
                points.append(BallPoint(float(t), x * self.scale, y * self.scale))
        points.sort(key=lambda p: p.t)
        return points


def analyse(
    path: Path,
    progress: Progress = silent,
    *,
    min_rally: float = defaults.MIN_RALLY,
    early: Callable[[VideoInfo, list[Rally]], None] | None = None,
    hear: bool = True,
    court: CourtView | None = None,
) -> Analysis:
    """Find the ball, the court and the rallies. `early`, when given, hears of rallies
    that later frames can no longer change while decoding goes on (so their cuts can
    start at once); the returned rallies are the final word and include them. Without
    `hear` the sound track is ignored (the benchmarks use it to score the picture
    alone). `court`, a court the user marked, is taken as it is instead of looking."""
    path = Path(path)
    video = probe(path)
    if video.duration < defaults.MIN_VIDEO_SECONDS:
        raise VideoTooShort(f"{path.name}: the video is {video.duration:.2f} s long; a rally needs more")
    sound = listen(path) if hear else None  # audio packets only: about a second per two minutes
    settler = EarlyRallies(lambda rallies: early(video, rallies), min_rally, sound) if early else None
    track = track_ball(path, video, progress, settler, sound)
    video = _as_decoded(path, video, track.source)
    court_here, court = track.court(court) if track.width else (None, None)
    rallies = find_rallies(
        track.flights,
        track.width,
        track.height,
        frame_rate=track.frame_rate,
        until=video.duration,
        min_rally=min_rally,
        source_scale=track.scale,
        sound=sound,
        court=court_here,
        motion=track.motion,
    )
    progress(STAGE, 1.0)
    return Analysis(video=video, track=track.points(), rallies=rallies, court=court)


def track_ball(
    path: Path,
    video: VideoInfo,
    progress: Progress = silent,
    settler: "EarlyRallies | None" = None,
    sound: AudioCues | None = None,
) -> BallTrack:
    """Decode the video once, detecting ball candidates and linking them into flights."""
    source = FrameSource(path, rotation=video.rotation)
    detector = BallDetector()
    court_frames = CourtFrames()
    motion = MotionLog()
    tracker: BallTracker | None = None
    height = width = 0
    for count, frame in enumerate(source, 1):  # the decoder runs ahead: count here
        if tracker is None:
            height, width = frame.image.shape
            tracker = BallTracker(height)
        found = detector.process_frame(frame.t, frame.image)
        tracker.update(found)
        if found is not None:
            motion.add(found.t, found.moving)
        court_frames.offer(frame.t, frame.image)
        if count % 30 == 0:
            progress(STAGE, frame.t / max(video.duration, 1e-3))
            if settler is not None:
                settler.update(tracker, motion.so_far(), width, height, video.width / width)
    if tracker is None:
        return BallTrack([], [], 0, 0, 1.0, source, sound)
    return BallTrack(
        tracker.finish(), tracker.frame_times, width, height, video.width / width, source, sound,
        motion.so_far(), court_frames.frames,
    )


class CourtFrames:
    """The frames the court is looked for in, kept as the decode passes them: spread
    evenly over the first WITHIN seconds, at most KEEP of them (when full, every other
    one goes and the spacing doubles, so a short clip gets as many as a long game).
    Players move between them, so their median is the empty court (`vproc.court`)."""

    WITHIN = 120.0
    KEEP = 32

    def __init__(self) -> None:
        self.frames: list[np.ndarray] = []
        self.every = 0.25
        self.next_at = 0.0

    def offer(self, t: float, image: np.ndarray) -> None:
        if not (self.next_at <= t < self.WITHIN):
            return
        self.frames.append(image.copy())  # the decoder reuses its buffers
        if len(self.frames) > self.KEEP:
            self.frames = self.frames[::2]
            self.every *= 2
        self.next_at = t + self.every


class EarlyRallies:
    """Rallies found while the video is still being decoded, handed on as soon as no
    later frame can change them. Every SETTLE_EVERY seconds of video it reruns rally
    finding over a window of settled flights and passes on the rallies that end far
    enough before the settled horizon: past the moment model's context and the flight
    model's neighbourhood, nothing later can change how they score."""

    SETTLE_EVERY = 20.0  # seconds of video between reruns
    WINDOW = 90.0  # seconds of settled flights looked at before the horizon

    def __init__(self, hand_on: Callable[[list[Rally]], None], min_rally: float, sound: AudioCues | None = None):
        self.hand_on, self.min_rally, self.sound = hand_on, min_rally, sound
        self.handed_until = 0.0
        self.next_at = self.SETTLE_EVERY

    def update(self, tracker: BallTracker, motion: PlayersMotion, width: int, height: int, scale: float) -> None:
        now = tracker.frame_times[-1] if tracker.frame_times else 0.0
        if now < self.next_at:
            return
        self.next_at = now + self.SETTLE_EVERY
        margin = CONTEXT + NEIGHBOURHOOD + 1.0
        since = max(now - self.WINDOW, 0.0)
        flights, horizon = tracker.settled(since=since)
        frame_rate = analysed_rate(tracker.frame_times)
        found = find_rallies(
            flights, width, height, frame_rate=frame_rate, since=since, until=horizon,
            min_rally=self.min_rally, source_scale=scale, sound=self.sound, motion=motion,
        )
        # A window that does not reach back to the game's start lacks the flights
        # before it: rallies near its start may differ, and the previous rerun passed
        # those on already.
        # Each rally is handed on once: a later rerun sees the same flights through a
        # different window and could nudge an edge by a moment.
        earliest = max(since + margin if since > 0 else 0.0, self.handed_until)
        settled = [r for r in found if r.start >= earliest and r.end + margin < horizon]
        if settled:
            self.handed_until = max(r.end for r in settled)
            self.hand_on(settled)


def analysed_rate(times: list[float]) -> float:
    """Analysed frames per second, from the typical spacing of the analysed frames:
    the same while decoding and at the end (a mean over the frames so far drifts as
    repeated frames are skipped), so rallies settled early score their flights as the
    final pass does."""
    if len(times) < 2:
        return 1.0
    step = float(np.median(np.diff(np.asarray(times, float))))
    return 1.0 / step if step > 0 else 1.0


def _as_decoded(path: Path, video: VideoInfo, source: FrameSource) -> VideoInfo:
    """The header's duration and rate corrected by what was actually decoded."""
    stats = source.stats
    if stats.frames == 0:
        raise TruncatedVideo(f"{path.name}: no frame of the video could be decoded")
    step = stats.frame_step if stats.every_frame else 1.0 / video.fps
    decoded = stats.last_t + step
    if decoded < defaults.TRUNCATION_TOLERANCE * video.duration - 1.0:
        raise TruncatedVideo(
            f"{path.name}: the video is truncated: frames stop at {decoded:.1f} s of {video.duration:.1f} s"
        )
    if decoded < defaults.MIN_VIDEO_SECONDS:
        raise VideoTooShort(f"{path.name}: the video is {decoded:.2f} s long; a rally needs more")
    if not stats.every_frame:  # the header's rate stands; the frame count is derived from it
        return dataclasses.replace(video, duration=decoded, frame_count=round(decoded * video.fps))
    return dataclasses.replace(video, duration=decoded, fps=stats.frames / decoded, frame_count=stats.frames)
