"""Which flights are the ball in play: a small learned model over what a flight looks like.

The tracker finds many smooth flights, and most are not play: the server's
bounces, balls thrown back, warm-up balls, heads and hands that happen to move
smoothly. Hand-set thresholds on one property at a time (gravity, path length)
kept too few in-play flights and too many others. This module turns each flight
into a handful of scale-free numbers (`flight_features`) and weighs them with a
small gradient-boosted tree ensemble (`vproc/trees.py`, held by `vproc/model.py`)
trained by `vproc/train.py` on generated games whose ball is known. Trees, not a linear model, because what
tells play apart is conditional (a low flight is play when it travels and
rises, not when it hops on the spot): on 24 generated games a logistic
regression over the same numbers reached rally F1 0.57, boosted trees 0.67.
Retrain (`python -m vproc.train`) whenever the detector, the tracker or the
features change.

No I/O; numpy only.
"""

from __future__ import annotations

import numpy as np

from vproc.audio import AudioCues, since_last
from vproc.tracker import Flight

#: Flights this close in time (s) are a flight's neighbourhood: play keeps one ball
#: in the air, a warm-up or a crowd of distractors keeps several.
NEIGHBOURHOOD = 3.0

#: A touch is looked for this long (s) around a flight's start and end: the ball is
#: often lost for a few frames at a contact, and pieces may overlap a little.
LINK_TIME = 0.7
LINK_OVERLAP = 0.1
#: The link distance when no flight is near (frame heights).
NO_LINK = 1.0

FEATURES = (
    "log_duration",  # long flights are rarely noise
    "density",  # share of the frames in the flight where the ball was detected
    "gravity",  # downward acceleration, frame heights per s²
    "sideways",  # sideways acceleration relative to the fall
    "travel",  # start-to-end displacement, frame heights
    "path",  # path length, frame heights
    "peak_speed",  # frame heights per second
    "median_speed",
    "size",  # blob size, frame heights
    "mean_y",  # where in the picture, 0 = top
    "top_y",  # the flight's highest point: play goes high, dead balls stay low
    "off_centre",  # horizontal distance from the picture's middle, frame widths
    "roughness",  # RMS distance from the flight's fitted path (perspective included), in ball sizes
    "rise",  # vertical speed at the start, frame heights per second (up is negative)
    "concurrent",  # other flights in the air at the same time
    "neighbours",  # other flights within NEIGHBOURHOOD seconds
    "neighbour_time",  # their air time within it, seconds
    "link_before",  # distance (frame heights) from where a flight ending just before this one
    "link_after",  # ...or starting just after it, to this one's start or end: touches chain play
    "heard",  # 1 when the game has sound (vproc/audio.py), 0 when the picture is all there is
    "hit_at_start",  # the loudest onset as the flight starts: a ball hit pops, a ball thrown is quiet
    "hit_at_end",  # ...and as it ends (a touch, the floor, the net)
    "since_blast",  # seconds since the last whistle blast (BLAST_FAR when none, or silent): serves follow one
)
#: Where a flight's contacts are listened for (s, relative to its start and end): the
#: tracker picks a flight up a few frames after the contact, and sound reaches the
#: camera up to ~0.1 s late.
HIT_BEFORE_START, HIT_AFTER_START = 0.25, 0.05
HIT_BEFORE_END, HIT_AFTER_END = 0.1, 0.3
#: How far back (s) a whistle is looked for: the referee whistles for the serve, and
#: the server has up to 8 s to serve after it.
BLAST_FAR = 10.0


def flight_features(
    flights: list[Flight], width: int, height: int, frame_rate: float, sound: AudioCues | None = None
) -> np.ndarray:
    """One row of FEATURES per flight (analysis pixels in, scale-free numbers out);
    `sound`, the game's audio cues when it has any."""
    rows = np.zeros((len(flights), len(FEATURES)))
    if not flights:
        return rows
    starts = np.array([f.start for f in flights])
    ends = np.array([f.end for f in flights])
    firsts = np.array([(f.x[0], f.y[0]) for f in flights]) / height
    lasts = np.array([(f.x[-1], f.y[-1]) for f in flights]) / height
    for i, flight in enumerate(flights):
        rows[i] = (
            _own(flight, width, height, frame_rate)
            + _context(flight, starts, ends)
            + _links(i, starts, ends, firsts, lasts)
            + _heard(flight, sound)
        )
    return rows


def _heard(flight: Flight, sound: AudioCues | None) -> list[float]:
    if sound is None:
        return [0.0, 0.0, 0.0, BLAST_FAR]
    return [
        1.0,
        sound.strongest("onset", flight.start - HIT_BEFORE_START, flight.start + HIT_AFTER_START),
        sound.strongest("onset", flight.end - HIT_BEFORE_END, flight.end + HIT_AFTER_END),
        float(since_last(sound.blasts, np.array([flight.start]), BLAST_FAR)[0]),
    ]


def _own(flight: Flight, width: int, height: int, frame_rate: float) -> list[float]:
    ax, ay = flight.acceleration()
    speeds = flight.speeds() / height
    gravity = float(np.clip(ay / height, -10, 10))
    _, rise = flight.velocity(flight.start)
    return [
        float(np.log(flight.duration + 0.05)),
        min(len(flight.t) / (flight.duration * frame_rate + 1.0), 1.0),
        gravity,
        float(min(abs(ax / height) / (abs(gravity) + 0.3), 10.0)),
        flight.displacement() / height,
        flight.path_length() / height,
        float(min(np.percentile(speeds, 90), 10.0)) if len(speeds) else 0.0,
        float(min(np.median(speeds), 10.0)) if len(speeds) else 0.0,
        flight.size / height,
        float(flight.y.mean() / height),
        float(flight.y.min() / height),
        float(abs(flight.x.mean() / width - 0.5)),
        flight.roughness() / max(flight.size, 1.0),
        float(np.clip(rise / height, -10, 10)),
    ]


def _context(flight: Flight, starts: np.ndarray, ends: np.ndarray) -> list[float]:
    concurrent = int(np.sum((starts < flight.end) & (ends > flight.start))) - 1
    near = (starts < flight.end + NEIGHBOURHOOD) & (ends > flight.start - NEIGHBOURHOOD)
    overlap = np.minimum(ends[near], flight.end + NEIGHBOURHOOD) - np.maximum(starts[near], flight.start - NEIGHBOURHOOD)
    return [float(concurrent), float(near.sum() - 1), float(overlap.sum() - flight.duration)]


def _links(i: int, starts: np.ndarray, ends: np.ndarray, firsts: np.ndarray, lasts: np.ndarray) -> list[float]:
    """How close (frame heights) the nearest flight that ends shortly before flight i
    starts, or starts shortly after it ends, comes to it: a touch joins two flights of
    play end to start, while bounces, throws and warm-up balls come and go apart."""
    before = (ends >= starts[i] - LINK_TIME) & (ends <= starts[i] + LINK_OVERLAP)
    after = (starts >= ends[i] - LINK_OVERLAP) & (starts <= ends[i] + LINK_TIME)
    before[i] = after[i] = False
    to_start = np.hypot(*(lasts[before] - firsts[i]).T) if before.any() else np.array([NO_LINK])
    to_end = np.hypot(*(firsts[after] - lasts[i]).T) if after.any() else np.array([NO_LINK])
    return [float(min(to_start.min(), NO_LINK)), float(min(to_end.min(), NO_LINK))]
