"""What surrounds the rallies: the warm-up with several balls, players idling between
points, the referee, substitutes on the bench, spectators, and a neighbouring court."""

from __future__ import annotations

import math

import numpy as np

from volley.synth.motion import Ball, Held, Person, Roll, Still, arc_time
from volley.synth.venue import BALL_R, HAIRS, SKINS
from volley.synth.spec import BEHIND_AN_END


def _clip_half(plan, team_side: int, x: float, y: float) -> tuple[float, float]:
    v = plan.v
    x = float(np.clip(x, -v.half_w - 1.5, v.half_w + 1.5))
    y = float(np.clip(abs(y), 0.8, v.half_l + 1.0)) * team_side
    return x, y


def warm_up(plan, server: Person) -> float:
    """Two or three balls played around at once for 10-20 s; returns when it ends."""
    rng, v = plan.rng, plan.v
    t_end = rng.uniform(10.0, 20.0)
    others = [p for p in plan.players if p is not server]
    rng.shuffle(others)
    if v.indoor:
        n_balls = int(rng.integers(2, 4))
        groups = [others[2 * i:2 * i + 2] for i in range(n_balls)]
    else:
        groups = [others[:2], others[2:3]]
    colours = [v.ball_colours, ((235, 235, 235), (170, 90, 20)), ((30, 215, 245), (170, 90, 20))]
    cart = (-float(v.stands) * (v.half_w + 2.2), float(rng.uniform(-4, 4)))
    for gi, group in enumerate(groups):
        ball = Ball(colours[gi % len(colours)], f"warmup{gi}")
        plan.extra_balls.append(ball)
        if len(group) == 1:
            _juggle(plan, group[0], ball, t_end, cart)
        else:
            cross = v.indoor and gi == 1 and rng.random() < 0.6
            _pepper(plan, group[0], group[1], ball, t_end, cart, cross)
    # over once every warm-up ball lies by the side
    return max(b.t_end for b in plan.extra_balls) + rng.uniform(0.5, 2.0)


def _spot(plan, p: Person, x: float, y: float, t_end: float) -> None:
    p.place(x, y)
    p.stay(t_end + 0.5)
    p.pin(0.0, t_end + 0.5)


def _pepper(plan, a: Person, b: Person, ball: Ball, t_end: float, cart, cross: bool) -> None:
    rng, v = plan.rng, plan.v
    sa = -1 if a.team == 0 else 1
    xa = rng.uniform(-v.half_w + 1, v.half_w - 1)
    ya = sa * rng.uniform(2.5 if cross else 1.5, 6.5)
    if cross:
        xb, yb = rng.uniform(-v.half_w + 1, v.half_w - 1), -sa * rng.uniform(3.0, 7.0)
    else:
        ang = rng.uniform(0, 2 * math.pi)
        dist = rng.uniform(3.5, 6.0)
        xb, yb = _clip_half(plan, sa, xa + dist * math.cos(ang), ya + dist * math.sin(ang))
    _spot(plan, a, xa, ya, t_end)
    _spot(plan, b, xb, yb, t_end)
    fa = _dir((xa, ya), (xb, yb))
    fb = (-fa[0], -fa[1])
    t = rng.uniform(0.3, 2.5)
    ball.add(Still(0.0, t, a.ball_point(t, "catch", fa)))
    hitter, other, f_h, f_o = a, b, fa, fb
    while True:
        if cross and hitter is a:
            mode = "serve"
        else:
            mode = "bump" if rng.random() < 0.6 else "set"
        mode_o = "dig" if cross and other is b else ("bump" if rng.random() < 0.6 else "set")
        c0 = hitter.ball_point(t, mode, f_h)
        c1 = other.ball_point(t + 1.0, mode_o, f_o)
        if mode == "serve":
            f = plan._clear_net(t, c0, c1, rng.uniform(9.0, 13.0), margin=0.1)
            dur = f.t1 - t
        else:
            apex = max(c0[2], c1[2]) + rng.uniform(1.0, 2.5)
            if cross:
                apex = max(apex, v.net_top + 1.2)
            dur = arc_time(c0[2], c1[2], apex)
        hitter.act(t - 0.18, t + 0.08, mode, f_h)
        plan.sound(t, "hit", 0.5, c0)
        if t + dur > t_end:  # the last one is caught, then rolled (or thrown) to the side
            c1 = other.ball_point(t + dur, "catch", f_o)
            plan.fly(t, c0, c1, dur, ball=ball, spin=4.0)
            t += dur
            other.act(t - 0.3, t + 0.5, "catch", f_o)
            _to_cart(plan, other, ball, t + 0.6, cart)
            return
        plan.fly(t, c0, c1, dur, ball=ball, spin=5.0)
        t += dur
        hitter, other, f_h, f_o = other, hitter, f_o, f_h


def _juggle(plan, p: Person, ball: Ball, t_end: float, cart) -> None:
    """One player passing the ball to himself."""
    rng, v = plan.rng, plan.v
    s = -1 if p.team == 0 else 1
    x, y = rng.uniform(-v.half_w, v.half_w), s * rng.uniform(2.0, 7.0)
    _spot(plan, p, x, y, t_end)
    f = (0.0, -float(s))
    t = rng.uniform(0.5, 2.0)
    ball.add(Still(0.0, t, p.ball_point(t, "catch", f)))
    while t < t_end:
        mode = "bump" if rng.random() < 0.5 else "set"
        c0 = p.ball_point(t, mode, f)
        dur = arc_time(c0[2], c0[2], c0[2] + rng.uniform(0.8, 2.2))
        p.act(t - 0.18, t + 0.08, mode, f)
        plan.sound(t, "hit", 0.4, c0)
        plan.fly(t, c0, c0, dur, ball=ball, spin=3.0)
        t += dur
    c = p.ball_point(t, "catch", f)
    ball.segs[-1].t1 = t
    p.act(t - 0.3, t + 0.5, "catch", f)
    _to_cart(plan, p, ball, t + 0.6, cart)


def _to_cart(plan, p: Person, ball: Ball, t: float, cart) -> None:
    rng, v = plan.rng, plan.v
    c = p.ball_point(t, "catch")
    ball.add(Held(ball.t_end, t, p, "catch"))
    px, py = p.at(t)
    spot = (cart[0] + rng.uniform(-0.4, 0.4), cart[1] + rng.uniform(-0.6, 0.6), BALL_R)
    if v.indoor:
        p.act(t - 0.2, t + 0.3, "pickup", _dir((px, py), spot))
        ball.add(Held(t, t + 0.3, p, "pickup", blend_from="catch"))
        p0 = p.ball_point(t + 0.3, "pickup", _dir((px, py), spot))
        d = max(math.hypot(spot[0] - p0[0], spot[1] - p0[1]), 1e-3)
        u = ((spot[0] - p0[0]) / d, (spot[1] - p0[1]) / d)
        dur = rng.uniform(1.5, 2.5)  # rolled firmly; the bench or the ball cart stops it
        s0, decel = 2 * d / dur, 2 * d / dur**2
        ball.add(Roll(t + 0.3, t + 0.3 + dur, p0[:2], u, s0, decel))
        ball.add(Still(t + 0.3 + dur, t + 0.3 + dur + 1e-3, (p0[0] + u[0] * d, p0[1] + u[1] * d, BALL_R)))
    else:
        dur = arc_time(c[2], BALL_R, max(c[2], BALL_R) + 1.0)
        f = plan.fly(t, c, spot, dur, ball=ball, spin=3.0)
        plan.settle(f.t1, spot, f.vel(f.t1), ball=ball, sounds=False)


def _dir(a, b) -> tuple[float, float]:
    dx, dy = b[0] - a[0], b[1] - a[1]
    n = math.hypot(dx, dy)
    return (dx / n, dy / n) if n > 1e-6 else (0.0, 1.0)


def wander(plan) -> None:
    """Players stroll about in the long gaps between what the plan needs them to do."""
    rng, v = plan.rng, plan.v
    for p in plan.players:
        kt, kx, ky = list(p.kt), list(p.kx), list(p.ky)
        if kt[-1] < plan.duration:
            kt.append(plan.duration + 1.0), kx.append(kx[-1]), ky.append(ky[-1])
        s = -1 if p.team == 0 else 1
        nt, nx, ny = [kt[0]], [kx[0]], [ky[0]]
        for i in range(len(kt) - 1):
            t0, t1 = kt[i], kt[i + 1]
            free = t1 - t0 > 3.0 and not any(a < t1 and b > t0 for a, b in p.pins)
            if free:
                n = int(min(4, (t1 - t0) // 3.0))
                for j in range(1, n + 1):
                    tm = t0 + (t1 - t0) * j / (n + 1) + rng.uniform(-0.3, 0.3)
                    w = (tm - t0) / (t1 - t0)
                    bx, by = kx[i] + (kx[i + 1] - kx[i]) * w, ky[i] + (ky[i + 1] - ky[i]) * w
                    wx, wy = _clip_half(plan, s, bx + rng.uniform(-1.5, 1.5), by + rng.uniform(-1.5, 1.5))
                    if math.hypot(wx - nx[-1], wy - ny[-1]) / max(tm - nt[-1], 0.1) < 1.3:
                        nt.append(tm), nx.append(wx), ny.append(wy)
            if math.hypot(kx[i + 1] - nx[-1], ky[i + 1] - ny[-1]) / max(t1 - nt[-1], 1e-3) > 2.0 and free:
                nt.pop(), nx.pop(), ny.pop()
            nt.append(t1), nx.append(kx[i + 1]), ny.append(ky[i + 1])
        p.kt, p.kx, p.ky, p.kd = [nt[0]], [nx[0]], [ny[0]], [0.0]
        for t, x, y in zip(nt[1:], nx[1:], ny[1:]):
            if t > p.kt[-1] + 1e-6:
                p._append(t, x, y)


def _bystander(plan, team: int, h: float, look: dict, x: float, y: float, z: float = 0.0) -> Person:
    p = Person(1000 + len(plan.others), team, h, look)
    p.place(x, y)
    p.base_z = z
    plan.others.append(p)
    return p


def _plain_look(rng, shirt=None) -> dict:
    shirt = shirt if shirt is not None else tuple(float(c) for c in rng.integers(20, 240, 3))
    return {"jersey": shirt, "skin": SKINS[rng.integers(len(SKINS))], "hair": HAIRS[rng.integers(len(HAIRS))],
            "shorts": tuple(float(c) for c in rng.integers(20, 120, 3)), "shoes": (60, 60, 60),
            "beach": False, "cap": False}


def add_bystanders(plan) -> None:
    rng, v = plan.rng, plan.v
    # the first referee, up on his stand by a post
    ref_side = float(rng.choice([-1, 1])) if v.extras.get("view") in BEHIND_AN_END else 1.0  # not in front of a side camera
    ref = _bystander(plan, -1, 1.8, _plain_look(rng, (30, 30, 30)), ref_side * (v.post_x + 0.55), 0.0, 1.2)
    ref.home_facing = (-ref_side, 0.0)
    ref.watch = plan._watch
    ref.sway = 0.03
    plan.referee_stand = (ref_side * (v.post_x + 0.55), 0.0, 1.2)
    if not plan.distractors:
        plan.crowd = []
        return
    # substitutes on the bench
    bench_x = -float(v.stands) * (v.half_w + 2.0) if v.extras.get("view") in BEHIND_AN_END else (v.half_w + 1.8)
    for team in (0, 1):
        s = -1 if team == 0 else 1
        for i in range(int(rng.integers(2, 5)) if v.indoor else 0):
            sub = _bystander(plan, team, rng.uniform(1.8, 2.0), plan._look(team), bench_x, s * (2.0 + 0.7 * i))
            sub.look = dict(sub.look, sitting=True)
            sub.home_facing = (-math.copysign(1.0, bench_x), 0.0)
            sub.watch = plan._watch
            sub.sway = 0.05
            for a, b in plan.rallies:
                if rng.random() < 0.15:
                    sub.act(b + 0.5, b + rng.uniform(1.0, 2.0), "celebrate", None)
    # spectators in the stands (a few dozen move; the rest are painted in the background)
    crowd = []
    xs0 = v.half_w + 3.5
    rows = 7
    length = v.half_l + 2.0 if v.indoor else v.half_l
    for row in range(rows):
        x = v.stands * (xs0 + 0.85 * (row + 0.5))
        z = 0.6 + 0.55 * (0.85 * (row + 0.5))
        y = -length + rng.uniform(0.2, 0.8)
        while y < length:
            if rng.random() < 0.55:
                crowd.append((x + rng.uniform(-0.1, 0.1), y, z))
            y += rng.uniform(0.5, 0.9)
    rng.shuffle(crowd)
    n_move = min(len(crowd), 12)
    for x, y, z in crowd[:n_move]:
        sp = _bystander(plan, -1, rng.uniform(1.6, 1.9), _plain_look(rng), x, y, z - 0.45)
        sp.look = dict(sp.look, sitting=True)
        sp.home_facing = (-float(v.stands), 0.0)
        sp.watch = plan._watch
        sp.sway = rng.uniform(0.02, 0.08)
        for a, b in plan.rallies:
            if rng.random() < 0.12:
                sp.act(b + 0.4, b + rng.uniform(1.0, 2.5), "celebrate", None)
    plan.crowd = [(x, y, z, tuple(float(c) for c in rng.integers(20, 240, 3)), SKINS[rng.integers(len(SKINS))],
                   HAIRS[rng.integers(len(HAIRS))]) for x, y, z in crowd[n_move:]]
    _neighbour_court(plan)


def _neighbour_court(plan) -> None:
    """Two against two on the next court, with a ball now and then."""
    rng, v = plan.rng, plan.v
    if v.neighbour is None:
        return
    cx, cy = v.neighbour
    people = []
    for i in range(4):
        s = -1 if i < 2 else 1
        p = _bystander(plan, -1, rng.uniform(1.75, 2.0), _plain_look(rng), cx + rng.uniform(-3, 3), cy + s * rng.uniform(2, 7))
        p.home_facing = (0.0, -float(s))
        people.append(p)
    ball = Ball(((235, 235, 235), (40, 40, 200)), "neighbour")
    plan.extra_balls.append(ball)
    t = rng.uniform(3.0, 15.0)
    holder = people[0]
    ball.add(Still(0.0, t, holder.ball_point(t, "catch", holder.home_facing)))
    while t < plan.duration:
        # a short exchange: 2-6 touches
        n = int(rng.integers(2, 7))
        for _ in range(n):
            other = people[int(rng.integers(4))]
            if other is holder:
                continue
            f_h = _dir(holder.at(t), other.at(t))
            f_o = (-f_h[0], -f_h[1])
            mode = "bump" if rng.random() < 0.6 else "set"
            c0 = holder.ball_point(t, mode, f_h)
            c1 = other.ball_point(t + 1, "bump", f_o)
            dur = arc_time(c0[2], c1[2], max(c0[2], c1[2]) + rng.uniform(1.5, 4.0))
            holder.act(t - 0.18, t + 0.08, mode, f_h)
            plan.sound(t, "hit", 0.15, c0)
            plan.fly(t, c0, c1, dur, ball=ball, spin=4.0)
            t += dur
            holder = other
        f_h = holder.home_facing
        ball.segs[-1].t1 = t
        pause = rng.uniform(6.0, 20.0)
        holder.act(t - 0.3, t + pause, "catch", f_h)
        ball.add(Held(t, t + pause, holder, "catch"))
        # they shuffle about while the ball is dead
        for p in people:
            x, y = p.at(t)
            s = 1 if y > cy else -1
            p.walk(t + rng.uniform(0.5, 2.0), cx + rng.uniform(-3, 3), cy + s * rng.uniform(2, 7), rng.uniform(0.6, 1.2))
            p.stay(t + pause - 0.2)
        t += pause
