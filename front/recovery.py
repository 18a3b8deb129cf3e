"""Rebuild the queues from the database: nothing is lost when a worker is killed or
Redis restarts, because the game's state lives in PostgreSQL.

`reconcile()` looks at every game under way:
- a stage running with a stale heartbeat (its worker died): the run is marked lost
  and the stage is queued again, on the same node if a worker still serves that
  node's queues, otherwise from analysis on any node (the source is in the store);
- a stage due but queued nowhere (Redis lost its lists): queued again, same try.
Workers run it at start and every minute; `volley reconcile` runs it by hand.

`expire_uploads()` gives up browser uploads nobody finished within
`VOLLEY_UPLOAD_EXPIRY_DAYS`: their parts are deleted from the store and the game row goes.

`sweep_work_dirs()` frees this node's disk of work directories that no game under way
on this node owns any more (a game deleted mid-way, or moved to another node).
"""

from __future__ import annotations

import logging
import shutil
import time
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from front import events, queues
from front.models import STAGES, Game, StageRun
from front.runner import retry_stage, work_dir
from volley.settings import node_name

log = logging.getLogger("volley.recovery")


def reconcile() -> list[str]:
    """Requeue what needs it; returns one line per action, for logs and tests."""
    actions = []
    stale_before = timezone.now() - timedelta(seconds=settings.STALL_SECONDS)
    live = None
    for game in Game.objects.filter(status__in=[Game.Status.QUEUED, Game.Status.PROCESSING]):
        run = game.runs.filter(stage=game.stage, attempt=game.attempt).first()
        if run is not None and run.outcome == StageRun.Outcome.RUNNING:
            if game.heartbeat_at and game.heartbeat_at >= stale_before:
                continue  # alive
            if live is None:
                live = queues.live_queues()
            actions.append(_lost(game, run, live))
        elif run is None and not queues.is_waiting(game.id, game.stage, game.attempt):
            queues.enqueue(game.id, game.stage, game.attempt, game.node)
            actions.append(f"game {game.id}: {game.stage} try {game.attempt} was queued nowhere; queued again")
    for line in actions:
        log.warning(line)
    return actions


def _lost(game: Game, run: StageRun, live: set[str]) -> str:
    line = _close_lost(game, run, live)
    events.record_job((game.id, run.stage, run.attempt))
    return line


def _close_lost(game: Game, run: StageRun, live: set[str]) -> str:
    error = f"worker {run.worker} on {run.node} stopped answering"
    if game.attempt >= settings.STAGE_ATTEMPTS:
        StageRun.objects.filter(id=run.id).update(outcome=StageRun.Outcome.LOST, finished_at=timezone.now(), error=error)
        Game.objects.filter(id=game.id).update(
            status=Game.Status.FAILED, finished_at=timezone.now(),
            error=f"{game.stage} failed {game.attempt} times; last: {error}")
        return f"game {game.id}: {error}; out of tries, failed"
    name = queues.queue_name(game.stage, game.node)
    node_gone = "@" in name and not settings.EMBEDDED and name not in live
    retry_stage(run, error, StageRun.Outcome.LOST, restart=node_gone)
    where = "from analysis on any node" if node_gone else f"on {name}"
    return f"game {game.id}: {error}; {game.stage} queued again {where}"


def sweep_work_dirs() -> list[str]:
    """Remove work directories of games that are not under way on this node."""
    root = work_dir("x").parent
    if not root.is_dir():
        return []
    mine = {str(g) for g in Game.objects.filter(
        status__in=[Game.Status.QUEUED, Game.Status.PROCESSING], node__in=[node_name(), ""]).values_list("id", flat=True)}
    removed = []
    recent = time.time() - settings.STALL_SECONDS  # a game claimed while we looked
    for folder in root.iterdir():
        if folder.is_dir() and folder.name not in mine and folder.stat().st_mtime < recent:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder.name)
    if removed:
        log.info("freed the work directories of %d games no longer under way here", len(removed))
    return removed


def games_held_here() -> list[str]:
    """Games whose files this node holds for a later stage: unfinished, recorded on this
    node, and past analysis or being analysed here now. (A game queued for analysis
    again may be taken by any node: it does not tie this one.)"""
    node = node_name()
    unfinished = Game.objects.filter(status__in=[Game.Status.QUEUED, Game.Status.PROCESSING], node=node)
    held = unfinished.exclude(stage=STAGES[0]) | unfinished.filter(
        runs__node=node, runs__outcome=StageRun.Outcome.RUNNING)
    return sorted({str(g) for g in held.values_list("id", flat=True)})


def expire_uploads() -> list[str]:
    """Abort multipart uploads left unfinished for too long (parts cost storage)."""
    from front.games import delete_game

    before = timezone.now() - timedelta(days=settings.UPLOAD_EXPIRY_DAYS)
    expired = []
    for game in Game.objects.filter(status=Game.Status.UPLOADING, created_at__lt=before):
        expired.append(str(game.id))
        delete_game(game)  # aborts the multipart upload with the rest
    if expired:
        log.info("gave up %d uploads unfinished for %d days", len(expired), settings.UPLOAD_EXPIRY_DAYS)
    return expired
