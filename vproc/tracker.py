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

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from functools import cached_property
from statistics import median

import numpy as np

from vproc.detector import Blob, FrameBlobs

#: Fastest ball motion linked between frames, in frame heights per second.
MAX_SPEED = 4.0
#: Slowest motion that starts a track, in frame heights per second: a ball at rest,
#: held, or a flickering light does not start one.
MIN_SEED_SPEED = 0.12
#: A hypothesis survives this many seconds without a candidate (the ball behind a player).
MAX_MISS = 0.15
#: ...but a track younger than MIN_POINTS survives only this long without one (s):
#: young tracks are mostly noise lining up by chance, and there are many of them.
YOUNG_MISS = 0.1
#: A flight needs this many detections, and lasts at least this long (s).
MIN_POINTS = 6
MIN_DURATION = 0.18
#: Pieces this short (detections) are kept only to be stitched into a flight.
MIN_PIECE = 4
#: The tracker may lose a flight for this long (s) and still stitch it together.
STITCH_GAP = 0.35
#: ...moves at least this fast on average (frame heights per second): drops the
#: ball held or rolled slowly.
MIN_SPEED = 0.14
#: ...and fits a ballistic path in time to within this many analysis pixels (RMS).
MAX_RESIDUAL = 1.5
#: A track with this many points predicts from a parabola fitted to its last this many.
FIT_POINTS = 6
#: Frames of unclaimed candidates kept so that a track, once it has FIT_POINTS points
#: and a trustworthy parabola, is extended back to where the ball was first seen: a
#: track starts only from three steady candidates in a row, so usually a little late.
BACK_FRAMES = 15
#: Pieces with this many points or more are fitted with a cubic in time, not a
#: parabola: long flights show the camera's perspective (see `_path_errors`).
CUBIC_POINTS = 8


@dataclass
class Track:
    points: list[Blob] = field(default_factory=list)
    last_seen: float = 0.0
    looked_back: bool = False  # extended back to where the ball was first seen

    def predict(self, t: float) -> tuple[float, float]:
        """Where the ball will be at `t`: a parabola in time fitted to the last
        FIT_POINTS points once there are that many, else constant acceleration from the
        last three (gravity bends the path). Three points put all of one blob's
        centring error into the acceleration: a ball slowing towards the top of its arc
        was predicted 10 px off and lost (the TrackNet clip). Plain floats: this runs for
        every live track in every frame."""
        p = self.points
        if len(p) >= FIT_POINTS:
            return _parabola_at(p[-FIT_POINTS:], t)
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


def _parabola_at(points: list[Blob], t: float) -> tuple[float, float]:
    """The least-squares parabola in time through `points`, evaluated at `t`: the
    normal equations in s = time - t, solved by Cramer's rule (no numpy call per track)."""
    s0 = s1 = s2 = s3 = s4 = 0.0
    x0 = x1 = x2 = y0 = y1 = y2 = 0.0
    for b in points:
        s = b.t - t
        ss = s * s
        s0 += 1.0
        s1 += s
        s2 += ss
        s3 += ss * s
        s4 += ss * ss
        x0 += b.x
        x1 += b.x * s
        x2 += b.x * ss
        y0 += b.y
        y1 += b.y * s
        y2 += b.y * ss
    # | s4 s3 s2 | |a|   |v2|
    # | s3 s2 s1 | |b| = |v1|,  the value at s = 0 is c.
    # | s2 s1 s0 | |c|   |v0|
    det = s4 * (s2 * s0 - s1 * s1) - s3 * (s3 * s0 - s1 * s2) + s2 * (s3 * s1 - s2 * s2)
    if abs(det) < 1e-18:  # fewer than three distinct times
        return points[-1].x, points[-1].y

    def at_zero(v0: float, v1: float, v2: float) -> float:
        return (s4 * (s2 * v0 - s1 * v1) - s3 * (s3 * v0 - s1 * v2) + s2 * (s3 * v1 - s2 * v2)) / det

    return at_zero(x0, x1, x2), at_zero(y0, y1, y2)


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

    @cached_property
    def fit(self) -> np.ndarray:
        """The parabola through the flight: rows a, b, c and columns x, y of
        a·s² + b·s + c, with s the seconds since the flight's start."""
        return np.polyfit(self.t - self.t[0], np.stack([self.x, self.y], axis=1), 2)

    def roughness(self) -> float:
        """RMS distance of the detections from the ballistic path the tracker fits
        (`_path_errors`), in analysis pixels."""
        return float(np.sqrt(np.mean(_path_errors(self.t, np.stack([self.x, self.y], axis=1)))))

    def acceleration(self) -> tuple[float, float]:
        """(ax, ay) in pixels per s², down positive."""
        return float(2 * self.fit[0, 0]), float(2 * self.fit[0, 1])

    def velocity(self, t: float) -> tuple[float, float]:
        """(vx, vy) in pixels per s at `t`, from the parabola."""
        s = t - self.t[0]
        return float(2 * self.fit[0, 0] * s + self.fit[1, 0]), float(2 * self.fit[0, 1] * s + self.fit[1, 1])

    def position(self, t: float) -> tuple[float, float]:
        """Where the ball was at `t` (within the flight): the detection, or where the
        detector missed it, a parabola through the detections on either side (a
        local one: over a long flight perspective bends the path off one parabola)."""
        i = int(np.searchsorted(self.t, t))
        if i < len(self.t) and abs(self.t[i] - t) < 1e-6:
            return float(self.x[i]), float(self.y[i])
        near = slice(max(i - 3, 0), min(i + 3, len(self.t)))
        s = self.t[near] - t
        degree = min(2, len(s) - 1)
        x = np.polyval(np.polyfit(s, self.x[near], degree), 0.0)
        y = np.polyval(np.polyfit(s, self.y[near], degree), 0.0)
        return float(x), float(y)


class BallTracker:
    """Feed `update(t, blobs)` in time order, then `finish()` for the flights."""

    def __init__(self, frame_height: int):
        self.height = frame_height
        self.tracks: list[Track] = []
        self.flights: list[Flight] = []
        self.stitcher = Stitcher(self._is_flight)  # pieces of closed tracks, joined into flights
        self._recent: list[tuple[float, np.ndarray, list[Blob]]] = []  # unclaimed blobs of the last few frames
        self.frame_times: list[float] = []  # every frame seen, to place the ball where it was missed

    def update(self, found: FrameBlobs | None) -> None:
        """Take one frame's candidates; None (a skipped duplicate frame) is no evidence."""
        if found is None:
            return
        t, blobs = found.t, found.blobs
        self.frame_times.append(t)
        unused = self._extend_tracks(t, blobs)
        for track in self.tracks:
            if not track.looked_back and len(track.points) >= FIT_POINTS:
                self._extend_back(track)
        self._close_stale(t)
        self._seed(t, unused)

    def finish(self) -> list[Flight]:
        for track in self.tracks:
            self._keep_if_flight(track)
        self.tracks = []
        self.stitcher.stitch(until=float("inf"))
        self.flights = self.stitcher.flights(since=float("-inf"), before=float("inf"))
        self.stitcher = Stitcher(self._is_flight)
        return self.flights

    def settled(self, since: float) -> tuple[list[Flight], float]:
        """The flights ending from `since` on that later frames can no longer change,
        and the time up to which that holds (before the oldest live track began, and
        far enough back that no piece still to come could be stitched on)."""
        now = self.frame_times[-1] if self.frame_times else 0.0
        horizon = min([now - MAX_MISS - STITCH_GAP] + [track.points[0].t for track in self.tracks])
        self.stitcher.stitch(until=self._known_until())
        return self.stitcher.flights(since=since, before=horizon), horizon

    def _known_until(self) -> float:
        """Every piece that will ever start before this time is known: pieces still to
        come belong to live tracks or to tracks seeded from the frames still in
        `_recent` or later."""
        starts = [track.points[0].t for track in self.tracks] + [t for t, _, _ in self._recent[:1]]
        return min(starts, default=self.frame_times[-1] if self.frame_times else 0.0)

    def _is_flight(self, flight: Flight) -> bool:
        return (
            len(flight.t) >= MIN_POINTS
            and flight.duration >= MIN_DURATION
            and np.median(flight.speeds()) >= MIN_SPEED * self.height
        )

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
        """Start tracks from triplets a, b, c of recent frames (one may be skipped, the
        ball is often missed for a frame) that move steadily: b between a and c."""
        current = np.array([(b.x, b.y) for b in blobs]).reshape(-1, 2)
        self._recent.append((t, current, blobs))
        self._recent = self._recent[-BACK_FRAMES:]
        if not len(current):
            return
        for first, second in ((-3, -2), (-4, -2), (-4, -3)):
            if len(self._recent) >= -first:
                self._seed_from(self._recent[first], self._recent[second], self._recent[-1])

    def _extend_back(self, track: Track) -> None:
        """Prepend the candidates of earlier frames that lie on the track's parabola run
        backwards (as `_extend_tracks` does forwards, missing at most MAX_MISS)."""
        track.looked_back = True
        fit, earlier, seen = track.points[:FIT_POINTS], [], track.points[0].t
        for t, _, blobs in reversed(self._recent):
            if t >= fit[0].t or not blobs:
                continue
            if seen - t > MAX_MISS:
                break
            x, y = _parabola_at(fit, t)
            step = np.hypot(x - fit[0].x, y - fit[0].y)
            best = min(blobs, key=lambda b: np.hypot(b.x - x, b.y - y))
            if np.hypot(best.x - x, best.y - y) <= 2.0 + 0.5 * fit[0].size + 0.5 * step:
                earlier.append(best)
                fit, seen = [best, *fit[:-1]], t
        track.points[:0] = earlier[::-1]

    def _seed_from(self, a, b, c) -> None:
        (ta, pa, ba), (tb, pb, bb), (tc, pc, bc) = a, b, c
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
        good = d_a[np.arange(len(ia)), ia] <= 2.0 + 0.25 * d_bc[ic, ib] * ratio
        claimed = {id(tr.points[-1]) for tr in self.tracks if tr.last_seen == tc}
        for i, j, k in zip(ia[good], ib[good], ic[good]):
            if id(bc[k]) not in claimed:
                claimed.add(id(bc[k]))
                self.tracks.append(Track([ba[i], bb[j], bc[k]], last_seen=tc))

    def _close_stale(self, t: float) -> None:
        alive = []
        for track in self.tracks:
            # A young track that misses two frames was most likely noise lining up by chance.
            patience = MAX_MISS if len(track.points) >= MIN_POINTS else YOUNG_MISS
            if t - track.last_seen > patience:
                self._keep_if_flight(track)
            else:
                alive.append(track)
        self.tracks = alive

    def _keep_if_flight(self, track: Track) -> None:
        for points in _ballistic_pieces(track.points):
            self.stitcher.add(
                Flight(
                    t=np.array([p.t for p in points]),
                    x=np.array([p.x for p in points]),
                    y=np.array([p.y for p in points]),
                    size=_median_size(points),
                )
            )


class Stitcher:
    """Joins pieces of one flight that the tracker lost for a moment (the ball behind
    a player or the net, or too slow at the top of its arc to stand out): a later
    piece that starts soon after and lies on the same path continues it.

    Pieces are taken in start order; each chain is closed once no piece still to come
    could join it, so every join is tried once in a game however often early rally
    finding asks for the flights so far. `keep` says which stitched flights are kept."""

    def __init__(self, keep):
        self.keep = keep
        self._pending: list[Flight] = []  # pieces not in a closed chain yet, by start
        self._done: list[Flight] = []  # kept flights, by start
        self._starts: list[float] = []  # ...their starts, to find them by time
        self._longest = 0.0  # the longest kept flight (s)

    def add(self, piece: Flight) -> None:
        # After the pieces with the same start: the order a sort of all of them gives.
        self._pending.insert(bisect_right(self._pending, piece.start, key=lambda f: f.start), piece)

    def stitch(self, until: float) -> None:
        """Close every chain that no piece starting at `until` or later could join
        (all pieces starting before `until` must have been added)."""
        while self._pending:
            flight, used = self._chain()
            if flight.end + STITCH_GAP >= until:
                return  # a piece still to come could continue it: tried again next time
            for i in sorted(used, reverse=True):
                del self._pending[i]
            if self.keep(flight):
                self._done.append(flight)
                self._starts.append(flight.start)
                self._longest = max(self._longest, flight.duration)

    def _chain(self) -> tuple[Flight, set[int]]:
        """The first pending piece joined with every later one that continues it."""
        flight, used = self._pending[0], {0}
        for j in range(1, len(self._pending)):
            other = self._pending[j]
            if other.start > flight.end + STITCH_GAP:
                break
            if other.start > flight.end and _join_fits(flight, other):
                flight = _join(flight, other)
                used.add(j)
        return flight, used

    def flights(self, since: float, before: float) -> list[Flight]:
        """The kept flights that end in [since, before)."""
        first = bisect_left(self._starts, since - self._longest)
        return [f for f in self._done[first:] if since <= f.end < before]


def _join(a: Flight, b: Flight) -> Flight:
    return Flight(
        t=np.concatenate([a.t, b.t]),
        x=np.concatenate([a.x, b.x]),
        y=np.concatenate([a.y, b.y]),
        size=(a.size * len(a.t) + b.size * len(b.t)) / (len(a.t) + len(b.t)),
    )


def _join_fits(a: Flight, b: Flight) -> bool:
    """Whether `b` continues `a` on one ballistic path (`_path_errors`). Tried for every
    nearby pair of pieces, so it fits the joined points without building the joined
    flight, after a cheap test that rejects most pairs exactly (`_join_gap_error`)."""
    n = len(a.t) + len(b.t)
    size = (a.size * len(a.t) + b.size * len(b.t)) / n
    allowed = n * (MAX_RESIDUAL + 0.1 * size) ** 2  # the joined fit's largest sum of squares
    if _join_gap_error(a, b, 3 if n >= CUBIC_POINTS else 2) > allowed * (1 + 1e-9):
        return False
    t = np.concatenate([a.t, b.t])
    xy = np.empty((n, 2))
    xy[: len(a.t), 0], xy[: len(a.t), 1], xy[len(a.t) :, 0], xy[len(a.t) :, 1] = a.x, a.y, b.x, b.y
    return float(np.sum(_path_errors(t - t[0], xy))) <= allowed


def _join_gap_error(a: Flight, b: Flight, degree: int) -> float:
    """The least sum of squared errors of any path of `degree` through the points on
    either side of the join: a[-degree:] and b[:2], degree + 2 points in all. No path
    through all the joined points fits better, since those are among them: a lower
    bound on the joined fit's error that costs a few microseconds, not a fit.

    With one point more than coefficients, the residuals of the fit are a multiple of
    the one vector w that every polynomial of that degree is orthogonal to, the
    divided-difference weights w_i = 1 / prod(t_i - t_k, k != i), so the error is
    (w.x)^2 / |w|^2, and the same for y."""
    t = [*a.t[-degree:].tolist(), *b.t[:2].tolist()]
    x = [*a.x[-degree:].tolist(), *b.x[:2].tolist()]
    y = [*a.y[-degree:].tolist(), *b.y[:2].tolist()]
    origin = t[0]
    t = [ti - origin for ti in t]
    w = []
    for i, ti in enumerate(t):
        product = 1.0
        for k, tk in enumerate(t):
            if k != i:
                product *= ti - tk
        w.append(1.0 / product)
    wx = sum(wi * xi for wi, xi in zip(w, x))
    wy = sum(wi * yi for wi, yi in zip(w, y))
    return (wx * wx + wy * wy) / sum(wi * wi for wi in w)


def _ballistic_pieces(points: list[Blob], depth: int = 0) -> list[list[Blob]]:
    """Split a track where it stops following one parabola (a touch, or a blob the
    track wrongly took), keeping the pieces long and smooth enough to be flights
    or to be stitched into one."""
    if len(points) < MIN_PIECE:
        return []
    t = np.array([p.t for p in points]) - points[0].t
    xy = np.array([(p.x, p.y) for p in points])
    errors = _path_errors(t, xy)
    size = _median_size(points)
    if np.sqrt(np.mean(errors)) <= MAX_RESIDUAL + 0.1 * size:
        return [points]
    if depth >= 6:
        return []
    worst = int(np.argmax(errors[1:-1])) + 1
    return _ballistic_pieces(points[:worst], depth + 1) + _ballistic_pieces(points[worst + 1 :], depth + 1)


def _median_size(points: list[Blob]) -> float:
    """A piece's typical blob size. `statistics.median`, equal to numpy's on a list:
    a numpy call costs more than the sort of a few dozen floats, ~10^5 times a game."""
    return float(median(p.size for p in points))


def _path_errors(t: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Squared distance of each point from the best ballistic path in time through them all.

    A ball's path is a parabola in the world, but not in the picture: seen from behind
    the end line the ball flies towards or away from the camera, and perspective bends
    a 1.5 s pass up to 18 analysis pixels off any parabola in time, so the tracker cut
    long flights into pieces and dropped them. A cubic in time follows the perspective
    to within a pixel; short pieces, where perspective hardly shows and a cubic would
    fit noise, keep the parabola.

    Least squares by the normal equations on times scaled to 0..1: a third of polyfit's
    time, and it runs ~10^5 times a minute of game while pieces are stitched."""
    degree = 3 if len(t) >= CUBIC_POINTS else 2
    span = float(t[-1] - t[0]) or 1.0
    s = (t - t[0]) / span
    design = np.vander(s, degree + 1)
    try:
        coeffs = np.linalg.solve(design.T @ design, design.T @ xy)
    except np.linalg.LinAlgError:  # too few distinct times
        coeffs = np.linalg.lstsq(design, xy, rcond=None)[0]
    return np.square(xy - design @ coeffs).sum(axis=1)
