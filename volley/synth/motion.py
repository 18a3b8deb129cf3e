"""How things move: ball flights with gravity and air drag, bounces and rolls, and
people's paths, jumps and arm poses. Everything is a function of time, so any
frame can be drawn without stepping through the ones before it."""

from __future__ import annotations

import math
from bisect import bisect_right

from volley.synth.venue import BALL_R, G


# --- the ball ---------------------------------------------------------------
class Flight:
    """Ballistic flight with linear air drag `k` (1/s): closed form, exactly aimable."""

    kind = "flight"

    def __init__(self, t0: float, t1: float, p0, v0, k: float, spin: float = 0.0):
        self.t0, self.t1, self.p0, self.v0, self.k, self.spin = t0, t1, tuple(p0), tuple(v0), k, spin

    def pos(self, t: float):
        tau = t - self.t0
        k = self.k
        a = (1.0 - math.exp(-k * tau)) / k
        x0, y0, z0 = self.p0
        vx, vy, vz = self.v0
        return (x0 + vx * a, y0 + vy * a, z0 + (vz + G / k) * a - G / k * tau)

    def vel(self, t: float):
        tau = t - self.t0
        k = self.k
        e = math.exp(-k * tau)
        vx, vy, vz = self.v0
        return (vx * e, vy * e, (vz + G / k) * e - G / k)

    def time_at_y(self, y: float) -> float | None:
        """When the ball crosses the plane at `y` (None if it never does in this flight)."""
        vy = self.v0[1]
        if abs(vy) < 1e-9:
            return None
        need = (y - self.p0[1]) / vy
        if need <= 0 or self.k * need >= 1.0:
            return None
        t = self.t0 - math.log(1.0 - self.k * need) / self.k
        return t if t <= self.t1 + 1e-9 else None

    def time_down_to(self, z: float, t_end: float = 30.0) -> float:
        """First time after the apex that the centre comes down to height `z`."""
        vz0, k = self.v0[2], self.k
        t_apex = self.t0
        if vz0 > 0:
            t_apex = self.t0 + math.log((vz0 + G / k) / (G / k)) / k
        lo, hi = t_apex, t_apex + 0.05
        while self.pos(hi)[2] > z and hi < self.t0 + t_end:
            lo, hi = hi, hi + (hi - t_apex + 0.05)
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            if self.pos(mid)[2] > z:
                lo = mid
            else:
                hi = mid
        return hi


def drag_for(speed: float) -> float:
    """Linear drag coefficient approximating a volleyball's quadratic drag at `speed`."""
    return min(0.45, max(0.04, 0.017 * speed))


def aim(p0, p1, duration: float, k: float | None = None):
    """Initial velocity and drag for a flight from p0 to p1 lasting `duration` seconds."""
    dist = math.dist(p0, p1)
    k = drag_for(dist / max(duration, 1e-3)) if k is None else k
    for _ in range(3):
        a = (1.0 - math.exp(-k * duration)) / k
        v = ((p1[0] - p0[0]) / a, (p1[1] - p0[1]) / a, (p1[2] - p0[2] + G / k * duration) / a - G / k)
        k_new = drag_for(math.sqrt(v[0] ** 2 + v[1] ** 2 + v[2] ** 2))
        if abs(k_new - k) < 1e-3:
            break
        k = k_new
    a = (1.0 - math.exp(-k * duration)) / k
    v = ((p1[0] - p0[0]) / a, (p1[1] - p0[1]) / a, (p1[2] - p0[2] + G / k * duration) / a - G / k)
    return v, k


def arc_time(z0: float, z1: float, apex: float) -> float:
    """Flight time (no drag) from height z0 up to `apex` and down to z1."""
    apex = max(apex, z0 + 0.05, z1 + 0.05)
    return math.sqrt(2 * (apex - z0) / G) + math.sqrt(2 * (apex - z1) / G)


class Roll:
    kind = "roll"

    def __init__(self, t0, t1, p0, direction, s0, decel):
        self.t0, self.t1, self.p0, self.dir, self.s0, self.a = t0, t1, tuple(p0), tuple(direction), s0, decel
        self.spin = s0 / BALL_R

    def pos(self, t):
        tau = min(t, self.t1) - self.t0
        s = self.s0 * tau - 0.5 * self.a * tau * tau
        return (self.p0[0] + self.dir[0] * s, self.p0[1] + self.dir[1] * s, BALL_R)

    def vel(self, t):
        tau = min(t, self.t1) - self.t0
        s = max(0.0, self.s0 - self.a * tau)
        return (self.dir[0] * s, self.dir[1] * s, 0.0)


class Still:
    kind = "still"
    spin = 0.0

    def __init__(self, t0, t1, p):
        self.t0, self.t1, self.p = t0, t1, tuple(p)

    def pos(self, t):
        return self.p

    def vel(self, t):
        return (0.0, 0.0, 0.0)


class Held:
    """In someone's hands; moving from the hold of `blend_from` to `mode` at the start."""

    kind = "held"
    spin = 0.0
    BLEND = 0.25

    def __init__(self, t0, t1, person, mode="hold", blend_from: str | None = None):
        self.t0, self.t1, self.person, self.mode, self.blend_from = t0, t1, person, mode, blend_from

    def pos(self, t):
        p = self.person.ball_point(t, self.mode)
        if self.blend_from is not None and t < self.t0 + self.BLEND:
            q = self.person.ball_point(t, self.blend_from)
            w = max(0.0, (t - self.t0) / self.BLEND)
            w = w * w * (3 - 2 * w)
            p = tuple(b + (a - b) * w for a, b in zip(p, q))
        return p

    def vel(self, t):
        a, b = self.pos(t - 0.01), self.pos(t + 0.01)
        return tuple((q - p) / 0.02 for p, q in zip(a, b))


class Hidden:
    kind = "hidden"
    spin = 0.0

    def __init__(self, t0, t1):
        self.t0, self.t1 = t0, t1

    def pos(self, t):
        return None

    def vel(self, t):
        return (0.0, 0.0, 0.0)


class Ball:
    """One ball's whole life: back-to-back segments from t=0 to the end of the game."""

    def __init__(self, colours, name: str = "ball"):
        self.colours = colours
        self.name = name
        self.segs: list = []
        self._starts: list[float] = []

    @property
    def t_end(self) -> float:
        return self.segs[-1].t1 if self.segs else 0.0

    def add(self, seg) -> None:
        if self.segs and seg.t0 < self.segs[-1].t1 - 1e-6:
            raise ValueError(f"{self.name}: segment at {seg.t0:.3f} overlaps one ending {self.segs[-1].t1:.3f}")
        if self.segs and seg.t0 > self.segs[-1].t1 + 1e-6:
            last = self.segs[-1]
            self.add_raw(Still(last.t1, seg.t0, last.pos(last.t1)) if last.pos(last.t1) else Hidden(last.t1, seg.t0))
        self.add_raw(seg)

    def add_raw(self, seg) -> None:
        self.segs.append(seg)
        self._starts.append(seg.t0)

    def seg_at(self, t: float):
        if not self.segs:
            return None
        i = max(0, bisect_right(self._starts, t) - 1)
        return self.segs[i]

    def pos(self, t: float):
        seg = self.seg_at(t)
        if seg is None:
            return None
        return seg.pos(min(max(t, seg.t0), seg.t1))

    def vel(self, t: float):
        seg = self.seg_at(t)
        return (0.0, 0.0, 0.0) if seg is None else seg.vel(min(max(t, seg.t0), seg.t1))

    def free_pos(self, t: float):
        """Position when not in someone's hands (people watch it then), else None."""
        seg = self.seg_at(t)
        if seg is None or seg.kind in ("held", "hidden"):
            return None
        return seg.pos(min(max(t, seg.t0), seg.t1))


# --- people -------------------------------------------------------------------
#: For each pose: crouch (m), and where the ball's centre is when it is played, as
#: (forward, right, up) from the feet, `up` in units of body height plus metres.
POSES = {
    "relaxed": (0.0, None),
    "ready": (0.14, None),
    "bump": (0.30, (0.50, 0.0, 0.52, -0.22)),
    "dig": (0.42, (0.55, 0.0, 0.52, -0.36)),
    "set": (0.06, (0.12, 0.0, 0.93, 0.30)),
    "spike": (0.0, (0.32, 0.20, 1.21, 0.0)),
    "serve": (0.0, (0.32, 0.22, 1.19, 0.0)),
    "toss": (0.0, (0.36, -0.02, 0.81, 0.05)),
    "block": (0.0, None),
    "hold": (0.0, (0.30, 0.24, 0.52, 0.05)),
    "dribble": (0.05, (0.38, 0.16, 0.52, 0.10)),
    "catch": (0.0, (0.42, 0.0, 0.81, -0.22)),
    "pickup": (0.45, (0.52, 0.05, 0.0, BALL_R)),
    "celebrate": (0.0, None),
    "sit": (0.0, None),
}


def contact_offset(mode: str, height: float):
    """(forward, right, up) of the ball's centre from the feet when playing it in `mode`."""
    off = POSES[mode][1]
    return off[0], off[1], off[2] * height + off[3]


class Person:
    """A player, referee, substitute or spectator: a path on the floor, jumps, and poses."""

    def __init__(self, pid: int, team: int, height: float, look: dict):
        self.pid, self.team, self.height, self.look = pid, team, height, look
        self.kt: list[float] = [0.0]
        self.kx: list[float] = [0.0]
        self.ky: list[float] = [0.0]
        self.kd: list[float] = [0.0]
        self.jumps: list[tuple[float, float, float]] = []
        self.acts: list[tuple[float, float, str, tuple | None]] = []
        self.home_facing = (0.0, 1.0)
        self.watch = None  # callable t -> (x, y) or None
        self.base_z = 0.0  # stands: seat height
        self.sway = 0.0  # small idle motion amplitude (m)
        self.default_mode = None  # callable t -> "ready"/"relaxed"
        self._act_starts: list[float] = []
        self.pins: list[tuple[float, float]] = []

    # path -----------------------------------------------------------------------
    def place(self, x: float, y: float) -> None:
        self.kt, self.kx, self.ky, self.kd = [0.0], [x], [y], [0.0]

    def at(self, t: float) -> tuple[float, float]:
        kt = self.kt
        i = bisect_right(kt, t) - 1
        if i < 0:
            return self.kx[0], self.ky[0]
        if i >= len(kt) - 1:
            return self.kx[-1], self.ky[-1]
        w = (t - kt[i]) / (kt[i + 1] - kt[i])
        return self.kx[i] + (self.kx[i + 1] - self.kx[i]) * w, self.ky[i] + (self.ky[i + 1] - self.ky[i]) * w

    def dist_at(self, t: float) -> float:
        kt = self.kt
        i = bisect_right(kt, t) - 1
        if i < 0:
            return 0.0
        if i >= len(kt) - 1:
            return self.kd[-1]
        w = (t - kt[i]) / (kt[i + 1] - kt[i])
        return self.kd[i] + (self.kd[i + 1] - self.kd[i]) * w

    def velocity(self, t: float) -> tuple[float, float]:
        kt = self.kt
        i = bisect_right(kt, t) - 1
        if i < 0 or i >= len(kt) - 1:
            return 0.0, 0.0
        dt = kt[i + 1] - kt[i]
        return (self.kx[i + 1] - self.kx[i]) / dt, (self.ky[i + 1] - self.ky[i]) / dt

    def busy_until(self) -> float:
        return self.kt[-1]

    def go(self, t0: float, t1: float, x: float, y: float) -> None:
        """Leave at t0 from wherever the plan has us then, arrive at (x, y) at t1.
        Plans made for after t0 are dropped."""
        x0, y0 = self.at(t0)
        while len(self.kt) > 1 and self.kt[-1] >= t0 - 1e-6:
            self.kt.pop(), self.kx.pop(), self.ky.pop(), self.kd.pop()
        if self.kt[-1] >= t0 - 1e-6:  # only the starting key is left, at t0
            self.kx[-1], self.ky[-1] = x0, y0
        else:
            self._append(t0, x0, y0)
        self._append(max(t1, self.kt[-1] + 1e-3), x, y)

    def walk(self, t0: float, x: float, y: float, speed: float) -> float:
        """Walk from the position at t0 to (x, y); returns the arrival time."""
        x0, y0 = self.at(t0)
        t1 = t0 + max(0.05, math.hypot(x - x0, y - y0) / speed)
        self.go(t0, t1, x, y)
        return t1

    def stay(self, t1: float) -> None:
        if t1 > self.kt[-1]:
            self._append(t1, self.kx[-1], self.ky[-1])

    def _append(self, t, x, y) -> None:
        d = self.kd[-1] + math.hypot(x - self.kx[-1], y - self.ky[-1])
        self.kt.append(t), self.kx.append(x), self.ky.append(y), self.kd.append(d)

    # jumps and poses ---------------------------------------------------------------
    def jump(self, t_apex: float, height: float) -> None:
        half = math.sqrt(2 * height / G)
        self.jumps.append((t_apex - half, t_apex + half, height))

    def act(self, t0: float, t1: float, mode: str, facing: tuple | None = None) -> None:
        """Play pose `mode` over [t0, t1] (blending in before and out after)."""
        i = bisect_right(self._act_starts, t0)
        self.acts.insert(i, (t0, t1, mode, facing))
        self._act_starts.insert(i, t0)
        self.pin(t0 - self.RAMP_IN, t1 + self.RAMP_OUT)

    def pin(self, t0: float, t1: float) -> None:
        """Keep idle wandering out of [t0, t1] (the plan needs us exactly where we are)."""
        self.pins.append((t0, t1))

    def lift(self, t: float) -> float:
        for t0, t1, h in self.jumps:
            if t0 <= t <= t1:
                w = (t - t0) / (t1 - t0)
                return 4 * h * w * (1 - w)
        return 0.0

    RAMP_IN, RAMP_OUT = 0.22, 0.3

    def action(self, t: float):
        """(mode, weight, facing) of the pose being played at t, or None."""
        if not self.acts:
            return None
        i = bisect_right(self._act_starts, t + self.RAMP_IN) - 1
        best = None
        for j in range(max(0, i - 6), i + 1):
            t0, t1, mode, facing = self.acts[j]
            if t0 - self.RAMP_IN <= t <= t1 + self.RAMP_OUT:
                if t < t0:
                    w = 1.0 - (t0 - t) / self.RAMP_IN
                elif t > t1:
                    w = 1.0 - (t - t1) / self.RAMP_OUT
                else:
                    w = 1.0
                w = w * w * (3 - 2 * w)
                if best is None or w >= best[1]:
                    best = (mode, w, facing)
        return best

    def facing(self, t: float) -> tuple[float, float]:
        act = self.action(t)
        if act is not None and act[2] is not None and act[1] > 0.5:
            return act[2]
        x, y = self.at(t)
        vx, vy = self.velocity(t)
        sp = math.hypot(vx, vy)
        fx, fy = self.home_facing
        if self.watch is not None:
            target = self.watch(t)
            if target is not None:
                dx, dy = target[0] - x, target[1] - y
                n = math.hypot(dx, dy)
                if n > 0.3:
                    fx, fy = dx / n, dy / n
        if sp > 1.2:
            w = min(1.0, (sp - 1.2) / 1.5)
            fx, fy = fx * (1 - w) + vx / sp * w, fy * (1 - w) + vy / sp * w
        n = math.hypot(fx, fy) or 1.0
        return fx / n, fy / n

    def pinned_until(self) -> float:
        return max((b for _, b in self.pins), default=0.0)

    def ball_point(self, t: float, mode: str = "hold", facing=None):
        """Where a ball held (or played) in `mode` is at time t."""
        x, y = self.at(t)
        fx, fy = facing if facing is not None else self.facing(t)
        f, r, u = contact_offset(mode, self.height)
        sx, sy = fy, -fx
        return (x + fx * f + sx * r, y + fy * f + sy * r, self.base_z + self.lift(t) + u)

    def base_for(self, contact, mode: str, facing) -> tuple[float, float]:
        """Where to stand so that a ball at `contact` is played in `mode` facing `facing`."""
        f, r, _ = contact_offset(mode, self.height)
        fx, fy = facing
        sx, sy = fy, -fx
        return contact[0] - fx * f - sx * r, contact[1] - fy * f - sy * r
