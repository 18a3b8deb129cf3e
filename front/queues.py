"""Where stage jobs go: RQ queues on Redis in production, a thread of the web process
in the embedded mode.

Queue names: `vproc` takes new games on any node. The later stages need the files
vproc's node wrote, so they go to that node's own queues, `framer@NODE`,
`clipper@NODE`, `pusher@NODE`, which only that node's worker listens to
(docs/architecture.md, "One node per game").
"""

from __future__ import annotations

import logging
import queue
import threading
from datetime import timedelta
from functools import lru_cache

from django.conf import settings
from django.db import close_old_connections, transaction

log = logging.getLogger(__name__)

#: The stage users see → the queue (package) that runs it.
QUEUE_OF_STAGE = {"analysing": "vproc", "cutting": "framer", "building": "clipper", "publishing": "pusher"}
NODE_LOCAL = ("framer", "clipper", "pusher")
#: Longest one stage may run before RQ stops it (a 3-hour 4K game still fits).
JOB_TIMEOUT = 6 * 3600


def queue_name(stage: str, node: str) -> str:
    name = QUEUE_OF_STAGE[stage]
    return f"{name}@{node}" if name in NODE_LOCAL else name


def worker_queues(names: list[str], node: str) -> list[str]:
    """The queues a worker on `node` listens to for `volley worker NAME...`, later
    stages first so that games under way finish before new ones start."""
    unknown = sorted(set(names) - set(QUEUE_OF_STAGE.values()))
    if unknown:
        raise ValueError(f"unknown queue(s) {', '.join(unknown)}; choose from vproc framer clipper pusher")
    order = ["pusher", "clipper", "framer", "vproc"]
    return [f"{n}@{node}" if n in NODE_LOCAL else n for n in order if n in names]


def job_id(game_id, stage: str, attempt: int) -> str:
    return f"game-{game_id}-{stage}-{attempt}"


def enqueue(game_id, stage: str, attempt: int, node: str = "", delay: float = 0.0) -> None:
    """Queue one try of one stage, once the current transaction commits (a worker must
    see the rows that say the stage is due); with `delay`, to run that many seconds
    later (a retry's backoff: RQ's scheduler, which `volley worker` runs, or a timer)."""
    transaction.on_commit(lambda: _send(str(game_id), stage, attempt, node, delay))


def _send(game_id: str, stage: str, attempt: int, node: str, delay: float = 0.0) -> None:
    if settings.EMBEDDED:
        InProcess.instance().put(game_id, stage, attempt, delay)
        return
    from rq import Queue

    target = Queue(queue_name(stage, node), connection=redis_connection())
    job = dict(job_id=job_id(game_id, stage, attempt), job_timeout=JOB_TIMEOUT, result_ttl=3600,
               failure_ttl=7 * 86400, description=f"{stage} {game_id} try {attempt}")
    if delay > 0:
        target.enqueue_in(timedelta(seconds=delay), "front.runner.run_stage", game_id, stage, attempt, **job)
    else:
        target.enqueue("front.runner.run_stage", game_id, stage, attempt, **job)


def is_waiting(game_id, stage: str, attempt: int) -> bool:
    """Whether that try is queued or running somewhere (after a Redis restart it is not)."""
    if settings.EMBEDDED:
        return InProcess.instance().has(str(game_id), stage, attempt)
    from rq.exceptions import NoSuchJobError
    from rq.job import Job, JobStatus

    try:
        job = Job.fetch(job_id(game_id, stage, attempt), connection=redis_connection())
    except NoSuchJobError:
        return False
    return job.get_status(refresh=False) in (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED)


@lru_cache(maxsize=1)
def redis_connection():
    from redis import Redis

    return Redis.from_url(settings.REDIS_URL, health_check_interval=30, socket_keepalive=True)


def live_queues() -> set[str]:
    """Queue names some live worker listens to (empty in the embedded mode: one process)."""
    if settings.EMBEDDED:
        return set()
    from rq import Worker

    return {name for worker in Worker.all(connection=redis_connection()) for name in worker.queue_names()}


def vproc_workers() -> int:
    """Workers taking new games (1 in the embedded mode)."""
    if settings.EMBEDDED:
        return 1
    from rq import Worker

    return sum("vproc" in w.queue_names() for w in Worker.all(connection=redis_connection()))


class InProcess:
    """The embedded mode's queue: one thread runs the stage jobs one after another."""

    _instance: "InProcess | None" = None
    _lock = threading.Lock()

    def __init__(self):
        self._jobs: queue.Queue = queue.Queue()
        self._pending: set[tuple[str, str, int]] = set()
        self._thread: threading.Thread | None = None

    @classmethod
    def instance(cls) -> "InProcess":
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def put(self, game_id: str, stage: str, attempt: int, delay: float = 0.0) -> None:
        """Queue the job, or hand it to a timer that queues it `delay` seconds from now
        (the job counts as waiting meanwhile; a restart loses the timer, and recovery
        queues the try again when it finds it due and queued nowhere)."""
        key = (game_id, stage, attempt)
        with self._lock:
            if key in self._pending:
                return
            self._pending.add(key)
        if delay > 0:
            timer = threading.Timer(delay, self._jobs.put, args=(key,))
            timer.daemon = True
            timer.start()
        else:
            self._jobs.put(key)

    def has(self, game_id: str, stage: str, attempt: int) -> bool:
        return (game_id, stage, attempt) in self._pending

    def start(self) -> None:
        """Start the worker thread (`volley serve` does; tests may)."""
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="volley-stages", daemon=True)
            self._thread.start()

    def wait_idle(self) -> None:
        self._jobs.join()

    def _run(self) -> None:
        from front import events
        from front.runner import run_stage

        while True:
            key = self._jobs.get()
            try:
                close_old_connections()
                run_stage(*key)
                events.record_job(key)
            except Exception:  # the runner records failures; this only keeps the thread alive
                log.exception("stage job %s crashed", key)
            finally:
                self._pending.discard(key)
                close_old_connections()
                self._jobs.task_done()
