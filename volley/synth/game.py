"""The game plan: who stands where, every ball flight, touch, bounce and pause, from
the warm-up to the last point. Rallies follow the rules closely enough: the serve,
up to three touches a side, the ball crossing the net, the point ending when the
ball first touches the floor."""

from __future__ import annotations

import math
from bisect import bisect_right

import numpy as np

from volley.synth.motion import Ball, Flight, Held, Person, Roll, Still, aim, arc_time, contact_offset
from volley.synth.rally import SERVE_END, RallyPlay, side
from volley.synth.venue import BALL_R, G, HAIRS, SKINS, Venue
from volley.synth.spec import BEHIND_AN_END


class Plan(RallyPlay):
    """Everything that happens in one synthetic game, as functions of time."""

    def __init__(self, venue: Venue, rallies: int, distractors: bool, cam_info: dict, cam_pos, rng: np.random.Generator):
        self.v, self.rng, self.distractors = venue, rng, distractors
        self.cam_pos = tuple(float(c) for c in cam_pos)
        self.cam_info = cam_info
        self.n_rallies = rallies
        self.per_team = 6 if venue.indoor else 2
        self.players: list[Person] = []
        self.others: list[Person] = []  # referee, bench, neighbouring court
        self.ball = Ball(venue.ball_colours, "game")
        self.extra_balls: list[Ball] = []
        self.rallies: list[tuple[float, float]] = []
        self.windows: list[tuple[float, float]] = []  # players in ready stance
        self.events: list[tuple[float, str, float, tuple]] = []  # sounds
        self.outcomes: list[str] = []
        self.duration = 0.0
        self._watch_t, self._watch_p = None, None
        self._window_starts: list[float] = []
        self._make_players()

    # --- people ------------------------------------------------------------------
    def _look(self, team: int) -> dict:
        rng = self.rng
        skin = SKINS[rng.integers(len(SKINS))]
        return {
            "jersey": self.v.jerseys[team], "skin": skin, "hair": HAIRS[rng.integers(len(HAIRS))],
            "shorts": (30, 30, 35) if rng.random() < 0.6 else tuple(c * 0.6 for c in self.v.jerseys[team]),
            "shoes": (235, 235, 235) if rng.random() < 0.7 else (40, 40, 40),
            "beach": not self.v.indoor, "cap": (not self.v.indoor) and rng.random() < 0.4,
        }

    def _make_players(self) -> None:
        rng, v = self.rng, self.v
        for team in (0, 1):
            for i in range(self.per_team):
                h = rng.uniform(1.80, 2.04) if v.indoor else rng.uniform(1.78, 2.0)
                p = Person(len(self.players), team, h, self._look(team))
                p.home_facing = (0.0, -side(team))
                p.watch = self._watch
                p.default_mode = self._default_mode
                self.players.append(p)
        self.rot = [0, 0]

    def team(self, team: int) -> list[Person]:
        return self.players[team * self.per_team:(team + 1) * self.per_team]

    def _watch(self, t: float):
        if t != self._watch_t:
            self._watch_t, self._watch_p = t, self.ball.free_pos(t)
        return self._watch_p

    def _default_mode(self, t: float) -> str:
        """Ready stance from just before each serve until just after the point."""
        i = bisect_right(self._window_starts, t) - 1
        return "ready" if i >= 0 and t <= self.windows[i][1] else "relaxed"

    def zone_pos(self, team: int, zone: int, receiving: bool) -> tuple[float, float]:
        """Formation spot of rotation zone 1..6 (1 = back right, 2 = front right, ...)."""
        s, v = side(team), self.v
        if not v.indoor:
            if receiving:
                return ((-1.8 if zone == 1 else 1.8) * s, s * v.half_l * 0.6)
            return ((-1.5 if zone == 1 else 1.5) * s, s * (2.5 if zone == 2 else v.half_l * 0.6))
        xr = -s * 3.0  # the team's right, seen facing the net
        front = 2.2 if not receiving else 3.2
        back = 6.5 if not receiving else 6.0
        table = {1: (xr, back), 2: (xr, front), 3: (0.0, front), 4: (-xr, front), 5: (-xr, back), 6: (0.0, back)}
        x, y = table[zone]
        return x + self.rng.uniform(-0.4, 0.4), s * (y + self.rng.uniform(-0.4, 0.4))

    def in_zone(self, team: int, zone: int) -> Person:
        n = self.per_team
        return self.team(team)[(zone - 1 + self.rot[team]) % n]

    def front_row(self, team: int) -> list[Person]:
        if not self.v.indoor:
            return self.team(team)
        return [self.in_zone(team, z) for z in (2, 3, 4)]

    def setter(self, team: int) -> Person:
        return self.team(team)[1 % self.per_team]

    def nearest(self, people, x: float, y: float, t: float, exclude=()) -> Person:
        best, bd = None, 1e9
        for p in people:
            if p in exclude:
                continue
            px, py = p.at(t)
            d = math.hypot(px - x, py - y)
            if d < bd:
                best, bd = p, d
        return best

    # --- ball helpers ------------------------------------------------------------
    def sound(self, t: float, kind: str, strength: float, pos) -> None:
        self.events.append((t, kind, strength, tuple(pos)))

    def fly(self, t0: float, p0, p1, duration: float, ball: Ball | None = None, spin: float = 8.0) -> Flight:
        v, k = aim(p0, p1, duration)
        f = Flight(t0, t0 + duration, p0, v, k, spin)
        (ball or self.ball).add(f)
        return f

    def hold(self, t0: float, t1: float, person: Person, mode: str = "hold", ball: Ball | None = None,
             blend_from: str | None = None) -> None:
        (ball or self.ball).add(Held(t0, t1, person, mode, blend_from))

    def touch(self, person: Person, t: float, contact, mode: str, facing, run: float = 4.5) -> None:
        """Move `person` so that they play the ball at `contact` at time t."""
        bx, by = person.base_for(contact, mode, facing)
        x0, y0 = person.at(t - 0.6)
        need = math.hypot(bx - x0, by - y0) / run
        t_leave = max(t - 0.15 - need - 0.2, person.busy_until() if person.busy_until() < t - 0.4 else t - 0.4)
        person.go(t_leave, t - 0.15, bx, by)
        person.stay(t + 0.35)
        person.act(t - 0.18, t + 0.08, mode, facing)

    def settle(self, t: float, p, vel, ball: Ball | None = None, sounds: bool = True, until: float | None = None):
        """The ball hits the floor at (t, p) with velocity `vel`: bounces, rolls, stops.
        Adds the segments; returns (time it lies still, where)."""
        ball = ball or self.ball
        v = self.v
        vx, vy, vz = vel
        x, y = p[0], p[1]
        xlo, xhi = self._x_limits()
        ylo, yhi = -v.hall_y + 0.3, v.hall_y - 0.3
        for _ in range(12):
            vz = -vz * v.restitution
            vx, vy = vx * v.keep, vy * v.keep
            if sounds:
                self.sound(t, "floor", min(1.0, abs(vz) / 6.0 + 0.1), (x, y, 0.0))
            if vz < 0.7:
                break
            dur = 2 * vz / G
            spd = math.hypot(vx, vy)
            f = Flight(t, t + dur, (x, y, BALL_R), (vx, vy, vz), max(0.03, 0.017 * spd), spin=spd / BALL_R * 0.3)
            t_hit = f.time_down_to(BALL_R, dur * 2)
            f.t1 = t_hit
            # walls
            end = f.pos(t_hit)
            if not (xlo < end[0] < xhi and ylo < end[1] < yhi):
                tw = self._exit_time(f, xlo, xhi, ylo, yhi)
                f.t1 = tw
                ball.add(f)
                px, py, pz = f.pos(tw)
                wvx, wvy, wvz = f.vel(tw)
                if not xlo < px < xhi:
                    wvx = -0.45 * wvx
                if not ylo < py < yhi:
                    wvy = -0.45 * wvy
                if sounds:
                    self.sound(tw, "wall", 0.5, (px, py, pz))
                px, py = min(max(px, xlo + 0.01), xhi - 0.01), min(max(py, ylo + 0.01), yhi - 0.01)
                g = Flight(tw, tw + 5, (px, py, pz), (wvx, wvy, min(wvz, 0.0)), 0.05)
                t_hit = g.time_down_to(BALL_R, 5.0)
                g.t1 = t_hit
                ball.add(g)
                fx, fy, _ = g.pos(t_hit)
                vx, vy, vz = g.vel(t_hit)
                x, y = min(max(fx, xlo + 0.01), xhi - 0.01), min(max(fy, ylo + 0.01), yhi - 0.01)
                t = t_hit
                continue
            ball.add(f)
            vx, vy, vz = f.vel(t_hit)
            x, y, t = end[0], end[1], t_hit
        spd = math.hypot(vx, vy)
        if spd > 0.05:
            ux, uy = vx / spd, vy / spd
            dist = spd * spd / (2 * v.roll_decel)
            # stop at a wall
            lim = dist
            if ux > 1e-6:
                lim = min(lim, (xhi - x) / ux)
            if ux < -1e-6:
                lim = min(lim, (xlo - x) / ux)
            if uy > 1e-6:
                lim = min(lim, (yhi - y) / uy)
            if uy < -1e-6:
                lim = min(lim, (ylo - y) / uy)
            lim = max(0.0, lim)
            if lim < dist:  # reaches the wall: roll there, bounce back a little
                s_end = math.sqrt(max(spd * spd - 2 * v.roll_decel * lim, 0.0))
                dur = (spd - s_end) / v.roll_decel
                ball.add(Roll(t, t + dur, (x, y), (ux, uy), spd, v.roll_decel))
                x, y, t = x + ux * lim, y + uy * lim, t + dur
                back = 0.3 * s_end
                if back > 0.1:
                    rx = -ux if (x <= xlo + 1e-3 or x >= xhi - 1e-3) else ux
                    ry = -uy if (y <= ylo + 1e-3 or y >= yhi - 1e-3) else uy
                    d2 = back * back / (2 * v.roll_decel)
                    dur = back / v.roll_decel
                    ball.add(Roll(t, t + dur, (x, y), (rx, ry), back, v.roll_decel))
                    x, y, t = x + rx * d2, y + ry * d2, t + dur
            else:
                dur = spd / v.roll_decel
                ball.add(Roll(t, t + dur, (x, y), (ux, uy), spd, v.roll_decel))
                x, y, t = x + ux * dist, y + uy * dist, t + dur
        return t, (x, y, BALL_R)

    def _x_limits(self) -> tuple[float, float]:
        v = self.v
        lo, hi = v.hall_x[0] + 0.3, v.hall_x[1] - 0.3
        if v.stands:  # the stands' front wall
            front = v.half_w + 3.3
            if v.stands > 0:
                hi = min(hi, front)
            else:
                lo = max(lo, -front)
        return lo, hi

    @staticmethod
    def _exit_time(f: Flight, xlo, xhi, ylo, yhi) -> float:
        lo, hi = f.t0, f.t1
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            x, y, _ = f.pos(mid)
            if xlo < x < xhi and ylo < y < yhi:
                lo = mid
            else:
                hi = mid
        return lo

    def net_height_at(self, f: Flight) -> float | None:
        tc = f.time_at_y(0.0)
        return None if tc is None else f.pos(tc)[2]

    # --- the game ------------------------------------------------------------------
    def build(self) -> None:
        rng, v = self.rng, self.v
        kinds = self._serve_outcomes()
        serving = int(rng.integers(2))
        for team in (0, 1):  # everyone starts near their formation spots
            for z in range(1, self.per_team + 1):
                p = self.in_zone(team, z)
                x, y = self.zone_pos(team, z, receiving=False)
                p.place(x + rng.uniform(-1.5, 1.5), y + rng.uniform(-1.5, 1.5))
        t = 0.0
        server = self.in_zone(serving, 1)
        if self.distractors:
            from volley.synth.extras import warm_up
            t = warm_up(self, server)
        else:
            t = rng.uniform(1.0, 3.0)
        # the first server has the ball from the start
        self._holder, self._hold_from, self._hold_mode, self._blend = server, 0.0, "hold", None
        self._pending_pass = None
        prev_end = t - (0.0 if self.distractors else rng.uniform(3.0, 5.0))
        for i in range(self.n_rallies):
            server = self.in_zone(serving, 1)
            t_serve = self._get_ball_to(server, serving, prev_end)
            self.windows.append((t_serve - 1.5, t_serve))
            t_end, loser = self._play(t_serve, server, serving, kinds[i])
            self.windows[-1] = (t_serve - 1.5, t_end + 0.6)
            self.rallies.append((t_serve, t_end))
            winner = 1 - loser
            self._celebrate(winner, t_end)
            if winner != serving:
                self.rot[winner] = (self.rot[winner] + 1) % self.per_team
            serving = winner
            prev_end = t_end
        self._window_starts = [a for a, _ in self.windows]
        if self._holder is not None:
            self.hold(self._hold_from, self._hold_from + 1e-3, self._holder, self._hold_mode)
        tail = rng.uniform(3.0, 6.0)
        self.duration = max(self.ball.t_end, prev_end) + tail
        if self.n_rallies == 0:
            self.duration = max(self.duration, t + 8.0)
        self._close_ball(self.ball)
        from volley.synth.extras import add_bystanders, wander
        wander(self)
        add_bystanders(self)
        for b in self.extra_balls:
            self._close_ball(b)

    def _close_ball(self, ball: Ball) -> None:
        if not ball.segs:
            ball.add(Still(0.0, self.duration + 1, (0.0, 0.0, BALL_R)))
            return
        last = ball.segs[-1]
        if last.t1 < self.duration + 1:
            if last.kind == "held":
                ball.add_raw(Held(last.t1, self.duration + 1, last.person, last.mode))
            else:
                p = last.pos(last.t1)
                ball.add(Still(last.t1, self.duration + 1, p) if p else last.__class__(last.t1, self.duration + 1))

    def _serve_outcomes(self) -> list[str]:
        rng, n = self.rng, self.n_rallies
        kinds = []
        for _ in range(n):
            u = rng.random()
            kinds.append("ace" if u < 0.12 else "net" if u < 0.22 else "out" if u < 0.29 else "play")
        short = sum(k in SERVE_END for k in kinds)
        need = math.ceil(0.2 * n) if n >= 3 else 0
        idx = [i for i, k in enumerate(kinds) if k == "play"]
        rng.shuffle(idx)
        while short < need and idx:
            kinds[idx.pop()] = "ace" if rng.random() < 0.5 else "net"
            short += 1
        if n >= 3 and all(k in SERVE_END for k in kinds):
            kinds[0] = "play"
        return kinds

    # --- between rallies -------------------------------------------------------------
    def _release(self, t: float) -> None:
        """The holder lets go of the ball at t."""
        if self._holder is not None:
            self.hold(self._hold_from, t, self._holder, self._hold_mode, blend_from=self._blend)
            self._holder = None

    def _grab(self, person: Person, t: float, mode: str = "hold", blend_from: str | None = None) -> None:
        self._holder, self._hold_from, self._hold_mode, self._blend = person, t, mode, blend_from

    def _get_ball_to(self, server: Person, team: int, prev_end: float) -> float:
        """The ball reaches the server, who walks to the line, bounces it and serves.
        Returns the serve contact time."""
        rng, v = self.rng, self.v
        s = side(team)
        pause = rng.uniform(4.0, 14.0)
        t_go = max(prev_end + rng.uniform(0.8, 2.0), server.pinned_until())
        # where the server will serve from
        jump = rng.random() < (0.35 if v.indoor else 0.2)
        back_room = v.hall_y - v.half_l - 0.8
        if v.extras.get("view") in BEHIND_AN_END and s == -1:
            back_room = min(back_room, max(0.5, self.cam_info["distance"] - 1.6))
        dback = min(rng.uniform(3.0, 5.0) if jump else rng.uniform(0.6, 3.0), back_room)
        if dback < 2.5:
            jump = False
        spot = (rng.uniform(-v.half_w + 0.5, v.half_w - 0.5), s * (v.half_l + dback))
        receive_at = spot if rng.random() < 0.5 else None
        if self._holder is None:  # the ball lies on the floor since self._lie_t
            t_free, (bx, by, _) = self._lie_t, self._lie_p
            near = [p for p in self.players if p is not server]
            px, py = server.at(t_free)
            d_server = math.hypot(px - bx, py - by)
            if d_server < 4.0 or (d_server < 8.0 and by * s > 0 and rng.random() < 0.3):
                picker = server
            else:
                picker = self.nearest(near, bx, by, t_free)
            t_start = max(prev_end + rng.uniform(0.5, 1.5), picker.pinned_until())
            fx, fy = picker.at(t_start)
            d = math.hypot(bx - fx, by - fy)
            facing = ((bx - fx) / d, (by - fy) / d) if d > 0.01 else picker.home_facing
            stand = picker.base_for((bx, by, BALL_R), "pickup", facing)
            t_arrive = max(picker.walk(t_start, stand[0], stand[1], rng.uniform(1.6, 2.6)), t_free + 0.2)
            picker.stay(t_arrive + 0.6)
            picker.act(t_arrive, t_arrive + 0.35, "pickup", facing)
            t_pick = t_arrive + 0.3
            self.ball.add(Still(self.ball.t_end, t_pick, self._lie_p))
            self._grab(picker, t_pick, "hold", blend_from="pickup")
            t_have = t_pick + 0.3
            if picker is not server:
                t_have = self._pass(picker, server, team, t_pick + 0.4, t_go, receive_at)
        else:
            t_have = self._hold_from
            if self._holder is not server:
                t_have = self._pass(self._holder, server, team, max(self._hold_from, prev_end) + 0.5, t_go, receive_at)
        # walk to the serve spot
        facing = (0.0, -float(s))
        n_bounce = int(rng.integers(2, 5))
        bounce_len = []
        for _ in range(n_bounce):
            bounce_len.append((rng.uniform(0.18, 0.26), rng.uniform(0.3, 0.6)))
        prep = sum(a + arc_time(BALL_R, 1.0, 1.05) + b for a, b in bounce_len)
        toss_len = rng.uniform(0.5, 1.2) + (1.3 if jump else 0.8)
        speed = rng.uniform(1.2, 1.8)
        hx, hy = server.at(t_have)
        walk_time = math.hypot(spot[0] - hx, spot[1] - hy) / speed
        t_walk = max(t_have + 0.2, prev_end + pause - prep - toss_len - walk_time - rng.uniform(0.5, 2.0))
        t_spot = server.walk(t_walk, spot[0], spot[1], speed)
        t_prep = max(t_spot + rng.uniform(0.3, 1.2), prev_end + pause - prep - toss_len)
        # the referee whistles for the serve
        if rng.random() < (0.85 if v.indoor else 0.6):
            self.sound(t_prep - rng.uniform(0.2, 1.5), "whistle", rng.uniform(0.6, 1.0), (0.0, 0.0, 3.0))
        server.stay(t_prep + prep + toss_len + 0.5)
        server.act(t_prep, t_prep + prep, "dribble", facing)
        server.pin(t_spot, t_prep + prep + toss_len + 0.5)
        self._release(t_prep - 0.3)
        self.hold(t_prep - 0.3, t_prep, server, "dribble", blend_from="hold")
        t = t_prep
        for down, rest in bounce_len:
            hand = server.ball_point(t, "dribble")
            floor = (hand[0], hand[1], BALL_R)
            self.fly(t, hand, floor, down, spin=0.0)
            self.sound(t + down, "floor", 0.35, floor)
            up = arc_time(BALL_R, hand[2], hand[2] + 0.04)
            self.fly(t + down, floor, hand, up, spin=0.0)
            self.hold(t + down + up, t + down + up + rest, server, "dribble")
            t += down + up + rest
        hold = toss_len - (1.3 if jump else 0.8)
        self.hold(t, t + hold, server, "hold", blend_from="dribble")
        t_toss = t + hold
        if jump:
            return self._jump_serve(server, team, t_toss, facing)
        return self._float_serve(server, team, t_toss, facing)

    def _float_serve(self, server: Person, team: int, t_toss: float, facing) -> float:
        rng = self.rng
        server.act(t_toss - 0.25, t_toss + 0.05, "toss", facing)
        p0 = server.ball_point(t_toss, "toss")
        contact_z = contact_offset("serve", server.height)[2]
        dur = arc_time(p0[2], contact_z, contact_z + rng.uniform(0.25, 0.8))
        t_serve = t_toss + dur
        server.act(t_serve - 0.35, t_serve + 0.12, "serve", facing)
        c = server.ball_point(t_serve, "serve")
        self.fly(t_toss, p0, c, dur, spin=1.0)
        self._serve_contact = c
        return t_serve

    def _jump_serve(self, server: Person, team: int, t_toss: float, facing) -> float:
        rng = self.rng
        server.act(t_toss - 0.3, t_toss + 0.05, "toss", facing)
        p0 = server.ball_point(t_toss, "toss")
        lift = rng.uniform(0.5, 0.8)
        dur = rng.uniform(1.2, 1.5)
        t_serve = t_toss + dur
        x0, y0 = server.at(t_toss)
        run = rng.uniform(1.6, 2.4)
        bx, by = x0 + facing[0] * run, y0 + facing[1] * run
        half = math.sqrt(2 * lift / G)
        server.go(t_toss + 0.25, t_serve - half, bx, by)
        server.stay(t_serve + half)
        server.go(t_serve + half, t_serve + half + 0.5, bx + facing[0] * 0.8, by + facing[1] * 0.8)
        server.jump(t_serve, lift)
        server.act(t_serve - 0.4, t_serve + 0.1, "spike", facing)
        c = server.ball_point(t_serve, "spike")
        self.fly(t_toss, p0, c, dur, spin=1.0)
        self._serve_contact = c
        return t_serve

    def _pass(self, giver: Person, taker: Person, team: int, t_ready: float, t_go: float, at=None) -> float:
        """`giver` (holding the ball) gets it to `taker`; returns when taker holds it.
        The taker goes to `at` meanwhile (or somewhere near his end line)."""
        rng, v = self.rng, self.v
        s = side(team)
        gx, gy = giver.at(t_ready)
        if at is not None:
            tx, ty = at
        else:
            tx = float(np.clip(rng.uniform(-3.0, 3.0), -v.half_w + 0.5, v.half_w - 0.5))
            ty = s * (v.half_l - rng.uniform(0.5, 3.0))
        t_arrive = taker.walk(min(t_go, t_ready), tx, ty, rng.uniform(1.3, 2.2))
        giver.stay(t_ready)
        crosses = (gy > 0) != (ty > 0)
        dist = math.hypot(tx - gx, ty - gy)
        to_taker = ((tx - gx) / dist, (ty - gy) / dist) if dist > 0.1 else (0.0, 1.0)
        to_giver = (-to_taker[0], -to_taker[1])
        kinds = ["roll", "bounce", "arc"] if v.indoor else ["arc", "low"]
        if crosses:
            probs = [0.45, 0.25, 0.30] if v.indoor else [0.6, 0.4]
        else:
            probs = [0.25, 0.5, 0.25] if v.indoor else [0.7, 0.3]
        if v.indoor and dist > 9.0:  # a long roll takes too long
            probs = [0.0, 0.55, 0.45]
        kind = kinds[int(rng.choice(len(kinds), p=probs))]
        t_throw = max(t_arrive + rng.uniform(0.2, 0.8), t_ready + 0.3)
        giver.stay(t_throw + 0.4)
        taker.stay(t_throw + 6.0)
        if kind == "roll":
            giver.act(t_throw - 0.3, t_throw + 0.1, "pickup", to_taker)
            self._release(t_throw - 0.35)
            self.hold(t_throw - 0.35, t_throw, giver, "pickup")
            p0 = giver.ball_point(t_throw, "pickup")
            # roll to just in front of the taker's feet
            ex, ey = tx + to_giver[0] * 0.55, ty + to_giver[1] * 0.55
            d = math.hypot(ex - p0[0], ey - p0[1])
            arrive_speed = rng.uniform(0.8, 1.4)
            s0 = math.sqrt(arrive_speed**2 + 2 * v.roll_decel * d)
            dur = (s0 - arrive_speed) / v.roll_decel
            u = ((ex - p0[0]) / d, (ey - p0[1]) / d) if d > 1e-6 else to_taker
            self.ball.add(Roll(t_throw, t_throw + dur, p0[:2], u, s0, v.roll_decel))
            t_catch = t_throw + dur
            # the taker stands so the pickup point is where the roll ends
            bx, by = taker.base_for((ex, ey, BALL_R), "pickup", to_giver)
            taker.go(t_throw, t_catch - 0.1, bx, by)
            taker.stay(t_catch + 0.5)
            taker.act(t_catch - 0.25, t_catch + 0.15, "pickup", to_giver)
            last = self.ball.segs[-1]
            last.t1 = t_catch
            self._grab(taker, t_catch, "hold", blend_from="pickup")
            return t_catch + 0.3
        giver.act(t_throw - 0.3, t_throw + 0.1, "catch", to_taker)
        self._release(t_throw - 0.45)
        self.hold(t_throw - 0.45, t_throw, giver, "catch", blend_from="hold")
        p0 = giver.ball_point(t_throw, "catch")
        if kind == "bounce":
            w = rng.uniform(0.5, 0.65)
            bp = (p0[0] + (tx - gx) * w, p0[1] + (ty - gy) * w, BALL_R)
            down = rng.uniform(0.3, 0.45)
            self.fly(t_throw, p0, bp, down, spin=3.0)
            self.sound(t_throw + down, "floor", 0.4, bp)
            catch_t0 = t_throw + down
            apex = 1.1 if crosses else rng.uniform(1.1, 1.5)
            c = taker.ball_point(catch_t0 + 0.5, "catch", to_giver)
            up = arc_time(BALL_R, c[2], apex)
            t_catch = catch_t0 + up
            c = taker.ball_point(t_catch, "catch", to_giver)
            self.fly(catch_t0, bp, c, up, spin=3.0)
        else:
            c = taker.ball_point(t_throw + 1.0, "catch", to_giver)
            if kind == "arc":
                apex = max(p0[2], c[2]) + rng.uniform(0.5, 1.0)
                if crosses:
                    apex = max(apex, v.net_top + 0.55)
                apex = min(apex, 3.7)
            else:  # low flat throw under the beach net
                apex = min(max(p0[2], c[2]) + 0.05, v.net_low - 0.2) if crosses else max(p0[2], c[2]) + 0.3
            dur = arc_time(p0[2], c[2], apex)
            t_catch = t_throw + dur
            c = taker.ball_point(t_catch, "catch", to_giver)
            self.fly(t_throw, p0, c, dur, spin=4.0)
        self.sound(t_catch, "catch", 0.25, c)
        taker.act(t_catch - 0.4, t_catch + 0.3, "catch", to_giver)
        self.hold(t_catch, t_catch + 0.4, taker, "catch")
        self._grab(taker, t_catch + 0.4, "hold", blend_from="catch")
        return t_catch + 0.6
