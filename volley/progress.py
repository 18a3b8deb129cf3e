"""Progress reporting. Stages call a `Progress` with a stage name and a fraction;
the CLI shows a bar, the service stores it on the game. Stages never print."""

from __future__ import annotations

import sys
from typing import Protocol


class Progress(Protocol):
    def __call__(self, stage: str, fraction: float) -> None: ...


def silent(stage: str, fraction: float) -> None:
    """A Progress that reports nothing."""


class Weighted:
    """Maps each stage's own 0..1 onto one overall 0..1, by the stages' share of the work."""

    def __init__(self, sink: Progress, weights: dict[str, float]):
        total = sum(weights.values())
        self._sink = sink
        self._spans: dict[str, tuple[float, float]] = {}
        start = 0.0
        for stage, weight in weights.items():
            self._spans[stage] = (start, weight / total)
            start += weight / total

    def __call__(self, stage: str, fraction: float) -> None:
        start, width = self._spans.get(stage, (0.0, 0.0))
        self._sink(stage, start + width * min(max(fraction, 0.0), 1.0))


class Bar:
    """A command-line progress bar (tqdm) showing the overall percentage and the stage."""

    def __init__(self, enabled: bool = True):
        from tqdm import tqdm

        self._stage = ""
        self._bar = tqdm(
            total=1000,
            disable=not enabled,
            file=sys.stderr,
            bar_format="{desc:<10} {percentage:3.0f}%|{bar}| {elapsed}<{remaining}",
        )

    def __call__(self, stage: str, fraction: float) -> None:
        target = int(round(fraction * 1000))
        if stage != self._stage:
            self._stage = stage
            self._bar.set_description_str(stage, refresh=False)
        if target > self._bar.n:
            self._bar.update(target - self._bar.n)

    def close(self) -> None:
        self._bar.close()
