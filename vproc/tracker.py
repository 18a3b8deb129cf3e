"""Link ball candidates over time into flights: smooth paths between two touches.

A flight is what a ball does between contacts: a ballistic arc, which in the
image is close to a parabola in time. Heads, hands and spectators make blobs
too, so a track is only started from three candidates in consecutive frames
that move steadily (nearly equal steps in a nearly straight line), then extended
frame by frame from its predicted position. A touch bends the path abruptly: the
old flight loses the ball and a new one starts there. A closed track becomes a
`Flight` only when it is long, fast and smooth enough to be a ball in the air.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vproc.detector import Blob, FrameBlobs

#: Fastest ball motion linked between frames, in frame heights per second.
MAX_SPEED = 4.0
#: Slowest motion that starts a track, in frame heights per second: a ball at rest,
#: held, or a flickering light does not start one.
MIN_SEED_SPEED = 0.12
#: A hypothesis survives this many seconds without a candidate (the ball behind a player).
MAX_MISS = 0.15
#: A flight needs this many detections, and lasts at least this long (s).
MIN_POINTS = 6
MIN_DURATION = 0.18
#: ...moves at least this fast on average (frame heights per second): drops the
#: ball held or rolled slowly.
MIN_SPEED = 0.2
#: ...and fits a parabola in time to within this many analysis pixels (RMS).
MAX_RESIDUAL = 1.5


@dataclass
class Track:
    points: list[Blob] = field(default_factory=list)
    last_seen: float = 0.0

    def predict(self, t: float) -> tuple[float, float]:
        """Constant acceleration from the last three points (gravity bends the path).
        Plain floats: this runs for every live track in every frame."""
        p = self.points
        c = p[-1]
        b = p[-2]
        dt_bc = (c.t - b.t) or 1e-3
        vx, vy = (c.x - b.x) / dt_bc, (c.y - b.y) / dt_bc
        dt = t - c.t
        if len(p) < 3:
            return c.x + vx * dt, c.y + vy * dt
        a = p[-3]
        dt_ab = (b.t - a.t) or 1e-3
        half = max((c.t - a.t) / 2, 1e-3)
        limit = 4 * max(abs(vx), abs(vy)) + 50
        ax = min(max((vx - (b.x - a.x) / dt_ab) / half, -limit), limit)
        ay = min(max((vy - (b.y - a.y) / dt_ab) / half, -limit), limit)
        return c.x + vx * dt + 0.5 * ax * dt * dt, c.y + vy * dt + 0.5 * ay * dt * dt


@dataclass(frozen=True)
class Flight:
    """The ball in the air between two touches, in analysis pixels."""

    t: np.ndarray
    x: np.ndarray
    y: np.ndarray
    size: float

    @property
    def start(self) -> float:
        return float(self.t[0])

    @property
    def end(self) -> float:
        return float(self.t[-1])

    @property
    def duration(self) -> float:
        return self.end - self.start

    def speeds(self) -> np.ndarray:
        """Point-to-point speeds (analysis pixels per second)."""
        dt = np.maximum(np.diff(self.t), 1e-3)
        return np.hypot(np.diff(self.x), np.diff(self.y)) / dt

    def path_length(self) -> float:
        return float(np.hypot(np.diff(self.x), np.diff(self.y)).sum())

    def displacement(self) -> float:
        return float(np.hypot(self.x[-1] - self.x[0], self.y[-1] - self.y[0]))

    def position(self, t: float) -> tuple[float, float]:
        """Where the ball was at `t` (within the flight): the detection, or the
        parabola through the flight where the detector missed it."""
        i = int(np.searchsorted(self.t, t))
        if i < len(self.t) and abs(self.t[i] - t) < 1e-6:
            return float(self.x[i]), float(self.y[i])
        s = self.t - self.t[0]
        cx, cy = np.polyfit(s, self.x, 2), np.polyfit(s, self.y, 2)
        return float(np.polyval(cx, t - self.t[0])), float(np.polyval(cy, t - self.t[0]))


class BallTracker:
    """Feed `update(t, blobs)` in time order, then `finish()` for the flights."""

    def __init__(self, frame_height: int):
        self.height = frame_height
        self.tracks: list[Track] = []
        self.flights: list[Flight] = []
        self._recent: list[tuple[float, np.ndarray, list[Blob]]] = []  # unclaimed blobs of the last two frames
        self.frame_times: list[float] = []  # every frame seen, to place the ball where it was missed

    def update(self, found: FrameBlobs | None) -> None:
        """Take one frame's candidates; None (a skipped duplicate frame) is no evidence."""
        if found is None:
            return
        t, blobs = found.t, found.blobs
        self.frame_times.append(t)
        unused = self._extend_tracks(t, blobs)
        self._close_stale(t)
        self._seed(t, unused)

    def finish(self) -> list[Flight]:
        for track in self.tracks:
            self._keep_if_flight(track)
        self.tracks = []
        self.flights.sort(key=lambda f: f.start)
        return self.flights

    def _extend_tracks(self, t: float, blobs: list[Blob]) -> list[Blob]:
        """Give each track the candidate nearest its prediction, longest tracks first."""
        if not blobs or not self.tracks:
            return blobs
        self.tracks.sort(key=lambda tr: -len(tr.points))
        positions = np.array([(b.x, b.y) for b in blobs])
        predicted = np.array([tr.predict(t) for tr in self.tracks])
        last = np.array([(tr.points[-1].x, tr.points[-1].y, tr.points[-1].size) for tr in self.tracks])
        step = np.hypot(predicted[:, 0] - last[:, 0], predicted[:, 1] - last[:, 1])
        gate = 2.0 + 0.5 * last[:, 2] + 0.5 * step
        distances = np.hypot(predicted[:, None, 0] - positions[None, :, 0], predicted[:, None, 1] - positions[None, :, 1])
        distances[distances > gate[:, None]] = np.inf
        taken = np.zeros(len(blobs), bool)
        for i in np.flatnonzero(np.isfinite(distances).any(axis=1)):
            row = np.where(taken, np.inf, distances[i])
            best = int(np.argmin(row))
            if np.isfinite(row[best]):
                self.tracks[i].points.append(blobs[best])
                self.tracks[i].last_seen = t
                taken[best] = True
        return [b for b, used in zip(blobs, taken) if not used]

    def _seed(self, t: float, blobs: list[Blob]) -> None:
        """Start tracks from triplets a, b, c of consecutive frames with b ≈ (a + c) / 2."""
        current = np.array([(b.x, b.y) for b in blobs]).reshape(-1, 2)
        self._recent.append((t, current, blobs))
        self._recent = self._recent[-3:]
        if len(self._recent) < 3 or not len(current):
            return
        (ta, pa, ba), (tb, pb, bb), (tc, pc, bc) = self._recent
        if not len(pa) or not len(pb) or tc - ta > 4 * MAX_MISS:
            return
        reach = MAX_SPEED * self.height * (tc - tb)
        slow = MIN_SEED_SPEED * self.height * (tc - tb)
        d_bc = np.hypot(pc[:, None, 0] - pb[None, :, 0], pc[:, None, 1] - pb[None, :, 1])
        ic, ib = np.nonzero((d_bc <= reach) & (d_bc >= slow))
        if not len(ic):
            return
        ratio = (tb - ta) / ((tc - tb) or 1e-3)
        expected = pb[ib] - (pc[ic] - pb[ib]) * ratio  # where a must be for a steady motion
        d_a = np.hypot(expected[:, None, 0] - pa[None, :, 0], expected[:, None, 1] - pa[None, :, 1])
        ia = np.argmin(d_a, axis=1)
        good = d_a[np.arange(len(ia)), ia] <= 2.0 + 0.25 * d_bc[ic, ib]
        used_a: set[int] = set()
        for a, b, c in zip(ia[good], ib[good], ic[good]):
            if a not in used_a:
                used_a.add(a)
                self.tracks.append(Track([ba[a], bb[b], bc[c]], last_seen=tc))

    def _close_stale(self, t: float) -> None:
        alive = []
        for track in self.tracks:
            # A young track that misses a frame was most likely noise lining up by chance.
            patience = MAX_MISS if len(track.points) >= MIN_POINTS else 1e-6
            if t - track.last_seen > patience:
                self._keep_if_flight(track)
            else:
                alive.append(track)
        self.tracks = alive

    def _keep_if_flight(self, track: Track) -> None:
        for points in _ballistic_pieces(track.points):
            flight = Flight(
                t=np.array([p.t for p in points]),
                x=np.array([p.x for p in points]),
                y=np.array([p.y for p in points]),
                size=float(np.median([p.size for p in points])),
            )
            if np.median(flight.speeds()) >= MIN_SPEED * self.height:
                self.flights.append(flight)


def _ballistic_pieces(points: list[Blob], depth: int = 0) -> list[list[Blob]]:
    """Split a track where it stops following one parabola (a touch, or a blob the
    track wrongly took), keeping the pieces long and smooth enough to be flights."""
    if len(points) < MIN_POINTS or points[-1].t - points[0].t < MIN_DURATION:
        return []
    t = np.array([p.t for p in points]) - points[0].t
    xy = np.array([(p.x, p.y) for p in points])
    errors = _parabola_errors(t, xy)
    size = float(np.median([p.size for p in points]))
    if np.sqrt(np.mean(errors)) <= MAX_RESIDUAL + 0.1 * size:
        return [points]
    if depth >= 6:
        return []
    worst = int(np.argmax(errors[1:-1])) + 1
    return _ballistic_pieces(points[:worst], depth + 1) + _ballistic_pieces(points[worst + 1 :], depth + 1)


def _parabola_errors(t: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Squared distance of each point from the best parabola in time through them all."""
    coeffs = np.polyfit(t, xy, 2)
    fitted = np.outer(t * t, coeffs[0]) + np.outer(t, coeffs[1]) + coeffs[2]
    return np.square(xy - fitted).sum(axis=1)
