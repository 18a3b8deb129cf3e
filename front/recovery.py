"""Rebuild the queues from the database: nothing is lost when a worker is killed or
Redis restarts, because the game's state lives in PostgreSQL.

`reconcile()` looks at every game under way:
- a stage running with a stale heartbeat (its worker died): the run is marked lost
  and the stage is queued again, on the same node if a worker still serves that
  node's queues, otherwise from analysis on any node (the source is in the store);
- a stage due but queued nowhere (Redis lost its lists): queued again, same try.
Workers run it at start and every minute; `volley reconcile` runs it by hand.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from front import queues
from front.models import Game, StageRun
from front.runner import retry_stage

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
    error = f"worker {run.worker} on {run.node} stopped answering"
    if game.attempt >= settings.STAGE_ATTEMPTS:
        StageRun.objects.filter(id=run.id).update(outcome=StageRun.Outcome.LOST, finished_at=timezone.now(), error=error)
        Game.objects.filter(id=game.id).update(
            status=Game.Status.FAILED, finished_at=timezone.now(),
            error=f"{game.stage} failed {game.attempt} times; last: {error}")
        return f"game {game.id}: {error}; out of tries, failed"
    name = queues.queue_name(game.stage, game.node)
    node_gone = "@" in name and not settings.EMBEDDED and name not in live
    retry_stage(game.id, run, error, StageRun.Outcome.LOST, restart=node_gone)
    where = "from analysis on any node" if node_gone else f"on {name}"
    return f"game {game.id}: {error}; {game.stage} queued again {where}"
