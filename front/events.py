"""The stage-run event: one `VolleyStageRun` custom event (New Relic, and a log line)
per finished try of a stage, built from its StageRun row.

It is sent by the process that outlives the job: RQ's worker process after its work
horse exits (a forked horse ends with `os._exit`, and New Relic's agent in it would
never send what it holds), the embedded mode's stage thread, or recovery when it
finds a try whose worker died.
"""

from __future__ import annotations

import logging

from front.models import StageRun
from volley import telemetry

log = logging.getLogger("volley.events")
STAGE_RUN = "VolleyStageRun"


def record_try(game_id, stage: str, attempt: int) -> bool:
    """Send the event of that try if it has ended; returns whether one was sent (a
    try skipped as not due, or still running, has none)."""
    run = StageRun.objects.filter(game_id=game_id, stage=stage, attempt=attempt).first()
    if run is None or run.outcome == StageRun.Outcome.RUNNING:
        return False
    telemetry.record_event(STAGE_RUN, attributes(run))
    return True


def attributes(run: StageRun) -> dict:
    """The event's attributes: who ran what, how long, how it ended, and what the
    stage measured; `fps` is frames analysed per second of the run, `speed` video
    seconds per second of the run."""
    seconds = run.seconds or 0.0
    figures = dict(run.figures or {})
    found = {
        "game": str(run.game_id), "stage": run.stage, "attempt": run.attempt, "outcome": run.outcome,
        "node": run.node, "worker": run.worker, "duration": round(seconds, 3),
        "error": run.error.splitlines()[0][:250] if run.error else None,
        **figures,
    }
    if seconds > 0 and figures.get("frames"):
        found["fps"] = round(figures["frames"] / seconds, 2)
    if seconds > 0 and figures.get("video_seconds"):
        found["speed"] = round(figures["video_seconds"] / seconds, 3)
    return found


def record_job(args: tuple) -> None:
    """After an RQ job of `front.runner.run_stage(game_id, stage, attempt)`; never raises
    (an event is not worth a worker)."""
    try:
        record_try(*args[:3])
    except Exception:
        log.exception("stage-run event for %s not sent", args[:3])
