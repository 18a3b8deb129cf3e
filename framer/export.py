"""Exporting the rally ranges of a game as segments in a node-local work directory.

Each rally becomes one MP4 covering [start - pad_before, end + pad_after],
clamped to the video, accurate to a frame: smart-cut (copied, with only the
partial GOPs at its ends re-encoded) when the source is browser-friendly H.264,
re-encoded to H.264 once otherwise. A segment is written under a temporary name
and renamed into place, and its name records the source and range, so a retry
reuses finished segments and never leaves a half-written one behind.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from fractions import Fraction
from pathlib import Path

import av

from framer import parts
from framer.plan import Plan, plan_cut
from framer.source import Facts, Source
from volley.payloads import Rally, Segment, VideoInfo
from volley.progress import Progress, silent

#: Requested times come rounded to the millisecond (rallies.json); a frame within
#: this much of a requested time counts as being at it.
TIME_TOLERANCE = Fraction(1, 1000)
#: Bump when the cutting changes, so segments cut by an older framer are not reused.
CUT_VERSION = 2
#: Segments are made in a folder named so, then moved into place.
TEMP_PREFIX = ".volley-cut-"


def export_rallies(
    source: Path,
    video: VideoInfo,
    rallies: list[Rally],
    work_dir: Path,
    pad_before: float,
    pad_after: float,
    progress: Progress = silent,
    jobs: int = 1,
    cutter: "Cutter | None" = None,
) -> list[Segment]:
    """Cut each rally's padded range from `source` into `work_dir`; one Segment per rally.
    Cuts are planned one after the other (one reader of the source) and up to `jobs`
    of them are written at once (each is an ffmpeg process). A `cutter` that was
    given some of the ranges early (while the game was still being analysed) is
    reused: those cuts are waited for, not made again."""
    if cutter is None:
        with Cutter(source, video, work_dir, jobs) as own:
            return export_rallies(source, video, rallies, work_dir, pad_before, pad_after, progress, cutter=own)
    segments, pending = [], []
    for rally in rallies:
        start, end = padded(rally, video, pad_before, pad_after)
        path, future = cutter.cut(start, end)
        if future is not None:
            pending.append(future)
        segments.append(Segment(rally.index, path, start, end))
    for done, future in enumerate(as_completed(pending), start=1):
        future.result()
        progress("cutting", done / len(pending))
    if not pending:  # every segment was there already
        progress("cutting", 1.0)
    return segments


def padded(rally: Rally, video: VideoInfo, pad_before: float, pad_after: float) -> tuple[float, float]:
    """The range of a rally's segment: padded, clamped to the video."""
    start = max(0.0, rally.start - pad_before)
    return start, max(start, min(video.duration, rally.end + pad_after))


class Cutter:
    """Writes segments of one source into a work directory, `jobs` at a time, in the
    background. `cut(start, end)` may be called as soon as a range is known, and
    again for the same range: each range is cut once."""

    def __init__(self, source: Path, video: VideoInfo, work_dir: Path, jobs: int = 1):
        self.source, self.video, self.work_dir = Path(source), video, Path(work_dir)
        self.jobs = max(1, jobs)
        self._futures: dict[Path, Future] = {}

    def __enter__(self) -> "Cutter":
        self.work_dir.mkdir(parents=True, exist_ok=True)
        for leftover in self.work_dir.glob(f"{TEMP_PREFIX}*"):  # from a killed run
            shutil.rmtree(leftover, ignore_errors=True)
        self._tag = _source_tag(self.source)
        self._src = Source(self.source).__enter__()
        self._pool = ThreadPoolExecutor(max_workers=self.jobs)
        return self

    def __exit__(self, *exc) -> None:
        self._pool.shutdown(wait=True, cancel_futures=exc[0] is not None)
        self._src.__exit__(*exc)

    def cut(self, start: float, end: float) -> tuple[Path, Future | None]:
        """The segment's path, and the future of its cut unless it was finished before."""
        path = self.work_dir / f"segment-{round(start * 1000):08d}-{round(end * 1000):08d}-{self._tag}.mp4"
        if path in self._futures:
            return path, self._futures[path]
        if path.exists():  # only complete segments ever get this name
            return path, None
        future = self._pool.submit(_cut, self.source, self._src.facts, *_plan(self._src, self.video, start, end), path)
        self._futures[path] = future
        return path, future


def _plan(src: Source, video: VideoInfo, start: float, end: float) -> tuple[list, int, int, int, Plan]:
    facts = src.facts
    a, b = facts.ticks(start + video.ffmpeg_offset), facts.ticks(end + video.ffmpeg_offset)
    tolerance = max(1, min(facts.interval // 4, round(TIME_TOLERANCE / facts.time_base)))
    packets = src.scan(a, b)
    return packets, a, b, tolerance, plan_cut(packets, a, b, tolerance, facts.smart_cuttable)


def _cut(source: Path, facts: Facts, packets: list, a: int, b: int, tolerance: int, plan: Plan, path: Path) -> None:
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=f"{TEMP_PREFIX}{path.stem}-") as tmp:
        out = Path(tmp) / "segment.mp4"
        _write(source, facts, plan, out)
        if plan.copies and _frame_count(out) != plan.frames:
            # Never seen, but a demuxer quirk could make the copy start or stop a
            # packet off; a plain re-encode of the range is exact by construction.
            _write(source, facts, plan_cut(packets, a, b, tolerance, False), out)
        os.replace(out, path)


def _write(source: Path, facts: Facts, plan: Plan, out: Path) -> None:
    files = []
    sps_id = min(set(range(1, 32)) - facts.param_ids)
    for n, part in enumerate(plan.parts):
        files.append(out.parent / f"part-{n}.ts")
        if part.copy:
            parts.copy_part(source, facts, part, files[-1])
        else:
            transcode = not facts.smart_cuttable
            parts.encode_part(source, facts, part, files[-1], sps_id=sps_id, transcode=transcode)
    parts.join(source, facts, plan, files, out)


def _frame_count(path: Path) -> int:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return sum(1 for pkt in container.demux(stream) if pkt.size)


def _source_tag(source: Path) -> str:
    """A short fingerprint of the source file, so a work dir shared by games is safe."""
    stat = source.stat()
    key = f"{source.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{CUT_VERSION}"
    return hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()[:8]
