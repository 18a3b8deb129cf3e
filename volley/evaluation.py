"""Scoring found rallies against known ones: used by the tests and the benchmarks.

A found rally matches a true one when their temporal IoU is at least 0.5; each
rally matches at most one other (greedy by IoU, which is optimal enough for
non-overlapping intervals). F1 is over matches; boundary errors are over matched
pairs only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Interval = tuple[float, float]


def iou(a: Interval, b: Interval) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else 0.0


@dataclass(frozen=True)
class Score:
    true: int
    found: int
    matched: int
    start_errors: tuple[float, ...]  # |found - true| of matched pairs, seconds
    end_errors: tuple[float, ...]

    @property
    def precision(self) -> float:
        return self.matched / self.found if self.found else 1.0

    @property
    def recall(self) -> float:
        return self.matched / self.true if self.true else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def median_start_error(self) -> float:
        return float(np.median(self.start_errors)) if self.start_errors else 0.0

    @property
    def median_end_error(self) -> float:
        return float(np.median(self.end_errors)) if self.end_errors else 0.0

    def __add__(self, other: "Score") -> "Score":
        return Score(
            self.true + other.true,
            self.found + other.found,
            self.matched + other.matched,
            self.start_errors + other.start_errors,
            self.end_errors + other.end_errors,
        )

    def summary(self) -> str:
        return (
            f"F1 {self.f1:.3f} (P {self.precision:.3f}, R {self.recall:.3f}; {self.matched}/{self.true} true, "
            f"{self.found} found); median error start {self.median_start_error:.2f} s, end {self.median_end_error:.2f} s"
        )


def matches(found: list[Interval], true: list[Interval], min_iou: float = 0.5) -> list[tuple[int, int]]:
    """Pairs (found index, true index) matched one-to-one, best IoU first."""
    pairs = sorted(
        ((iou(f, t), i, j) for i, f in enumerate(found) for j, t in enumerate(true)),
        reverse=True,
    )
    used_f: set[int] = set()
    used_t: set[int] = set()
    matched = []
    for overlap, i, j in pairs:
        if overlap < min_iou:
            break
        if i in used_f or j in used_t:
            continue
        used_f.add(i)
        used_t.add(j)
        matched.append((i, j))
    return matched


def score(found: list[Interval], true: list[Interval], min_iou: float = 0.5) -> Score:
    matched = matches(found, true, min_iou)
    starts = tuple(abs(found[i][0] - true[j][0]) for i, j in matched)
    ends = tuple(abs(found[i][1] - true[j][1]) for i, j in matched)
    return Score(len(true), len(found), len(matched), starts, ends)
