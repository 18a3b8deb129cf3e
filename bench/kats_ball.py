"""The ball on the real KATS-BEDS rally against hand labels of every third frame.

    .venv/bin/python bench/kats_ball.py

The clip (../shared/realdata/kats-beds-rally, MIT) is a whole indoor rally from an
elevated club camera behind the baseline; `tests/kats_ball_labels.json` holds the ball
as marked by hand in every third frame (null where it cannot be seen). Prints in how
many of the frames with the ball visible a detector candidate lies within 10 source
pixels of it, and in how many of those that show a new picture (the camera repeats
about one frame in six) a tracked flight, and a flight taken for play, does (target
for the last: 0.8).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vproc.labelled import ball_hits, frame_labels  # noqa: E402

VIDEO = ROOT.parent / "shared" / "realdata" / "kats-beds-rally" / "kats-beds-clip.mp4"
LABELS = ROOT / "tests" / "kats_ball_labels.json"


def main() -> None:
    if not VIDEO.exists():
        sys.exit(f"missing: {VIDEO}")
    truth = frame_labels(VIDEO, LABELS)
    hits = ball_hits(VIDEO, truth)
    def share(n: int, of: int) -> str:
        return f"{n:4d} of {of}  ({n / max(of, 1):.2f})"

    print(f"labelled frames with the ball visible : {hits.labelled}, {hits.repeated} of them repeating the frame before")
    print(f"ball among the detector's candidates  : {share(hits.among_candidates, hits.labelled)}   (within 10 px)")
    print(f"ball followed by a tracked flight     : {share(hits.followed, hits.judged)}   (frames not repeated)")
    print(f"...by a flight taken for play         : {share(hits.in_play, hits.judged)}   (target >= 0.80)")
    print(f"candidates per labelled frame         : {hits.candidates_per_frame:.1f}")


if __name__ == "__main__":
    main()
