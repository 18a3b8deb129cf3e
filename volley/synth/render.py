"""Rendering a planned game to an MP4 file (H.264 + AAC through PyAV), frame by frame."""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import asdict
from fractions import Fraction
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from volley.synth.backdrop import Backdrop
from volley.synth.camera import place_camera
from volley.synth.figures import N_JOINTS, Painter, skeleton
from volley.synth.game import Plan
from volley.synth.encoder import EncoderProcess, Job, Light
from volley.synth.motion import Person
from volley.synth.spec import GameSpec, Truth
from volley.synth.venue import BALL_R, make_venue

#: Bumped whenever a change to the generator changes what a spec renders to (`rendered`).
GENERATOR_VERSION = 3

#: A ball this big or this blurred (pixels) is at the lens: OpenCV cannot draw it.
UNDRAWABLE = 1e5

LUMA_GRAIN = 2.2  # film grain, std of luma noise (8-bit levels): ~5 Mbit/s at 1080p50
CHROMA_GRAIN = 1.0


def render_game(path: Path, spec: GameSpec, progress: Callable[[float], None] | None = None) -> Truth:
    """Render `spec` to `path` (MP4) and its truth to `path.with_suffix(".truth.json")`."""
    path = Path(path)
    scene = Scene(spec)
    truth = scene.encode(path, progress)
    truth.save(path.with_suffix(".truth.json"))
    return truth


def rendered(spec: GameSpec, folder: Path) -> tuple[Path, Truth]:
    """The game of `spec` and its truth, rendered once into `folder` and named by the
    spec (and this renderer's version), so a changed generator never reuses an old file."""
    name = hashlib.sha1(json.dumps([GENERATOR_VERSION, asdict(spec)], sort_keys=True).encode(), usedforsecurity=False).hexdigest()[:12]
    path = Path(folder) / f"game-{spec.seed}-{name}.mp4"
    truth_path = path.with_suffix(".truth.json")
    if not truth_path.exists():  # render_game writes the truth last: a killed render leaves none
        path.parent.mkdir(parents=True, exist_ok=True)
        render_game(path, spec)
    return path, Truth.load(truth_path)


class Scene:
    """One game ready to draw: camera, venue, plan, the static background and the
    picture effects (tripod bumps, light, grain). `draw(t)` gives any frame."""

    def __init__(self, spec: GameSpec):
        self.spec = spec
        rng = np.random.default_rng(spec.seed)
        self.rng = rng
        w, h = spec.width, spec.height
        self.margin = int(math.ceil(max(8, 16 * max(0.5, w / 1280.0)) * 2)) + 4
        venue_rng = np.random.default_rng(rng.integers(1 << 62))
        hw, hl = (4.5, 9.0) if spec.setting == "indoor" else (4.0, 8.0)
        self.cam, self.cam_info = place_camera(spec.view, hw, hl, 2.43, w, h, venue_rng, margin_px=0.02 * w)
        self.venue = make_venue(spec.setting, spec.view, spec.distractors, self.cam_info["distance"], venue_rng)
        self.plan = Plan(self.venue, spec.rallies, spec.distractors, self.cam_info, self.cam.pos,
                         np.random.default_rng(rng.integers(1 << 62)))
        self.plan.build()
        self.canvas_cam = self.cam.shifted(-self.margin, -self.margin)
        self._background()
        self._timing()
        self._effects()

    # --- setting up ---------------------------------------------------------------
    def _background(self) -> None:
        spec, m = self.spec, self.margin
        cw, ch = spec.width + 2 * m, spec.height + 2 * m
        bd = Backdrop(self.venue, np.random.default_rng(self.rng.integers(1 << 62)))
        canvas = bd.render(self.canvas_cam, cw, ch)
        if self.venue.neighbour is not None:
            other = bd.render_net(self.canvas_cam, cw, ch, self.venue.neighbour)
            if other is not None:
                bd.composite_net(canvas, other)
        painter = Painter(self.canvas_cam, canvas)
        self._referee_stand(painter)
        for x, y, z, shirt, skin, hair in getattr(self.plan, "crowd", []):
            p = Person(-1, -1, 1.75, {"jersey": shirt, "skin": skin, "hair": hair, "shorts": (60, 60, 70),
                                      "shoes": (50, 50, 50), "beach": False, "cap": False, "sitting": True})
            p.place(x, y)
            p.base_z = z - 0.45
            p.home_facing = (-float(self.venue.stands), 0.0)
            self._draw_people(painter, [p], 0.0)
        self.canvas = canvas
        people = self.plan.players + self.plan.others
        self.seated = [p for p in people if p.look.get("sitting")]
        self.movers = [p for p in people if not p.look.get("sitting")]
        self._seated_k = None
        self.net = bd.render_net(self.canvas_cam, cw, ch)
        self.cam_side = 1.0 if self.cam.pos[1] > 0 else -1.0

    def _referee_stand(self, painter: Painter) -> None:
        x, y, z = getattr(self.plan, "referee_stand", (None, None, None))
        if x is None:
            return
        pts = np.array([(x - 0.3, y - 0.3, 0), (x - 0.3, y - 0.3, z), (x + 0.3, y + 0.3, 0), (x + 0.3, y + 0.3, z),
                        (x - 0.3, y + 0.3, 0), (x - 0.3, y + 0.3, z), (x + 0.3, y - 0.3, 0), (x + 0.3, y - 0.3, z)], float)
        uv, d = painter.cam.project(pts)
        if (d < 0.5).any():
            return
        for i in range(0, 8, 2):
            painter.line(uv[i], uv[i + 1], (90, 90, 95), 0.05, float(d[i]))
        for a, b in ((1, 5), (5, 3), (3, 7), (7, 1)):
            painter.line(uv[a], uv[b], (70, 70, 75), 0.08, float(d[a]))

    def _timing(self) -> None:
        spec = self.spec
        fps = Fraction(spec.fps).limit_denominator(1001)
        self.fps = fps
        self.tb = Fraction(1, fps.numerator * max(1, math.ceil(90000 / fps.numerator)))
        self.tick = int(Fraction(1) / fps / self.tb)  # frame duration in time-base ticks
        self.offset_ticks = int(round(spec.start_offset / self.tb))
        self.n_frames = max(2, int(math.ceil(self.plan.duration * fps)))
        keep = np.ones(self.n_frames, bool)
        if spec.vfr:
            drop_rng = np.random.default_rng(self.rng.integers(1 << 62))
            keep = drop_rng.random(self.n_frames) >= 0.15
            keep[0] = keep[-1] = True
        self.keep = keep

    def _effects(self) -> None:
        spec, rng = self.spec, self.rng
        dur = self.plan.duration
        self.exposure = rng.uniform(0.3, 0.6) / spec.fps
        # tripod bumps: the picture jumps a few pixels (and stays there)
        self.bumps: list[tuple[float, int, int]] = []
        if spec.distractors:
            ox = oy = 0
            limit = self.margin - 4
            for t in sorted(rng.uniform(0.15, 0.9, int(rng.integers(1, 3))) * dur):
                mag = rng.uniform(5, 15) * max(0.5, spec.width / 1280.0)
                ang = rng.uniform(0, 2 * math.pi)
                ox = int(np.clip(ox + mag * math.cos(ang), -limit, limit))
                oy = int(np.clip(oy + mag * math.sin(ang), -limit, limit))
                self.bumps.append((float(t), ox, oy))
        # the camera's own motion: a steady tripod, a wobbly one, or a phone held or leant
        # somewhere (sway of a few pixels at a second or so, and a slow drift)
        self.wobble: list[tuple[float, float, float, float]] = []  # (amplitude x, amplitude y, Hz, phase)
        kind = rng.choice(["steady", "wobbly", "loose"], p=[0.45, 0.35, 0.2])
        if spec.distractors and kind != "steady":
            reach = (0.5, 2.5) if kind == "wobbly" else (2.0, 6.0)
            size = max(0.5, spec.width / 1280.0)
            for hz in (rng.uniform(0.2, 0.6), rng.uniform(0.8, 2.5)):
                self.wobble.append((rng.uniform(*reach) * size, rng.uniform(*reach) * size, hz, rng.uniform(0, 6.3)))
            if kind == "loose":
                self.wobble.append((rng.uniform(3, 10) * size, rng.uniform(2, 6) * size, 1.0 / dur, rng.uniform(0, 6.3)))
        # light: mains flicker beating against the frame rate, a few dips; clouds outdoors
        mains = 100.0 + rng.uniform(-0.3, 0.3)
        beat = abs(mains - round(mains / spec.fps) * spec.fps) + rng.uniform(0.05, 0.4)
        self.light = Light()
        if spec.distractors:
            if self.venue.indoor:
                starts = rng.uniform(0, dur, max(1, int(round(dur / 45.0))))
                self.light.beats = [(float(t), rng.uniform(2.0, 8.0), rng.uniform(0.015, 0.04), beat) for t in starts]
            self.light.dips = [(float(t), rng.uniform(0.1, 0.6), rng.uniform(0.06, 0.18))
                               for t in rng.uniform(0, dur, int(rng.integers(2, 6)))]
            if not self.venue.indoor:
                self.light.clouds = [(rng.uniform(0, dur), rng.uniform(5, 20), rng.uniform(0.05, 0.12))
                                     for _ in range(int(rng.integers(1, 4)))]
        self.grain_seed = int(rng.integers(1 << 62))
        # sensor noise averages out when a camera records fewer pixels
        self.grain_scale = min(1.0, min(spec.width, spec.height) / 1080.0)

    def shift_at(self, t: float) -> tuple[int, int]:
        """Where the picture has moved to at `t` (pixels): the tripod's bumps and the
        camera's wobble, never beyond the canvas's margin."""
        bx, by = self._bumped(t)
        wx = sum(ax * math.sin(2 * math.pi * hz * t + ph) for ax, _, hz, ph in self.wobble)
        wy = sum(ay * math.sin(2 * math.pi * hz * t + 1.3 * ph) for _, ay, hz, ph in self.wobble)
        limit = self.margin - 1
        return int(np.clip(round(bx + wx), -limit, limit)), int(np.clip(round(by + wy), -limit, limit))

    def _bumped(self, t: float) -> tuple[int, int]:
        ox = oy = 0
        for tb, bx, by in self.bumps:
            if t >= tb:
                k = int((t - tb) * 25)
                if k < 5:  # a short shake while it settles
                    s = (5 - k) * 0.6
                    jx, jy = int(round(s * math.sin(7.0 * k + tb))), int(round(s * math.cos(5.0 * k + tb)))
                    return bx + jx, by + jy
                ox, oy = bx, by
        return ox, oy

    # --- one frame ----------------------------------------------------------------
    SEATED_STEP = 0.12  # seconds between redraws of the seated people (they hardly move)

    def _seated_layer(self, t: float) -> np.ndarray:
        """The background with the seated people (bench, stands) as they are near t."""
        k = int(t / self.SEATED_STEP)
        if k != self._seated_k:
            self._seated_k = k
            if not self.seated:
                self._seated = self.canvas
            else:
                self._seated = self.canvas.copy()
                self._draw_people(Painter(self.canvas_cam, self._seated), self.seated, k * self.SEATED_STEP)
        return self._seated

    def _draw_people(self, painter: Painter, people, t: float) -> None:
        for p in people:
            j = np.array(skeleton(p, t))
            uv, d = painter.cam.project(j)
            if (d < 0.4).any():
                continue
            painter.person(p, uv, d, t)

    def draw(self, t: float, out: np.ndarray | None = None) -> tuple[np.ndarray, tuple[float, float] | None]:
        """The display picture at time t (drawn into `out` if given) and the in-play
        ball's pixel position (or None)."""
        spec, m = self.spec, self.margin
        w, h = spec.width, spec.height
        ox, oy = self.shift_at(t)
        crop = self._seated_layer(t)[m + oy:m + oy + h, m + ox:m + ox + w]
        if out is None:
            frame = crop.copy()
        else:
            frame = out
            np.copyto(frame, crop)
        cam = self.canvas_cam.shifted(m + ox, m + oy)
        painter = Painter(cam, frame)
        plan = self.plan
        people = self.movers
        joints = [skeleton(p, t) for p in people]
        balls = []
        for b in [plan.ball] + plan.extra_balls:
            pos = b.pos(t)
            if pos is not None:
                balls.append((b, pos))
        pts = [q for js in joints for q in js]
        for b, pos in balls:
            pts.append(pos)
            seg = b.seg_at(t)
            if seg is not None and seg.kind in ("flight", "roll"):
                e = self.exposure / 2
                pts.append(b.pos(max(seg.t0, t - e)))
                pts.append(b.pos(min(seg.t1, t + e)))
            else:
                pts.append(pos)
                pts.append(pos)
        # shadows on the floor
        shadow_pts = []
        sun = self.venue.sun
        for p, js in zip(people, joints):
            if p.base_z > 0.05 or p.look.get("sitting"):
                shadow_pts.append(None)
                continue
            fx = 0.5 * (js[0][0] + js[1][0])
            fy = 0.5 * (js[0][1] + js[1][1])
            shadow_pts.append((fx, fy))
        arr = np.array(pts, dtype=np.float64) if pts else np.zeros((0, 3))
        uv, depth = cam.project(arr)
        self._shadows(painter, people, joints, shadow_pts, balls, sun)
        items = []
        for i, p in enumerate(people):
            d = depth[i * N_JOINTS:(i + 1) * N_JOINTS]
            if (d < 0.4).any():
                continue
            u = uv[i * N_JOINTS:(i + 1) * N_JOINTS]
            if u[:, 0].max() < -50 or u[:, 0].min() > w + 50 or u[:, 1].max() < -50 or u[:, 1].min() > h + 50:
                continue
            y = p.at(t)[1]
            items.append((float(d.mean()), (y > 0) != (self.cam_side > 0), 0, i, u, d))
        base = len(people) * N_JOINTS
        ball_uv = None
        for k, (b, pos) in enumerate(balls):
            d = depth[base + 3 * k]
            if d < 0.3:
                continue
            u = uv[base + 3 * k]
            if b is plan.ball and self._in_play(t) and 0 <= u[0] < w and 0 <= u[1] < h:
                ball_uv = (float(u[0]), float(u[1]))
            items.append((float(d), (pos[1] > 0) != (self.cam_side > 0), 1, k, uv[base + 3 * k:base + 3 * k + 3], d))
        far = sorted((it for it in items if it[1]), key=lambda it: -it[0])
        near = sorted((it for it in items if not it[1]), key=lambda it: -it[0])
        for it in far:
            self._draw_item(painter, it, people, balls, t)
        if self.net is not None:
            self._composite_net(frame, ox, oy)
        for it in near:
            self._draw_item(painter, it, people, balls, t)
        return frame, ball_uv

    def _draw_item(self, painter, it, people, balls, t) -> None:
        _, _, kind, i, u, d = it
        if kind == 0:
            painter.person(people[i], u, d, t)
        else:
            b, pos = balls[i]
            r = painter.cam.f * BALL_R / d
            seg = b.seg_at(t)
            blur = (u[2][0] - u[1][0], u[2][1] - u[1][1])
            if max(r, abs(blur[0]), abs(blur[1])) > UNDRAWABLE:
                return  # the ball brushing the lens (or behind it during the exposure): not drawable
            painter.ball(u[0], r, b.colours, (seg.spin if seg else 0.0) * t, blur)

    def _shadows(self, painter, people, joints, shadow_pts, balls, sun) -> None:
        indoor = self.venue.indoor
        pts = []
        for sp in shadow_pts:
            if sp is not None:
                pts += [(sp[0], sp[1], 0.0), (sp[0] + 0.3, sp[1], 0.0), (sp[0], sp[1] + 0.3, 0.0)]
        for b, pos in balls:
            if pos[2] < 4.0:
                sx = pos[0] - (0.0 if indoor else pos[2] * sun[0] / sun[2])
                sy = pos[1] - (0.0 if indoor else pos[2] * sun[1] / sun[2])
                pts += [(sx, sy, 0.0), (sx + BALL_R, sy, 0.0), (sx, sy + BALL_R, 0.0)]
        if not pts:
            return
        uv, d = painter.cam.project(np.array(pts))
        k = 0
        for sp in shadow_pts:
            if sp is None:
                continue
            if d[k] > 0.5:
                rx = float(np.hypot(*(uv[k + 1] - uv[k])))
                ry = float(np.hypot(*(uv[k + 2] - uv[k])))
                painter.shadow(uv[k], rx * 1.1, max(ry, rx * 0.25), 0.72 if indoor else 0.55)
            k += 3
        for b, pos in balls:
            if pos[2] < 4.0:
                if d[k] > 0.5:
                    rx = float(np.hypot(*(uv[k + 1] - uv[k])))
                    ry = float(np.hypot(*(uv[k + 2] - uv[k])))
                    fade = max(0.0, 1.0 - pos[2] / (2.0 if indoor else 4.0))
                    if fade > 0.05:
                        painter.shadow(uv[k], rx * (1 + pos[2] * 0.2), max(ry, rx * 0.25) * (1 + pos[2] * 0.2),
                                       1.0 - (0.45 if indoor else 0.55) * fade)
                k += 3

    def _composite_net(self, frame: np.ndarray, ox: int, oy: int) -> None:
        layer, m = self.net, self.margin
        h, w = frame.shape[:2]
        lh, lw = layer.inv.shape[:2]
        x0, y0 = layer.x0 - m - ox, layer.y0 - m - oy
        fx0, fy0 = max(0, x0), max(0, y0)
        fx1, fy1 = min(w, x0 + lw), min(h, y0 + lh)
        if fx1 <= fx0 or fy1 <= fy0:
            return
        roi = frame[fy0:fy1, fx0:fx1]
        inv = layer.inv[fy0 - y0:fy1 - y0, fx0 - x0:fx1 - x0]
        pre = layer.premult[fy0 - y0:fy1 - y0, fx0 - x0:fx1 - x0]
        cv2.add(cv2.multiply(roi, inv, scale=1 / 255.0), pre, dst=roi)

    def _in_play(self, t: float) -> bool:
        for a, b in self.plan.rallies:
            if a <= t <= b:
                return True
        return False

    # --- encoding -------------------------------------------------------------------
    def job(self, path: Path) -> Job:
        spec = self.spec
        return Job(
            path=str(path), width=spec.width, height=spec.height, rotation=spec.rotation, fps=self.fps,
            time_base=self.tb, tick=self.tick, offset_ticks=self.offset_ticks, n_frames=self.n_frames,
            gop=spec.gop or max(1, int(round(2 * spec.fps))), crf=spec.crf, luma_grain=LUMA_GRAIN * self.grain_scale,
            chroma_grain=CHROMA_GRAIN * self.grain_scale, seed=self.grain_seed, light=self.light, audio=spec.audio,
            start_offset=spec.start_offset, events=list(self.plan.events), indoor=self.venue.indoor,
            cam_pos=tuple(float(c) for c in self.cam.pos), crowd=spec.distractors,
        )

    def encode(self, path: Path, progress: Callable[[float], None] | None) -> Truth:
        """Draw every frame here; a child process encodes and muxes them."""
        spec = self.spec
        tmp = path.with_name(path.name + ".part")
        enc = EncoderProcess(self.job(tmp))
        ball_truth = []
        report_every = max(1, self.n_frames // 200)
        try:
            for i in range(self.n_frames):
                if self.keep[i]:
                    t = float(i / self.fps)
                    slot = enc.slot()
                    _, ball_uv = self.draw(t, enc.slots[slot])
                    if ball_uv is not None:
                        ball_truth.append((t, ball_uv[0], ball_uv[1]))
                    enc.submit(slot, i)
                else:
                    enc.submit(None, i)
                if progress is not None and (i % report_every == 0 or i == self.n_frames - 1):
                    progress((i + 1) / self.n_frames)
            enc.finish()
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        finally:
            enc.close()
        os.replace(tmp, path)
        last = max(i for i in range(self.n_frames) if self.keep[i])
        return Truth(
            rallies=[(float(a), float(b)) for a, b in self.plan.rallies],
            ball=ball_truth,
            duration=float((last + 1) / self.fps),
            fps=float(spec.fps),
            width=spec.width,
            height=spec.height,
            extra={"seed": spec.seed, "camera": self.cam_info, "setting": spec.setting, "view": spec.view,
                   "outcomes": list(self.plan.outcomes), "frames": int(self.keep.sum())},
        )
