"""The RQ worker behind `volley worker`: RQ's own, plus the service's housekeeping
(`front.recovery`: requeue lost work, free this node's disk, give up stale uploads),
and each finished job's stage-run event (`front.events`), sent from this long-lived
process rather than from the job's short-lived fork.

The housekeeping runs in RQ's maintenance slot, in the worker's main thread between
jobs, and never in a thread beside it: RQ forks a work horse for each job, and a fork
taken while another thread holds a lock (a module being imported, a connection pool)
leaves that lock held forever in the horse, which then hangs on its first use.
"""

from __future__ import annotations

import logging

from django.db import connections
from rq import Worker

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

    def heartbeat(self, *args, **kwargs):
        liveness.beat()  # for `volley health`: RQ beats between and during jobs
        return super().heartbeat(*args, **kwargs)

    def execute_job(self, job, queue) -> None:
        super().execute_job(job, queue)
        self.after_job(job)

    def after_job(self, job) -> None:
        """Once the job's horse has exited: its stage-run event."""
        try:
            if job.func_name == "front.runner.run_stage":
                events.record_job(tuple(job.args))
        finally:
            connections.close_all()  # the next horse must not share this connection

    def run_maintenance_tasks(self) -> None:
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
