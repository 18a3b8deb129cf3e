"""The clipper stage: from rally segments to clips, posters, the digest and the best reel."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from clipper import media as probe_media
from clipper.clips import write_clip
from clipper.posters import write_poster
from clipper.files import remove_leftovers
from clipper.reels import write_reel
from volley import defaults
from volley.payloads import Outputs, Rally, Segment
from volley.progress import Progress, silent


def build_outputs(
    segments: list[Segment],
    rallies: list[Rally],
    out_dir: Path,
    best_count: int,
    progress: Progress = silent,
    jobs: int = 2,
) -> Outputs:
    """Write out_dir/clips/rally-NNN.mp4, out_dir/posters/rally-NNN.jpg, digest.mp4
    and best.mp4 (the top `best_count` rallies by score, in game order). Each rally's
    clip and poster, and then the two reels, are made `jobs` at a time: each step is
    a short ffmpeg run, mostly waiting on its own start-up and on the disk."""
    remove_leftovers(out_dir)
    by_index = {rally.index: rally for rally in rallies}
    ordered = sorted(segments, key=lambda s: (s.start, s.index))  # game order
    outputs = Outputs()
    steps = len(ordered) + 2
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(_rally_outputs, segment, by_index.get(segment.index), out_dir) for segment in ordered]
        for done, _ in enumerate(as_completed(futures), 1):
            progress("building", done / steps)
        made = [future.result() for future in futures]  # game order; raises the first error
        for segment, clip, poster, _ in made:
            outputs.clips[segment.index], outputs.posters[segment.index] = clip, poster
        if made:
            reels = {"digest": [(clip, media) for _, clip, _, media in made], "best": _best(made, by_index, best_count)}
            pending = {name: pool.submit(write_reel, items, out_dir / f"{name}.mp4") for name, items in reels.items() if items}
            for future in pending.values():
                future.result()
            outputs.digest = out_dir / "digest.mp4" if "digest" in pending else None
            outputs.best = out_dir / "best.mp4" if "best" in pending else None
    progress("building", 1.0)
    return outputs


def _rally_outputs(segment: Segment, rally: Rally | None, out_dir: Path):
    """One rally's clip and poster, and what the reels need to know of the clip."""
    clip = out_dir / "clips" / f"{segment.name}.mp4"
    write_clip(segment.path, probe_media.probe(segment.path), clip)
    media = probe_media.probe(clip)
    poster = out_dir / "posters" / f"{segment.name}.jpg"
    at = _poster_time(segment, rally, media)
    earliest = rally.start - segment.start if rally else 0.0
    key = _keyframe_near(probe_media.keyframe_times(clip), at, earliest)
    write_poster(clip, at if key is None else key, poster, keyframe=key is not None)
    return segment, clip, poster, media


def _poster_time(segment: Segment, rally: Rally | None, media: probe_media.Media) -> float:
    """Seconds into the clip of the poster frame: POSTER_AT into the rally itself
    (the middle of the clip for a segment with no rally), never past the last frame."""
    if rally is None:
        at = media.duration / 2
    else:
        at = rally.start + defaults.POSTER_AT * rally.duration - segment.start
    return min(max(0.0, at), max(0.0, media.duration - 0.1))


def _keyframe_near(keyframes: list[float], at: float, earliest: float) -> float | None:
    """The last keyframe at or before `at`, if it is within POSTER_SNAP of it and well
    after `earliest` (the serve: the poster shows the rally, not the frame it starts
    on); None when there is none such."""
    before = [k for k in keyframes if earliest + 0.1 < k <= at + 1e-6]
    return before[-1] if before and at - before[-1] <= defaults.POSTER_SNAP else None


def _best(made: list, by_index: dict[int, Rally], count: int) -> list:
    """The clips of the top `count` rallies by score, in game order (ties: the earlier)."""
    def score(item) -> float:
        rally = by_index.get(item[0].index)
        return rally.score if rally else float("-inf")

    chosen = {item[0].index for item in sorted(made, key=score, reverse=True)[: max(0, count)]}
    return [(clip, media) for segment, clip, _, media in made if segment.index in chosen]
