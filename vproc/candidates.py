"""Which stretches of play are rallies: the third of vproc's learned decisions.

The moment model says, every `moments.STEP` seconds, how likely the ball is in play.
One threshold on that curve cannot serve every rally: a serve into the net or an ace
is a short, faint bump that a high threshold misses, while a low one widens long
rallies into the pauses around them and lets a warm-up's echo through. So every
run above each of several thresholds (`CUTS`, joined over each gap of `MERGES`) is a
candidate, described by the chances inside and around it, the flights it holds and
the moment features at its start, middle and end, and the candidate trees say how
well each would match a rally (the expected temporal IoU). `choose` keeps the best
non-overlapping ones.

No I/O, numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vproc import moments
from vproc.tracker import Flight

#: Thresholds on the moment chances whose runs are candidates.
CUTS = (0.15, 0.25, 0.35, 0.45, 0.55, 0.7)
#: Runs of play this close (s) are joined into one candidate; 0 keeps every run as it
#: is. The unjoined runs are there for the short rallies (an ace, a serve into the net):
#: joined over 2 s they melt into the serve-prep bounces or the ball thrown back (on
#: held-out training games, 14 of the 49 rallies left without any candidate, nearly all
#: short ones, had an unjoined run matching them). The joined ones serve long rallies:
#: generated games lose the ball for shorter gaps than real footage does (players hide
#: it, the serve crosses the court fast), so a shorter gap learned on them alone split
#: real rallies (it split the KATS-BEDS rally in three), and one project found rally
#: splitting stopped only at a 2-3 s gap tolerance. Two rallies are never 2 s apart: the
#: server needs several seconds to get ready.
MERGES = (0.0, 2.0, 3.0)
#: Seconds before and after a candidate whose chances tell an edge from a dip.
AROUND = 1.0
#: Flights at least this likely are counted in a candidate's `likely_flights`.
LIKELY = moments.LIKELY_FLOOR

_OWN = (
    "duration",
    "cut",  # the threshold the candidate's run is above
    "merge",  # ...and the gap over which its runs were joined
    "max_chance",
    "mean_chance",
    "share_above",  # the share of its moments above the cut: one run or several joined
    "before_chance",  # the mean chance in the AROUND seconds before it...
    "after_chance",  # ...and after
    "max_flight",  # the likeliest flight overlapping it
    "likely_flights",
)
#: Where in a candidate the moment model's own features are read.
_AT = ("start", "middle", "end")
FEATURES = (*_OWN, *(f"{at}_{name}" for at in _AT for name in moments.FEATURES))


@dataclass(frozen=True)
class Candidate:
    start: float  # s
    end: float
    cut: float
    merge: float


def propose(t: np.ndarray, chance: np.ndarray, shortest: float) -> list[Candidate]:
    """Every distinct run of the moments `t` above each of CUTS, joined over each of
    MERGES, at least `shortest` seconds long."""
    found: dict[tuple[float, float], Candidate] = {}
    for cut in CUTS:
        for merge in MERGES:
            for start, end in moments.segments(t, chance, cut, merge, shortest):
                found.setdefault((start, end), Candidate(start, end, cut, merge))
    return sorted(found.values(), key=lambda c: (c.start, c.end))


def describe(
    candidates: list[Candidate], found: moments.Moments, chance: np.ndarray, flights: list[Flight], likely: np.ndarray
) -> np.ndarray:
    """One row of FEATURES per candidate, from the moments (`moments.moment_features`)
    and their chances, and the flights with their chances of being the ball in play."""
    t, chance = found.t, np.asarray(chance, float)
    start = np.array([f.start for f in flights], float)
    end = np.array([f.end for f in flights], float)
    likely = np.asarray(likely, float)
    rows = np.zeros((len(candidates), len(FEATURES)))
    for i, c in enumerate(candidates):
        first = int(np.searchsorted(t, c.start))
        after = max(int(np.searchsorted(t, c.end)), first + 1)
        inside = chance[first:after]
        before = chance[(t >= c.start - AROUND) & (t < c.start)]
        behind = chance[(t > c.end) & (t <= c.end + AROUND)]
        near = likely[(end > c.start) & (start < c.end)]
        own = (
            c.end - c.start, c.cut, c.merge, inside.max(), inside.mean(), (inside >= c.cut).mean(),
            before.mean() if len(before) else 0.0, behind.mean() if len(behind) else 0.0,
            near.max(initial=0.0), (near >= LIKELY).sum(),
        )
        at = (first, (first + after - 1) // 2, after - 1)
        rows[i] = np.concatenate([own, *(found.rows[min(j, len(t) - 1)] for j in at)])
    return rows


def choose(candidates: list[Candidate], quality: np.ndarray, accept: float) -> list[tuple[float, float]]:
    """The candidates whose expected match (`quality`) is at least `accept`, best
    first, each kept only when it overlaps none kept before it; in time order."""
    kept: list[Candidate] = []
    for i in np.argsort(-np.asarray(quality), kind="stable"):
        c = candidates[i]
        if quality[i] < accept:
            break
        if all(c.end <= k.start or c.start >= k.end for k in kept):
            kept.append(c)
    return sorted((c.start, c.end) for c in kept)

