"""What a synthetic game is asked to be (`GameSpec`) and what it really holds (`Truth`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

VIEWS = ("endline", "corner", "side")
#: The views whose camera stands behind an end line (the venue is laid out alike).
BEHIND_AN_END = ("endline", "corner")
SETTINGS = ("indoor", "beach")
ROTATIONS = (0, 90, 180, 270)


@dataclass(frozen=True)
class GameSpec:
    """A synthetic game: everything random in it is drawn from `seed`."""

    seed: int = 0
    width: int = 1280  # display width (after rotation), even
    height: int = 720  # display height (after rotation), even
    fps: float = 30.0
    rallies: int = 6  # number of rallies
    view: str = "endline"  # "endline": behind an end line; "corner": behind it, off to one side; "side": off a side line
    setting: str = "indoor"  # "indoor" (9x18 m, hall) or "beach" (8x16 m, sand and sky)
    #: Warm-up balls, spectators and bench, light flicker, tripod bumps and camera wobble, a neighbouring court.
    distractors: bool = True
    audio: bool = True  # AAC track: room noise and a thump at each ball touch
    vfr: bool = False  # drop ~15% of the frames at random; the others keep exact PTS
    rotation: int = 0  # degrees clockwise a player turns the stored picture to show it upright
    start_offset: float = 0.0  # PTS of the first frame, seconds
    gop: int | None = None  # keyframe interval in frames (default: about 2 s)
    crf: int = 23

    def __post_init__(self) -> None:
        if self.width < 64 or self.height < 64 or self.width % 2 or self.height % 2:
            raise ValueError(f"width and height must be even and >= 64, got {self.width}x{self.height}")
        if not 1.0 <= self.fps <= 240.0:
            raise ValueError(f"fps must be within 1..240, got {self.fps}")
        if self.rallies < 0:
            raise ValueError(f"rallies must be >= 0, got {self.rallies}")
        if self.view not in VIEWS:
            raise ValueError(f"view must be one of {VIEWS}, got {self.view!r}")
        if self.setting not in SETTINGS:
            raise ValueError(f"setting must be one of {SETTINGS}, got {self.setting!r}")
        if self.rotation not in ROTATIONS:
            raise ValueError(f"rotation must be one of {ROTATIONS}, got {self.rotation}")
        if self.start_offset < 0:
            raise ValueError(f"start_offset must be >= 0, got {self.start_offset}")
        if self.gop is not None and self.gop < 1:
            raise ValueError(f"gop must be >= 1, got {self.gop}")
        if not 0 <= self.crf <= 51:
            raise ValueError(f"crf must be within 0..51, got {self.crf}")


@dataclass
class Truth:
    """The ground truth of a rendered game. Times are seconds where 0 is the first
    frame's PTS; positions are display pixels (as a player shows the video)."""

    rallies: list[tuple[float, float]]  # (serve contact, first floor contact)
    ball: list[tuple[float, float, float]]  # (t, x, y) of the in-play ball in each frame showing it
    duration: float  # first frame to the end of the last frame
    fps: float  # nominal frame rate
    width: int
    height: int
    extra: dict[str, Any] = field(default_factory=dict)  # informative: seed, camera, counts

    def to_json(self) -> dict[str, Any]:
        return {
            "rallies": [[round(s, 6), round(e, 6)] for s, e in self.rallies],
            "ball": [[round(t, 6), round(x, 2), round(y, 2)] for t, x, y in self.ball],
            "duration": round(self.duration, 6),
            "fps": self.fps,
            "width": self.width,
            "height": self.height,
            "extra": self.extra,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Truth":
        return cls(
            rallies=[(float(s), float(e)) for s, e in data["rallies"]],
            ball=[(float(t), float(x), float(y)) for t, x, y in data["ball"]],
            duration=float(data["duration"]),
            fps=float(data["fps"]),
            width=int(data["width"]),
            height=int(data["height"]),
            extra=dict(data.get("extra", {})),
        )

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), separators=(",", ":")))

    @classmethod
    def load(cls, path: Path) -> "Truth":
        return cls.from_json(json.loads(Path(path).read_text()))
