"""What the database says the pipeline needs, read fresh every tick (nothing is kept
between ticks, so a restarted scaler knows as much as the one before it).

- games queued (waiting for their first stage) and in progress, per stage;
- browser uploads begun within the upload window: games about to come;
- busy pods: a pod is busy while a running stage run names it, or while an unfinished
  game's work files are on it (`Game.node`, the pod name: VOLLEY_NODE_NAME);
- when each pod last ended a stage run, for the cool-down (runs that ended within it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Demand:
    queued: int = 0
    processing: int = 0
    uploading: int = 0
    #: Games in progress per stage (analysing, cutting, building, publishing).
    stages: dict[str, int] = field(default_factory=dict)
    busy_pods: frozenset[str] = frozenset()
    #: Pod name → when its last stage run ended, for runs that ended within the cool-down.
    recent_runs: dict[str, datetime] = field(default_factory=dict)

    @property
    def backlog(self) -> int:
        """Games that need a worker now or soon."""
        return self.queued + self.processing + self.uploading


def read(now: datetime, cooldown: int, upload_window: int) -> Demand:
    from django.db.models import Count, Max  # here: `Demand` is used without Django (scaler.decide)

    from front.models import Game, StageRun

    unfinished = (Game.Status.QUEUED, Game.Status.PROCESSING)
    # order_by(): the models' default ordering would join the GROUP BY.
    by_status = dict(Game.objects.filter(status__in=unfinished).order_by().values_list("status").annotate(n=Count("id")))
    stages = dict(Game.objects.filter(status=Game.Status.PROCESSING).order_by().values_list("stage").annotate(n=Count("id")))
    uploading = 0
    if upload_window:
        uploading = Game.objects.filter(
            status=Game.Status.UPLOADING, created_at__gte=now - timedelta(seconds=upload_window)).count()
    holding = Game.objects.filter(status__in=unfinished).exclude(node="").values_list("node", flat=True)
    running = StageRun.objects.filter(outcome=StageRun.Outcome.RUNNING).exclude(node="").values_list("node", flat=True)
    recent = (StageRun.objects.filter(finished_at__gte=now - timedelta(seconds=cooldown)).exclude(node="")
              .order_by().values_list("node").annotate(last=Max("finished_at")))
    return Demand(
        queued=by_status.get(Game.Status.QUEUED, 0),
        processing=by_status.get(Game.Status.PROCESSING, 0),
        uploading=uploading,
        stages=stages,
        busy_pods=frozenset(holding) | frozenset(running),
        recent_runs=dict(recent),
    )
