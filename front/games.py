"""What the pages and the API share about games: starting one from a file in the store,
analysing it again, the court its owner marks, where it stands, and when a queued game
should start."""

from __future__ import annotations

import contextlib
import re
import shutil

from django.db import transaction
from django.utils import timezone

from front import queues
from front.exceptions import UploadRejected
from front.models import STAGES, Game, next_attempt
from front.sniff import not_video_reason


#: The uploaded video's name in the store, beside what Volley made of it; never served.
SOURCE_NAME = "source"


#: Extensions a source keeps in its key (for whoever looks in the bucket); any other becomes
#: .bin: S3 servers guess a type from the key's extension, and evil.html must not be text/html.
VIDEO_EXTENSIONS = {"mp4", "m4v", "mov", "mkv", "webm", "avi", "mts", "m2ts", "ts", "3gp", "mpg", "mpeg", "wmv"}


def source_key(game: Game, filename: str) -> str:
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    return f"{game.prefix}{SOURCE_NAME}.{suffix if suffix in VIDEO_EXTENSIONS else 'bin'}"


def is_source_key(key: str) -> bool:
    """True for a game's uploaded source (`games/<id>/source.<ext>`), whatever its extension."""
    folder, _, name = key.rpartition("/")
    return folder.count("/") == 1 and folder.startswith("games/") and name.partition(".")[0] == SOURCE_NAME


def source_type(declared: str) -> str:
    """The content type the source is stored with: the one the client declared when it is a
    video type, else a type no browser renders (a declared text/html must not stick)."""
    return declared if _VIDEO_TYPE.fullmatch(declared or "") else "application/octet-stream"


_VIDEO_TYPE = re.compile(r"video/[a-z0-9][a-z0-9.+-]{0,60}")


def start_from_file(owner, name: str, path, filename: str, content_type: str = "video/mp4") -> Game:
    """A game whose source file is on this machine: put it in the store and queue it."""
    game = new_game(owner, name, path.stat().st_size, filename)
    store_and_queue(game, path, content_type)
    return game


def new_game(owner, name: str, size: int, filename: str) -> Game:
    """The row of a game whose source is on its way (status uploading: it counts against
    its owner's uploads under way until it is stored)."""
    game = Game.objects.create(owner=owner, name=name, source_size=size)
    game.source_key = source_key(game, filename)
    game.save(update_fields=["source_key"])
    return game


def store_and_queue(game: Game, path, content_type: str = "video/mp4") -> None:
    """Put the game's source file in the store and queue it; should storing fail (a full
    disk, the store down), the game goes with whatever part of it was written."""
    from pusher.store import get_store

    try:
        get_store().put_file(game.source_key, path, content_type=source_type(content_type))
    except BaseException:
        # Best effort: a store that is down leaves the row uploading, and the expiry of
        # unfinished uploads (front.recovery) removes it later.
        with contextlib.suppress(Exception):
            delete_game(game)
        raise
    queue_game(game)


def delete_game(game: Game) -> None:
    """The game, its rallies and share links, and every file of it in the store
    (unfinished uploads included), and its work files where they are on this machine
    (the embedded mode). A stage running meanwhile stops at its next progress report
    and removes the work files on its node (`front.runner`)."""
    from front.runner import work_dir  # the runner imports this module
    from pusher.store import get_store

    work = work_dir(game.id)  # before delete(), which clears the id
    get_store().delete_prefix(game.prefix)
    game.delete()
    shutil.rmtree(work, ignore_errors=True)


def check_size(size: int, limit: int) -> None:
    if size <= 0:
        raise UploadRejected("the file is empty")
    if size > limit:
        raise UploadRejected(f"the file is {_gib(size)}; the largest game Volley takes is {_gib(limit)}")


def check_head(head: bytes) -> None:
    reason = not_video_reason(head)
    if reason:
        raise UploadRejected(reason)


def queue_game(game: Game) -> None:
    """The source is in the store: hand the game to the first stage."""
    with transaction.atomic():
        Game.objects.filter(id=game.id).update(
            status=Game.Status.QUEUED, stage=STAGES[0], attempt=1, progress=0.0, queued_at=timezone.now(),
            upload_id="", error="")
        queues.enqueue(game.id, STAGES[0], 1)
    game.refresh_from_db()


def analyse_again(game: Game) -> bool:
    """Queue a done or failed game from the first stage again, as a new game is queued,
    keeping its source and the court its owner marked. The new tries get numbers of
    their own, so no job id is reused; analysis replaces the rallies and publishing
    overwrites the same keys, so nothing is duplicated. False (nothing queued) when the
    game is under way."""
    with transaction.atomic():
        attempt = next_attempt(game.id, STAGES[0])
        queued = Game.objects.filter(id=game.id, status__in=[Game.Status.DONE, Game.Status.FAILED]).update(
            status=Game.Status.QUEUED, stage=STAGES[0], attempt=attempt, progress=0.0, node="", error="",
            queued_at=timezone.now(), started_at=None, finished_at=None, heartbeat_at=None)
        if queued:
            queues.enqueue(game.id, STAGES[0], attempt)
    game.refresh_from_db()
    return bool(queued)


def mark_court(game: Game, corners, beach: bool) -> dict:
    """Store the court its owner marked (four corners in source pixels) and return it.
    Raises BadCalibration (a BadInput) with what is wrong for points that are no court."""
    from volley.exceptions import BadCalibration
    from volley.payloads import CourtView
    from vproc.court import from_corners

    video = game.video or {}
    if not video.get("width") or not video.get("height"):
        raise BadCalibration("the game has not been analysed yet: its picture size is unknown")
    court = from_corners(corners, (video["width"], video["height"]), beach=beach)
    marked = CourtView(tuple(map(tuple, court.corners.tolist())), court.camera_height_m, court.beach, by="user")
    game.court = marked.to_dict()
    game.save(update_fields=["court"])
    return game.court


def forget_court(game: Game) -> None:
    """Drop the court its owner marked; the next analysis looks for one itself. A court
    the engine found stays until then (there is nothing of the owner's to forget)."""
    if game.court and game.court.get("by") == "user":
        game.court = None
        game.save(update_fields=["court"])


def reject(game: Game, message: str) -> None:
    Game.objects.filter(id=game.id).update(status=Game.Status.FAILED, error=message, finished_at=timezone.now())
    game.refresh_from_db()


def start_estimate(game: Game) -> float | None:
    """Seconds until a queued game should start: the games ahead of it, each taking as
    long as the last games took, spread over the workers. None without history."""
    if game.status != Game.Status.QUEUED or game.queued_at is None:
        return None
    recent = Game.objects.filter(status=Game.Status.DONE, started_at__isnull=False).order_by("-finished_at")[:20]
    took = [(g.finished_at - g.started_at).total_seconds() for g in recent.only("started_at", "finished_at")]
    if not took:
        return None
    ahead = Game.objects.filter(
        status__in=[Game.Status.QUEUED, Game.Status.PROCESSING], queued_at__lt=game.queued_at).count()
    workers = max(1, queues.vproc_workers())
    return ahead / workers * sum(took) / len(took)


def _gib(size: int) -> str:
    return f"{size / 1024**3:.1f} GB" if size >= 1024**3 else f"{size / 1024**2:.0f} MB"


def stage_label(game: Game) -> str:
    if game.status in (Game.Status.DONE, Game.Status.FAILED, Game.Status.UPLOADING):
        return game.status
    if game.status == Game.Status.QUEUED:
        return "queued"
    return game.stage

