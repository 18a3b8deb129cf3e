"""Rally accuracy on generated games that no model saw, by family, and on real footage.

    .venv/bin/python bench/accuracy.py [--games 12] [--seed-base 1000] [--model PATH] [--leave-out [FAMILY=VALUE ...]]

The generalisation protocol. The generator's parameters fall into families
(`vproc.train.FAMILIES`: the camera's view, the venue's setting). Two figures are
printed for each family value:

- in distribution: the model (the shipped one, or --model) on the bench games of
  that value; it trained on other games of the same kinds;
- held out (--leave-out): a model trained by `vproc.train` on the training games
  WITHOUT that value (say, no corner camera at all), scored on the bench games that
  have it. This is the figure that says whether the model learned volleyball or
  the generator's cameras and venues.

Each is given with the games' sound and from the picture alone, as F1 (temporal
IoU >= 0.5, one-to-one) with median start/end errors. Targets: in distribution
F1 >= 0.97; held out F1 >= 0.95 with errors <= 0.5 s, >= 0.90 from the picture alone.
The real KATS-BEDS rally (serve at ~1 s, last touch at ~15 s) closes the report.

Bench games are rendered once into .cache/accuracy/ and their detector candidates
kept beside them; training games come from .cache/train/ (`python -m vproc.train`
renders them). Rally finding is the same as `volley process`'s final pass over the
tracker's flights.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from volley.evaluation import Score, score  # noqa: E402
from volley.synth import GameSpec, rendered  # noqa: E402
from vproc import train  # noqa: E402
from vproc.analyse import analyse  # noqa: E402
from vproc.model import MODEL_PATH, RallyModel  # noqa: E402

CACHE = ROOT / ".cache" / "accuracy"
#: Bench games: every view in both settings, at the sizes and rates people film.
VARIANTS = [
    dict(view="endline", setting="indoor", width=1280, height=720, fps=30.0),
    dict(view="side", setting="indoor", width=1280, height=720, fps=25.0),
    dict(view="corner", setting="beach", width=1920, height=1080, fps=30.0),
    dict(view="endline", setting="beach", width=960, height=540, fps=60.0),
    dict(view="corner", setting="indoor", width=1280, height=720, fps=50.0),
    dict(view="side", setting="beach", width=854, height=480, fps=30.0),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--games", type=int, default=2 * len(VARIANTS))
    parser.add_argument("--seed-base", type=int, default=1000)
    parser.add_argument("--rallies", type=int, default=6)
    parser.add_argument("--model", type=Path, default=MODEL_PATH, help="the model to score in distribution ('none': skip)")
    parser.add_argument("--leave-out", nargs="*", metavar="FAMILY=VALUE",
                        help="also train and score a model without each family value (all of them, or those given)")
    parser.add_argument("--train-work", type=Path, default=ROOT / ".cache" / "train")
    parser.add_argument("--train-games", type=int, default=40)
    parser.add_argument("--train-small", type=int, default=12)
    args = parser.parse_args()
    specs = [GameSpec(seed=args.seed_base + i, rallies=args.rallies, **VARIANTS[i % len(VARIANTS)]) for i in range(args.games)]
    paths = [rendered(spec, CACHE)[0] for spec in specs]
    heard = [train.track_game(path, cache=True) for path in paths]
    silent = [train.track_game(path, cache=True, heard=False) for path in paths]
    if args.model.name != "none":
        model = RallyModel.load(args.model)
        for game in heard:
            found = score(game.rallies(model), game.truth.rallies)
            print(f"{game.name} {train.family_of(game.truth)}: {found.summary()}", flush=True)
        report("in distribution", model, heard, silent)
    if args.leave_out is not None:
        everything = [f"{family}={value}" for family, values in train.FAMILIES.items() for value in values]
        training = train.training_games(args.train_work, args.train_games, train.SEED_BASE, args.train_small, jobs=2)
        for family, value in (item.split("=", 1) for item in args.leave_out or everything):
            without = train.train(train.without_family(training, {family: value}))
            report(f"held out: trained without {family}={value}", without, heard, silent, {family: value})
    if args.model.name != "none":
        real_clips()


def report(label: str, model: RallyModel, heard: list[train.Game], silent: list[train.Game],
           only: dict[str, str] | None = None) -> None:
    """F1 and boundary errors of `model` per family value (only `only`'s, when given)."""
    print(f"== {label}", flush=True)
    for family, values in train.FAMILIES.items():
        for value in values:
            if only is not None and only.get(family) != value:
                continue
            line = []
            for how, games in (("with sound", heard), ("picture alone", silent)):
                total = Score(0, 0, 0, (), ())
                for game in games:
                    if train.family_of(game.truth)[family] == value:
                        total = total + score(game.rallies(model), game.truth.rallies)
                line.append(f"{how}: {total.summary()}")
            print(f"  {family}={value}: " + " | ".join(line), flush=True)


def real_clips() -> None:
    kats = ROOT.parent / "shared" / "realdata" / "kats-beds-rally" / "kats-beds-clip.mp4"
    if kats.exists():
        rallies = analyse(kats).rallies
        print("KATS-BEDS clip (one rally, serve at ~1 s, last touch at ~15 s):",
              [(round(r.start, 2), round(r.end, 2)) for r in rallies])


if __name__ == "__main__":
    main()
