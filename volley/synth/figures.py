"""Drawing people and balls: 3D skeletons from a person's plan at time t, projected
and painted with anti-aliased OpenCV shapes at sub-pixel precision."""

from __future__ import annotations

import math

import cv2
import numpy as np

from volley.synth.motion import POSES, Person, contact_offset

SHIFT = 4
ONE = 1 << SHIFT
AA = cv2.LINE_AA

# joint indices
FOOT_L, FOOT_R, KNEE_L, KNEE_R, HIP_L, HIP_R, SH_L, SH_R, ELB_L, ELB_R, HAND_L, HAND_R, HEAD, NECK, TOE_L, TOE_R = range(16)
N_JOINTS = 16


def _ik(a, b, l1, l2, pole):
    """Middle joint of a two-bone limb from a to b, bending towards `pole`."""
    dx, dy, dz = b[0] - a[0], b[1] - a[1], b[2] - a[2]
    d = math.sqrt(dx * dx + dy * dy + dz * dz) or 1e-6
    reach = (l1 + l2) * 0.999
    if d > reach:
        k = reach / d
        dx, dy, dz, d = dx * k, dy * k, dz * k, reach
    ux, uy, uz = dx / d, dy / d, dz / d
    along = (l1 * l1 - l2 * l2 + d * d) / (2 * d)
    hgt = math.sqrt(max(l1 * l1 - along * along, 0.0))
    px, py, pz = pole
    dot = px * ux + py * uy + pz * uz
    px, py, pz = px - dot * ux, py - dot * uy, pz - dot * uz
    n = math.sqrt(px * px + py * py + pz * pz) or 1e-6
    return (a[0] + ux * along + px / n * hgt, a[1] + uy * along + py / n * hgt, a[2] + uz * along + pz / n * hgt)


def skeleton(p: Person, t: float) -> list[tuple[float, float, float]]:
    """The 16 joints of person p at time t, world metres."""
    H = p.height
    x, y = p.at(t)
    if p.sway:
        ph = p.pid * 1.7
        x += p.sway * math.sin(0.9 * t + ph)
        y += p.sway * 0.6 * math.sin(1.3 * t + 2 * ph)
    lift = p.lift(t)
    z0 = p.base_z + lift
    fx, fy = p.facing(t)
    sx, sy = fy, -fx
    vx, vy = p.velocity(t)
    speed = math.hypot(vx, vy)
    sitting = p.look.get("sitting", False)
    base_mode = "sit" if sitting else (p.default_mode(t) if p.default_mode else "relaxed")
    act = p.action(t)
    mode, w = (act[0], act[1]) if act else (base_mode, 0.0)
    if sitting and mode not in ("celebrate",):
        mode, w = base_mode, 0.0
    crouch = POSES[base_mode][0] * (1 - w) + POSES[mode][0] * w
    if sitting and mode == "celebrate":
        sitting = w < 0.5
    scale = H / 1.9

    def body(f, s, u):
        return (x + fx * f + sx * s, y + fy * f + sy * s, z0 + u)

    lean = crouch * 0.7
    if sitting:
        hip_z, sh_z, head_z = 0.45, 0.45 + 0.29 * H, 0.45 + 0.41 * H
        lean = 0.05
    else:
        hip_z, sh_z, head_z = 0.52 * H - crouch, 0.81 * H - crouch * 0.9, 0.93 * H - crouch * 0.85
    hw, sw = 0.1 * scale, 0.2 * scale
    hip_l, hip_r = body(0, -hw, hip_z), body(0, hw, hip_z)
    sh_l, sh_r = body(lean, -sw, sh_z), body(lean, sw, sh_z)
    head = body(lean + 0.02, 0, head_z)
    neck = body(lean, 0, sh_z + 0.06)
    # legs
    thigh = shin = 0.26 * H
    if sitting:
        knee_l, knee_r = body(0.45, -hw - 0.02, 0.5), body(0.45, hw + 0.02, 0.5)
        foot_l, foot_r = body(0.5, -hw - 0.03, 0.05), body(0.5, hw + 0.03, 0.05)
    else:
        if speed > 0.05:
            mx, my = vx / speed, vy / speed
        else:
            mx, my = fx, fy
        phase = p.dist_at(t) / (0.7 * scale) * math.pi
        amp = min(0.32, 0.2 * speed) * (0.0 if lift > 0.02 else 1.0)
        sp, cp = math.sin(phase), math.cos(phase)
        spread = 0.12 * scale + crouch * 0.45
        step = min(1.0, speed / 1.5)
        tuck = 0.25 * lift
        foot_l = (x - sx * spread + mx * amp * sp, y - sy * spread + my * amp * sp, z0 + max(0.0, cp) * 0.14 * step + tuck + 0.05)
        foot_r = (x + sx * spread - mx * amp * sp, y + sy * spread - my * amp * sp, z0 + max(0.0, -cp) * 0.14 * step + tuck + 0.05)
        pole = (fx, fy, 0.1)
        knee_l = _ik(hip_l, foot_l, thigh, shin, pole)
        knee_r = _ik(hip_r, foot_r, thigh, shin, pole)
    toe_l = (foot_l[0] + fx * 0.14, foot_l[1] + fy * 0.14, foot_l[2] - 0.02)
    toe_r = (foot_r[0] + fx * 0.14, foot_r[1] + fy * 0.14, foot_r[2] - 0.02)
    # arms
    def hands_for(m):
        if m == "relaxed":
            swing = 0.0
            if speed > 0.05 and not sitting:
                swing = 0.22 * min(1.0, speed / 2.0) * math.sin(p.dist_at(t) / (0.7 * scale) * math.pi)
            return body(lean + swing, -sw - 0.04, sh_z - 0.42 * H + 0.05), body(lean - swing, sw + 0.04, sh_z - 0.42 * H + 0.05)
        if m == "ready":
            return body(0.34, -0.2 * scale, hip_z + 0.05), body(0.34, 0.2 * scale, hip_z + 0.05)
        if m == "sit":
            return body(0.38, -0.17, hip_z + 0.1), body(0.38, 0.17, hip_z + 0.1)
        if m == "block":
            return body(0.2, -0.14, sh_z + 0.4 * H), body(0.2, 0.14, sh_z + 0.4 * H)
        if m == "celebrate":
            return body(0.08, -0.32, sh_z + 0.36 * H), body(0.08, 0.32, sh_z + 0.36 * H)
        f, s, u = contact_offset(m, H)
        u = u - (0.0 if not sitting else 0.0)
        if m in ("bump", "dig"):
            return body(f - 0.1, s - 0.035, u - 0.09), body(f - 0.1, s + 0.035, u - 0.09)
        if m == "set":
            return body(f - 0.06, s - 0.1, u - 0.07), body(f - 0.06, s + 0.1, u - 0.07)
        if m in ("spike", "serve"):
            return body(0.38, -0.28, sh_z + 0.05), body(f - 0.06, s, u - 0.09)
        if m == "toss":
            return body(f, s, u - 0.1), body(-0.15, 0.28, sh_z - 0.15)
        if m == "hold":
            rel = hands_for("relaxed")
            return rel[0], body(f - 0.03, s, u - 0.1)
        if m == "dribble":
            rel = hands_for("relaxed")
            return rel[0], body(f, s, u + 0.1)
        if m in ("catch", "pickup"):
            return body(f - 0.05, s - 0.11, u), body(f - 0.05, s + 0.11, u)
        return hands_for("relaxed")

    base_hands = hands_for("ready" if base_mode == "ready" else base_mode)
    if w > 0:
        act_hands = hands_for(mode)
        hand_l = tuple(a + (b - a) * w for a, b in zip(base_hands[0], act_hands[0]))
        hand_r = tuple(a + (b - a) * w for a, b in zip(base_hands[1], act_hands[1]))
    else:
        hand_l, hand_r = base_hands
    upper, fore = 0.19 * H, 0.21 * H
    elb_l = _ik(sh_l, hand_l, upper, fore, (-fx * 0.3 - sx * 0.6, -fy * 0.3 - sy * 0.6, -0.5))
    elb_r = _ik(sh_r, hand_r, upper, fore, (-fx * 0.3 + sx * 0.6, -fy * 0.3 + sy * 0.6, -0.5))
    return [foot_l, foot_r, knee_l, knee_r, hip_l, hip_r, sh_l, sh_r, elb_l, elb_r, hand_l, hand_r, head, neck, toe_l, toe_r]


def _pt(uv):
    return (int(round(uv[0] * ONE)), int(round(uv[1] * ONE)))


def _col(c, k=1.0):
    return (min(255, c[0] * k), min(255, c[1] * k), min(255, c[2] * k))


def _palette(p: Person) -> dict:
    look = p.look
    beach = look.get("beach", False)
    shirt_is_skin = beach and p.team >= 0 and p.pid % 2 == 0
    shirt = look["skin"] if shirt_is_skin else look["jersey"]
    leg = look["skin"]
    return {
        "skin": _col(look["skin"]), "skin_dark": _col(look["skin"], 0.8), "hair": _col(look["hair"]),
        "shirt": _col(shirt), "shirt_dark": _col(shirt, 0.8), "shorts": _col(look["shorts"]),
        "leg": _col(leg), "leg_dark": _col(leg, 0.8),
        "shoes": _col(look["shoes"]) if not beach else _col(look["skin"], 0.85),
        "pads": None if beach or p.team < 0 else ((40, 40, 40) if p.pid % 3 else (225, 225, 225)),
        "top": _col(look["jersey"]) if shirt_is_skin and p.pid % 4 == 0 else None,
        "cap": _col(look["jersey"]), "shirt_is_skin": shirt_is_skin,
    }


class Painter:
    """Draws onto one frame with one camera."""

    def __init__(self, cam, frame: np.ndarray):
        self.cam = cam
        self.img = frame
        self.h, self.w = frame.shape[:2]

    def px(self, metres: float, depth: float, minimum: int = 1) -> int:
        return max(minimum, int(round(self.cam.f * metres / depth)))

    def radius(self, metres: float, depth: float) -> int:
        """A radius in OpenCV fixed point (1/16 px)."""
        return max(ONE // 2, int(round(self.cam.f * metres / depth * ONE)))

    def line(self, a, b, colour, width_m, depth):
        cv2.line(self.img, _pt(a), _pt(b), colour, self.px(width_m, depth), AA, SHIFT)

    def person(self, p: Person, joints_uv: np.ndarray, depths: np.ndarray, t: float) -> None:
        look = p.look
        cols = look.get("_cols")
        if cols is None:
            cols = look["_cols"] = _palette(p)
        q = (joints_uv * ONE + 0.5).astype(np.int64).tolist()
        q = [tuple(a) for a in q]
        k = self.cam.f / float(depths[HIP_L] + depths[HIP_R]) * 2.0  # pixels per metre

        def wpx(m):
            return max(1, int(m * k + 0.5))

        img = self.img
        line = cv2.line
        height_px = p.height * k
        if height_px < 28:  # far away: a few strokes
            line(img, q[FOOT_L], q[HIP_L], cols["leg"], wpx(0.14), AA, SHIFT)
            line(img, q[FOOT_R], q[HIP_R], cols["leg"], wpx(0.14), AA, SHIFT)
            hip = ((q[HIP_L][0] + q[HIP_R][0]) // 2, (q[HIP_L][1] + q[HIP_R][1]) // 2)
            sh = ((q[SH_L][0] + q[SH_R][0]) // 2, (q[SH_L][1] + q[SH_R][1]) // 2)
            line(img, hip, sh, cols["shirt"], wpx(0.36), AA, SHIFT)
            line(img, q[SH_L], q[HAND_L], cols["skin"], wpx(0.08), AA, SHIFT)
            line(img, q[SH_R], q[HAND_R], cols["skin"], wpx(0.08), AA, SHIFT)
            cv2.circle(img, q[HEAD], max(ONE // 2, int(0.11 * k * ONE)), cols["hair"], -1, AA, SHIFT)
            return
        left_far = depths[SH_L] > depths[SH_R]
        beach = look.get("beach", False)
        shirt_is_skin = cols["shirt_is_skin"]

        detail = height_px >= 70  # shoes, knee pads, sleeves, hands, shading
        polylines = cv2.polylines

        def leg(side, sh):
            foot, knee, hip, toe = (FOOT_L, KNEE_L, HIP_L, TOE_L) if side == 0 else (FOOT_R, KNEE_R, HIP_R, TOE_R)
            c = cols["leg"] if sh else cols["leg_dark"]
            if detail:
                line(img, q[hip], q[knee], c, wpx(0.15), AA, SHIFT)
                line(img, q[knee], q[foot], c, wpx(0.11), AA, SHIFT)
                line(img, q[foot], q[toe], cols["shoes"], wpx(0.09 if not beach else 0.07), AA, SHIFT)
                if cols["pads"] is not None:
                    cv2.circle(img, q[knee], max(ONE // 2, int(0.055 * k * ONE)), cols["pads"], -1, AA, SHIFT)
            else:
                polylines(img, [np.array((q[hip], q[knee], q[foot], q[toe]), np.int32)], False, c, wpx(0.13), AA, SHIFT)

        def arm(side, sh):
            s_, e_, h_ = (SH_L, ELB_L, HAND_L) if side == 0 else (SH_R, ELB_R, HAND_R)
            c = cols["skin"] if sh else cols["skin_dark"]
            if not detail:
                polylines(img, [np.array((q[s_], q[e_], q[h_]), np.int32)], False, c, wpx(0.085), AA, SHIFT)
                return
            line(img, q[s_], q[e_], c, wpx(0.09), AA, SHIFT)
            line(img, q[e_], q[h_], c, wpx(0.075), AA, SHIFT)
            if not shirt_is_skin:
                a, b = q[s_], q[e_]
                mid = ((a[0] * 3 + b[0] * 2) // 5, (a[1] * 3 + b[1] * 2) // 5)
                line(img, a, mid, cols["shirt"] if sh else cols["shirt_dark"], wpx(0.11), AA, SHIFT)
            cv2.circle(img, q[h_], max(ONE // 2, int(0.045 * k * ONE)), c, -1, AA, SHIFT)

        far, near = (0, 1) if left_far else (1, 0)
        leg(far, False)
        arm(far, False)
        leg(near, True)
        hl, hr, sl, sr, kl, kr = q[HIP_L], q[HIP_R], q[SH_L], q[SH_R], q[KNEE_L], q[KNEE_R]

        def lerp(a, b, w):
            return (int(a[0] + (b[0] - a[0]) * w), int(a[1] + (b[1] - a[1]) * w))

        wl, wr = lerp(hr, hl, 1.12), lerp(hl, hr, 1.12)
        cv2.fillConvexPoly(img, np.array([wl, wr, lerp(hr, kr, 0.45), lerp(hl, kl, 0.45)], np.int32), cols["shorts"], AA, SHIFT)
        tl, tr = lerp(sr, sl, 1.05), lerp(sl, sr, 1.05)
        cv2.fillConvexPoly(img, np.array([wl, wr, tr, tl], np.int32), cols["shirt"], AA, SHIFT)
        if cols["top"] is not None:
            cv2.fillConvexPoly(img, np.array([lerp(wl, sl, 0.6), lerp(wr, sr, 0.6), lerp(wr, sr, 0.92), lerp(wl, sl, 0.92)],
                                             np.int32), cols["top"], AA, SHIFT)
        if detail:
            a, b, c2, d2 = (tr, wr, tl, wl) if left_far else (tl, wl, tr, wr)
            cv2.fillConvexPoly(img, np.array([a, b, lerp(b, d2, 0.3), lerp(a, c2, 0.3)], np.int32), cols["shirt_dark"], AA, SHIFT)
        arm(near, True)
        r = max(ONE // 2, int(self.cam.f * 0.11 / float(depths[HEAD]) * ONE))
        if detail:
            line(img, q[NECK], q[HEAD], cols["skin_dark"], wpx(0.09), AA, SHIFT)
        hc = q[HEAD]
        cv2.circle(img, hc, r, cols["skin"], -1, AA, SHIFT)
        fx, fy = p.facing(t)
        away = fx * self.cam.rot[2][0] + fy * self.cam.rot[2][1]  # > 0: we see the back of the head
        if look.get("cap"):
            cv2.ellipse(img, hc, (r, r), 0, 180, 360, cols["cap"], -1, AA, SHIFT)
        elif away > 0.3:
            cv2.circle(img, hc, r, cols["hair"], -1, AA, SHIFT)
        else:
            start = 180 - 40 * max(0.0, away)
            cv2.ellipse(img, hc, (r, r), 0, start, 540 - start, cols["hair"], -1, AA, SHIFT)

    def shadow(self, centre_uv, rx: float, ry: float, factor: float, angle: float = 0.0) -> None:
        u, v = int(centre_uv[0]), int(centre_uv[1])
        if not (0 <= u < self.w and 0 <= v < self.h) or rx < 0.5:
            return
        c = self.img[v, u].astype(np.float32) * factor
        cv2.ellipse(self.img, _pt(centre_uv), (max(1, int(rx * ONE)), max(1, int(ry * ONE))), angle, 0, 360,
                    (float(c[0]), float(c[1]), float(c[2])), -1, AA, SHIFT)

    def ball(self, uv, r_px: float, colours, spin: float, blur_uv: tuple[float, float]) -> None:
        """A shaded ball of radius r_px at uv, smeared by `blur_uv` pixels of motion."""
        base, panel = colours
        bu, bv = blur_uv
        blur = math.hypot(bu, bv)
        h, w = self.h, self.w
        if r_px < 0.8:
            r_px = 0.8
        if blur > 0.6 * r_px:
            x0 = int(max(0, math.floor(uv[0] - blur / 2 - r_px - 2)))
            x1 = int(min(w, math.ceil(uv[0] + blur / 2 + r_px + 3)))
            y0 = int(max(0, math.floor(uv[1] - abs(bv) / 2 - r_px - 2)))
            y1 = int(min(h, math.ceil(uv[1] + abs(bv) / 2 + r_px + 3)))
            if x1 <= x0 or y1 <= y0:
                return
            roi = self.img[y0:y1, x0:x1]
            layer = roi.copy()
            mix = tuple((b * 0.7 + p * 0.3) for b, p in zip(base, panel))
            c = ((uv[0] - x0) * ONE, (uv[1] - y0) * ONE)
            ang = math.degrees(math.atan2(bv, bu))
            axes = (int((blur / 2 + r_px) * ONE), int(r_px * ONE))
            cv2.ellipse(layer, (int(c[0]), int(c[1])), axes, ang, 0, 360, mix, -1, AA, SHIFT)
            inner = (int(max(1, (blur / 2 + r_px * 0.5)) * ONE), int(max(1, r_px * 0.5) * ONE))
            cv2.ellipse(layer, (int(c[0]), int(c[1])), inner, ang, 0, 360, _col(mix, 1.1), -1, AA, SHIFT)
            alpha = min(1.0, (2 * r_px) / (blur + 2 * r_px) * 1.6)
            cv2.addWeighted(layer, alpha, roi, 1 - alpha, 0, dst=roi)
            return
        c = _pt(uv)
        r = int(r_px * ONE)
        cv2.circle(self.img, c, r, _col(base, 0.62), -1, AA, SHIFT)
        off = int(r_px * 0.14 * ONE)
        cv2.circle(self.img, (c[0] - off, c[1] - off), int(r_px * 0.84 * ONE), _col(base), -1, AA, SHIFT)
        if r_px >= 3.0:
            ang = math.degrees(spin) % 360
            th = max(1, int(r_px * 0.28))
            for k in (0, 120):
                cv2.ellipse(self.img, c, (int(r_px * 0.62 * ONE), int(r_px * 0.3 * ONE)), ang + k, 200, 340,
                            _col(panel), th, AA, SHIFT)
            cv2.circle(self.img, (c[0] - int(r_px * 0.35 * ONE), c[1] - int(r_px * 0.35 * ONE)),
                       max(1, int(r_px * 0.2 * ONE)), _col(base, 1.25), -1, AA, SHIFT)
        elif r_px >= 1.5:
            cv2.circle(self.img, c, max(1, int(r_px * 0.45 * ONE)), _col(panel, 0.9), -1, AA, SHIFT)
