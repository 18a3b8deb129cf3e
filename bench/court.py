"""How well `vproc.court.find_court` finds the court and the camera.

    .venv/bin/python bench/court.py [--seeds 10] [--frames 8]

For each generated view and setting (640x360, --seeds games each): the share of games
where a court is returned, the share within 2 % of the picture's width, the median
corner error (% of width, over the games with a court), the median camera height error
(%), then the two real clips against tests/court_truth.json, and the CPU time per call.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import av
import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from volley.synth import GameSpec  # noqa: E402
from volley.synth.render import Scene  # noqa: E402
from vproc.court import find_court  # noqa: E402
from vproc.decode import analysis_size  # noqa: E402

REALDATA = ROOT.parent / "shared" / "realdata"
WIDTH, HEIGHT = 640, 360


def generated(view: str, setting: str, seed: int, count: int):
    """Grey frames over a rendered game, each moved back by its tripod-bump shift."""
    scene = Scene(GameSpec(seed=seed, width=WIDTH, height=HEIGHT, view=view, setting=setting, rallies=1))
    frames = []
    for t in np.linspace(0.0, scene.plan.duration - 0.1, count):
        grey = cv2.cvtColor(scene.draw(float(t))[0], cv2.COLOR_BGR2GRAY)
        ox, oy = scene.shift_at(float(t))
        frames.append(cv2.warpAffine(grey, np.float32([[1, 0, ox], [0, 1, oy]]), (WIDTH, HEIGHT),
                                     borderMode=cv2.BORDER_REPLICATE))
    cam = scene.canvas_cam.shifted(scene.margin, scene.margin)
    hw, hl = scene.venue.half_w, scene.venue.half_l
    corners, _ = cam.project(np.array([[-hw, -hl, 0], [hw, -hl, 0], [hw, hl, 0], [-hw, hl, 0]], float))
    return frames, corners, float(cam.pos[2])


def corner_error(found: np.ndarray, truth: list) -> float:
    """Largest distance over the truth's known corners, best symmetric labelling."""
    best = np.inf
    for start in range(4):
        for step in (1, -1):
            order = [(start + step * k) % 4 for k in range(4)]
            errors = [np.linalg.norm(found[o] - np.asarray(t)) for o, t in zip(order, truth) if t is not None]
            best = min(best, max(errors))
    return float(best)


def timed(frames):
    started = time.process_time()
    court = find_court(frames)
    return court, time.process_time() - started


def real_frames(path: Path, count: int = 10) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        grey = [f.to_ndarray(format="gray") for f in container.decode(video=0)]
    size = analysis_size(grey[0].shape[1], grey[0].shape[0])
    picks = np.linspace(0, len(grey) - 1, count).round().astype(int)
    return [cv2.resize(grey[i], size, interpolation=cv2.INTER_LINEAR) for i in picks]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--frames", type=int, default=8)
    args = parser.parse_args()
    cpu = []
    print(f"{'view':8} {'setting':7} {'found':>6} {'<=2%':>6} {'corner err %':>13} {'height err %':>13}")
    for view in ("endline", "corner", "side"):
        for setting in ("indoor", "beach"):
            found = close = 0
            errors, heights = [], []
            for seed in range(1, args.seeds + 1):
                frames, corners, height = generated(view, setting, seed, args.frames)
                court, took = timed(frames)
                cpu.append(took)
                if court is None:
                    continue
                found += 1
                err = 100 * corner_error(court.corners, corners.tolist()) / WIDTH
                errors.append(err)
                close += err <= 2.0
                heights.append(100 * abs(court.camera_height_m - height) / height)
            med = lambda v: f"{np.median(v):13.1f}" if v else f"{'-':>13}"  # noqa: E731
            print(f"{view:8} {setting:7} {found / args.seeds:6.0%} {close / args.seeds:6.0%} {med(errors)} {med(heights)}",
                  flush=True)
    truth = json.loads((ROOT / "tests" / "court_truth.json").read_text())["clips"]
    for name, label in truth.items():
        path = REALDATA / name
        if not path.exists():
            print(f"{name}: missing ({path})")
            continue
        frames = real_frames(path)
        court, took = timed(frames)
        cpu.append(took)
        if court is None:
            print(f"{name}: no court")
            continue
        scale = frames[0].shape[1] / label["width"]
        known = [None if c is None else [c[0] * scale, c[1] * scale] for c in label["corners"]]
        err = 100 * corner_error(court.corners, known) / frames[0].shape[1]
        x, y, z = court.camera_position_m
        print(f"{name}: corner error {err:.1f} % of width, score {court.score:.2f}, "
              f"{'beach' if court.beach else 'indoor'}, camera ({x:.1f}, {y:.1f}, {z:.1f}) m")
    print(f"CPU per call: median {np.median(cpu):.2f} s, max {np.max(cpu):.2f} s (640x360, {args.frames} frames)")


if __name__ == "__main__":
    main()
