"""Turn ball flights into rallies: serve contact to ball dead, with stats and a score.

A rally is play: one ball flying under gravity again and again, with no long
pause. The steps, each a small function below:

1. Keep the flights that look like a ball in the air: downward acceleration in
   a plausible range, little sideways acceleration, long enough to tell.
   Heads, hands and noise make the others.
2. Group flights closer than `gap` seconds.
   Flights that never leave the edges of the picture (a neighbouring court) are
   left out.
3. Cut away warm-ups (two balls in the air at once) and reject groups with too
   little of the ball seen.
4. Trim each group: the serve preparation (bounces, the toss) before the first
   flight that travels, and the ball bouncing on the floor after it is dead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from volley import defaults
from volley.payloads import Rally
from vproc.tracker import Flight

#: Gravity seen in the image, in frame heights per s²: a ball 40 m away on a wide
#: shot falls ~0.2 H/s²; faster falls are balls handled next to the camera
#: (the server's bounces), not play on the court.
MIN_GRAVITY = 0.2
MAX_GRAVITY = 4.0
#: A ball's sideways acceleration is small next to its fall; perspective (a ball
#: flying towards or away from the camera) adds some: at most this share of the
#: fall plus SIDEWAYS_SLACK (H/s²).
MAX_SIDEWAYS = 1.0
SIDEWAYS_SLACK = 0.5
#: Flights shorter than this say too little about their acceleration (s), and
#: shorter paths (frame heights) are a hand or a head bobbing.
MIN_EVIDENCE = 0.3
MIN_PATH = 0.12
#: A rally needs this much time of the ball seen in flight (s).
MIN_FLIGHT_TIME = 0.6
#: A flight that travels this far (frame heights) can be a serve; bounces and the
#: toss before it go up and down on the spot.
SERVE_TRAVEL = 0.1
#: Two balls in the air at once for this share of a group's time: a warm-up.
MAX_CONCURRENT = 0.08
#: ...and flights starting this soon after the last such moment belong to it (s).
WARM_UP_TAIL = 2.5
#: Play that never leaves these outer shares of the picture's width is on a
#: neighbouring court or the warm-up area, not the filmed one.
EDGE = 0.1


@dataclass(frozen=True)
class FlightFacts:
    """What a flight says about play, in frame heights and seconds."""

    flight: Flight
    gravity: float  # vertical acceleration, H/s² (down is positive)
    sideways: float  # horizontal acceleration, H/s²
    peak_speed: float  # H/s
    travel: float  # start-to-end displacement, H
    path: float  # length of the path, H

    @property
    def is_play(self) -> bool:
        return (
            self.flight.duration >= MIN_EVIDENCE
            and MIN_GRAVITY <= self.gravity <= MAX_GRAVITY
            and abs(self.sideways) <= MAX_SIDEWAYS * self.gravity + SIDEWAYS_SLACK
            and self.path >= MIN_PATH
        )

    @property
    def is_toss(self) -> bool:
        """Up and down on the spot, or hardly moving: a toss or a bounce before the serve."""
        return self.travel < max(0.35 * self.path, SERVE_TRAVEL)

    def bounces_off(self, before: "FlightFacts", height: int) -> bool:
        """This flight is the ball rebounding off the floor after `before`: it starts
        where `before` ended, goes up slower than `before` came down, and is shorter.
        A dig or a pass also turns the ball up, but sends it up harder and higher."""
        a, b = before.flight, self.flight
        if b.start - a.end > 0.25 or b.duration >= 0.75 * a.duration:
            return False
        if np.hypot(b.x[0] - a.x[-1], b.y[0] - a.y[-1]) > 0.06 * height:
            return False
        (_, falling), incoming = _velocity(a, at_end=True)
        (_, rising), outgoing = _velocity(b, at_end=False)
        # The floor turns a falling ball up and takes energy; a serve or a spike
        # leaves the hand faster than the ball came.
        return falling > 0 and rising < 0 and outgoing < 0.8 * incoming


def _velocity(flight: Flight, *, at_end: bool) -> tuple[tuple[float, float], float]:
    """Image velocity (vx, vy in px/s, down positive) and speed at the flight's start or end."""
    vx, vy = flight.velocity(flight.end if at_end else flight.start)
    return (vx, vy), float(np.hypot(vx, vy))


def describe(flight: Flight, height: int) -> FlightFacts:
    ax, ay = flight.acceleration()
    speeds = flight.speeds()
    return FlightFacts(
        flight=flight,
        gravity=float(ay / height),
        sideways=float(ax / height),
        peak_speed=float(np.percentile(speeds, 90) / height) if len(speeds) else 0.0,
        travel=flight.displacement() / height,
        path=flight.path_length() / height,
    )


def find_rallies(
    flights: list[Flight],
    width: int,
    height: int,
    *,
    gap: float = defaults.RALLY_GAP,
    min_rally: float = defaults.MIN_RALLY,
    source_scale: float = 1.0,
) -> list[Rally]:
    """Group play flights into rallies. `width` and `height` are the analysis frame's;
    `source_scale` turns analysis pixels into source pixels for the stats."""
    play = sorted(
        (f for f in (describe(fl, height) for fl in flights) if f.is_play and not _at_the_edge(f, width)),
        key=lambda f: f.flight.start,
    )
    rallies: list[Rally] = []
    for group in _groups(play, gap):
        group = _after_warm_up(group)
        if not group:
            continue
        rally = _rally(group, height, source_scale)
        if rally is not None and rally.duration >= min_rally:
            rally.index = len(rallies) + 1
            rallies.append(rally)
    return rallies


def _groups(play: list[FlightFacts], gap: float) -> list[list[FlightFacts]]:
    groups: list[list[FlightFacts]] = []
    for facts in play:
        if groups and facts.flight.start - max(f.flight.end for f in groups[-1]) <= gap:
            groups[-1].append(facts)
        else:
            groups.append([facts])
    return groups


def _after_warm_up(group: list[FlightFacts]) -> list[FlightFacts]:
    """What follows a warm-up in the group. Several balls in the air at once is a
    warm-up (in a rally there is one), and the game's first serve often comes
    within seconds of its end, so the group is cut after the last moment of it."""
    while group:
        overlaps = _overlaps(group)
        span = max(f.flight.end for f in group) - group[0].flight.start
        if span <= 0 or sum(b - a for a, b in overlaps) <= MAX_CONCURRENT * span:
            return group
        last = max(b for _, b in overlaps)
        # The other balls are not always seen: play just after the last moment of
        # two balls at once is still the warm-up.
        group = [f for f in group if f.flight.start > last + WARM_UP_TAIL]
    return group


def _overlaps(group: list[FlightFacts]) -> list[tuple[float, float]]:
    """The time spans in which two flights of the group are in the air together."""
    spans = []
    for i, a in enumerate(group):
        for b in group[i + 1 :]:
            start, end = max(a.flight.start, b.flight.start), min(a.flight.end, b.flight.end)
            if end > start:
                spans.append((start, end))
    return spans


def _at_the_edge(facts: FlightFacts, width: int) -> bool:
    """A flight that never leaves the outer strips of the picture is on a neighbouring
    court or the warm-up area; a serve from the side line still crosses the middle."""
    x = facts.flight.x
    return bool(((x < EDGE * width) | (x > (1 - EDGE) * width)).all())


def _rally(group: list[FlightFacts], height: int, source_scale: float) -> Rally | None:
    group = _without_dead_ball(_without_serve_preparation(group), height)
    seen = sum(f.flight.duration for f in group)
    if not group or seen < MIN_FLIGHT_TIME:
        return None
    start = group[0].flight.start
    end = max(f.flight.end for f in group)
    peak = max(f.peak_speed for f in group)
    stats = {
        "duration": round(end - start, 2),
        "flights": len(group),
        "net_crossings": sum(1 for f in group if f.travel >= 0.25 and not f.is_toss),
        "peak_speed": round(peak * height * source_scale, 1),  # source pixels per second
        "ball_seen": round(min(seen / max(end - start, 1e-3), 1.0), 2),  # share of the rally the ball was tracked
    }
    return Rally(index=0, start=start, end=end, stats=stats, score=_score(end - start, len(group), peak))


def _without_serve_preparation(group: list[FlightFacts]) -> list[FlightFacts]:
    """Drop the bounces and the toss before the serve: the rally starts at the serve
    contact, where the first flight that travels begins."""
    first = next((i for i, f in enumerate(group) if not f.is_toss), None)
    return [] if first is None else group[first:]


def _without_dead_ball(group: list[FlightFacts], height: int) -> list[FlightFacts]:
    """Cut the rally at the first floor bounce: the ball is dead from there on."""
    for i in range(1, len(group)):
        if group[i].bounces_off(group[i - 1], height):
            return group[:i]
    return group


def _score(duration: float, flights: int, peak_speed: float) -> float:
    """Long rallies with many touches and hard hits rank first (0..1)."""
    return round(0.45 * min(duration / 20.0, 1.0) + 0.35 * min(flights / 10.0, 1.0) + 0.2 * min(peak_speed / 2.0, 1.0), 3)
