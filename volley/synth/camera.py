"""A pinhole camera on a tripod, placed and aimed the way people film volleyball."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from volley.synth.spec import BEHIND_AN_END

UP = np.array([0.0, 0.0, 1.0])


@dataclass
class Camera:
    """World (metres, z up) to pixels. `cx, cy` are on the canvas this camera renders."""

    pos: np.ndarray  # (3,) centre of projection
    rot: np.ndarray  # (3, 3) rows: right, down, forward (world -> camera)
    f: float  # focal length in pixels
    cx: float
    cy: float

    def to_cam(self, pts: np.ndarray) -> np.ndarray:
        return (np.asarray(pts, dtype=np.float64) - self.pos) @ self.rot.T

    def project(self, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixels (N, 2) and depths (N,) of world points (N, 3). Depth <= 0: behind."""
        pc = self.to_cam(pts)
        depth = pc[:, 2]
        safe = np.where(depth > 1e-6, depth, 1e-6)
        uv = self.f * pc[:, :2] / safe[:, None] + (self.cx, self.cy)
        return uv, depth

    def shifted(self, dx: float, dy: float) -> "Camera":
        """The same camera on a canvas whose origin moved by (dx, dy) pixels."""
        return Camera(self.pos, self.rot, self.f, self.cx - dx, self.cy - dy)

    def ray_dirs(self, us: np.ndarray, vs: np.ndarray) -> np.ndarray:
        """World ray directions (unnormalised, ..., 3) through pixel coordinates."""
        xc = (us - self.cx) / self.f
        yc = (vs - self.cy) / self.f
        r = self.rot
        return np.stack(
            [xc * r[0, i] + yc * r[1, i] + r[2, i] for i in range(3)],
            axis=-1,
        )


def _rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """yaw: heading in the xy plane (0 = +y); pitch: up positive; roll: clockwise positive."""
    fwd = np.array([math.sin(yaw) * math.cos(pitch), math.cos(yaw) * math.cos(pitch), math.sin(pitch)])
    right = np.cross(fwd, UP)
    right /= np.linalg.norm(right)
    down = np.cross(fwd, right)
    c, s = math.cos(roll), math.sin(roll)
    right, down = c * right - s * down, s * right + c * down
    return np.stack([right, down, fwd])


def aim(pos: np.ndarray, look: np.ndarray, keep: np.ndarray, width: int, height: int,
        margin: float, roll: float, max_hfov: float = 100.0) -> tuple[np.ndarray, float]:
    """Rotation and focal length that frame the `keep` points (N, 3), centred.

    The heading points at `look`; the tilt balances the points above and below the
    centre; the focal length is the largest that keeps them all inside the picture,
    but never wider than `max_hfov` degrees (then the points nearest fall out)."""
    d = look - pos
    yaw = math.atan2(d[0], d[1])
    lo, hi = -1.2, 0.6
    rot = _rotation(yaw, 0.0, roll)
    for _ in range(40):  # bisection: top and bottom extents equal
        pitch = 0.5 * (lo + hi)
        rot = _rotation(yaw, pitch, roll)
        pc = (keep - pos) @ rot.T
        v = pc[:, 1] / np.maximum(pc[:, 2], 1e-3)
        if v.max() + v.min() > 0:  # more below the centre than above: tilt down
            hi = pitch
        else:
            lo = pitch
    pc = (keep - pos) @ rot.T
    z = np.maximum(pc[:, 2], 1e-3)
    u, v = np.abs(pc[:, 0] / z), np.abs(pc[:, 1] / z)
    f = min((width / 2 - margin) / max(u.max(), 1e-6), (height / 2 - margin) / max(v.max(), 1e-6))
    f_min = (width / 2) / math.tan(math.radians(max_hfov / 2))
    return rot, max(f, f_min)


#: Where people put the tripod (metres): how far behind the end line (or off the side
#: line), how high, and how far off the court's middle. Real recordings range from a
#: phone on a bench 3 m behind the line to a balcony 15 m away and 8 m up.
BEHIND = (3.0, 6.0, 15.0)  # triangular: low, mode, high
HIGH = (1.5, 8.0)
#: The zoom a camera is set to, against the tightest framing that keeps the whole
#: court: wider most of the time, tighter (the near corners cut off) now and then.
WIDER = (0.7, 1.0)
TIGHTER = (1.0, 1.25)
TIGHTER_SHARE = 0.25


def place_camera(view: str, half_w: float, half_l: float, net_top: float, width: int, height: int,
                 rng: np.random.Generator, margin_px: float) -> tuple[Camera, dict]:
    """A camera for `view`, its principal point at the centre of a width x height picture.

    "endline": behind an end line, near the middle; "corner": behind an end line, off
    to one side up to a few metres beyond the side line; "side": off a side line."""
    roll = math.radians(rng.uniform(-1.0, 1.0))
    back = float(rng.triangular(*BEHIND))
    high = rng.uniform(*HIGH)
    look = np.array([0.0, rng.uniform(-1.5, 1.5), rng.uniform(0.0, 1.5)])
    keep = [(sx * half_w, sy * half_l, 0.0) for sx in (-1, 1) for sy in (-1, 1)]
    if view in BEHIND_AN_END:
        across = rng.uniform(-1.5, 1.5) if view == "endline" else rng.choice([-1, 1]) * rng.uniform(half_w, half_w + 5.0)
        pos = np.array([across, -(half_l + back), high])
        keep += [(sx * half_w, half_l + 2.0, z) for sx in (-1, 1) for z in (0.0, 4.0)]
        keep += [(sx * (half_w + 1.0), 0.0, net_top + 1.5) for sx in (-1, 1)]
        max_hfov = 96.0
    else:
        along = rng.uniform(-6.0, 6.0)
        pos = np.array([-(half_w + back), along, high])
        keep += [(half_w, sy * (half_l + 1.5), z) for sy in (-1, 1) for z in (0.0, 3.5)]
        keep += [(0.0, 0.0, net_top + 2.5)]
        max_hfov = 100.0
    rot, f = aim(pos, look, np.array(keep, dtype=np.float64), width, height, margin_px, roll, max_hfov)
    f *= rng.uniform(*TIGHTER) if rng.random() < TIGHTER_SHARE else rng.uniform(*WIDER)
    cam = Camera(pos, rot, f, width / 2.0 + rng.uniform(-3, 3), height / 2.0 + rng.uniform(-3, 3))
    info = {"view": view, "distance": round(back, 2), "height": round(high, 2),
            "across": round(float(pos[0] if view != "side" else pos[1]), 2),
            "hfov": round(math.degrees(2 * math.atan(width / 2 / f)), 1)}
    return cam, info
