"""Turn ball flights into rallies: serve contact to ball dead, with stats and a score.

A rally is play: the ball flying under gravity again and again, with no long
pause. Flights that do not look like a ball in the air (no downward acceleration,
sideways acceleration, too short) are not evidence of play; heads, hands and
noise make those. Play closer together than `gap` seconds is one rally; the
serve toss (a near-vertical flight just before the first real flight) is not
part of it, since the rally starts at the serve contact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from volley import defaults
from volley.payloads import Rally
from vproc.tracker import Flight

#: Gravity seen in the image, in frame heights per s²: a ball 40 m away on a wide
#: shot falls ~0.3 H/s², one next to the camera ~10 H/s².
MIN_GRAVITY = 0.3
MAX_GRAVITY = 14.0
#: A ball's sideways acceleration is small next to its fall (air drag, perspective).
MAX_SIDEWAYS = 0.6
#: Flights shorter than this say too little about their acceleration (s).
MIN_EVIDENCE = 0.3
#: A rally needs this much time of the ball seen in flight (s).
MIN_FLIGHT_TIME = 0.6


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
            and abs(self.sideways) <= MAX_SIDEWAYS * self.gravity + 0.3
            and self.path >= 0.08
        )

    @property
    def is_toss(self) -> bool:
        """Up and down on the spot: a serve toss or a bounce before the serve."""
        return self.travel < 0.35 * self.path


def describe(flight: Flight, height: int) -> FlightFacts:
    t = flight.t - flight.t[0]
    ax = 2 * np.polyfit(t, flight.x, 2)[0]
    ay = 2 * np.polyfit(t, flight.y, 2)[0]
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
    height: int,
    duration: float,
    *,
    gap: float = defaults.RALLY_GAP,
    min_rally: float = defaults.MIN_RALLY,
    source_scale: float = 1.0,
) -> list[Rally]:
    """Group play flights into rallies. `height` is the analysis frame height;
    `source_scale` turns analysis pixels into source pixels for the stats."""
    play = [f for f in (describe(fl, height) for fl in flights) if f.is_play]
    play.sort(key=lambda f: f.flight.start)
    rallies: list[Rally] = []
    for group in _groups(play, gap):
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


def _rally(group: list[FlightFacts], height: int, source_scale: float) -> Rally | None:
    seen = sum(f.flight.duration for f in group)
    if seen < MIN_FLIGHT_TIME:
        return None
    start = group[0].flight.start
    if len(group) > 1 and group[0].is_toss and group[1].flight.start - group[0].flight.end < 0.5:
        start = group[0].flight.end  # the serve contact ends the toss
    end = max(f.flight.end for f in group)
    peak = max(f.peak_speed for f in group)
    stats = {
        "duration": round(end - start, 2),
        "flights": len(group),
        "net_crossings": sum(1 for f in group if f.travel >= 0.25 and not f.is_toss),
        "peak_speed": round(peak * height * source_scale, 1),  # source pixels per second
        "ball_seen": round(seen / max(end - start, 1e-3), 2),  # share of the rally with the ball tracked
    }
    return Rally(index=0, start=start, end=end, stats=stats, score=_score(end - start, len(group), peak))


def _score(duration: float, flights: int, peak_speed: float) -> float:
    """Long rallies with many touches and hard hits rank first (0..1)."""
    return round(0.45 * min(duration / 20.0, 1.0) + 0.35 * min(flights / 10.0, 1.0) + 0.2 * min(peak_speed / 2.0, 1.0), 3)
