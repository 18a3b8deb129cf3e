"""Speed and memory of `volley process` against ffmpeg's decode-only time.

    .venv/bin/python bench/speed.py [--minutes 10] [--width 1920 --height 1080 --fps 50]

Prints both wall times, their ratio (target ≤ 1.5) and volley's peak memory
(target ≤ 1.5 GB), and the rally accuracy on the game as a sanity check.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from volley.evaluation import score  # noqa: E402
from volley.synth import GameSpec, Truth, render_game  # noqa: E402


def game(minutes: float, width: int, height: int, fps: float) -> tuple[Path, Truth]:
    cache = ROOT / ".cache" / "bench"
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"game-{height}p{fps:g}-{minutes:g}min.mp4"
    truth_path = path.with_suffix(".truth.json")
    if not path.exists() or not truth_path.exists():
        rallies = max(1, round(minutes * 60 / 21.5))  # a rally and its pause take about 21.5 s here
        print(f"rendering {path.name} ({rallies} rallies); this takes a while, once", flush=True)
        started = time.monotonic()
        render_game(path, GameSpec(seed=4242, width=width, height=height, fps=fps, rallies=rallies))
        print(f"  rendered in {time.monotonic() - started:.0f} s", flush=True)
    return path, Truth.from_json(json.loads(truth_path.read_text()))


def timed(cmd: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of the largest process the command ran."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.monotonic()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    elapsed = time.monotonic() - started
    return elapsed, max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--fps", type=float, default=50)
    args = parser.parse_args()
    path, truth = game(args.minutes, args.width, args.height, args.fps)
    size_mb = path.stat().st_size / 1e6
    bitrate = size_mb * 8 / truth.duration
    print(f"game: {path.name}, {truth.duration:.0f} s, {size_mb:.0f} MB ({bitrate:.1f} Mbit/s), {len(truth.rallies)} rallies")

    decode, _ = timed(["ffmpeg", "-v", "error", "-threads", "2", "-i", str(path), "-f", "null", "-"])
    with tempfile.TemporaryDirectory() as out:
        volley, peak_kib = timed([str(ROOT / ".venv" / "bin" / "volley"), "process", str(path), "--out", out, "--quiet"])
        found = json.loads((Path(out) / "rallies.json").read_text())["rallies"]
    accuracy = score([(r["start"], r["end"]) for r in found], truth.rallies)
    print(f"ffmpeg decode only : {decode:7.1f} s")
    print(f"volley process     : {volley:7.1f} s   (clips, posters, digest and best reel included)")
    print(f"ratio              : {volley / decode:7.2f} x decode-only   (target <= 1.5)")
    print(f"speed              : {truth.duration / volley:7.2f} x real time")
    print(f"peak memory        : {peak_kib / 1024:7.0f} MB   (target <= 1536)")
    print(f"rallies            : {accuracy.summary()}")


if __name__ == "__main__":
    main()
