"""The ball detector and tracker on the 21 labelled TrackNet frames in ../shared/realdata.

    .venv/bin/python bench/tracknet.py

A 0.84 s clip from an elevated broadcast camera behind one end of a beach court,
the ball labelled in every frame (MIT; see ../shared/realdata/README.md). Prints in
how many labelled frames a detector candidate lies within 10 source pixels of the
label, and in how many a tracked flight does, with the candidates per frame.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vproc.labelled import ball_hits, tracknet_labels  # noqa: E402

CLIP = ROOT.parent / "shared" / "realdata" / "tracknet-beach-21f"


def main() -> None:
    video, labels = CLIP / "VolleyballShortClip.mp4", CLIP / "VolleyballShortClip.csv"
    if not video.exists():
        sys.exit(f"missing: {video}")
    hits = ball_hits(video, tracknet_labels(video, labels))
    print(f"labelled frames            : {hits.labelled} (the detector reports all but the first and last two)")
    print(f"ball among the candidates  : {hits.among_candidates} of {hits.labelled}   (within 10 px)")
    print(f"ball followed by a flight  : {hits.followed} of {hits.labelled}")
    print(f"...one taken for play      : {hits.in_play} of {hits.labelled}")
    print(f"candidates per frame       : {hits.candidates_per_frame:.1f}")


if __name__ == "__main__":
    main()
