"""Rebuild the queues from the database: nothing is lost when a worker is killed or
Redis restarts, because the game's state lives in PostgreSQL.

`reconcile()` looks at every game under way:
- a stage running with a stale heartbeat (its worker died): the run is marked lost
  and the stage is queued again, on the same node if a worker still serves that
  node's queues, otherwise from analysis on any node (the source is in the store).
  A lost try does not use up one of VOLLEY_STAGE_ATTEMPTS (the stage did not fail);
  VOLLEY_STAGE_LOST_TRIES of them fail the game;
- in the embedded mode, `volley serve` is the only process that runs stages, so a
  try running under any other process's name died with that process: `volley serve`
  reconciles with `sole_worker=True` (at start, before its stage thread, and each
  minute), and a restart goes on at once instead of waiting for the heartbeat to age;
- a stage due but queued nowhere (Redis lost its lists, a restart lost a retry's
  timer): queued again, same try, after what is left of its backoff.
Workers run it at start and every minute; `volley reconcile` runs it by hand.

`expire_uploads()` gives up browser uploads nobody finished within
`VOLLEY_UPLOAD_EXPIRY_HOURS`: their parts are deleted from the store and the game row goes;
then multipart uploads in the store that no game holds (a start whose row was rolled
back) are aborted once as old. In production the bucket's lifecycle rule does the same
(docs/operations.md), should no worker or reconciler run.

`keep_house()` is the embedded mode's round of all of it, each minute, in a thread of
`volley serve` (no fork there, unlike RQ's workers: see `front.workers`).

`sweep_work_dirs()` frees this node's disk of work directories that no game under way
on this node owns any more (a game deleted mid-way, or moved to another node).
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from front import events, queues
from front.limits import forget_expired_counters
from front.models import STAGES, Game, StageRun
from front.runner import fail_run, retry_stage, retry_delay_left, work_dir, worker_name
from volley.settings import node_name

log = logging.getLogger("volley.recovery")


def reconcile(sole_worker: bool = False) -> list[str]:
    """Requeue what needs it; returns one line per action, for logs and tests.
    `sole_worker`: this process runs every stage there is (`volley serve`, embedded)."""
    actions = []
    stale_before = timezone.now() - timedelta(seconds=settings.STALL_SECONDS)
    live = None
    for game in Game.objects.filter(status__in=[Game.Status.QUEUED, Game.Status.PROCESSING]):
        run = game.runs.filter(stage=game.stage, attempt=game.attempt).first()
        if run is not None and run.outcome == StageRun.Outcome.RUNNING:
            if not _dead(game, run, stale_before, sole_worker):
                continue
            if live is None:
                live = queues.live_queues()
            actions.append(_lost(game, run, live))
        elif run is None and not queues.is_waiting(game.id, game.stage, game.attempt):
            delay = retry_delay_left(game)
            queues.enqueue(game.id, game.stage, game.attempt, game.node, delay=delay)
            actions.append(f"game {game.id}: {game.stage} try {game.attempt} was queued nowhere; "
                           f"queued again" + (f" to run in {delay:.0f} s" if delay else ""))
    for line in actions:
        log.warning(line)
    return actions


def _dead(game: Game, run: StageRun, stale_before, sole_worker: bool) -> bool:
    """Whether the worker of a running try is gone: its heartbeat stopped, or (when this
    process is the only worker) it is another process, which can only be a dead one."""
    if sole_worker and run.worker != worker_name():
        return True
    return not (game.heartbeat_at and game.heartbeat_at >= stale_before)


def _lost(game: Game, run: StageRun, live: set[str]) -> str:
    line = _close_lost(game, run, live)
    events.record_job((game.id, run.stage, run.attempt))
    return line


def _close_lost(game: Game, run: StageRun, live: set[str]) -> str:
    error = f"worker {run.worker} on {run.node} stopped answering"
    lost = _lost_since_queued(game) + 1  # this one is still `running`
    if lost >= settings.STAGE_LOST_TRIES:
        fail_run(run, f"{game.stage} was lost with its worker {lost} times (out of memory?); last: {error}",
                   StageRun.Outcome.LOST)
        return f"game {game.id}: {error}; lost {lost} times, failed"
    name = queues.queue_name(game.stage, game.node)
    node_gone = "@" in name and not settings.EMBEDDED and name not in live
    retry_stage(run, error, StageRun.Outcome.LOST, restart=node_gone)
    where = "from analysis on any node" if node_gone else f"on {name}"
    return f"game {game.id}: {error}; {game.stage} queued again {where}"


def _lost_since_queued(game: Game) -> int:
    runs = StageRun.objects.filter(game_id=game.id, stage=game.stage, outcome=StageRun.Outcome.LOST)
    return (runs.filter(started_at__gte=game.queued_at) if game.queued_at else runs).count()


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
    """Abort multipart uploads left unfinished for too long (parts cost storage, and
    count against their owner's uploads under way)."""
    from front.games import delete_game
    from front.orphans import abort_orphan_uploads

    before = timezone.now() - timedelta(hours=settings.UPLOAD_EXPIRY_HOURS)
    expired = []
    for game in Game.objects.filter(status=Game.Status.UPLOADING, created_at__lt=before):
        expired.append(str(game.id))
        delete_game(game)  # aborts the multipart upload with the rest
    if expired:
        log.info("gave up %d uploads unfinished for %d hours", len(expired), settings.UPLOAD_EXPIRY_HOURS)
    abort_orphan_uploads(before)
    return expired


def keep_house(every: float, stop: threading.Event) -> None:
    """`volley serve`'s housekeeping thread (embedded): recovery as the only worker, this
    node's disk, stale uploads, expired quota counters, every `every` seconds until
    `stop` is set. A round that fails (the database busy for longer than its timeout) is
    logged; the next one comes anyway."""
    while not stop.wait(every):
        try:
            reconcile(sole_worker=True)
            sweep_work_dirs()
            expire_uploads()
            forget_expired_counters()
        except Exception:
            log.exception("housekeeping failed; trying again in %s s", every)
        finally:
            close_old_connections()
