"""vproc's learned rally model: which flights are play, which moments, then which stretches.

Three boosted-tree ensembles (`vproc/trees.py`: flights, moments, candidate
stretches) and the number that turns their output into rallies, stored together
in `rally_model.json` next to this file. The file holds two such models: one for
games with sound, and one for the picture alone (`silent`: a file without sound, a muted track, `--no-sound`), each
trained on what it will see, since one set of trees for both let the sound
features crowd out what the picture alone has to go on. `python -m vproc.train`
writes it from generated games; nothing in it is set by hand.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vproc import candidates, flightmodel, moments
from vproc.audio import AudioCues
from vproc.players import PlayersMotion
from vproc.trees import Trees
from vproc.tracker import Flight

MODEL_PATH = Path(__file__).with_name("rally_model.json")


@dataclass(frozen=True)
class RallyModel:
    flights: Trees  # over flightmodel.FEATURES: is this flight the ball in play?
    moments: Trees  # over moments.FEATURES: is the ball in play at this moment?
    candidates: Trees  # over candidates.FEATURES: how well does this stretch match a rally?
    #: A candidate stretch is a rally when its expected match is at least this.
    accept: float = 0.5
    #: The model for games without sound; None: this one serves both.
    silent: "RallyModel | None" = None

    def for_sound(self, sound: AudioCues | None) -> "RallyModel":
        """The model for a game with these audio cues (None: the picture alone)."""
        return self.silent if sound is None and self.silent is not None else self

    def flight_chances(self, described: np.ndarray) -> np.ndarray:
        """The chance that each flight (a row of `flightmodel.flight_features`) is the ball in play."""
        return self.flights.probabilities(described)

    def play(
        self,
        flights: list[Flight],
        described: np.ndarray,
        likely: np.ndarray,
        start: float,
        end: float,
        shortest: float,
        sound: AudioCues | None = None,
        motion: PlayersMotion | None = None,
    ) -> list[tuple[float, float]]:
        """The stretches of play between `start` and `end` (s), given the flights,
        their rows of `flightmodel.flight_features`, their `flight_chances`, the
        game's audio cues and the players' motion."""
        times = moments.moment_times(start, end)
        found = moments.moment_features(flights, described, likely, times, sound, motion)
        chance = self.moments.probabilities(found.rows)
        proposed = candidates.propose(found.t, chance, shortest)
        if not proposed:
            return []
        quality = self.candidates.probabilities(candidates.describe(proposed, found, chance, flights, likely))
        return candidates.choose(proposed, quality, self.accept)

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> "RallyModel":
        return cls.from_json(json.loads(Path(path).read_text()))

    @classmethod
    def from_json(cls, data: dict) -> "RallyModel":
        return cls(
            flights=Trees.from_json(data["flights"], flightmodel.FEATURES),
            moments=Trees.from_json(data["moments"], moments.FEATURES),
            candidates=Trees.from_json(data["candidates"], candidates.FEATURES),
            accept=float(data["accept"]),
            silent=cls.from_json(data["silent"]) if data.get("silent") else None,
        )

    def to_json(self) -> dict:
        data = {
            "flights": self.flights.to_json(),
            "moments": self.moments.to_json(),
            "candidates": self.candidates.to_json(),
            "accept": self.accept,
        }
        if self.silent is not None:
            data["silent"] = self.silent.to_json()
        return data

    def save(self, path: Path = MODEL_PATH) -> None:
        Path(path).write_text(json.dumps(self.to_json(), separators=(",", ":")) + "\n")


_default: RallyModel | None = None


def default_model() -> RallyModel:
    """The shipped model, loaded once per process."""
    global _default
    if _default is None:
        _default = RallyModel.load()
    return _default
