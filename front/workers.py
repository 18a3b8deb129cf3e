"""The RQ worker behind `volley worker`: RQ's own, plus the service's housekeeping
(`front.recovery`: requeue lost work, free this node's disk, give up stale uploads),
and each finished job's stage-run event (`front.events`), sent from this long-lived
process rather than from the job's short-lived fork.

The housekeeping runs in RQ's maintenance slot, in the worker's main thread between
jobs, and never in a thread beside it: RQ forks a work horse for each job, and a fork
taken while another thread holds a lock (a module being imported, a connection pool)
leaves that lock held forever in the horse, which then hangs on its first use.

Stopping (SIGTERM, as Kubernetes sends when a pod goes): a worker serving this node's
queues (framer@NODE...) drains. It takes no new game (it stops listening to `vproc`)
but goes on with the later stages of the games whose files are on this node, and exits
once none is left, so a rollout or scale-down never makes a game start again from
analysis elsewhere. A worker of `vproc` alone finishes its job and exits, as RQ does.
A second signal stops any worker after its current job (RQ's warm shutdown; a third
is RQ's cold one).
"""

from __future__ import annotations

import logging

from django.db import connections
from rq import Worker
from rq.exceptions import StopRequested
from rq.worker import WorkerStatus

from front import events, recovery
from pusher.store import reset_store
from volley import liveness

log = logging.getLogger("volley.worker")
#: Seconds between housekeeping rounds of an idle worker (a busy one does it between jobs).
HOUSEKEEPING_SECONDS = 60


class StageWorker(Worker):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("maintenance_interval", HOUSEKEEPING_SECONDS)
        # RQ waits for a job at most worker_ttl - 15 s before its loop (and our
        # housekeeping) comes round again.
        kwargs.setdefault("worker_ttl", HOUSEKEEPING_SECONDS + 15)
        super().__init__(*args, **kwargs)
        self.draining = False

    def request_stop(self, signum, frame) -> None:
        """The first SIGTERM or SIGINT: drain if this worker serves the node's own queues;
        otherwise (and on a second signal) RQ's stop. No database work here: the signal
        may have interrupted some on the same connection. Whether games are left is
        checked after each job and in the maintenance slot, which comes at once."""
        node_queues = [q for q in self.queues if "@" in q.name]
        if self.draining or not node_queues:
            return super().request_stop(signum, frame)
        self.draining = True
        # Only this node's queues from now on; a dequeue already waiting (at most a
        # minute) may still take one new game, which is then finished here too.
        self.queues = node_queues
        self._ordered_queues = [q for q in self._ordered_queues if "@" in q.name]
        self.last_cleaned_at = None  # the next loop turn runs the maintenance slot
        log.warning("stopping once the games on this node are finished (a second signal stops sooner)")

    def _drained(self) -> bool:
        """No game left on this node; when the database cannot say, not drained (a
        draining worker waits for it rather than leave games behind)."""
        try:
            drained = not recovery.games_held_here()
        except Exception:
            log.exception("could not tell whether games are left on this node; still draining")
            return False
        finally:
            connections.close_all()
        if drained:
            log.info("drained: no game left on this node")
        return drained

    def heartbeat(self, *args, **kwargs):
        liveness.beat()  # for `volley health`: RQ beats between and during jobs
        return super().heartbeat(*args, **kwargs)

    def execute_job(self, job, queue) -> None:
        super().execute_job(job, queue)
        self.after_job(job)

    def after_job(self, job) -> None:
        """Once the job's horse has exited: its stage-run event; a draining worker
        stops when this was the node's last game."""
        try:
            if job.func_name == "front.runner.run_stage":
                events.record_job(tuple(job.args))
        finally:
            connections.close_all()  # the next horse must not share this connection
        if self.draining and self._drained():
            self._stop_requested = True  # RQ's loop ends before its next dequeue

    def run_maintenance_tasks(self) -> None:
        if self.draining and self.get_state() != WorkerStatus.BUSY and self._drained():
            raise StopRequested()  # ends RQ's loop, as its own idle stop does
        super().run_maintenance_tasks()
        try:
            recovery.reconcile()
            recovery.sweep_work_dirs()
            recovery.expire_uploads()
        except Exception:  # housekeeping must never stop the worker
            log.exception("housekeeping failed; trying again in %s s", HOUSEKEEPING_SECONDS)
        finally:
            # The next job's horse is a fork of this process: it must not inherit, and
            # share, this process's database connection or the store's HTTP pool.
            connections.close_all()
            reset_store()
