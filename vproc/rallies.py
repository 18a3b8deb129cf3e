"""Turn ball flights into rallies: serve contact to ball dead, with stats and a score.

A rally is play: one ball flying under gravity again and again, with no long
pause. The steps, each a small function below:

1. Keep the flights that the flight model (vproc/flightmodel.py) finds likely to
   be the ball in play. Heads, hands, bounces and balls thrown back make the others.
2. Group flights closer than `gap` seconds.
3. Trim each group: the serve preparation (bounces, the toss) before the first
   flight that travels; reject it when too little of the ball was seen; widen it
   by what the tracker is known to miss at both ends.

Warm-ups (several balls at once) and the dead ball bouncing away are the flight
model's to reject: its features see concurrent flights and low, short hops.
Rules for them on top of the model lowered F1 on generated games (0.65 -> 0.59).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from volley import defaults
from volley.payloads import Rally
from vproc.flightmodel import FlightModel, flight_features
from vproc.tracker import Flight

#: A rally needs this much time of the ball seen in flight (s).
MIN_FLIGHT_TIME = 0.3
#: A flight that travels this far (frame heights) can be a serve; bounces and the
#: toss before it go up and down on the spot.
SERVE_TRAVEL = 0.1


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
    def is_toss(self) -> bool:
        """Up and down on the spot, or hardly moving: a toss or a bounce before the serve."""
        return self.travel < max(0.35 * self.path, SERVE_TRAVEL)

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


def play_flights(
    flights: list[Flight], width: int, height: int, frame_rate: float, model: FlightModel | None = None
) -> list[Flight]:
    """The flights the model takes for the ball in play, in time order."""
    model = model or default_model()
    likely = model.probabilities(flight_features(flights, width, height, frame_rate))
    return sorted((f for f, p in zip(flights, likely) if p >= model.threshold), key=lambda f: f.start)


def find_rallies(
    flights: list[Flight],
    width: int,
    height: int,
    *,
    frame_rate: float,
    gap: float = defaults.RALLY_GAP,
    min_rally: float = defaults.MIN_RALLY,
    source_scale: float = 1.0,
    model: FlightModel | None = None,
) -> list[Rally]:
    """Group play flights into rallies. `width` and `height` are the analysis frame's,
    `frame_rate` the analysed frames per second; `source_scale` turns analysis
    pixels into source pixels for the stats."""
    model = model or default_model()
    play = [describe(f, height) for f in play_flights(flights, width, height, frame_rate, model)]
    rallies: list[Rally] = []
    for group in _groups(play, gap):
        rally = _rally(group, height, source_scale, model)
        if rally is not None and rally.duration >= min_rally:
            rally.index = len(rallies) + 1
            rallies.append(rally)
    return rallies


_default_model: FlightModel | None = None


def default_model() -> FlightModel:
    """The shipped flight model, loaded once."""
    global _default_model
    if _default_model is None:
        _default_model = FlightModel.load()
    return _default_model


def _groups(play: list[FlightFacts], gap: float) -> list[list[FlightFacts]]:
    groups: list[list[FlightFacts]] = []
    for facts in play:
        if groups and facts.flight.start - max(f.flight.end for f in groups[-1]) <= gap:
            groups[-1].append(facts)
        else:
            groups.append([facts])
    return groups


def _rally(group: list[FlightFacts], height: int, source_scale: float, model: FlightModel) -> Rally | None:
    group = _without_serve_preparation(group)
    seen = sum(f.flight.duration for f in group)
    if not group or seen < MIN_FLIGHT_TIME:
        return None
    start = max(group[0].flight.start - model.lead, 0.0)
    end = max(f.flight.end for f in group) + model.tail
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


def _score(duration: float, flights: int, peak_speed: float) -> float:
    """Long rallies with many touches and hard hits rank first (0..1)."""
    return round(0.45 * min(duration / 20.0, 1.0) + 0.35 * min(flights / 10.0, 1.0) + 0.2 * min(peak_speed / 2.0, 1.0), 3)
