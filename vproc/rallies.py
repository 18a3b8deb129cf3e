"""Turn ball flights into rallies: serve contact to ball dead, with stats and a score.

A rally is play: one ball flying under gravity again and again, with no long
pause. Three learned steps (`vproc/model.py`) decide where play is:

1. the flight model gives each flight the chance that it is the ball in play
   (heads, hands, bounces, balls thrown back and warm-up balls make the others);
2. the moment model looks at those flights around every moment of the game and
   says whether the ball is in play then;
3. the candidate model picks, among the runs of such moments above several
   thresholds, the stretches that are rallies: from the serve contact to the ball
   landing (the tracker's lateness at both ends is part of what it learned).

This module adds what users see of each rally: stats and a score for the best reel.
"""

from __future__ import annotations

import numpy as np

from volley import defaults
from volley.payloads import Rally
from vproc.audio import AudioCues
from vproc.court import Court
from vproc.flightmodel import flight_features
from vproc.model import RallyModel, default_model
from vproc.physics import fit_path
from vproc.players import PlayersMotion
from vproc.tracker import Flight

#: Flights at least this likely to be play count in a rally's stats.
STATS_CHANCE = 0.3
#: Play is a ball falling under gravity: a stretch whose likely flights all move in
#: straight lines (a fitted downward acceleration under MIN_FALL frame heights per
#: s²) is no rally. Gravity is 9.8 m/s², so that floor is a picture 65 m tall where
#: the ball flies: no camera that can see a volleyball is that far, while a test
#: pattern, a car or a scrolling title moves in straight lines (~0). A stretch with
#: no likely flight at all (found from the sound and the rhythm) is not judged here.
MIN_FALL = 0.15
#: A speed is given only when its standard error is at most this share of it: from
#: behind the end line a serve flies along the line of sight, where only gravity
#: tells depth, and its speed is often not known to better than 20-40 %.
SURE_SPEED = 0.1
#: A play flight that travels this far (frame heights) takes the ball across the net
#: or to the other side of the court: counted as a crossing.
CROSSING_TRAVEL = 0.25


def play_flights(
    flights: list[Flight],
    width: int,
    height: int,
    frame_rate: float,
    model: RallyModel | None = None,
    sound: AudioCues | None = None,
) -> list[Flight]:
    """The flights the model takes for the ball in play, in time order."""
    model = (model or default_model()).for_sound(sound)
    likely = model.flight_chances(flight_features(flights, width, height, frame_rate, sound))
    return sorted((f for f, p in zip(flights, likely) if p >= STATS_CHANCE), key=lambda f: f.start)


def find_rallies(
    flights: list[Flight],
    width: int,
    height: int,
    *,
    frame_rate: float,
    since: float = 0.0,
    until: float | None = None,
    min_rally: float = defaults.MIN_RALLY,
    source_scale: float = 1.0,
    model: RallyModel | None = None,
    sound: AudioCues | None = None,
    court: Court | None = None,
    motion: PlayersMotion | None = None,
) -> list[Rally]:
    """The rallies between `since` and `until` (s; by default the flights' span).
    `width` and `height` are the analysis frame's, `frame_rate` the analysed frames
    per second; `source_scale` turns analysis pixels into source pixels for the stats;
    `sound` is the game's audio cues (`vproc.audio.listen`), None when it has none;
    `court`, the court in analysis pixels when it is known, adds stats in metres;
    `motion` is the players' motion (`vproc.players`)."""
    model = (model or default_model()).for_sound(sound)
    described = flight_features(flights, width, height, frame_rate, sound)
    likely = model.flight_chances(described)
    if until is None:
        until = max((f.end for f in flights), default=since) + 1.0
    rallies = []
    for start, end in model.play(flights, described, likely, since, until, min_rally, sound, motion):
        inside = [f for f, p in zip(flights, likely) if f.end > start and f.start < end and p >= STATS_CHANCE]
        if inside and not any(falls(f, height) for f in inside):
            continue
        rally = _rally(len(rallies) + 1, start, end, inside, height, source_scale)
        if court is not None:
            rally.stats.update(court_stats(inside, court, height))
        rallies.append(rally)
    return rallies


def falls(flight: Flight, height: int) -> bool:
    """Whether a flight bends downwards enough to be a ball under gravity (`height`:
    the picture's, in the flight's pixels)."""
    return flight.acceleration()[1] / height >= MIN_FALL


def _rally(index: int, start: float, end: float, flights: list[Flight], height: int, source_scale: float) -> Rally:
    speeds = np.concatenate([f.speeds() for f in flights]) if flights else np.zeros(0)
    peak = float(np.percentile(speeds, 90)) / height if len(speeds) else 0.0
    seen = sum(min(f.end, end) - max(f.start, start) for f in flights)
    stats = {
        "duration": round(end - start, 2),
        "flights": len(flights),
        "net_crossings": sum(1 for f in flights if f.displacement() / height >= CROSSING_TRAVEL),
        "peak_speed": round(peak * height * source_scale, 1),  # source pixels per second
        "ball_seen": round(min(seen / max(end - start, 1e-3), 1.0), 2),  # share of the rally the ball was tracked
    }
    return Rally(index=index, start=start, end=end, stats=stats, score=_score(end - start, len(flights), peak))


def court_stats(flights: list[Flight], court: Court, height: int) -> dict:
    """A rally's stats in court terms (`vproc.physics`): the serve's speed when its path
    pins it down (SURE_SPEED), the longest flight over the floor and the highest ball in
    metres, the net crossings, and where the last flight comes down (court metres, x
    across and y along from the centre) and whether that is in."""
    camera = court.projection()
    paths = [(f, fit_path(f.t, np.c_[f.x, f.y], camera, height)) for f in sorted(flights, key=lambda f: f.start)]
    paths = [(f, p) for f, p in paths if p is not None]
    stats: dict = {"serve_kmh": None, "longest_flight_m": None, "top_m": None, "landing_m": None, "landing_in": None}
    if not paths:
        return stats
    first = paths[0][1]
    if first.speed_error() <= SURE_SPEED * first.speed(first.t0):
        stats["serve_kmh"] = round(first.speed(first.t0) * 3.6)
    stats["longest_flight_m"] = round(max(p.length() for _, p in paths), 1)
    stats["top_m"] = round(max(p.top() for _, p in paths), 1)
    stats["net_crossings"] = sum(p.crosses_net() for _, p in paths)
    landing = paths[-1][1].landing()
    if landing is not None:
        half = (4.0, 8.0) if court.beach else (4.5, 9.0)
        stats["landing_m"] = [round(float(v), 1) for v in landing]
        stats["landing_in"] = bool(abs(landing[0]) <= half[0] and abs(landing[1]) <= half[1])
    return stats


def _score(duration: float, flights: int, peak_speed: float) -> float:
    """Long rallies with many touches and hard hits rank first (0..1)."""
    return round(0.45 * min(duration / 20.0, 1.0) + 0.35 * min(flights / 10.0, 1.0) + 0.2 * min(peak_speed / 2.0, 1.0), 3)
