"""The four stages of a game in the service, each a plain function over a game and its
node-local work directory. They call the engine's stage packages (vproc, framer,
clipper, pusher) and write what the next stage needs beside them; the runner
(`front.runner`) owns claiming, progress, heartbeats, retries and cleanup.

Work directory of a game (`VOLLEY_WORK_DIR/games/<id>/`):
    source            the uploaded video, fetched from the object store
    analysis.json     video, rallies, track, court (analysing)
    segments/, segments.json   one cut per rally (cutting)
    out/court-frame.jpg        a still of the source to mark the court on (analysing)
    out/              clips, posters, digest, best reel, rallies.json, track.json (building)
"""

from __future__ import annotations

import json
import logging
from contextlib import ExitStack
from pathlib import Path
from typing import Callable

from django.db import transaction

from front.exceptions import WorkLost
from front.models import Game, Rally
from volley import defaults
from volley.exceptions import FFmpegError
from volley.payloads import CourtView, Outputs, Rally as RallyPayload, Segment, VideoInfo
from volley.pipeline import EarlyCuts, Options, rally_entries, write_json

log = logging.getLogger("volley.stage")
#: The still the owner marks the court on, in `out/` so it is published with the clips.
COURT_FRAME = "court-frame.jpg"
#: The still is taken a third of the way in (players spread over the court, the camera
#: settled), but no later than this: a short probe of the start of a long game.
COURT_FRAME_LATEST = 10.0

Fraction = Callable[[float], None]
#: What a stage returns: figures for its StageRun and its telemetry event.
Figures = dict[str, int | float]


def analysing(game: Game, work: Path, progress: Fraction) -> Figures:
    from pusher.store import get_store
    from vproc.analyse import analyse

    source = work / "source"
    store = get_store()
    if not source.exists() or source.stat().st_size != store.size(game.source_key):
        store.download(game.source_key, source, lambda done, total: progress(0.1 * done / max(total, 1)))
    marked = _user_court(game)
    with ExitStack() as stack:  # rallies settled early are cut while the rest decodes
        early = EarlyCuts(source, Options(jobs=2), stack, folder=work / "segments")
        analysis = analyse(source, lambda _stage, f: progress(0.1 + 0.9 * f), early=early, court=marked)
    court = analysis.court.to_dict() if analysis.court else None
    write_json(work / "analysis.json", {
        "video": analysis.video.to_dict(),
        "rallies": [r.to_dict() for r in analysis.rallies],
        "track": [p.to_dict() for p in analysis.track],
        "court": court,
    })
    _court_frame(source, analysis.video, work / "out" / COURT_FRAME)
    with transaction.atomic():
        stored = Game.objects.select_for_update().values_list("court", flat=True).get(id=game.id)
        game.video = analysis.video.public()
        # The owner may have marked (or cleared) the court while this ran: theirs stays.
        game.court = court if stored == game.court else stored
        game.save(update_fields=["video", "court"])
        game.rallies.all().delete()  # a retry replaces, never adds
        Rally.objects.bulk_create(
            Rally(game=game, index=r.index, start=r.start, end=r.end, stats=r.stats, score=r.score)
            for r in analysis.rallies
        )
    video = analysis.video
    return {"frames": video.frame_count, "video_seconds": round(video.duration, 3), "video_fps": round(video.fps, 3),
            "height": video.height, "rallies": len(analysis.rallies)}


def _user_court(game: Game) -> CourtView | None:
    """The court the owner marked, which analysis takes as it is; None lets it look."""
    if game.court and game.court.get("by") == "user":
        return CourtView.from_dict(game.court)
    return None


def _court_frame(source: Path, video: VideoInfo, target: Path) -> None:
    """One upright frame of the source, scaled down, for the owner to mark the court on.
    A frame that cannot be had costs the game only this still, so it does not fail it."""
    from clipper.posters import write_poster

    target.parent.mkdir(parents=True, exist_ok=True)
    at = min(video.duration / 3, COURT_FRAME_LATEST)
    try:
        write_poster(source, at + video.ffmpeg_offset, target)  # write_poster counts as ffmpeg does
    except FFmpegError as err:
        log.warning("no still to mark the court on: %s", err)


def cutting(game: Game, work: Path, progress: Fraction) -> Figures:
    from framer import export_rallies

    video, rallies, _, _ = _analysis(work)
    segments = export_rallies(  # reuses the cuts analysis made early
        work / "source", video, rallies, work / "segments", defaults.PAD_BEFORE, defaults.PAD_AFTER,
        lambda _stage, f: progress(f), jobs=2,
    )
    write_json(work / "segments.json", {"segments": [s.to_dict() for s in segments]})
    return {"rallies": len(rallies), "segments": len(segments)}


def building(game: Game, work: Path, progress: Fraction) -> Figures:
    from clipper import build_outputs

    video, rallies, track, court = _analysis(work)
    segments = [Segment.from_dict(s) for s in _read(work / "segments.json")["segments"]]
    out = work / "out"
    out.mkdir(parents=True, exist_ok=True)  # a game without rallies still publishes its lists
    outputs = build_outputs(segments, rallies, out, defaults.BEST_COUNT, lambda _stage, f: progress(f))
    write_json(out / "rallies.json", {
        "video": video.public(), "court": court, "rallies": rally_entries(rallies, outputs, out)})
    write_json(out / "track.json", {"frames": track})
    write_json(work / "outputs.json", outputs.to_dict())
    return {"rallies": len(rallies), "clips": len(outputs.clips)}


def publishing(game: Game, work: Path, progress: Fraction) -> Figures:
    from pusher.publish import publish
    from pusher.store import get_store

    out = work / "out"
    if not out.is_dir():
        raise WorkLost(f"{out} is gone")
    outputs = Outputs.from_dict(_read(work / "outputs.json"))
    keys = publish(out, game.prefix, get_store(), progress)

    def key(path: Path | None) -> str:
        return "" if path is None else keys[str(Path(path).relative_to(out))]

    with transaction.atomic():
        for rally in game.rallies.all():
            rally.clip_key = key(outputs.clips.get(rally.index))
            rally.poster_key = key(outputs.posters.get(rally.index))
            rally.save(update_fields=["clip_key", "poster_key"])
        game.digest_key, game.best_key = key(outputs.digest), key(outputs.best)
        game.court_frame_key = keys.get(COURT_FRAME, "")
        game.save(update_fields=["digest_key", "best_key", "court_frame_key"])
    return {"objects": len(keys), "bytes": sum(f.stat().st_size for f in out.rglob("*") if f.is_file())}


def _analysis(work: Path) -> tuple[VideoInfo, list[RallyPayload], list[dict], dict | None]:
    """What analysis left on this node: the video, the rallies, the ball track and the
    court (CourtView.to_dict(), or None)."""
    data = _read(work / "analysis.json")
    if not (work / "source").exists():
        raise WorkLost(f"{work / 'source'} is gone")
    rallies = [RallyPayload.from_dict(r) for r in data["rallies"]]
    return VideoInfo.from_dict(data["video"]), rallies, data["track"], data.get("court")


def _read(path: Path) -> dict:
    """A file an earlier stage wrote on this node; missing means the node lost it."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise WorkLost(f"{path} is gone") from None


#: The stage name → its function, in pipeline order.
FUNCTIONS = {"analysing": analysing, "cutting": cutting, "building": building, "publishing": publishing}
