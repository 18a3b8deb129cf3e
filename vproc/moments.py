"""Which moments of a game are play: the second of vproc's two learned decisions.

The flight model says how likely each flight is to be the ball in play; this
module turns those flights into a yes/no per moment (every `STEP` seconds): is
the ball in play now? Looking at the whole neighbourhood of a moment, not one
flight at a time, is what tells play from the rest: the ball of a rally is seen
in pieces with short gaps, preceded by a quiet pause (the server's preparation),
and alone in the air; a warm-up keeps several balls flying for minutes; a ball
thrown back to the server is one flight with nothing around it. The start and end
of a rally relative to its first and last tracked flight (the tracker needs a few
frames to pick the serve up and loses the ball among legs before it lands) are
learned the same way, so no hand-set correction is needed.

`moment_features` makes one row of `FEATURES` per moment; `segments` turns the
model's per-moment chances into intervals (the candidates of `vproc/candidates.py`).
No I/O, numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vproc import flightmodel
from vproc.audio import AudioCues, since_last, until_next
from vproc.players import PlayersMotion
from vproc.tracker import Flight

#: Seconds between moments: well under the 0.5 s boundary error a rally may have.
STEP = 0.1
#: The farthest a moment's features look, before or after it (s). Rally finding
#: that runs while decoding goes on waits this long before a rally counts as settled.
CONTEXT = 10.0
#: Moments worked through at once (memory: this many x the flights near them).
_CHUNK = 600

#: Windows (± seconds) around a moment in which the flights are summed up.
_WINDOWS = (0.25, 1.0, 2.0, 4.0, 10.0)
#: Windows (seconds, relative to the moment) before and after it: the pause before
#: a serve, the silence after a point, a warm-up going on. Wider windows (±30 s)
#: learned the generated games' spacing of rallies and missed the real KATS-BEDS rally.
_SIDES = ((-10.0, -4.0), (4.0, 10.0), (-8.0, -2.0), (2.0, 8.0))
#: What the likely flights near a moment look like (columns of the flight model's
#: features): how far they travel, how high they go, how fast, how long they last.
_SHAPES = ("travel", "top_y", "peak_speed", "log_duration")
_SHAPE_WINDOWS = (1.0, 3.0)
#: Flights at least this likely count as "play-like" for the distance features.
_LIKELY = (0.5, 0.2)
#: The least chance at which a flight counts as likely anywhere in the moment features.
LIKELY_FLOOR = _LIKELY[-1]
#: Distances to the nearest play-like flight are capped here (s): within CONTEXT.
_FAR = CONTEXT

#: Windows (seconds, relative to the moment) over which the players' motion is
#: compared with the game's usual level: now, and before and after (a serve comes
#: after a still moment; the end of a rally before players walk about).
_PLAYERS = ((-1.0, 1.0), (-3.0, 3.0), (-6.0, -2.0), (2.0, 6.0))

#: Seconds before and after a moment in which a whistle counts.
WHISTLE = 3.0
#: Windows (± seconds) in which contacts are counted: play is a rhythm of hits.
_HIT_WINDOWS = (1.0, 3.0)

FEATURES = (
    *(f"{what}_{w:g}" for w in _WINDOWS for what in ("max_p", "air_p", "likely")),
    *(f"{what}_{p:g}" for p in _LIKELY for what in ("since", "until")),
    *(f"{what}_{a:g}_{b:g}" for a, b in _SIDES for what in ("max_p", "air_p")),
    *(f"{what}_{w:g}" for w in _SHAPE_WINDOWS for what in _SHAPES),
    *(f"together_{w:g}" for w in _SHAPE_WINDOWS),
    *(f"players_{a:g}_{b:g}" for a, b in _PLAYERS),  # the players' motion against the game's usual
    "heard",  # 1 when the game has sound (vproc/audio.py)
    "whistle_before",  # the strongest whistle in the WHISTLE seconds before: a serve is allowed
    "whistle_after",  # ...and after: a point is over
    *(f"hits_{w:g}" for w in _HIT_WINDOWS),  # contacts within ± w s
    "since_blast",  # seconds since the last whistle blast (_FAR when none within it, or silent)...
    "until_blast",  # ...and until the next: the serve's whistle comes 3-8 s before the serve
    "since_hit",  # seconds since the last contact: the serve's pop starts a rally...
    "until_hit",  # ...and the ball's landing ends it
)


@dataclass(frozen=True)
class Moments:
    """Moment times (s, each the middle of a STEP-long slot) and one row of features each."""

    t: np.ndarray
    rows: np.ndarray


def moment_times(start: float, end: float) -> np.ndarray:
    """The moments from `start` to `end`: slot middles on a STEP grid anchored at 0,
    so a window of a game gets the same moments as the whole game."""
    first = np.floor(max(start, 0.0) / STEP)
    last = np.ceil(end / STEP)
    return (np.arange(first, max(last, first)) + 0.5) * STEP


def moment_features(
    flights: list[Flight],
    described: np.ndarray,
    likely: np.ndarray,
    times: np.ndarray,
    sound: AudioCues | None = None,
    motion: PlayersMotion | None = None,
) -> Moments:
    """One row of FEATURES per moment in `times`, from the flights, their rows of
    flight features (`described`), the chance (`likely`, from the flight model)
    that each is the ball in play, the players' motion (the usual level throughout
    when it is not given) and the game's audio cues when it has any. Works through the moments in chunks, each against
    the flights within CONTEXT of it, so a three-hour game costs no more memory than
    a few minutes of it."""
    t = np.asarray(times, float)
    start = np.array([f.start for f in flights], float)
    end = np.array([f.end for f in flights], float)
    p = np.asarray(likely, float)
    flight = {
        "start": start,
        "end": end,
        "p": p,
        "together": _in_the_air_together(start, end, p >= _LIKELY[-1]),
        "shapes": np.asarray(described, float)[:, [flightmodel.FEATURES.index(n) for n in _SHAPES]],
    }
    by_start = np.argsort(start)
    latest_end = np.maximum.accumulate(end[by_start]) if len(flights) else end
    rows = np.zeros((len(t), len(FEATURES) - _HEARD - len(_PLAYERS)))
    for first in range(0, len(t), _CHUNK):
        at = t[first:first + _CHUNK]
        # flights sorted by start; those that may reach [at[0] - CONTEXT, at[-1] + CONTEXT]
        lo = int(np.searchsorted(latest_end, at[0] - CONTEXT))
        hi = int(np.searchsorted(start[by_start], at[-1] + CONTEXT, side="right"))
        near = by_start[lo:hi]
        rows[first:first + _CHUNK] = _rows(at, {k: v[near] for k, v in flight.items()})
    return Moments(t, np.hstack([rows, _players(t, motion), _heard(t, sound)]))


def _players(t: np.ndarray, motion: PlayersMotion | None) -> np.ndarray:
    """The players' columns of FEATURES: their motion over each of _PLAYERS as a
    multiple of the game's usual level."""
    if motion is None:
        return np.ones((len(t), len(_PLAYERS)))
    return np.stack([motion.relative(t, a, b) for a, b in _PLAYERS], axis=1)


#: The sound columns, at the end of FEATURES (`_heard`).
_HEARD = 7 + len(_HIT_WINDOWS)


def _heard(t: np.ndarray, sound: AudioCues | None) -> np.ndarray:
    """The sound columns of FEATURES for the moments `t`: nothing heard, and no event
    within _FAR, when there is no sound."""
    if sound is None:
        return np.hstack([np.zeros((len(t), 3 + len(_HIT_WINDOWS))), np.full((len(t), 4), _FAR)])
    return np.stack(
        [
            np.ones(len(t)),
            sound.strongest_in("whistle", t - WHISTLE, WHISTLE),
            sound.strongest_in("whistle", t, WHISTLE),
            *(sound.hits(t - w, t + w) for w in _HIT_WINDOWS),
            since_last(sound.blasts, t, _FAR),
            until_next(sound.blasts, t, _FAR),
            since_last(sound.contacts, t, _FAR),
            until_next(sound.contacts, t, _FAR),
        ],
        axis=1,
    )


def _rows(t: np.ndarray, flight: dict[str, np.ndarray]) -> np.ndarray:
    """The ball's FEATURES (all but the players' and the sound's) for the moments `t` against the
    flights given column-wise."""
    s, e, p = flight["start"][None, :], flight["end"][None, :], flight["p"][None, :]
    at = t[:, None]
    likely = p >= _LIKELY[-1]
    columns: list[np.ndarray] = []
    for w in _WINDOWS:
        overlap = np.clip(np.minimum(e, at + w) - np.maximum(s, at - w), 0.0, None)
        inside = overlap > 0
        columns += [
            np.where(inside, p, 0.0).max(axis=1, initial=0.0),  # the likeliest flight near
            (overlap * p).sum(axis=1) / (2 * w),  # expected share of the window with the ball in play
            (inside & likely).sum(axis=1),  # likely flights near: one ball or several
        ]
    for threshold in _LIKELY:
        play = p >= threshold
        since = np.where(play & (e <= at), at - e, _FAR).min(axis=1, initial=_FAR)
        until = np.where(play & (s >= at), s - at, _FAR).min(axis=1, initial=_FAR)
        columns += [np.minimum(since, _FAR), np.minimum(until, _FAR)]
    for a, b in _SIDES:
        overlap = np.clip(np.minimum(e, at + b) - np.maximum(s, at + a), 0.0, None)
        columns += [np.where(overlap > 0, p, 0.0).max(axis=1, initial=0.0), (overlap * p).sum(axis=1) / (b - a)]
    for w in _SHAPE_WINDOWS:
        near = ((np.minimum(e, at + w) - np.maximum(s, at - w)) > 0) & likely
        for j, name in enumerate(_SHAPES):
            value = -flight["shapes"][:, j] if name == "top_y" else flight["shapes"][:, j]  # top_y: smaller is higher
            columns.append(np.where(near, value[None, :], -10.0).max(axis=1, initial=-10.0))
    for w in _SHAPE_WINDOWS:
        near = ((np.minimum(e, at + w) - np.maximum(s, at - w)) > 0) & likely
        columns.append(np.where(near, flight["together"][None, :], 0).max(axis=1, initial=0))
    return np.stack(columns, axis=1).astype(float)


def _in_the_air_together(start: np.ndarray, end: np.ndarray, likely: np.ndarray) -> np.ndarray:
    """For each flight, how many other likely flights overlap it in time: play has one
    ball in the air, a warm-up several (0 for flights that are not likely)."""
    starts, ends = np.sort(start[likely]), np.sort(end[likely])
    overlapping = np.searchsorted(starts, end, side="left") - np.searchsorted(ends, start, side="right")
    return np.where(likely, overlapping - 1, 0)


def segments(t: np.ndarray, chance: np.ndarray, threshold: float, merge: float, shortest: float) -> list[tuple[float, float]]:
    """Runs of moments at least `threshold` likely, as (start, end) seconds; runs
    closer than `merge` seconds are joined, and those shorter than `shortest` dropped."""
    chance = np.asarray(chance)
    on = np.concatenate([[False], chance >= threshold, [False]])
    edges = np.flatnonzero(np.diff(on.astype(int)))
    runs: list[list[float]] = []
    for first, after in zip(edges[::2], edges[1::2]):
        start, end = float(t[first] - STEP / 2), float(t[after - 1] + STEP / 2)
        if runs and start - runs[-1][1] < merge:
            runs[-1][1] = end
        else:
            runs.append([start, end])
    return [(round(a, 3), round(b, 3)) for a, b in runs if b - a >= shortest]
