"""One time type for all of Volley.

Every time comes from a stream's presentation timestamp (PTS) and its time base;
frame indices are derived from it, never the other way round (OpenCV frame
numbers drifted from ffmpeg's times in the system Volley replaces).

`Timecode` keeps the exact rational value; `.seconds` is what JSON and ffmpeg get.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True, order=True)
class Timecode:
    """A point on a stream's presentation timeline: `pts` ticks of `time_base` seconds."""

    value: Fraction  # exact seconds; kept first so ordering compares times

    @classmethod
    def from_pts(cls, pts: int, time_base: Fraction) -> "Timecode":
        return cls(Fraction(pts) * Fraction(time_base))

    @classmethod
    def from_seconds(cls, seconds: float) -> "Timecode":
        return cls(Fraction(seconds).limit_denominator(1_000_000))

    @property
    def seconds(self) -> float:
        return float(self.value)

    def ffmpeg(self) -> str:
        """The time as ffmpeg expects it on the command line (seconds, microsecond precision)."""
        return f"{max(0.0, self.seconds):.6f}"

    def to_pts(self, time_base: Fraction) -> int:
        """The nearest PTS in another time base (for seeking)."""
        return round(self.value / Fraction(time_base))

    def __add__(self, other: "Timecode | float") -> "Timecode":
        if isinstance(other, Timecode):
            return Timecode(self.value + other.value)
        return Timecode(self.value + Fraction(other).limit_denominator(1_000_000))

    def __sub__(self, other: "Timecode | float") -> "Timecode":
        if isinstance(other, Timecode):
            return Timecode(self.value - other.value)
        return Timecode(self.value - Fraction(other).limit_denominator(1_000_000))

    def __str__(self) -> str:
        total = self.seconds
        minutes, secs = divmod(total, 60)
        return f"{int(minutes):02d}:{secs:06.3f}"
