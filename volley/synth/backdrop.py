"""The static picture: floor, lines, walls, ceiling, stands (indoor) or sand, sea and
sky (beach), ray-cast once per camera through every pixel (2x2 samples each), and the
net as a separate see-through layer so that players behind it show through the mesh."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from volley.synth.camera import Camera
from volley.synth.venue import Venue
from volley.synth.spec import BEHIND_AN_END

SS = 2  # samples per pixel along each axis
F32 = np.float32


def fft_noise(n: int, beta: float, rng: np.random.Generator, stretch: tuple[float, float] = (1.0, 1.0)) -> np.ndarray:
    """A tileable n x n noise texture with a 1/f^beta spectrum, zero mean, unit std."""
    white = rng.standard_normal((n, n))
    fy = np.fft.fftfreq(n)[:, None] * stretch[0]
    fx = np.fft.fftfreq(n)[None, :] * stretch[1]
    freq = np.sqrt(fx * fx + fy * fy)
    freq[0, 0] = 1.0
    spec = np.fft.fft2(white) / freq**beta
    spec[0, 0] = 0.0
    out = np.real(np.fft.ifft2(spec))
    return (out / (out.std() + 1e-9)).astype(F32)


def lookup(tex: np.ndarray, u: np.ndarray, v: np.ndarray, border: int, value: float = 0.0) -> np.ndarray:
    """Bilinear texture lookup at texel coordinates (u: column, v: row), any shape."""
    n = u.size
    cols = 1024
    rows = max(1, -(-n // cols))
    mu = np.zeros(rows * cols, F32)
    mv = np.zeros(rows * cols, F32)
    mu[:n] = u.reshape(-1)
    mv[:n] = v.reshape(-1)
    out = cv2.remap(tex, mu.reshape(rows, cols), mv.reshape(rows, cols), cv2.INTER_LINEAR,
                    borderMode=border, borderValue=value)
    return out.reshape((rows * cols,) + tex.shape[2:])[:n].reshape(u.shape + tex.shape[2:])


def sample(tex: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Texture lookup with wrap-around at texel coordinates (u: column, v: row)."""
    h, w = tex.shape[:2]
    return lookup(tex, np.mod(u, w), np.mod(v, h), cv2.BORDER_WRAP)


def band(a: np.ndarray, lo: float, hi: float, fp: np.ndarray) -> np.ndarray:
    """How much of the footprint [a - fp/2, a + fp/2] lies inside [lo, hi] (box filter)."""
    fp = np.maximum(fp, 1e-4)
    return np.clip((np.minimum(a + fp / 2, hi) - np.maximum(a - fp / 2, lo)) / fp, 0.0, 1.0)


def periodic_band(a: np.ndarray, period: float, width: float, fp: np.ndarray) -> np.ndarray:
    """Box-filtered coverage of stripes [k*period, k*period + width] (no moire when far)."""
    fp = np.maximum(fp, 1e-4)

    def cum(x):
        k = np.floor(x / period)
        return k * width + np.clip(x - k * period, 0.0, width)

    return np.clip((cum(a + fp / 2) - cum(a - fp / 2)) / fp, 0.0, 1.0)


def mix(base: np.ndarray, colour, amount: np.ndarray) -> np.ndarray:
    colour = np.asarray(colour, dtype=F32)
    return base + (colour - base) * amount[:, None]


@dataclass
class NetLayer:
    """The net on the canvas: composite `roi = roi * inv / 255 + premult` at (x0, y0)."""

    x0: int
    y0: int
    premult: np.ndarray  # uint8 (h, w, 3)
    inv: np.ndarray  # uint8 (h, w, 3)


class Backdrop:
    """Renders the static background of a venue seen by a camera."""

    def __init__(self, venue: Venue, rng: np.random.Generator):
        self.v = venue
        self.rng = rng
        self.fine = fft_noise(256, 0.6, rng)
        self.coarse = fft_noise(256, 1.6, rng)
        self.grain = fft_noise(256, 0.9, rng, stretch=(0.15, 1.0))
        self.plank_tint = rng.uniform(-0.07, 0.07, 97).astype(F32)
        self.plank_shift = rng.uniform(0.0, 2.4, 97).astype(F32)
        seats = [(140, 60, 30), (40, 40, 170), (105, 105, 110), (150, 145, 140), (60, 110, 150)]
        self.seat = np.array(seats[rng.integers(len(seats))], F32)
        if venue.indoor:
            self._make_lights()
            self._make_walls()
        else:
            self.sea_side = None
            self._make_beach_scenery()

    # --- indoor textures ------------------------------------------------------
    def _make_lights(self) -> None:
        v, rng = self.v, self.rng
        x0, x1 = v.hall_x
        ppm = 10.0
        w, h = int((x1 - x0) * ppm) + 1, int(2 * v.hall_y * ppm) + 1
        lights = np.zeros((h, w), F32)
        sx, sy = rng.uniform(3.5, 5.0), rng.uniform(3.5, 5.0)
        pw, ph = (1.4, 0.35) if rng.random() < 0.5 else (0.7, 0.7)
        for lx in np.arange(x0 + sx / 2, x1, sx):
            for ly in np.arange(-v.hall_y + sy / 2, v.hall_y, sy):
                c0 = (int((lx - pw / 2 - x0) * ppm), int((ly - ph / 2 + v.hall_y) * ppm))
                c1 = (int((lx + pw / 2 - x0) * ppm), int((ly + ph / 2 + v.hall_y) * ppm))
                cv2.rectangle(lights, c0, c1, 1.0, -1)
        self.light_ppm, self.light_origin = ppm, (x0, -v.hall_y)
        self.lights = lights
        self.lights_glossy = cv2.GaussianBlur(lights, (0, 0), 0.45 * ppm)
        self.gloss = 0.22 if v.floor_kind == "synthetic" else 0.32

    def _light_at(self, tex: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        u = (x - self.light_origin[0]) * self.light_ppm
        w = (y - self.light_origin[1]) * self.light_ppm
        h, wd = tex.shape
        return lookup(tex, np.clip(u, -2, wd + 1), np.clip(w, -2, h + 1), cv2.BORDER_CONSTANT)

    def _make_walls(self) -> None:
        v, rng = self.v, self.rng
        self.wall_ppm = 40.0
        x0, x1 = v.hall_x
        lengths = [2 * v.hall_y, 2 * v.hall_y, x1 - x0, x1 - x0]
        origins = [-v.hall_y, -v.hall_y, x0, x0]
        pad_h = rng.uniform(1.6, 2.2)
        self.walls = []
        window_wall = int(rng.integers(4))
        for i, (length, s0) in enumerate(zip(lengths, origins)):
            w, h = int(length * self.wall_ppm) + 2, int(v.ceiling * self.wall_ppm) + 2
            base = np.array(v.wall, F32)
            tex = np.empty((h, w, 3), F32)
            tex[:] = base
            n = cv2.resize(self.coarse, (w, h), interpolation=cv2.INTER_LINEAR)
            tex *= (1.0 + 0.04 * n)[..., None]
            img = np.clip(tex, 0, 255).astype(np.uint8)

            def px(s, z):
                return int((s - s0) * self.wall_ppm), int((v.ceiling - z) * self.wall_ppm)

            # vertical panels of the upper wall
            step = rng.uniform(0.8, 2.5)
            for s in np.arange(s0, s0 + length, step):
                cv2.line(img, px(s, pad_h), px(s, v.ceiling), tuple(int(c * 0.9) for c in v.wall), 2)
            if i == window_wall:
                top = v.ceiling - rng.uniform(0.6, 1.5)
                for s in np.arange(s0 + 2, s0 + length - 2, rng.uniform(2.5, 4.0)):
                    cv2.rectangle(img, px(s, top), px(s + 1.8, top - 1.6), (245, 238, 225), -1)
                    cv2.line(img, px(s + 0.9, top), px(s + 0.9, top - 1.6), (120, 120, 120), 3)
            # banners
            for _ in range(int(rng.integers(2, 6))):
                s = rng.uniform(s0, s0 + length - 5)
                bw, zb = rng.uniform(2.5, 6.0), rng.uniform(2.5, 4.5)
                col = tuple(int(c) for c in rng.integers(20, 250, 3))
                cv2.rectangle(img, px(s, zb + 0.9), px(s + bw, zb), col, -1)
                ink = tuple(255 - c for c in col)
                for k in range(int(bw / 0.45)):
                    if rng.random() < 0.75:
                        cv2.rectangle(img, px(s + 0.25 + k * 0.42, zb + 0.62), px(s + 0.5 + k * 0.42, zb + 0.28), ink, -1)
            if i >= 2:  # end walls: doors, a clock, a scoreboard
                for _ in range(int(rng.integers(0, 3))):
                    s = rng.uniform(s0 + 1, s0 + length - 2)
                    cv2.rectangle(img, px(s, 2.1), px(s + 1.0, 0), (70, 80, 90), -1)
                cs = rng.uniform(s0 + 3, s0 + length - 3)
                c, r = px(cs, v.ceiling - 2.0), int(0.3 * self.wall_ppm)
                cv2.circle(img, c, r, (245, 245, 245), -1, cv2.LINE_AA)
                cv2.circle(img, c, r, (30, 30, 30), 3, cv2.LINE_AA)
                sb = rng.uniform(s0 + 3, s0 + length - 6)
                cv2.rectangle(img, px(sb, 5.5), px(sb + 3.0, 4.0), (25, 25, 25), -1)
                for k in range(4):
                    cv2.rectangle(img, px(sb + 0.3 + k * 0.7, 5.2), px(sb + 0.7 + k * 0.7, 4.4),
                                  (40, 60, 230) if k < 2 else (30, 200, 240), -1)
            # padding
            cv2.rectangle(img, px(s0, pad_h), px(s0 + length, 0), tuple(int(c) for c in v.pad), -1)
            for s in np.arange(s0, s0 + length, 1.5):
                cv2.line(img, px(s, pad_h), px(s, 0), tuple(int(c * 0.7) for c in v.pad), 2)
            cv2.line(img, px(s0, pad_h), px(s0 + length, pad_h), tuple(int(c * 0.6) for c in v.pad), 3)
            self.walls.append((img, s0))

    # --- beach textures -------------------------------------------------------
    def _make_beach_scenery(self) -> None:
        rng = self.rng
        self.sky_top = np.array([200, 150, 95], F32) * rng.uniform(0.9, 1.05)
        self.sky_low = np.array([235, 222, 205], F32)
        self.clouds = fft_noise(256, 1.4, rng)
        self.scenery_ppm = 8.0
        n = 4096
        sky = np.zeros(n, F32)
        s = 0
        while s < n:  # skyline of trees and buildings
            kind = rng.random()
            w = int(rng.uniform(30, 200))
            h = rng.uniform(3, 9) if kind < 0.6 else rng.uniform(6, 18)
            sky[s:s + w] = h + (rng.standard_normal(min(w, n - s)) * 0.6 if kind < 0.6 else 0)
            s += w
        self.skyline = cv2.GaussianBlur(sky[None, :], (0, 0), 2.0)[0]
        self.scenery_tex = fft_noise(256, 1.0, rng)

    # --- the picture ----------------------------------------------------------
    def render(self, cam: Camera, width: int, height: int) -> np.ndarray:
        """The background (height, width, 3) uint8 seen by `cam`."""
        out = np.empty((height, width, 3), np.uint8)
        rows = max(8, int(400_000 / (width * SS * SS)))
        for r0 in range(0, height, rows):
            r1 = min(height, r0 + rows)
            out[r0:r1] = self._strip(cam, width, r0, r1)
        yy, xx = np.mgrid[0:height, 0:width].astype(F32)
        rr = ((xx - width / 2) ** 2 + (yy - height / 2) ** 2) / ((width / 2) ** 2 + (height / 2) ** 2)
        vign = (1.0 - 0.16 * rr)[..., None]
        return np.clip(out * vign, 0, 255).astype(np.uint8)

    def _strip(self, cam: Camera, width: int, r0: int, r1: int) -> np.ndarray:
        sub = (np.arange(SS, dtype=F32) + 0.5) / SS - 0.5
        us = (np.arange(width, dtype=F32)[:, None] + sub[None, :]).reshape(-1)
        vs = (np.arange(r0, r1, dtype=F32)[:, None] + sub[None, :]).reshape(-1)
        uu, vv = np.meshgrid(us, vs)
        d = cam.ray_dirs(uu, vv).astype(F32)
        colour = self._shade(cam, d)
        img = np.clip(colour, 0, 255).astype(np.uint8)
        return cv2.resize(img, (width, r1 - r0), interpolation=cv2.INTER_AREA)

    def _shade(self, cam: Camera, d: np.ndarray) -> np.ndarray:
        v = self.v
        o = cam.pos.astype(F32)
        dx, dy, dz = d[..., 0], d[..., 1], d[..., 2]
        inf = F32(1e9)
        with np.errstate(divide="ignore", invalid="ignore"):
            t_floor = np.where(dz < 0, -o[2] / dz, inf)
            if v.indoor:
                t_ceil = np.where(dz > 0, (v.ceiling - o[2]) / dz, inf)
                t_x = np.where(dx > 0, (v.hall_x[1] - o[0]) / dx, np.where(dx < 0, (v.hall_x[0] - o[0]) / dx, inf))
                t_y = np.where(dy > 0, (v.hall_y - o[1]) / dy, np.where(dy < 0, (-v.hall_y - o[1]) / dy, inf))
                stack = np.stack([t_floor, t_ceil, t_x, t_y])
            else:
                far = 70.0
                t_x = np.where(dx > 0, (far - o[0]) / dx, np.where(dx < 0, (-far - o[0]) / dx, inf))
                t_y = np.where(dy > 0, (far - o[1]) / dy, np.where(dy < 0, (-far - o[1]) / dy, inf))
                stack = np.stack([t_floor, np.full_like(t_floor, inf), t_x, t_y])
            face = np.argmin(stack, axis=0)
            t = np.take_along_axis(stack, face[None], 0)[0]
            # stands: a slope rising away from the court
            sgn = float(v.stands)
            if v.stands:
                xs0 = v.half_w + 3.5
                slope, z0, length = 0.55, 0.6, (v.half_l + 2.0 if v.indoor else v.half_l)
                nx = -slope * sgn
                c = z0 - slope * xs0
                t_s = (c - (nx * o[0] + o[2])) / (nx * dx + dz)
                hx = o[0] + t_s * dx
                hy = o[1] + t_s * dy
                ok = (t_s > 0) & (t_s < t) & (sgn * hx >= xs0) & (sgn * hx <= xs0 + 6.0) & (np.abs(hy) <= length)
                t = np.where(ok, t_s, t)
                face = np.where(ok, 4, face)
                t_f = (sgn * xs0 - o[0]) / dx
                hz = o[2] + t_f * dz
                hy = o[1] + t_f * dy
                ok = (t_f > 0) & (t_f < t) & (hz >= 0) & (hz <= z0) & (np.abs(hy) <= length)
                t = np.where(ok, t_f, t)
                face = np.where(ok, 5, face)
            if not v.indoor:
                for axis, pos, span in self._boards():
                    ta = (pos - o[axis]) / d[..., axis]
                    p_other = o[1 - axis] + ta * d[..., 1 - axis]
                    hz = o[2] + ta * dz
                    ok = (ta > 0) & (ta < t) & (hz >= 0) & (hz <= 1.0) & (np.abs(p_other) <= span)
                    t = np.where(ok, ta, t)
                    face = np.where(ok, 6, face)
        t = np.minimum(t, F32(5e3))
        p = o + t[..., None] * d
        grad = [np.abs(np.gradient(p[..., k], axis=1)) + np.abs(np.gradient(p[..., k], axis=0)) for k in range(3)]
        colour = np.zeros(d.shape, F32)
        shaders = {0: self._floor, 1: self._ceiling, 2: self._wall_x, 3: self._wall_y, 4: self._stand,
                   5: self._stand_front, 6: self._board}
        for fid, fn in shaders.items():
            m = face == fid
            if m.any():
                colour[m] = fn(p[m], d[m], [g[m] for g in grad], cam)
        return colour

    def _boards(self):
        """Advertising boards round a beach court, never between the camera and the court:
        (axis of the plane's normal, plane coordinate, half span along the other axis)."""
        v = self.v
        xb, yb = v.half_w + 3.0, v.half_l + 4.5
        if v.extras.get("view") == "side":
            return [(0, xb, yb), (1, yb, xb), (1, -yb, xb)]
        if v.extras.get("view") == "corner":  # the camera stands beyond a side line
            return [(1, yb, xb)]
        return [(0, xb, yb), (0, -xb, yb), (1, yb, xb)]

    # --- shaders: p (N, 3) hit points, d (N, 3) rays, g footprints ------------
    def _court_lines(self, x, y, fx, fy, cx, cy, lw):
        v = self.v
        lx, ly = x - cx, y - cy
        ax, ay = np.abs(lx), np.abs(ly)
        inside_x = band(lx, -v.half_w, v.half_w, fx)
        inside_y = band(ly, -v.half_l, v.half_l, fy)
        cov = np.maximum(band(ax, v.half_w - lw, v.half_w, fx) * inside_y, band(ay, v.half_l - lw, v.half_l, fy) * inside_x)
        if v.indoor:
            cov = np.maximum(cov, band(ly, -lw / 2, lw / 2, fy) * inside_x)
            cov = np.maximum(cov, band(ay, 3.0 - lw, 3.0, fy) * inside_x)
        return cov, inside_x * inside_y

    def _floor(self, p, d, g, cam):
        v = self.v
        x, y = p[:, 0], p[:, 1]
        fx, fy = g[0], g[1]
        courts = [(0.0, 0.0)] + ([v.neighbour] if v.neighbour else [])
        lines = np.zeros_like(x)
        inside = np.zeros_like(x)
        for cx, cy in courts:
            lw = 0.05 if v.indoor else 0.07
            c, i = self._court_lines(x, y, fx, fy, cx, cy, lw)
            lines = np.maximum(lines, c)
            inside = np.maximum(inside, i)
        if v.floor_kind == "sand":
            return self._sand(p, d, g, lines)
        base = np.asarray(v.floor_out, F32) + (np.asarray(v.floor_in, F32) - np.asarray(v.floor_out, F32)) * inside[:, None]
        if v.floor_kind == "wood":
            pw = 0.12
            plank = np.floor(x / pw).astype(np.int64) % 97
            shade = 1.0 + self.plank_tint[plank]
            shade += 0.05 * sample(self.grain, x * 40 + plank * 37, y * 6)
            shade -= 0.25 * periodic_band(x, pw, 0.004, fx)
            shade -= 0.25 * periodic_band(y + self.plank_shift[plank], 2.4, 0.004, fy)
        else:
            shade = 1.0 + 0.025 * sample(self.fine, x * 60, y * 60) + 0.03 * sample(self.coarse, x * 5, y * 5)
        colour = base * shade[:, None]
        colour = mix(colour, v.line, lines * 0.95)
        light = 0.86 + 0.16 * np.exp(-((x / (v.half_w + 7)) ** 2 + (y / (v.half_l + 7)) ** 2))
        colour *= light[:, None]
        # glossy floor: the ceiling lights mirrored, blurred
        up = v.ceiling / np.maximum(-d[:, 2], 1e-4)
        spec = self._light_at(self.lights_glossy, x + up * d[:, 0], y + up * d[:, 1])
        return colour + spec[:, None] * (self.gloss * np.array([245, 248, 250], F32))

    def _sand(self, p, d, g, lines):
        v = self.v
        x, y = p[:, 0], p[:, 1]
        base = np.asarray(v.floor_in, F32)
        n1 = sample(self.coarse, x * 6, y * 6)
        n2 = sample(self.fine, x * 40, y * 40)
        n3 = sample(self.coarse, x * 1.2 + 50, y * 1.2)
        shade = 1.0 + 0.05 * n1 + 0.06 * n2 + 0.05 * n3
        # footprints and raked patches: darker blobs near the court
        near = np.exp(-((x / (v.half_w + 3)) ** 4 + (y / (v.half_l + 3)) ** 4))
        shade -= 0.07 * np.clip(sample(self.fine, x * 9 + 90, y * 9) - 0.8, 0, 2) * near
        colour = base * shade[:, None]
        colour = mix(colour, v.line, lines * 0.9)
        far = np.hypot(x, y)
        colour = mix(colour, (170, 200, 215), np.clip((far - 40) / 120, 0, 0.6))  # haze
        sea = self._sea_mask(p)
        if sea is not None and sea.any():
            w = np.array([150, 110, 40], F32) * (1 + 0.05 * sample(self.grain, x[sea] * 0.5, y[sea] * 0.5))[:, None]
            w = mix(w, (215, 200, 185), np.clip(1.0 - 30.0 * np.abs(d[sea, 2]) / np.linalg.norm(d[sea], axis=1), 0, 0.7))
            colour[sea] = w
        return colour

    def _sea_mask(self, p):
        """The sea lies beyond the far end (endline view) or the far side (side view)."""
        return p[:, 1] > 45.0 if self.v.extras.get("view") in BEHIND_AN_END else p[:, 0] > 45.0

    def _ceiling(self, p, d, g, cam):
        v = self.v
        x, y = p[:, 0], p[:, 1]
        base = np.full((len(x), 3), 95.0, F32) * (1 + 0.05 * sample(self.coarse, x * 3, y * 3))[:, None]
        base = mix(base, (55, 55, 60), periodic_band(x, 5.0, 0.3, g[0]))
        base = mix(base, (55, 55, 60), periodic_band(y, 5.0, 0.3, g[1]))
        return mix(base, (250, 252, 255), self._light_at(self.lights, x, y))

    def _wall(self, idx, s, z):
        tex, s0 = self.walls[idx]
        u = (s - s0) * self.wall_ppm
        w = (self.v.ceiling - z) * self.wall_ppm
        return lookup(tex, u, w, cv2.BORDER_REPLICATE).astype(F32)

    def _wall_x(self, p, d, g, cam):
        if not self.v.indoor:
            return self._scenery(p, d, p[:, 1])
        idx = np.where(p[:, 0] > 0, 1, 0)
        out = np.empty((len(p), 3), F32)
        for i in (0, 1):
            m = idx == i
            if m.any():
                out[m] = self._wall(i, p[m, 1], p[m, 2])
        return out * 0.92

    def _wall_y(self, p, d, g, cam):
        if not self.v.indoor:
            return self._scenery(p, d, p[:, 0])
        idx = np.where(p[:, 1] > 0, 3, 2)
        out = np.empty((len(p), 3), F32)
        for i in (2, 3):
            m = idx == i
            if m.any():
                out[m] = self._wall(i, p[m, 0], p[m, 2])
        return out

    def _scenery(self, p, d, s):
        n = len(self.skyline)
        key = np.mod((s + 3 * p[:, 0] + 7 * p[:, 1]) * self.scenery_ppm / 4, n).astype(np.int64)
        top = self.skyline[key]
        sky = self._sky(d)
        sea = self._sea_mask(p)
        z = p[:, 2]
        solid = z < top
        if sea is not None:
            solid &= ~sea
        green = np.array([60, 100, 70], F32) * (1 + 0.15 * sample(self.scenery_tex, s * 2, z * 2))[:, None]
        green = mix(green, (185, 195, 200), np.full(len(s), 0.35, F32))  # distance haze
        return np.where(solid[:, None], green, sky)

    def _sky(self, d):
        n = np.linalg.norm(d, axis=1)
        el = np.clip(d[:, 2] / n, 0, 1)
        col = self.sky_low + (self.sky_top - self.sky_low) * np.sqrt(el)[:, None]
        dz = np.maximum(d[:, 2], 0.02)
        cl = sample(self.clouds, d[:, 0] / dz * 40, d[:, 1] / dz * 40)
        cloud = np.clip(cl - 0.3, 0, 1.5) / 1.5 * np.clip(el * 6, 0, 1)
        return mix(col, (245, 245, 245), cloud)

    def _stand(self, p, d, g, cam):
        v = self.v
        sx = np.abs(p[:, 0]) - (v.half_w + 3.5)
        tier = 0.85
        seat = self.seat
        col = np.empty((len(p), 3), F32)
        col[:] = seat * (1 + 0.06 * sample(self.fine, p[:, 1] * 30, sx * 30))[:, None]
        riser = periodic_band(sx, tier, 0.15, g[0])
        return mix(col, (110, 110, 115), riser)

    def _stand_front(self, p, d, g, cam):
        return np.full((len(p), 3), 80.0, F32) * (1 + 0.05 * sample(self.fine, p[:, 1] * 20, p[:, 2] * 20))[:, None]

    def _board(self, p, d, g, cam):
        s = np.where(np.abs(np.abs(p[:, 0]) - (self.v.half_w + 3.0)) < 0.01, p[:, 1], p[:, 0])
        seg = np.floor(s / 3.0).astype(np.int64) % 5
        palette = np.array([(200, 80, 20), (30, 30, 200), (240, 240, 240), (20, 160, 240), (40, 120, 40)], F32)
        col = palette[seg]
        text = periodic_band(s, 0.35, 0.2, g[0] + g[1]) * band(p[:, 2], 0.35, 0.65, g[2])
        return mix(col, (250, 250, 250), text * (seg != 2))

    # --- the net ---------------------------------------------------------------
    def render_net(self, cam: Camera, width: int, height: int, court: tuple[float, float] = (0.0, 0.0)) -> NetLayer | None:
        v = self.v
        cx, cy = court
        corners = np.array([(cx + sx * (v.post_x + 0.1), cy, z) for sx in (-1, 1) for z in (0.0, v.net_top + 0.9)])
        uv, depth = cam.project(corners)
        if (depth <= 0.05).any():
            return None
        x0 = int(np.clip(np.floor(uv[:, 0].min()) - 3, 0, width))
        x1 = int(np.clip(np.ceil(uv[:, 0].max()) + 3, 0, width))
        y0 = int(np.clip(np.floor(uv[:, 1].min()) - 3, 0, height))
        y1 = int(np.clip(np.ceil(uv[:, 1].max()) + 3, 0, height))
        if x1 - x0 < 2 or y1 - y0 < 2:
            return None
        sub = (np.arange(SS, dtype=F32) + 0.5) / SS - 0.5
        us = (np.arange(x0, x1, dtype=F32)[:, None] + sub[None, :]).reshape(-1)
        vs = (np.arange(y0, y1, dtype=F32)[:, None] + sub[None, :]).reshape(-1)
        uu, vv = np.meshgrid(us, vs)
        d = cam.ray_dirs(uu, vv).astype(F32)
        o = cam.pos.astype(F32)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (cy - o[1]) / d[..., 1]
        t = np.where(np.isfinite(t) & (t > 0), t, 0)
        x = o[0] + t * d[..., 0] - cx
        z = o[2] + t * d[..., 2]
        fx = np.abs(np.gradient(x, axis=1)) + np.abs(np.gradient(x, axis=0))
        fz = np.abs(np.gradient(z, axis=1)) + np.abs(np.gradient(z, axis=0))
        valid = (t > 0).astype(F32)
        ax = np.abs(x)
        band_col = np.array((240, 240, 240) if v.indoor else (170, 90, 30), F32)
        colour = np.zeros(x.shape + (3,), F32)
        alpha = np.zeros(x.shape, F32)

        def over(col, a):
            nonlocal colour, alpha
            a = a * valid
            colour = colour * (1 - a[..., None]) + np.asarray(col, F32) * a[..., None]
            alpha = alpha * (1 - a) + a

        in_x = band(x, -v.net_half, v.net_half, fx)
        in_z = band(z, v.net_low, v.net_top, fz)
        mesh = 1 - (1 - periodic_band(x, 0.1, 0.004, fx)) * (1 - periodic_band(z, 0.1, 0.004, fz))
        over((25, 25, 25), mesh * in_x * in_z * 0.9)
        over(band_col, band(z, v.net_top - 0.07, v.net_top, fz) * in_x)
        over(band_col, band(z, v.net_low, v.net_low + 0.05, fz) * in_x)
        if v.indoor:
            over(band_col, band(ax, v.half_w - 0.05, v.half_w, fx) * in_z)
        stripes = np.where(np.mod(z, 0.2) < 0.1, 1.0, 0.0).astype(F32)
        ant = band(ax, v.half_w, v.half_w + 0.012, fx) * band(z, v.net_low, v.net_top + 0.8, fz)
        over((40, 40, 210), ant * stripes)
        over((245, 245, 245), ant * (1 - stripes))
        cable = band(ax, v.net_half, v.post_x, fx)
        over((40, 40, 40), cable * (band(z, v.net_top - 0.012, v.net_top, fz) + band(z, v.net_low, v.net_low + 0.008, fz)).clip(0, 1))
        rel = (ax - v.post_x) / 0.055
        post = band(ax, v.post_x - 0.055, v.post_x + 0.055, fx) * band(z, 0.0, v.net_top + 0.12, fz)
        post_col = np.asarray(v.pad if v.indoor else (200, 200, 200), F32) * (1.0 - 0.35 * np.clip(rel, -1, 1) ** 2)[..., None]
        alpha_p = post * valid
        colour = colour * (1 - alpha_p[..., None]) + post_col * alpha_p[..., None]
        alpha = alpha * (1 - alpha_p) + alpha_p
        h, w = y1 - y0, x1 - x0
        premult = cv2.resize(colour, (w, h), interpolation=cv2.INTER_AREA)
        a = cv2.resize(alpha, (w, h), interpolation=cv2.INTER_AREA)
        inv = np.clip(255.0 * (1 - a), 0, 255).astype(np.uint8)
        return NetLayer(x0, y0, np.clip(premult, 0, 255).astype(np.uint8), np.repeat(inv[..., None], 3, axis=2))

    def composite_net(self, canvas: np.ndarray, layer: NetLayer) -> None:
        """Bake a net layer into a picture (the neighbouring court's net)."""
        h, w = layer.inv.shape[:2]
        roi = canvas[layer.y0:layer.y0 + h, layer.x0:layer.x0 + w]
        cv2.add(cv2.multiply(roi, layer.inv, scale=1 / 255.0), layer.premult, dst=roi)
