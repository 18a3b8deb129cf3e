"""What the ball detector can do with the broadcast stills in ../shared/realdata.

    .venv/bin/python bench/broadcast_frames.py

The frames (640x640, stretched from 16:9 TV) are not consecutive, and Volley's
detector finds the ball by its motion between consecutive frames, so on a still
it finds nothing by design. What can be checked on them is the appearance half of
the detector: would a ball of the labelled size and shape, seen in the analysis
image of the 16:9 original, pass the detector's size and shape gate? Prints that
share and the size distribution (CC BY 4.0 data: see the dataset's README).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from volley import defaults  # noqa: E402
from vproc.detector import MAX_ASPECT, MAX_DIAMETER  # noqa: E402

DATA = ROOT.parent / "shared" / "realdata" / "broadcast-ball-boxes"


def main() -> None:
    boxes = []
    for label in sorted(DATA.glob("*/labels/*.txt")):
        for line in label.read_text().split("\n"):
            parts = line.split()
            if len(parts) == 5 and parts[0] == "0":
                boxes.append([float(v) for v in parts[3:]])
    if not boxes:
        sys.exit(f"no labels under {DATA}")
    wh = np.array(boxes)
    # Undo the stretch: the original was 16:9; the analysis image is ANALYSIS_HEIGHT tall.
    width = wh[:, 0] * defaults.ANALYSIS_HEIGHT * 16 / 9
    height = wh[:, 1] * defaults.ANALYSIS_HEIGHT
    short, long = np.minimum(width, height), np.maximum(width, height)
    passes = (short <= MAX_DIAMETER) & (long <= MAX_DIAMETER * 1.8) & (long <= MAX_ASPECT * short)
    print(f"labelled balls: {len(wh)}")
    print(f"size in the analysis image (px): median {np.median(width):.1f} x {np.median(height):.1f}, "
          f"10th-90th percentile of the longer side {np.percentile(long, 10):.1f}-{np.percentile(long, 90):.1f}")
    print(f"pass the detector's size and shape gate: {passes.mean():.1%}")
    print("motion on these stills: none (frames are not consecutive), so the detector reports no candidate by design")


if __name__ == "__main__":
    main()
