"""A flight in court metres: the ball's path in 3-D from its path in the picture, a
calibrated camera and gravity.

Between two touches the ball flies a parabola, X(t) = p + v t + g t^2 / 2, with g
known (9.81 m/s^2 down). Seen through a camera P (3 x 4, court metres to pixels,
`vproc.court.Court.projection`), every tracked point (u, v) at time t gives two
equations that are linear in the six unknowns (p, v):

    (u P3 - P1) . [X(t), 1] = 0,    (v P3 - P2) . [X(t), 1] = 0

so one least-squares solve gives the whole path. Depth, which one picture cannot
tell, comes from gravity: the same fall looks smaller farther away. That is what
turns pixels into speeds in km/h and heights above the floor the same way from
every camera.

No I/O; numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GRAVITY = np.array([0.0, 0.0, -9.81])  # m/s^2, z up
#: Flights shorter than this (s) or with fewer points do not pin depth down.
MIN_TIME = 0.25
MIN_POINTS = 6
#: A fit is believed when its points reproject within this many pixels (RMS), per
#: 360 picture rows.
MAX_RMS = 3.0
#: Where a flight may start and end (m from the court's centre: x across, y along,
#: z up), and the fastest a volleyball goes (m/s; a top serve is ~35).
ROOM = np.array([15.0, 25.0, 15.0])
MAX_SPEED = 45.0
#: A court found in the picture is believed when at least AGREE of the ball's flights
#: (once MIN_JUDGED can be fitted) are `believable` through it.
MIN_JUDGED = 5
AGREE = 0.5
#: The least tracking noise assumed (pixels per 360 rows) when saying how sure a fit is.
NOISE_FLOOR = 0.5


@dataclass(frozen=True)
class Path3D:
    """A ball's flight in court metres (x across, y along, z up; origin the court's
    centre on the floor), from `t0` to `t1` (s)."""

    t0: float
    t1: float
    position: np.ndarray  # (3,) at t0
    velocity: np.ndarray  # (3,) at t0, m/s
    rms_px: float  # how well it reprojects onto the tracked points
    velocity_cov: np.ndarray | None = None  # (3, 3) uncertainty of `velocity` (m/s)^2

    def speed_error(self) -> float:
        """One standard deviation of the starting speed (m/s): large when the ball
        flies along the camera's line of sight, where only gravity tells depth."""
        if self.velocity_cov is None:
            return float("inf")
        unit = self.velocity / max(float(np.linalg.norm(self.velocity)), 1e-9)
        return float(np.sqrt(max(unit @ self.velocity_cov @ unit, 0.0)))

    def at(self, t) -> np.ndarray:
        s = np.asarray(t, float)[..., None] - self.t0
        return self.position + self.velocity * s + 0.5 * GRAVITY * s**2

    def speed(self, t: float) -> float:
        """m/s at `t`."""
        return float(np.linalg.norm(self.velocity + GRAVITY * (t - self.t0)))

    def top(self) -> float:
        """The highest the ball goes within the flight (m above the floor)."""
        peak = self.t0 + self.velocity[2] / 9.81
        times = [self.t0, self.t1] + ([peak] if self.t0 < peak < self.t1 else [])
        return float(max(self.at(np.array(times))[:, 2]))

    def length(self) -> float:
        """Start-to-end distance over the floor (m)."""
        a, b = self.at(np.array([self.t0, self.t1]))
        return float(np.hypot(*(b - a)[:2]))

    def crosses_net(self) -> bool:
        """Whether the ball goes from one half of the court to the other (y = 0)."""
        a, b = self.at(np.array([self.t0, self.t1]))
        return bool(a[1] * b[1] < 0)

    def landing(self) -> np.ndarray | None:
        """Where on the floor (x, y m) the path comes down after t1, if it falls there
        within a second (a flight that ends at a touch meets nobody's hand there)."""
        a, b, c = 0.5 * GRAVITY[2], self.velocity[2], self.position[2]
        roots = np.roots([a, b, c])
        after = [float(r.real) for r in roots if abs(r.imag) < 1e-9 and r.real >= self.t1 - self.t0 - 1e-6]
        if not after or min(after) > self.t1 - self.t0 + 1.0:
            return None
        return self.at(self.t0 + min(after))[:2]


def fit_path(t: np.ndarray, uv: np.ndarray, projection: np.ndarray, rows: int) -> Path3D | None:
    """The 3-D flight through tracked points `uv` (N, 2, pixels) at times `t` (N,),
    seen by `projection` (3 x 4) in a picture `rows` pixels high; None when the flight
    is too short or no parabola under gravity explains it."""
    t, uv, p = np.asarray(t, float), np.asarray(uv, float), np.asarray(projection, float)
    if len(t) < MIN_POINTS or t[-1] - t[0] < MIN_TIME:
        return None
    s = t - t[0]
    rows_a, rhs = [], []
    for k in range(2):  # u, then v
        line = uv[:, k:k + 1] * p[2] - p[k]  # (N, 4): line . [X, 1] = 0
        known = line[:, :3] @ GRAVITY * 0.5 * s**2 + line[:, 3]
        rows_a.append(np.hstack([line[:, :3], line[:, :3] * s[:, None]]))
        rhs.append(-known)
    a, b = np.vstack(rows_a), np.concatenate(rhs)
    scale = np.linalg.norm(a, axis=1, keepdims=True) + 1e-12  # equal weight per equation
    solution, *_ = np.linalg.lstsq(a / scale, b / scale[:, 0], rcond=None)
    solution, jac = _refined(solution, s, uv, p)
    path = Path3D(float(t[0]), float(t[-1]), solution[:3], solution[3:], 0.0)
    rms = _reprojection(path, t, uv, p)
    if not np.isfinite(rms) or rms > MAX_RMS * rows / 360.0:
        return None
    noise = max(rms, NOISE_FLOOR * rows / 360.0)
    try:
        cov = noise**2 * np.linalg.inv(jac.T @ jac)[3:, 3:]
    except np.linalg.LinAlgError:
        cov = None
    return Path3D(path.t0, path.t1, path.position, path.velocity, rms, cov)


def _refined(params: np.ndarray, s: np.ndarray, uv: np.ndarray, projection: np.ndarray,
             rounds: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Newton on the pixel error (the linear solve weighs far points too little);
    the parameters and the residuals' Jacobian there."""
    def residuals(q: np.ndarray) -> np.ndarray:
        xyz = q[:3] + q[3:] * s[:, None] + 0.5 * GRAVITY * s[:, None] ** 2
        seen = np.c_[xyz, np.ones(len(s))] @ projection.T
        return (seen[:, :2] / seen[:, 2:3] - uv).ravel()

    def jacobian(q: np.ndarray, r: np.ndarray) -> np.ndarray:
        return np.stack([(residuals(q + step) - r) / 1e-4 for step in np.eye(6) * 1e-4], axis=1)

    for _ in range(rounds):
        r = residuals(params)
        if not np.isfinite(r).all():
            break
        delta, *_ = np.linalg.lstsq(jacobian(params, r), -r, rcond=None)
        params = params + delta
        if np.abs(delta).max() < 1e-4:
            break
    return params, jacobian(params, residuals(params))


def _reprojection(path: Path3D, t: np.ndarray, uv: np.ndarray, projection: np.ndarray) -> float:
    xyz = path.at(t)
    seen = np.c_[xyz, np.ones(len(t))] @ projection.T
    if (seen[:, 2] <= 0).any():  # behind the camera: no real path
        return float("inf")
    return float(np.sqrt(np.mean(np.sum((seen[:, :2] / seen[:, 2:3] - uv) ** 2, axis=1))))


def believable(path: Path3D) -> bool:
    """Whether a fitted flight could happen in a gym or on a beach: both ends within
    ROOM of the court's centre (m) and slower than MAX_SPEED."""
    ends = path.at(np.array([path.t0, path.t1]))
    inside = (np.abs(ends) <= ROOM).all() and (ends[:, 2] >= -1.0).all()
    return bool(inside and path.speed(path.t0) <= MAX_SPEED)


def court_agrees(projection: np.ndarray, flights, rows: int) -> bool:
    """Whether the ball's flights, fitted under gravity through this camera, mostly
    fly where a ball can: a court fitted to the wrong lines puts them underground, far
    beyond the walls or at impossible speeds. With fewer than MIN_JUDGED fitted flights
    there is nothing to judge by, and the court stands."""
    paths = [fit_path(f.t, np.c_[f.x, f.y], projection, rows) for f in flights]
    paths = [p for p in paths if p is not None]
    if len(paths) < MIN_JUDGED:
        return True
    return sum(believable(p) for p in paths) >= AGREE * len(paths)
