"""The players as a second cue to play: how much of the picture moves, over time.

A rally shows in the players as well as in the ball: both teams still while the
server gets ready, then everyone moving fast until the ball is dead; between
rallies they walk, gather and fetch balls. The detector measures, in every analysed
frame, the share of the picture's usually quiet places that moved
(`vproc.detector.FrameBlobs.moving`). What that share is in a rally depends on the
camera (how big the players are, how much of the picture is court), so the moment
features compare it with the same game's own usual level: a ratio means the same
from every camera. No I/O, numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Seconds of the game before a moment whose usual motion it is compared with.
BASELINE = 120.0
#: The usual level is worked out every this many seconds and interpolated between:
#: a moment depends on nothing more than this far after it (within moments.CONTEXT).
GRID = 10.0
#: The least usual level (share of the picture): a still clip is not divided by 0.
FLOOR = 1e-4


@dataclass(frozen=True)
class PlayersMotion:
    """Analysed frame times (s) and the share of quiet places that moved in each
    (NaN where a frame was skipped as a cut, a pan or a flash)."""

    t: np.ndarray
    moving: np.ndarray

    @classmethod
    def of(cls, times: list[float], moving: list[float]) -> "PlayersMotion":
        return cls(np.asarray(times, float), np.asarray(moving, float))

    def relative(self, at: np.ndarray, a: float, b: float) -> np.ndarray:
        """The mean motion over [at + a, at + b] for each moment, as a multiple of the
        game's usual level around it (1.0 where no frame was measured)."""
        at = np.asarray(at, float)
        if not len(at):
            return np.ones(0)
        near = self._between(at.min() + min(a, 0.0) - BASELINE - GRID, at.max() + max(b, 0.0) + GRID)
        mean = near._mean(at + a, at + b)
        return np.where(np.isnan(mean), 1.0, mean / near._usual(at))

    def _between(self, lo: float, hi: float) -> "PlayersMotion":
        """The frames from `lo` to `hi` (s) only: rally finding while decoding looks at a
        window of a long game again and again, and should not pay for all of it each time."""
        i, j = np.searchsorted(self.t, lo), np.searchsorted(self.t, hi, side="right")
        return PlayersMotion(self.t[i:j], self.moving[i:j])

    def _mean(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        known = ~np.isnan(self.moving)
        total = np.concatenate([[0.0], np.cumsum(np.where(known, self.moving, 0.0))])
        count = np.concatenate([[0], np.cumsum(known)])
        i, j = np.searchsorted(self.t, lo), np.searchsorted(self.t, hi, side="right")
        n = count[j] - count[i]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n > 0, (total[j] - total[i]) / np.maximum(n, 1), np.nan)

    def _usual(self, at: np.ndarray) -> np.ndarray:
        """The median motion over the BASELINE seconds up to each grid point (the first
        GRID seconds for the points before that), interpolated to `at`."""
        if not len(self.t):
            return np.full(len(at), FLOOR)
        first = np.floor(max(float(at.min()), 0.0) / GRID) * GRID  # on a grid anchored at 0, whatever the window
        grid = np.arange(first, max(float(at.max()), first) + 2 * GRID, GRID)
        levels = np.array([self._median(max(g, GRID) - BASELINE, max(g, GRID)) for g in grid])
        known = ~np.isnan(levels)
        if not known.any():
            return np.full(len(at), FLOOR)
        return np.maximum(np.interp(at, grid[known], levels[known]), FLOOR)

    def _median(self, lo: float, hi: float) -> float:
        i, j = np.searchsorted(self.t, lo), np.searchsorted(self.t, hi, side="right")
        values = self.moving[i:j]
        values = values[~np.isnan(values)]
        return float(np.median(values)) if len(values) else np.nan


class MotionLog:
    """The players' motion, frame by frame as the decode goes (arrays grown in place,
    so a look at it while decoding costs nothing however long the game is)."""

    def __init__(self) -> None:
        self._t = np.zeros(1024)
        self._moving = np.zeros(1024)
        self._n = 0

    def add(self, t: float, moving: float) -> None:
        if self._n == len(self._t):
            self._t = np.concatenate([self._t, np.zeros(self._n)])
            self._moving = np.concatenate([self._moving, np.zeros(self._n)])
        self._t[self._n], self._moving[self._n] = t, moving
        self._n += 1

    def so_far(self) -> PlayersMotion:
        return PlayersMotion(self._t[: self._n], self._moving[: self._n])
