"""The small typed payloads that flow between stages.

They are plain dataclasses that turn into JSON and back (`to_dict`/`from_dict`),
so a stage can run in-process (the CLI) or behind a queue (the service) alike.
All times are seconds on the source's presentation timeline, where 0 is the first
video frame's PTS (see `volley.timecode`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any


def _from_dict(cls, data: dict[str, Any]):
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class VideoInfo:
    """What Volley knows of a source video after probing it."""

    duration: float  # seconds from the first to the end of the last video frame
    fps: float  # average frame rate (frames / duration); informative only
    width: int  # display width, after rotation
    height: int  # display height, after rotation
    codec: str = "h264"  # video codec name as ffmpeg calls it
    pix_fmt: str = "yuv420p"  # decoded pixel format (10-bit or 4:2:2 sources need a transcode)
    rotation: int = 0  # degrees clockwise the player must turn the coded picture
    has_audio: bool = False
    #: Add this to a Volley time to get the time ffmpeg's `-ss` means on this file
    #: (ffmpeg counts from the container's start time, Volley from the first video frame).
    ffmpeg_offset: float = 0.0
    frame_count: int = 0  # frames decoded (0 when only probed)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "VideoInfo":
        return _from_dict(cls, data)

    def public(self) -> dict[str, Any]:
        """The fields users see in rallies.json."""
        return {
            "duration": round(self.duration, 3),
            "fps": round(self.fps, 3),
            "width": self.width,
            "height": self.height,
        }


@dataclass(frozen=True)
class BallPoint:
    """The ball found in one analysed frame, in source (display) pixels."""

    t: float
    x: float
    y: float

    def to_dict(self) -> dict[str, float]:
        return {"t": round(self.t, 4), "x": round(self.x, 1), "y": round(self.y, 1)}


@dataclass
class Rally:
    """One rally: from the serve contact (`start`) to the ball being dead (`end`)."""

    index: int
    start: float
    end: float
    stats: dict[str, Any] = field(default_factory=dict)
    score: float = 0.0

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def name(self) -> str:
        return f"rally-{self.index:03d}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "stats": self.stats,
            "score": round(self.score, 3),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Rally":
        return _from_dict(cls, data)


@dataclass(frozen=True)
class CourtView:
    """Where the playing court lies in the source picture: its four outer corners in
    source (display) pixels, near-left, near-right, far-right, far-left as the camera
    sees them (a corner outside the picture is where the homography puts it), and the
    camera's height above the floor (m) that those corners imply. `by` says who set it:
    "engine" (found in the picture) or "user" (clicked on a frame of the game)."""

    corners: tuple[tuple[float, float], ...]
    camera_height_m: float | None = None
    beach: bool = False  # a beach court (8 x 16 m) rather than indoor (9 x 18 m)
    by: str = "engine"

    def to_dict(self) -> dict[str, Any]:
        return {
            "corners": [[round(float(x), 1), round(float(y), 1)] for x, y in self.corners],
            "camera_height_m": None if self.camera_height_m is None else round(float(self.camera_height_m), 2),
            "beach": self.beach,
            "by": self.by,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CourtView":
        corners = tuple((float(x), float(y)) for x, y in data["corners"])
        height = data.get("camera_height_m")
        return cls(corners, None if height is None else float(height), bool(data.get("beach", False)),
                   str(data.get("by", "engine")))


@dataclass(frozen=True)
class Segment:
    """A piece of the source cut to disk by framer: rally `index` over [start, end]."""

    index: int
    path: Path
    start: float  # requested start on the source timeline (rally start - padding)
    end: float  # requested end on the source timeline (rally end + padding)

    @property
    def name(self) -> str:
        return f"rally-{self.index:03d}"

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "path": str(self.path), "start": self.start, "end": self.end}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Segment":
        return cls(int(data["index"]), Path(data["path"]), float(data["start"]), float(data["end"]))


@dataclass
class Outputs:
    """What clipper wrote: a clip and a poster per rally index, and the two reels
    (None when there was no rally to put in them)."""

    clips: dict[int, Path] = field(default_factory=dict)
    posters: dict[int, Path] = field(default_factory=dict)
    digest: Path | None = None
    best: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "clips": {str(k): str(v) for k, v in self.clips.items()},
            "posters": {str(k): str(v) for k, v in self.posters.items()},
            "digest": None if self.digest is None else str(self.digest),
            "best": None if self.best is None else str(self.best),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Outputs":
        def path(value: str | None) -> Path | None:
            return None if value is None else Path(value)

        return cls(
            clips={int(k): Path(v) for k, v in data.get("clips", {}).items()},
            posters={int(k): Path(v) for k, v in data.get("posters", {}).items()},
            digest=path(data.get("digest")),
            best=path(data.get("best")),
        )
