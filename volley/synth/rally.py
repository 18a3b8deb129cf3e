"""One rally, from the serve contact to the ball's first touch of the floor: the serve
(an ace, out, into the net, or received), then up to three touches a side (pass,
set, attack), blocks, digs, and the point's end. Mixed into `volley.synth.game.Plan`."""

from __future__ import annotations

import math

import numpy as np

from volley.synth.motion import Flight, Person, aim, arc_time, contact_offset
from volley.synth.venue import BALL_R, G

SERVE_END = ("ace", "net", "out")


def side(team: int) -> int:
    """The half a team plays in: team 0 at y < 0, team 1 at y > 0."""
    return -1 if team == 0 else 1


class RallyPlay:
    """The rally half of the game plan (it uses the Plan's people, ball and helpers)."""

    def _formations(self, serving: int, t_serve: float, server: Person) -> None:
        rng = self.rng
        for team in (0, 1):
            receiving = team != serving
            for z in range(1, self.per_team + 1):
                p = self.in_zone(team, z)
                if p is server:
                    continue
                x, y = self.zone_pos(team, z, receiving)
                t0 = max(t_serve - rng.uniform(3.5, 6.0), p.pinned_until())
                px, py = p.at(t0)
                p.go(t0, max(t_serve - rng.uniform(0.6, 1.2), t0 + math.hypot(x - px, y - py) / 5.0), x, y)
                p.stay(t_serve + 0.3)
                p.pin(t_serve - 1.2, t_serve + 0.3)

    def _play(self, t_serve: float, server: Person, serving: int, kind: str) -> tuple[float, int]:
        """Plays one rally from the serve contact. Returns (first floor contact, losing team)."""
        rng, v = self.rng, self.v
        self._formations(serving, t_serve, server)
        s = side(serving)
        recv = 1 - serving
        r = -s
        c0 = self._serve_contact
        self.sound(t_serve, "hit", 1.0, c0)
        jump = server.lift(t_serve) > 0.1
        speed = rng.uniform(18.0, 26.0) if jump else rng.uniform(12.5, 18.0)
        if not v.indoor:
            speed *= 0.85
        self.outcomes.append(kind)
        hw, hl = v.half_w, v.half_l
        if kind == "net":
            tx, ty = rng.uniform(-hw + 0.5, hw - 0.5), r * rng.uniform(3.0, hl - 1.0)
            target = (tx, ty, BALL_R)
            want = rng.uniform(v.net_low + 0.25, v.net_top - 0.25)
            lo, hi = 0.35, 3.0
            for _ in range(40):
                mid = 0.5 * (lo + hi)
                vv, k = aim(c0, target, mid)
                f = Flight(t_serve, t_serve + mid, c0, vv, k)
                z = self.net_height_at(f)
                if z is None or z < want:
                    lo = mid
                else:
                    hi = mid
            f = self._into_net(t_serve, c0, target, 0.5 * (lo + hi))
            return f, serving
        if kind == "out":
            if rng.random() < 0.6:
                target = (rng.uniform(-hw, hw), r * rng.uniform(hl + 0.25, hl + 2.5), BALL_R)
            else:
                sx = rng.choice([-1, 1])
                target = (sx * rng.uniform(hw + 0.25, hw + 1.5), r * rng.uniform(2.0, hl), BALL_R)
            f = self._clear_net(t_serve, c0, target, speed)
            self.ball.add(f)
            self._dive_for(recv, f, late=True)
            return self._end(f, loser=serving)
        if kind == "ace":
            target = (rng.uniform(-hw + 0.3, hw - 0.3), r * rng.uniform(1.5, hl - 0.3), BALL_R)
            f = self._clear_net(t_serve, c0, target, speed, deepest=hl - 0.3)
            self.ball.add(f)
            self._dive_for(recv, f, late=True)
            return self._end(f, loser=recv)
        # received serve
        tx, ty = rng.uniform(-hw + 0.8, hw - 0.8), r * rng.uniform(4.0, hl - 0.8)
        receivers = [p for p in self.team(recv) if p is not self.setter(recv)] or self.team(recv)
        f = self._clear_net(t_serve, c0, (tx, ty, 0.75), speed, deepest=hl - 0.8)
        tx, ty, _ = f.pos(f.t1)
        rec = self.nearest(receivers, tx, ty, t_serve)
        face = self._face_towards((tx, ty), c0)
        target = (tx, ty, contact_offset("bump", rec.height)[2])
        vv, k = aim(c0, target, f.t1 - f.t0)
        f = Flight(f.t0, f.t1, c0, vv, k, spin=6.0)
        self.ball.add(f)
        self.touch(rec, f.t1, target, "bump", face)
        self._defence_after_serve(serving, t_serve, server)
        return self._possession(recv, rec, f.t1, target, flights=1, first="reception")

    def _face_towards(self, frm, to) -> tuple[float, float]:
        dx, dy = to[0] - frm[0], to[1] - frm[1]
        n = math.hypot(dx, dy) or 1.0
        return dx / n, dy / n

    def _clear_net(self, t0: float, p0, target, speed: float, margin: float = 0.12, deepest: float | None = None) -> Flight:
        """A flight from p0 to target at about `speed` that clears the net: the target
        moves deeper (up to |y| = `deepest`) first, then the ball is slowed down."""
        target = tuple(target)
        for _ in range(120):
            dur = math.dist(p0[:2], target[:2]) / speed * 1.1
            vv, k = aim(p0, target, dur)
            f = Flight(t0, t0 + dur, p0, vv, k, spin=6.0)
            z = self.net_height_at(f)
            if z is None or z > self.v.net_top + BALL_R + margin:
                return f
            if deepest is not None and abs(target[1]) + 0.3 <= deepest:
                target = (target[0], target[1] + math.copysign(0.3, target[1]), target[2])
            else:
                speed /= 1.04
        return f

    def _into_net(self, t0: float, p0, target, dur: float) -> float:
        """The ball is stopped by the net and drops; returns the floor contact time."""
        vv, k = aim(p0, target, dur)
        f = Flight(t0, t0 + dur, p0, vv, k, spin=5.0)
        tc = f.time_at_y(0.0) or f.t1
        back = -math.copysign(1.0, vv[1])
        tc_front = self._time_at_y(f, back * (BALL_R + 0.02), tc)
        f.t1 = tc_front
        self.ball.add(f)
        px, py, pz = f.pos(tc_front)
        wx, wy, wz = f.vel(tc_front)
        self.sound(tc_front, "net", 0.5, (px, py, pz))
        g = Flight(tc_front, tc_front + 5.0, (px, py, pz), (wx * 0.25, -wy * 0.12, min(wz, 0.0) * 0.25), 0.05, spin=2.0)
        t_floor = g.time_down_to(BALL_R, 5.0)
        g.t1 = t_floor
        self.ball.add(g)
        t_end, _ = self._end(g, loser=None)
        return t_end

    @staticmethod
    def _time_at_y(f: Flight, y: float, t_guess: float) -> float:
        t = f.time_at_y(y)
        return t if t is not None else t_guess

    def _end(self, f: Flight, loser: int | None):
        """The rally's last flight `f` reaches the floor at f.t1: bounces and rolls."""
        t_end = f.t1
        p = f.pos(t_end)
        if loser is None:
            loser = 0 if p[1] < 0 else 1
        vel = f.vel(t_end)
        self._lie_t, self._lie_p = self.settle(t_end, p, vel)
        self.sound(t_end + self.rng.uniform(0.3, 0.9), "whistle", 0.9, (0, 0, 3))
        return t_end, loser

    def _dive_for(self, team: int, f: Flight, late: bool) -> None:
        """The nearest player goes for a ball he cannot reach."""
        x, y, _ = f.pos(f.t1)
        p = self.nearest(self.team(team), x, y, f.t0)
        px, py = p.at(f.t0)
        d = math.hypot(x - px, y - py)
        if d < 0.1:
            return
        reach = max(0.0, d - (1.0 if late else 0.3))
        gx, gy = px + (x - px) / d * reach, py + (y - py) / d * reach
        p.go(f.t0 + 0.25, f.t1 + 0.05, gx, gy)
        p.act(f.t1 - 0.2, f.t1 + 0.3, "dig", self._face_towards((px, py), (x, y)))

    def _defence_after_serve(self, serving: int, t_serve: float, server: Person) -> None:
        rng = self.rng
        s = side(serving)
        for z in range(1, self.per_team + 1):
            p = self.in_zone(serving, z)
            x, y = self.zone_pos(serving, z, receiving=False)
            if p is server:
                x, y = -s * 3.0 * (1 if self.v.indoor else 0.6), s * rng.uniform(5.0, 6.5)
            p.go(max(t_serve + 0.3, p.busy_until() if p.busy_until() < t_serve + 1.5 else t_serve + 0.3),
                 t_serve + rng.uniform(1.2, 1.8), x + rng.uniform(-0.5, 0.5), y)

    def _possession(self, team: int, first_player: Person, t1: float, c1, flights: int, first: str):
        """`team` has just played its first touch at (t1, c1). Plays the rest."""
        rng, v = self.rng, self.v
        s = side(team)
        hw, hl = v.half_w, v.half_l
        flights += 1
        # --- the first touch goes up to the setting spot (or a shank ends the rally)
        if first == "dig" and rng.random() < 0.22 or flights >= 8:
            if rng.random() < 0.6:
                tgt = (rng.choice([-1, 1]) * rng.uniform(hw + 0.5, hw + 3.0), s * rng.uniform(1.0, hl + 2.0), BALL_R)
            else:
                tgt = (rng.uniform(-hw, hw), s * rng.uniform(hl + 0.5, hl + 3.0), BALL_R)
            dur = arc_time(c1[2], BALL_R, c1[2] + rng.uniform(0.5, 3.0))
            f = self.fly(t1, c1, tgt, dur, spin=12.0)
            self.sound(t1, "hit", 0.8, c1)
            return self._end(f, loser=team)
        setter = self.setter(team)
        good = rng.random() < 0.7
        if setter is first_player:
            good = False
        if good:
            sx, sy = -s * rng.uniform(0.3, 1.5), s * rng.uniform(0.7, 1.4)
            p2 = setter
            mode2 = "set"
        else:
            sx, sy = rng.uniform(-hw + 1, hw - 1), s * rng.uniform(1.2, 4.0)
            p2 = setter if setter is not first_player and rng.random() < 0.5 else self.nearest(
                self.team(team), sx, sy, t1, exclude=(first_player,))
            mode2 = "set" if rng.random() < 0.5 else "bump"
        c2 = (sx, sy, contact_offset(mode2, p2.height)[2])
        apex = max(c1[2], c2[2]) + rng.uniform(1.5, 4.0)
        apex = min(apex, self._ceiling_limit())
        dur = arc_time(c1[2], c2[2], apex)
        self.sound(t1, "hit", 0.55, c1)
        f = self.fly(t1, c1, c2, dur, spin=5.0)
        t2 = f.t1
        face2 = (-s * 0.3, -float(s)) if mode2 == "set" else self._face_towards(c2[:2], c1[:2])
        n = math.hypot(*face2)
        face2 = (face2[0] / n, face2[1] / n)
        self.touch(p2, t2, c2, mode2, face2)
        flights += 1
        # --- the set, to a hitter
        front = [p for p in self.front_row(team) if p is not p2] or [p for p in self.team(team) if p is not p2]
        spot = rng.choice(["left", "middle", "right", "back"], p=[0.45, 0.2, 0.2, 0.15] if v.indoor else [0.5, 0.0, 0.5, 0.0])
        ax = {"left": s * (hw - 0.8), "middle": s * -0.3, "right": -s * (hw - 0.8), "back": s * rng.uniform(-2, 2)}[spot]
        ay = s * (rng.uniform(3.3, 4.0) if spot == "back" else rng.uniform(0.7, 1.5))
        hitter = self.nearest(front, ax, ay, t2)
        if spot == "back":
            hitter = self.nearest([p for p in self.team(team) if p not in (p2,) and p not in self.front_row(team)] or front, ax, ay, t2)
        lift = rng.uniform(0.55, 0.9) if v.indoor else rng.uniform(0.4, 0.7)
        c3 = (ax, ay, contact_offset("spike", hitter.height)[2] + lift)
        tempo = rng.random()
        if spot == "middle" and tempo < 0.6:
            apex3 = max(c2[2], c3[2]) + rng.uniform(0.3, 0.9)
        else:
            apex3 = max(c2[2], c3[2]) + rng.uniform(1.5, 4.5)
        apex3 = min(apex3, self._ceiling_limit())
        dur = arc_time(c2[2], c3[2], apex3)
        self.sound(t2, "hit", 0.4, c2)
        f = self.fly(t2, c2, c3, dur, spin=2.0)
        t3 = f.t1
        flights += 1
        free_ball = rng.random() < 0.1
        face3 = (0.0, -float(s))
        if free_ball:  # no attack: the third touch bumps it over; re-aim the set lower
            c3 = (ax, ay, contact_offset("bump", hitter.height)[2])
            self.ball.segs.pop(), self.ball._starts.pop()
            dur = arc_time(c2[2], c3[2], apex3)
            f = self.fly(t2, c2, c3, dur, spin=2.0)
            t3 = f.t1
            self.touch(hitter, t3, c3, "bump", face3)
        else:
            self._attack_run(hitter, t3, c3, lift, face3)
        return self._attack(team, hitter, t3, c3, flights, soft=free_ball)

    def _ceiling_limit(self) -> float:
        return self.v.ceiling - 1.2 if self.v.indoor else 12.0

    def _attack_run(self, hitter: Person, t: float, contact, lift: float, facing) -> None:
        rng = self.rng
        bx, by = hitter.base_for(contact, "spike", facing)
        half = math.sqrt(2 * lift / G)
        run = rng.uniform(2.0, 3.2)
        sx, sy = bx - facing[0] * run, by - facing[1] * run
        t_take = t - half
        t_back = t_take - rng.uniform(0.7, 1.0)
        hitter.go(max(t_back - 0.9, hitter.busy_until() if hitter.busy_until() < t_back - 0.3 else t_back - 0.9), t_back, sx, sy)
        hitter.go(t_back + 0.05, t_take, bx, by)
        hitter.stay(t + half)
        hitter.go(t + half, t + half + 0.6, bx + facing[0] * 0.5, by + facing[1] * 0.5)
        hitter.jump(t, lift)
        hitter.act(t - 0.45, t + 0.1, "spike", facing)
        hitter.pin(t_back - 0.9, t + half + 0.6)

    def _attack(self, team: int, hitter: Person, t3: float, c3, flights: int, soft: bool):
        rng, v = self.rng, self.v
        s = side(team)
        d = -s  # defending side
        opp = 1 - team
        hw, hl = v.half_w, v.half_l
        self.sound(t3, "hit", 0.6 if soft else 1.0, c3)
        u = rng.random()
        can_go_on = flights + 1 < 8
        if soft:
            outcome = "dug" if can_go_on and u < 0.75 else "kill"
        elif u < 0.30 or (not can_go_on and u < 0.7):
            outcome = "kill"
        elif u < 0.40 or not can_go_on:
            outcome = "out"
        elif u < 0.48:
            outcome = "blocked"
        elif u < 0.53:
            outcome = "net"
        else:
            outcome = "dug"
        speed = (rng.uniform(9.0, 13.0) if soft else rng.uniform(17.0, 27.0)) * (1.0 if v.indoor else 0.85)
        # blockers go up
        t_cross_guess = t3 + 0.08
        if not soft and rng.random() < (0.8 if v.indoor else 0.5):
            front = self.front_row(opp)
            nb = 1 if not v.indoor else int(rng.integers(1, 3))
            blockers = sorted(front, key=lambda p: abs(p.at(t3)[0] - c3[0]))[:nb]
            for i, b in enumerate(blockers):
                bx = c3[0] + (i - (nb - 1) / 2) * 0.75 + rng.uniform(-0.2, 0.2)
                bx = float(np.clip(bx, -hw + 0.3, hw - 0.3))
                b.go(max(t3 - 1.2, b.busy_until() if b.busy_until() < t3 - 0.6 else t3 - 1.2), t3 - 0.45, bx, d * 0.5)
                lift = rng.uniform(0.45, 0.7)
                b.jump(t_cross_guess + 0.05, lift)
                half = math.sqrt(2 * lift / G)
                b.stay(t_cross_guess + half + 0.6)
                b.act(t_cross_guess - 0.45, t_cross_guess + 0.2, "block", (0.0, -float(d)))
                b.pin(t3 - 1.2, t_cross_guess + half + 0.6)
        if outcome == "net":
            for _ in range(30):
                tgt = (rng.uniform(-hw + 0.5, hw - 0.5), d * rng.uniform(0.8, 3.0), BALL_R)
                dur = math.dist(c3[:2], tgt[:2]) / speed
                vv, k = aim(c3, tgt, dur)
                z = self.net_height_at(Flight(t3, t3 + dur, c3, vv, k))
                if z is not None and v.net_low + 0.2 < z < v.net_top - 0.15:
                    return self._into_net(t3, c3, tgt, dur), team
            outcome = "kill"
        if outcome == "blocked":
            tgt = (c3[0] + rng.uniform(-1, 1), d * rng.uniform(2.0, 5.0), BALL_R)
            dur = math.dist(c3[:2], tgt[:2]) / speed
            vv, k = aim(c3, tgt, dur)
            f = Flight(t3, t3 + dur, c3, vv, k, spin=10.0)
            tb = f.time_at_y(d * 0.15)
            if tb is not None and f.pos(tb)[2] > v.net_top + 0.05:
                f.t1 = tb
                self.ball.add(f)
                p = f.pos(tb)
                w = f.vel(tb)
                self.sound(tb, "hit", 0.8, p)
                nv = (w[0] * 0.3 + rng.uniform(-2, 2), -w[1] * rng.uniform(0.2, 0.45), -abs(w[2]) * 0.3 - rng.uniform(0.5, 2.0))
                g = Flight(tb, tb + 5.0, p, nv, 0.1, spin=15.0)
                g.t1 = g.time_down_to(BALL_R, 5.0)
                self.ball.add(g)
                end = g.pos(g.t1)
                loser = opp if (end[1] * s < 0 or abs(end[0]) > hw or abs(end[1]) > hl) else team
                return self._end(g, loser=loser)
            outcome = "kill"
        if outcome in ("kill", "out"):
            for _ in range(30):
                if outcome == "kill":
                    tgt = (rng.uniform(-hw + 0.2, hw - 0.2), d * rng.uniform(1.0 if soft else 2.0, hl - 0.2), BALL_R)
                else:
                    if rng.random() < 0.6:
                        tgt = (rng.uniform(-hw - 1, hw + 1), d * rng.uniform(hl + 0.2, hl + 3.0), BALL_R)
                    else:
                        tgt = (rng.choice([-1, 1]) * rng.uniform(hw + 0.2, hw + 2.0), d * rng.uniform(2.0, hl), BALL_R)
                deep = (hl - 0.2) if outcome == "kill" else None
                f = self._soft(t3, c3, tgt) if soft else self._clear_net(t3, c3, tgt, speed, margin=0.03, deepest=deep)
                if f.t1 - t3 < 3.0:
                    break
            self.ball.add(f)
            self._dive_for(opp, f, late=False)
            return self._end(f, loser=opp if outcome == "kill" else team)
        # dug: the ball goes to a defender, who digs it up
        defenders = self.team(opp)
        for _ in range(30):
            tgt_xy = (rng.uniform(-hw + 0.6, hw - 0.6), d * rng.uniform(3.0 if not soft else 2.0, hl - 0.8))
            digger = self.nearest(defenders, tgt_xy[0], tgt_xy[1], t3)
            mode = "dig" if not soft else "bump"
            tgt = (tgt_xy[0], tgt_xy[1], contact_offset(mode, digger.height)[2])
            f = self._soft(t3, c3, tgt) if soft else self._clear_net(t3, c3, tgt, speed, margin=0.03, deepest=hl - 0.8)
            if f.t1 - t3 < 3.0:
                end = f.pos(f.t1)
                if abs(end[1] - tgt[1]) > 0.01:  # moved deeper: whoever is nearest there digs it
                    digger = self.nearest(defenders, end[0], end[1], t3)
                    tgt = (end[0], end[1], contact_offset(mode, digger.height)[2])
                    vv, k = aim(c3, tgt, f.t1 - f.t0)
                    f = Flight(f.t0, f.t1, c3, vv, k, spin=6.0)
                break
        self.ball.add(f)
        self.touch(digger, f.t1, tgt, mode, self._face_towards(tgt[:2], c3[:2]), run=5.5)
        return self._possession(opp, digger, f.t1, tgt, flights, first="dig")

    def _soft(self, t0: float, p0, tgt) -> Flight:
        """A tip or free ball: a gentle arc over the net."""
        apex = max(p0[2], self.v.net_top + 0.6) + self.rng.uniform(0.3, 2.0)
        dur = arc_time(p0[2], tgt[2], apex)
        vv, k = aim(p0, tgt, dur)
        return Flight(t0, t0 + dur, p0, vv, k, spin=3.0)

    def _celebrate(self, team: int, t_end: float) -> None:
        rng = self.rng
        for p in self.team(team):
            if rng.random() < 0.5:
                t0 = t_end + rng.uniform(0.3, 1.0)
                p.act(t0, t0 + rng.uniform(0.5, 1.2), "celebrate", None)
