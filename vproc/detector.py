"""Find ball-like moving blobs in one analysis frame. No I/O: frames come in, blobs go out.

Method: a three-frame difference marks what moved at the middle frame and not
where it was or will be (no ghost); a flicker-compensating normalisation keeps
light changes from lighting up the whole picture; connected components of the
motion mask are kept when their size and shape could be a ball. Players are far
bigger than the ball and are dropped by size; heads, hands and spectators are
not, and are left to the tracker, which keeps only smooth ballistic paths. When a
wobbling camera turns every edge into a thin moving line that joins the picture into
one shape, the thin lines are dropped first.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from vproc.cadence import Cadence

#: Largest ball diameter in analysis pixels (analysis images are ~360 px tall): a
#: ball far away on a wide shot is ~2 px, one next to the camera ~20 px.
MAX_DIAMETER = 24
#: A blurred fast ball is elongated, so the aspect may reach 4; a limb is longer.
MAX_ASPECT = 4.0
MIN_FILL = 0.3
#: Differences smaller than this (grey levels) are sensor noise and compression.
MIN_THRESHOLD = 10
#: A frame with more moving pixels than this share is a cut, a pan or a flash: skip it.
MAX_MOVING_SHARE = 0.25
#: A frame in which no more than DUPLICATE_PIXELS pixels differ from the previous one
#: by more than DUPLICATE_LEVEL grey levels shows nothing new: a repeat (frame-rate
#: conversion, a phone's VFR padding; re-encoded, so not bit-identical) or a moment
#: when nothing moves. It is skipped. A mean difference cannot tell a repeat from a
#: calm wide shot, where only a small player and the ball move: it skipped most frames
#: of such games.
DUPLICATE_LEVEL = 30
DUPLICATE_PIXELS = 3
#: A grown shape covering more than this share of the picture is edges joined by a
#: wobbling camera, not players: the frame's thin lines are then dropped first.
GIANT_SHARE = 0.05
#: Places that move most of the time (crowd, LED boards, a neighbouring court's
#: players) are ignored: a ball passes a place in a frame or two, so its activity stays low.
#: The map is a plain mean over the first frames, an exponential one after.
ACTIVITY_RATE = 0.02
MAX_ACTIVITY = 0.2
#: ...and a place is ignored only once it has moved in more frames than this: a ball
#: hanging at the top of its arc stays in one place for a few frames, which early in a
#: clip (a serve in its first second) is a large share of the frames seen.
LINGER = 6


@dataclass(frozen=True)
class Blob:
    """A ball candidate at time `t`, in analysis pixels."""

    t: float
    x: float
    y: float
    size: float  # equivalent diameter


@dataclass(frozen=True)
class FrameBlobs:
    """The candidates found in the frame taken at time `t` (possibly none)."""

    t: float
    blobs: list[Blob]
    #: The share of the picture's usually quiet places that moved (players running,
    #: the ball; the crowd and boards that always move are left out); NaN for a
    #: frame skipped as a cut, a pan or a flash.
    moving: float = float("nan")
    #: The frame's PTS time, where it differs from `t` (see `vproc.cadence`).
    pts: float | None = None


class BallDetector:
    """Feed frames in order with `process_frame`; each call returns the blobs of the
    frame two frames back (the differencing needs two frames of look-ahead), at the
    time it was taken (`Cadence`: its PTS unless the footage repeats frames)."""

    def __init__(self) -> None:
        self._frames: list[tuple[int, float, np.ndarray]] = []  # (number in the cadence, PTS, grey image)
        self._cadence = Cadence()
        self._reference_mean: float | None = None
        self._activity: np.ndarray | None = None
        self._seen = 0  # frames in the activity map

    def process_frame(self, t: float, image: np.ndarray) -> FrameBlobs | None:
        """Candidates of the previous frame; None when there is no frame to report yet
        or this frame repeats the previous one (a duplicate carries no motion)."""
        image = self._normalise(image)
        if self._frames and is_duplicate(self._frames[-1][2], image):
            self._cadence.repeated(t)
            return None
        self._frames.append((self._cadence.kept(t), t, image))
        if len(self._frames) > 5:
            self._frames.pop(0)
        if len(self._frames) < 5:
            return None
        (_, _, before2), (_, _, before), (n_mid, pts, middle), (_, _, after), (_, _, after2) = self._frames
        found = self._blobs(self._cadence.time(n_mid), middle, before, after, before2, after2)
        return found if found.t == pts else replace(found, pts=pts)

    def _normalise(self, image: np.ndarray) -> np.ndarray:
        """Scale brightness to a slowly moving reference, so flicker is not motion."""
        mean = float(cv2.mean(image[::4, ::4])[0]) or 1.0
        if self._reference_mean is None:
            self._reference_mean = mean
        self._reference_mean = 0.9 * self._reference_mean + 0.1 * mean
        gain = self._reference_mean / mean
        if abs(gain - 1.0) < 0.01:
            return image
        return cv2.convertScaleAbs(image, alpha=gain)

    def _blobs(self, t, middle, before, after, before2, after2) -> FrameBlobs:
        # Moved since the previous frame and before the next one: the ball now, not
        # where it was. Two frames apart as well, so a slow ball (at the top of its
        # arc, overlapping itself frame to frame) still stands out.
        moved = cv2.max(
            cv2.min(cv2.absdiff(middle, before), cv2.absdiff(after, middle)),
            cv2.min(cv2.absdiff(middle, before2), cv2.absdiff(after2, middle)),
        )
        noise = float(np.median(moved[::6, ::6]))
        _, mask = cv2.threshold(moved, max(MIN_THRESHOLD, 3.0 * noise + 6), 255, cv2.THRESH_BINARY)
        if cv2.countNonZero(mask) > MAX_MOVING_SHARE * mask.size:
            return FrameBlobs(t, [])
        if self._activity is None:
            self._activity = np.zeros(mask.shape, np.float32)
        # Each shape judged by the motion before this frame (a ball is new to its
        # place), then this frame's motion added to the map.
        activity, limit = self._activity, 255 * max(MAX_ACTIVITY, LINGER / max(self._seen, 1))
        blobs = [Blob(t, x, y, size) for x, y, size in _ball_shapes(mask) if activity[int(y), int(x)] <= limit]
        quiet = activity[::4, ::4] <= limit
        moving = float(np.count_nonzero(mask[::4, ::4][quiet])) / max(np.count_nonzero(quiet), 1)
        self._seen += 1
        cv2.accumulateWeighted(mask, activity, max(ACTIVITY_RATE, 1.0 / self._seen))  # 255 = always moving
        return FrameBlobs(t, blobs, moving)


_THIN = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
_GROW = np.ones((7, 7), np.uint8)


def _ball_shapes(mask: np.ndarray) -> list[tuple[float, float, float]]:
    """(x, y, diameter) of the shapes in a motion mask that could be a ball."""
    contours, shapes = _grown_shapes(mask)
    if len(shapes) and shapes[:, 4].max() > GIANT_SHARE * mask.size:
        # Lines one pixel thin go first: a camera that wobbles even slightly makes
        # every edge in the picture (court lines, boards, the net) such a line, and
        # grown, they join the picture into one shape with the ball inside it. A
        # ball, even a far one, is at least two pixels across.
        contours, shapes = _grown_shapes(cv2.morphologyEx(mask, cv2.MORPH_OPEN, _THIN))
    if not len(shapes):
        return []
    grow = _GROW.shape[0] - 1
    x, y, w, h, area = shapes.T
    w, h = w - grow, h - grow  # the blob before it was grown
    keep = _ball_shaped(w, h, area)
    found = []
    for i in np.flatnonzero(keep):
        m = cv2.moments(contours[i])
        if m["m00"] > 0:
            found.append((m["m10"] / m["m00"], m["m01"] / m["m00"], float(min(w[i], h[i]))))
    return found


def _grown_shapes(mask: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """The outer contours of the grown mask, and for each its box and pixel area."""
    # Grown by a few pixels, the fragments of a moving player (limbs, edges, a
    # head) join into one big shape and are dropped by size; a ball in the air
    # stays on its own.
    grown = cv2.dilate(mask, _GROW)
    # Outer contours, not connected-component labelling: six times cheaper, and
    # the shapes' boxes and areas are all the filter needs.
    contours, _ = cv2.findContours(grown, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    shapes = np.array([(*cv2.boundingRect(c), _pixel_area(c)) for c in contours], dtype=np.float64).reshape(-1, 5)
    return contours, shapes


def is_duplicate(previous: np.ndarray, image: np.ndarray) -> bool:
    """Whether `image` repeats `previous` (grey frames): it shows nothing new."""
    _, changed = cv2.threshold(cv2.absdiff(previous, image), DUPLICATE_LEVEL, 255, cv2.THRESH_BINARY)
    return cv2.countNonZero(changed) <= DUPLICATE_PIXELS


def _pixel_area(contour: np.ndarray) -> float:
    """Pixels inside a contour: its polygon area misses half a pixel along the border."""
    return cv2.contourArea(contour) + cv2.arcLength(contour, True) / 2 + 1


def _ball_shaped(w: np.ndarray, h: np.ndarray, area: np.ndarray) -> np.ndarray:
    """Which shapes could be a ball, by size and shape (vectorised). `w` and `h` are
    the blob's box before growing, `area` the grown shape's pixels."""
    short, long = np.minimum(w, h), np.maximum(w, h)
    return (
        (short >= 1)
        & (short <= MAX_DIAMETER)
        & (long <= MAX_DIAMETER * 1.8)
        & (long <= MAX_ASPECT * short)
        & (area >= MIN_FILL * (w + 6) * (h + 6))
    )
