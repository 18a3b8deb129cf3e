"""Rally accuracy on generated games the tests never see, and on real footage.

    .venv/bin/python bench/accuracy.py [--games 8] [--seed-base 1000] [--silent]

Each game varies seed, view, setting, resolution and frame rate. Rendered games are
kept in .cache/accuracy/ (named by their spec), so a rerun only analyses. Prints one line
per game and the totals: F1 (temporal IoU ≥ 0.5, one-to-one) and median
start/end errors (targets: F1 ≥ 0.95, errors ≤ 0.5 s).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from volley.evaluation import Score, score  # noqa: E402
from volley.synth import GameSpec, render_game  # noqa: E402
from volley.synth.spec import Truth  # noqa: E402
from vproc.analyse import analyse  # noqa: E402

CACHE = ROOT / ".cache" / "accuracy"
VARIANTS = [
    dict(view="endline", setting="indoor", width=1280, height=720, fps=30.0),
    dict(view="side", setting="indoor", width=1280, height=720, fps=25.0),
    dict(view="endline", setting="beach", width=1920, height=1080, fps=30.0),
    dict(view="endline", setting="indoor", width=960, height=540, fps=60.0),
    dict(view="side", setting="beach", width=1280, height=720, fps=50.0),
    dict(view="endline", setting="indoor", width=854, height=480, fps=30.0),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--games", type=int, default=len(VARIANTS))
    parser.add_argument("--seed-base", type=int, default=1000)
    parser.add_argument("--rallies", type=int, default=6)
    parser.add_argument("--silent", action="store_true", help="ignore the games' sound: score the picture alone")
    args = parser.parse_args()
    total = Score(0, 0, 0, (), ())
    for i in range(args.games):
        variant = VARIANTS[i % len(VARIANTS)]
        spec = GameSpec(seed=args.seed_base + i, rallies=args.rallies, **variant)
        try:
            path, truth = rendered(spec)
        except Exception as err:  # a renderer bug must not hide the other games' figures
            print(f"seed {spec.seed} {variant}: could not render: {err!r}", flush=True)
            continue
        started = time.monotonic()
        found = analyse(path, hear=not args.silent).rallies
        elapsed = time.monotonic() - started
        result = score([(r.start, r.end) for r in found], truth.rallies)
        total = total + result
        print(f"seed {spec.seed} {variant}: {result.summary()} [{elapsed:.0f} s for {truth.duration:.0f} s]", flush=True)
    print(f"TOTAL: {total.summary()}")
    kats = ROOT.parent / "shared" / "realdata" / "kats-beds-rally" / "kats-beds-clip.mp4"
    if kats.exists():
        rallies = analyse(kats).rallies
        print("KATS-BEDS clip (one rally, serve at ~1 s):", [(round(r.start, 2), round(r.end, 2)) for r in rallies])


def rendered(spec: GameSpec) -> tuple[Path, Truth]:
    """The game of `spec` and its truth, rendered once into the cache."""
    name = hashlib.sha1(json.dumps(asdict(spec), sort_keys=True).encode()).hexdigest()[:12]
    path = CACHE / f"game-{spec.seed}-{name}.mp4"
    truth_path = path.with_suffix(".truth.json")
    if not truth_path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        truth = render_game(path, spec)
        truth.save(truth_path)  # last: a killed render leaves no truth
    return path, Truth.load(truth_path)


if __name__ == "__main__":
    main()
