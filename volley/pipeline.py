"""The one-machine pipeline: analyse → export rally segments → build clips → write results.

This is what `volley process` runs. It owns the plumbing the stages do not:
the scratch directory (created per run, removed afterwards), overall progress,
and writing `rallies.json` and `track.json` atomically, so an interrupted run
never leaves a half-written result that looks complete.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from volley import defaults, settings
from clipper import build_outputs
from framer import Cutter, export_rallies, padded
from volley.payloads import CourtView, Outputs, Rally, VideoInfo
from volley.progress import Progress, Weighted, silent
from vproc.analyse import Analysis, analyse
from vproc.court import from_corners
from vproc.probe import probe

#: Share of the run's time each stage takes, for one overall percentage.
STAGE_WEIGHTS = {"analysing": 85.0, "cutting": 8.0, "building": 7.0}


@dataclass
class Options:
    pad_before: float = defaults.PAD_BEFORE
    pad_after: float = defaults.PAD_AFTER
    clips: bool = True
    best: int = defaults.BEST_COUNT
    jobs: int = 2
    #: Use the sound track (ball contacts, whistles). Off for games filmed with music,
    #: commentary or a loud neighbouring court, where the picture alone does better.
    hear: bool = True
    #: The court's four outer corners (source pixels) when the user gives them; None:
    #: look for the court in the picture.
    court: tuple[tuple[float, float], ...] | None = None
    beach: bool = False  # the given court is a beach court
    work_dir: Path = field(default_factory=settings.work_dir)


@dataclass
class Result:
    analysis: Analysis
    out_dir: Path
    rallies_json: Path
    track_json: Path
    digest: Path | None = None
    best: Path | None = None


def process(source: Path, out_dir: Path, options: Options | None = None, progress: Progress = silent) -> Result:
    options = options or Options()
    source, out_dir = Path(source), Path(out_dir)
    overall = Weighted(progress, STAGE_WEIGHTS)
    with ExitStack() as stack:
        early = EarlyCuts(source, options, stack) if options.clips else None
        analysis = analyse(source, overall, early=early, hear=options.hear, court=given_court(source, options))
        out_dir.mkdir(parents=True, exist_ok=True)
        result = Result(analysis, out_dir, out_dir / "rallies.json", out_dir / "track.json")
        write_json(result.track_json, {"frames": [p.to_dict() for p in analysis.track]})
        entries = [_entry(r) for r in analysis.rallies]
        if early is not None and analysis.rallies:
            entries = _build_clips(source, analysis, out_dir, options, overall, result, early)
    court = analysis.court.to_dict() if analysis.court else None
    write_json(result.rallies_json, {"video": analysis.video.public(), "court": court, "rallies": entries})
    progress("done", 1.0)
    return result


def given_court(source: Path, options: Options) -> CourtView | None:
    """The court the user marked (`Options.court`), checked against the video's size."""
    if options.court is None:
        return None
    video = probe(source)
    court = from_corners(options.court, (video.width, video.height), beach=options.beach)
    return CourtView(tuple(map(tuple, court.corners.tolist())), court.camera_height_m, court.beach, by="user")


class EarlyCuts:
    """Starts cutting the rallies that analysis has settled while it still decodes the
    rest of the game: decoding leaves part of the CPU idle, and the cuts fill it.
    Cuts go to `folder` when given (the service's node-local work directory, where the
    cutting stage finds them by name), else to a scratch directory of the run's own,
    removed when `stack` closes."""

    def __init__(self, source: Path, options: Options, stack: ExitStack, folder: Path | None = None):
        self.source, self.options, self.stack = source, options, stack
        self.cutter: Cutter | None = None
        self.scratch: Path | None = folder

    def __call__(self, video: VideoInfo, rallies: list[Rally]) -> None:
        cutter = self.open(video)
        for rally in rallies:
            cutter.cut(*padded(rally, video, self.options.pad_before, self.options.pad_after))

    def open(self, video: VideoInfo) -> Cutter:
        if self.cutter is None:
            if self.scratch is None:
                self.options.work_dir.mkdir(parents=True, exist_ok=True)
                self.scratch = Path(tempfile.mkdtemp(prefix="game-", dir=self.options.work_dir))
                self.stack.callback(shutil.rmtree, self.scratch, ignore_errors=True)
            self.cutter = self.stack.enter_context(Cutter(self.source, video, self.scratch, self.options.jobs))
        return self.cutter


def _entry(rally: Rally, clip: str | None = None, poster: str | None = None) -> dict:
    entry = rally.to_dict()
    entry["clip"] = clip
    entry["poster"] = poster
    return entry


def _build_clips(
    source: Path, analysis: Analysis, out_dir: Path, options: Options, progress: Progress, result: Result, early: EarlyCuts
) -> list[dict]:
    cutter = early.open(analysis.video)
    segments = export_rallies(
        source, analysis.video, analysis.rallies, cutter.work_dir, options.pad_before, options.pad_after, progress,
        cutter=cutter,
    )
    outputs = build_outputs(segments, analysis.rallies, out_dir, options.best, progress, jobs=options.jobs)
    result.digest, result.best = outputs.digest, outputs.best
    return rally_entries(analysis.rallies, outputs, out_dir)


def rally_entries(rallies: list[Rally], outputs: Outputs, out_dir: Path) -> list[dict]:
    """The rallies as rallies.json lists them, with their clip and poster relative to out_dir."""
    return [
        _entry(r, _relative(outputs.clips.get(r.index), out_dir), _relative(outputs.posters.get(r.index), out_dir))
        for r in rallies
    ]


def _relative(path: Path | None, base: Path) -> str | None:
    return None if path is None else str(Path(path).relative_to(base))


def write_json(path: Path, data: dict) -> None:
    """Write JSON atomically: readers see the old file or the new one, never half of one."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)
