"""The stage job wrapper: `run_stage(game_id, stage, attempt)` is what RQ (or the
embedded thread) runs. The stage functions in `front.stages` only do the work; this
module owns everything around it:

- claiming: a try runs only if the game is still at that stage and try, and no live
  run holds it (a duplicate or stale job returns at once, so retries never duplicate);
- the game's node-local work directory, removed when the game is done or failed;
- progress and a heartbeat written to the game, so pages show it and
  `front.recovery` can tell a dead worker from a slow one;
- one StageRun row per try; bad input fails the game with its message at once, other
  errors are retried up to VOLLEY_STAGE_ATTEMPTS times, each after a longer wait
  (`front.retries.backoff_seconds`); a try lost to a dead worker uses up none of them;
- claims and moves from stage to stage that lose a lock race are tried again
  (`front.retries.on_lock_race`), never dropped;
- a game deleted while its stage runs: the stage stops at its next progress report
  and the work directory goes;
- queuing the next stage;
- the log context (every line inside a try carries its game, stage and try).

The stage-run event (`front.events`) is sent by whoever runs the job, after it ends:
RQ's long-lived worker process, not the forked work horse that runs this code.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import socket
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
from front.retries import backoff_seconds, on_lock_race
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


class GameDeleted(Exception):
    """The game was deleted while its stage ran (raised by the Reporter to stop it)."""


def _run_stage(game_id: str, stage: str, attempt: int) -> str:
    claimed = claim(game_id, stage, attempt)
    if claimed is None:
        log.info("game=%s stage=%s try=%s: not due any more, skipped", game_id, stage, attempt)
        return "skipped"
    game, run = claimed
    work = work_dir(game.id)
    work.mkdir(parents=True, exist_ok=True)
    log.info("game=%s stage=%s try=%s: started on %s", game.id, stage, attempt, run.node)
    outcome = _run_claimed(game, run, work)
    if not Game.objects.filter(id=game.id).exists():
        shutil.rmtree(work, ignore_errors=True)  # deleted while it ran: nobody needs its files
        log.info("game=%s was deleted while %s ran; stopped and its work files removed", game.id, stage)
        return "deleted"
    return outcome


def _run_claimed(game: Game, run: StageRun, work: Path) -> str:
    try:
        with Reporter(game.id) as reporter:
            figures = FUNCTIONS[run.stage](game, work, reporter) or {}
    except GameDeleted:
        return "deleted"
    except BadInput as err:
        _fail(game, run, str(err), work)
        return "failed"
    except WorkLost as err:
        log.warning("game=%s stage=%s: %s; starting again from analysis", game.id, run.stage, err)
        return _again(game, run, f"work files lost: {err}", restart=True)
    except Exception as err:
        log.exception("game=%s stage=%s try=%s failed", game.id, run.stage, run.attempt)
        return _again(game, run, f"{type(err).__name__}: {err}\n{traceback.format_exc(limit=8)}")
    _advance(game, run, work, figures)
    return "ok"


@on_lock_race
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
        run = StageRun.objects.create(game=game, stage=stage, attempt=attempt, node=node, worker=worker_name())
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
    last = STAGES.index(run.stage) == len(STAGES) - 1
    if not _advance_rows(game, run, figures, last):
        return
    log.info("game=%s stage=%s: done", game.id, run.stage)
    if last:
        shutil.rmtree(work, ignore_errors=True)  # published: free the node's disk


@on_lock_race
def _advance_rows(game: Game, run: StageRun, figures: dict, last: bool) -> bool:
    now = timezone.now()
    with transaction.atomic():
        if _current(run) is None:
            return False
        StageRun.objects.filter(id=run.id).update(outcome=StageRun.Outcome.OK, finished_at=now, figures=figures)
        if last:
            Game.objects.filter(id=game.id).update(
                status=Game.Status.DONE, stage="done", progress=1.0, finished_at=now, error="")
        else:
            following = STAGES[STAGES.index(run.stage) + 1]
            attempt = next_attempt(game.id, following)
            Game.objects.filter(id=game.id).update(stage=following, attempt=attempt, progress=0.0)
            queues.enqueue(game.id, following, attempt, game.node)
    return True


def _fail(game: Game, run: StageRun, message: str, work: Path) -> None:
    log.warning("game=%s stage=%s failed: %s", game.id, run.stage, message)
    fail_run(run, message)
    shutil.rmtree(work, ignore_errors=True)


@on_lock_race
def fail_run(run: StageRun, message: str, outcome: str = StageRun.Outcome.FAILED) -> None:
    """Close `run` with `outcome` and fail its game with `message` (also used by recovery)."""
    now = timezone.now()
    with transaction.atomic():
        if _current(run) is None:
            return
        StageRun.objects.filter(id=run.id).update(outcome=outcome, finished_at=now, error=message)
        Game.objects.filter(id=run.game_id).update(status=Game.Status.FAILED, error=message, finished_at=now)


def _again(game: Game, run: StageRun, error: str, restart: bool = False) -> str:
    """Queue the next try (of this stage, or of analysis when the node lost the files)
    after a wait that doubles with each failure, or fail the game once the tries are
    used up. Only tries that failed count; those lost to a dead worker do not."""
    failures = failures_since_queued(game, run.stage) + 1  # this one is still `running`
    if failures >= settings.STAGE_ATTEMPTS:
        first = error.splitlines()[0] if error else "unknown"
        _fail(game, run, f"{run.stage} failed {failures} times; last error: {first}", work_dir(game.id))
        return "failed"
    delay = 0.0 if restart else backoff_seconds(failures)
    log.info("game=%s stage=%s: try again in %.0f s", game.id, run.stage, delay)
    retry_stage(run, error, StageRun.Outcome.RETRY, restart, delay)
    return "retry"


def failures_since_queued(game: Game, stage: str) -> int:
    """Tries of `stage` that failed since the game was last queued (a re-analysis
    starts the count again); lost tries are not failures."""
    runs = StageRun.objects.filter(game_id=game.id, stage=stage, outcome=StageRun.Outcome.RETRY)
    queued_at = Game.objects.filter(id=game.id).values_list("queued_at", flat=True).first()
    return (runs.filter(started_at__gte=queued_at) if queued_at else runs).count()


def retry_delay_left(game: Game) -> float:
    """What is left of the backoff before the game's due try (0 when it is not a retry
    after a failure, or its wait is over): for a try queued again by recovery."""
    failures = failures_since_queued(game, game.stage)
    last = StageRun.objects.filter(game_id=game.id, stage=game.stage, outcome=StageRun.Outcome.RETRY).exclude(
        finished_at=None).order_by("-finished_at").values_list("finished_at", flat=True).first()
    if not failures or last is None:
        return 0.0
    due = last.timestamp() + backoff_seconds(failures)
    return max(0.0, due - timezone.now().timestamp())


@on_lock_race
def retry_stage(run: StageRun, error: str, outcome: str, restart: bool = False, delay: float = 0.0) -> None:
    """Close `run` with `outcome` and queue the next try, `delay` seconds from now
    (also used by recovery)."""
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
        queues.enqueue(game.id, game.stage, game.attempt, game.node, delay=delay)


class Reporter:
    """Progress and heartbeat of a running stage. The stage may report from any thread
    (analysis does, from its decoder); only this reporter's own thread writes to the
    database: the progress when it changed, at most once a second, and a heartbeat
    every few seconds even through a long ffmpeg call that reports nothing.

    When a write finds no game (it was deleted) the next report raises GameDeleted in
    the stage's own thread, which stops the stage there: a deleted game must not hold a
    worker for the rest of a 3-hour analysis."""

    def __init__(self, game_id):
        self.game_id = game_id
        self.fraction = 0.0
        self.deleted = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"reporter-{game_id}", daemon=True)

    def __call__(self, fraction: float) -> None:
        if self.deleted:
            raise GameDeleted(f"game {self.game_id} was deleted")
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
            found = Game.objects.filter(id=self.game_id).update(progress=fraction, heartbeat_at=timezone.now())
            self.deleted = not found
        except Exception:  # a lost database connection must not kill the stage
            log.exception("progress of game %s not written", self.game_id)


_names: dict[int, str] = {}


def worker_name() -> str:
    """This process's name in StageRun.worker: host:pid:nonce, one per process (RQ's
    work horses are processes of their own). The nonce tells a restarted process from
    the one before it even with the same pid (pid 1 in a container): recovery in the
    embedded mode relies on that."""
    pid = os.getpid()
    if pid not in _names:
        _names[pid] = f"{socket.gethostname()}:{pid}:{secrets.token_hex(3)}"
    return _names[pid]
