"""The stage job wrapper: `run_stage(game_id, stage, attempt)` is what RQ (or the
embedded thread) runs. The stage functions in `front.stages` only do the work; this
module owns everything around it:

- claiming: a try runs only if the game is still at that stage and try, and no live
  run holds it (a duplicate or stale job returns at once, so retries never duplicate);
- the game's node-local work directory, removed when the game is done or failed;
- progress and a heartbeat written to the game, so pages show it and
  `front.recovery` can tell a dead worker from a slow one;
- one StageRun row per try; bad input fails the game with its message at once, other
  errors are retried up to VOLLEY_STAGE_ATTEMPTS times;
- queuing the next stage;
- the log context (every line inside a try carries its game, stage and try).

The stage-run event (`front.events`) is sent by whoever runs the job, after it ends:
RQ's long-lived worker process, not the forked work horse that runs this code.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
import traceback
from pathlib import Path

from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

from front import queues
from front.exceptions import WorkLost
from front.models import STAGES, Game, StageRun, next_attempt
from front.stages import FUNCTIONS
from volley import settings as volley_settings, telemetry
from volley.exceptions import BadInput

log = logging.getLogger("volley.stage")
HEARTBEAT_SECONDS = 15.0
PROGRESS_SECONDS = 1.0  # at most one progress write a second


def work_dir(game_id) -> Path:
    return volley_settings.work_dir() / "games" / str(game_id)


def run_stage(game_id: str, stage: str, attempt: int) -> str:
    """Run one try of one stage of one game. Returns what happened, for logs."""
    with telemetry.context(game=str(game_id), stage=stage, attempt=attempt):
        return _run_stage(game_id, stage, attempt)


def _run_stage(game_id: str, stage: str, attempt: int) -> str:
    claimed = claim(game_id, stage, attempt)
    if claimed is None:
        log.info("game=%s stage=%s try=%s: not due any more, skipped", game_id, stage, attempt)
        return "skipped"
    game, run = claimed
    work = work_dir(game.id)
    work.mkdir(parents=True, exist_ok=True)
    log.info("game=%s stage=%s try=%s: started on %s", game.id, stage, attempt, run.node)
    try:
        with Reporter(game.id) as reporter:
            figures = FUNCTIONS[stage](game, work, reporter) or {}
    except BadInput as err:
        _fail(game, run, str(err), work)
        return "failed"
    except WorkLost as err:
        log.warning("game=%s stage=%s: %s; starting again from analysis", game.id, stage, err)
        return _again(game, run, f"work files lost: {err}", restart=True)
    except Exception as err:
        log.exception("game=%s stage=%s try=%s failed", game.id, stage, attempt)
        return _again(game, run, f"{type(err).__name__}: {err}\n{traceback.format_exc(limit=8)}")
    _advance(game, run, work, figures)
    return "ok"


def claim(game_id: str, stage: str, attempt: int) -> tuple[Game, StageRun] | None:
    with transaction.atomic():
        game = Game.objects.select_for_update().filter(id=game_id).first()
        if game is None or game.status not in (Game.Status.QUEUED, Game.Status.PROCESSING):
            return None
        if game.stage != stage or game.attempt != attempt:
            return None
        if game.runs.filter(stage=stage, attempt=attempt).exists():
            return None  # this try ran (or runs) already; recovery queues a new try if it died
        now = timezone.now()
        node = volley_settings.node_name()
        game.status, game.node, game.heartbeat_at, game.progress = Game.Status.PROCESSING, node, now, 0.0
        game.started_at = game.started_at or now
        game.save(update_fields=["status", "node", "heartbeat_at", "progress", "started_at"])
        run = StageRun.objects.create(game=game, stage=stage, attempt=attempt, node=node, worker=_worker_name())
        return game, run


def _current(run: StageRun) -> Game | None:
    """The game, locked, if `run` still holds it. A run that recovery took for dead (its
    worker stopped answering, then came back) must not move the game on: its successor
    does that."""
    game = Game.objects.select_for_update().filter(id=run.game_id).first()
    if game is None:
        log.info("game=%s was deleted while %s ran; result dropped", run.game_id, run.stage)
        return None
    still = StageRun.objects.filter(id=run.id, outcome=StageRun.Outcome.RUNNING).exists()
    if still and (game.stage, game.attempt) == (run.stage, run.attempt):
        return game
    log.warning("game=%s stage=%s try=%s: superseded by a later try; result dropped", game.id, run.stage, run.attempt)
    return None


def _advance(game: Game, run: StageRun, work: Path, figures: dict) -> None:
    now = timezone.now()
    last = STAGES.index(run.stage) == len(STAGES) - 1
    with transaction.atomic():
        if _current(run) is None:
            return
        StageRun.objects.filter(id=run.id).update(outcome=StageRun.Outcome.OK, finished_at=now, figures=figures)
        if last:
            Game.objects.filter(id=game.id).update(
                status=Game.Status.DONE, stage="done", progress=1.0, finished_at=now, error="")
        else:
            following = STAGES[STAGES.index(run.stage) + 1]
            attempt = next_attempt(game.id, following)
            Game.objects.filter(id=game.id).update(stage=following, attempt=attempt, progress=0.0)
            queues.enqueue(game.id, following, attempt, game.node)
    log.info("game=%s stage=%s: done", game.id, run.stage)
    if last:
        shutil.rmtree(work, ignore_errors=True)  # published: free the node's disk


def _fail(game: Game, run: StageRun, message: str, work: Path) -> None:
    log.warning("game=%s stage=%s failed: %s", game.id, run.stage, message)
    now = timezone.now()
    with transaction.atomic():
        if _current(run) is None:
            return
        StageRun.objects.filter(id=run.id).update(outcome=StageRun.Outcome.FAILED, finished_at=now, error=message)
        Game.objects.filter(id=game.id).update(status=Game.Status.FAILED, error=message, finished_at=now)
    shutil.rmtree(work, ignore_errors=True)


def _again(game: Game, run: StageRun, error: str, restart: bool = False) -> str:
    """Queue the next try (of this stage, or of analysis when the node lost the files),
    or fail the game once the tries are used up."""
    if game.attempt >= settings.STAGE_ATTEMPTS:
        stage = run.stage
        _fail(game, run, f"{stage} failed {game.attempt} times; last error: {error.splitlines()[0]}", work_dir(game.id))
        return "failed"
    retry_stage(run, error, StageRun.Outcome.RETRY, restart)
    return "retry"


def retry_stage(run: StageRun, error: str, outcome: str, restart: bool = False) -> None:
    """Close `run` with `outcome` and queue the next try (also used by recovery)."""
    with transaction.atomic():
        game = _current(run)
        if game is None:
            return
        StageRun.objects.filter(id=run.id).update(outcome=outcome, finished_at=timezone.now(), error=error)
        if restart:
            game.stage, game.node = STAGES[0], ""
        game.attempt = next_attempt(game.id, game.stage)
        game.progress = 0.0
        game.save(update_fields=["stage", "node", "attempt", "progress"])
        queues.enqueue(game.id, game.stage, game.attempt, game.node)


class Reporter:
    """Progress and heartbeat of a running stage. The stage may report from any thread
    (analysis does, from its decoder); only this reporter's own thread writes to the
    database: the progress when it changed, at most once a second, and a heartbeat
    every few seconds even through a long ffmpeg call that reports nothing."""

    def __init__(self, game_id):
        self.game_id = game_id
        self.fraction = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"reporter-{game_id}", daemon=True)

    def __call__(self, fraction: float) -> None:
        self.fraction = min(max(fraction, 0.0), 1.0)

    def __enter__(self) -> "Reporter":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        written, beat = -1.0, time.monotonic()
        try:
            while not self._stop.wait(PROGRESS_SECONDS):
                if self.fraction != written or time.monotonic() - beat >= HEARTBEAT_SECONDS:
                    written, beat = self.fraction, time.monotonic()
                    self._write(written)
        finally:
            connections.close_all()  # this thread's own connection

    def _write(self, fraction: float) -> None:
        try:
            Game.objects.filter(id=self.game_id).update(progress=fraction, heartbeat_at=timezone.now())
        except Exception:  # a lost database connection must not kill the stage
            log.exception("progress of game %s not written", self.game_id)


def _worker_name() -> str:
    import os
    import socket

    return f"{socket.gethostname()}:{os.getpid()}"
