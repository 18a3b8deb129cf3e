"""Train the flight model on generated games whose ball is known.

    .venv/bin/python -m vproc.train [--games 36] [--seed-base 500] [--out vproc/flight_model.json]

Renders games with `volley.synth` (several views, settings, sizes and frame rates;
cached under --work so a rerun only retrains), finds the flights in each with the
real detector and tracker, labels a flight "in play" when most of its points lie
on the known ball, and fits `vproc.flightmodel`. The rally threshold and how much
the tracker misses at both ends of a rally are chosen on the same games. Seeds
from 500 up: the tests use 21-23 and bench/accuracy.py 1000 up, so neither
scores the model on games it was trained on.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from volley.evaluation import Score, matches, score
from volley.synth import GameSpec, Truth, render_game
from vproc.analyse import track_ball
from vproc.flightmodel import MODEL_PATH, FlightModel, fit, flight_features
from vproc.probe import probe
from vproc.rallies import find_rallies
from vproc.tracker import Flight

#: What the generated games vary over: views, settings, sizes, rates. Small sizes
#: keep training fast; analysis runs at ~360 lines whatever the source.
VARIANTS = (
    dict(view="endline", setting="indoor", width=960, height=540, fps=30.0),
    dict(view="side", setting="indoor", width=960, height=540, fps=25.0),
    dict(view="endline", setting="beach", width=960, height=540, fps=30.0),
    dict(view="endline", setting="indoor", width=640, height=360, fps=50.0),
    dict(view="side", setting="beach", width=960, height=540, fps=50.0),
    dict(view="endline", setting="indoor", width=854, height=480, fps=25.0),
)
#: A flight is the ball in play when this share of its points lie within
#: LABEL_RADIUS source pixels (per 360 analysis lines) of the true ball.
LABEL_SHARE = 0.5
LABEL_RADIUS = 5.0
THRESHOLDS = (0.2, 0.25, 0.3, 0.35, 0.4, 0.5)


@dataclass
class Game:
    """One generated game as the tracker saw it, with its truth."""

    flights: list[Flight]
    frame_rate: float  # analysed frames per second
    width: int  # analysis frame size
    height: int
    scale: float  # analysis pixels -> source pixels
    truth: Truth

    def labels(self) -> np.ndarray:
        return np.array([_on_the_ball(f, self.truth, self.scale) >= LABEL_SHARE for f in self.flights], bool)

    def rallies(self, model: FlightModel) -> list[tuple[float, float]]:
        found = find_rallies(self.flights, self.width, self.height, frame_rate=self.frame_rate, model=model)
        return [(r.start, r.end) for r in found]


def _on_the_ball(flight: Flight, truth: Truth, scale: float) -> float:
    """The share of a flight's points that lie on the true ball at that time."""
    ball = np.asarray(truth.ball, dtype=float).reshape(-1, 3)
    if not len(ball):
        return 0.0
    i = np.clip(np.searchsorted(ball[:, 0], flight.t - 2e-3), 0, len(ball) - 1)
    same_time = np.abs(ball[i, 0] - flight.t) < 3e-3
    close = np.hypot(ball[i, 1] - flight.x * scale, ball[i, 2] - flight.y * scale) < LABEL_RADIUS * scale
    return float((same_time & close).mean())


def track_game(path: Path) -> Game:
    """Run the real detector and tracker over a rendered game."""
    track = track_ball(path, probe(path))
    return Game(track.flights, track.frame_rate, track.width, track.height, track.scale, Truth.load(path.with_suffix(".truth.json")))


def train(games: list[Game]) -> FlightModel:
    """Fit the flight model, then pick the threshold and end corrections that score best."""
    rows = np.concatenate([flight_features(g.flights, g.width, g.height, g.frame_rate) for g in games])
    labels = np.concatenate([g.labels() for g in games])
    model = fit(rows, labels)
    best, best_f1 = model, -1.0
    for threshold in THRESHOLDS:
        candidate = _with_end_corrections(dataclasses.replace(model, threshold=threshold), games)
        f1 = evaluate(candidate, games).f1
        if f1 > best_f1:
            best, best_f1 = candidate, f1
    return best


def _with_end_corrections(model: FlightModel, games: list[Game]) -> FlightModel:
    """Lead and tail: the median lateness of found starts and earliness of found ends."""
    late, early = [], []
    plain = dataclasses.replace(model, lead=0.0, tail=0.0)
    for game in games:
        found = game.rallies(plain)
        for i, j in matches(found, game.truth.rallies, min_iou=0.3):
            late.append(found[i][0] - game.truth.rallies[j][0])
            early.append(game.truth.rallies[j][1] - found[i][1])
    lead = max(float(np.median(late)), 0.0) if late else 0.0
    tail = max(float(np.median(early)), 0.0) if early else 0.0
    return dataclasses.replace(model, lead=round(lead, 3), tail=round(tail, 3))


def evaluate(model: FlightModel, games: list[Game]) -> Score:
    total = Score(0, 0, 0, (), ())
    for game in games:
        total = total + score(game.rallies(model), game.truth.rallies)
    return total


def render(work: Path, count: int, seed_base: int) -> list[Path]:
    """Render the training games that are not in `work` yet."""
    work.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        seed = seed_base + i
        path = work / f"game-{seed}.mp4"
        if not path.with_suffix(".truth.json").exists():
            print(f"rendering game {i + 1}/{count} (seed {seed})", flush=True)
            render_game(path, GameSpec(seed=seed, rallies=6, **VARIANTS[seed % len(VARIANTS)]))
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--games", type=int, default=36)
    parser.add_argument("--seed-base", type=int, default=500)
    parser.add_argument("--work", type=Path, default=Path(".cache/train"))
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    args = parser.parse_args(argv)
    games = []
    for path in render(args.work, args.games, args.seed_base):
        print(f"tracking {path.name}", flush=True)
        games.append(track_game(path))
    model = train(games)
    print(f"threshold {model.threshold}, lead {model.lead} s, tail {model.tail} s")
    print(f"on the training games: {evaluate(model, games).summary()}")
    model.save(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main(sys.argv[1:])
