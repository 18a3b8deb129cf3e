"""`volley scaler`: the reconcile loop. Every VOLLEY_SCALER_INTERVAL seconds one tick
observes (the database, the worker Deployment and its pods, the node pool), decides
(`scaler.decide`), logs the decision with its reason (a log line on "volley.scaler" and
a `VolleyScalerDecision` event), then applies it:

1. the node pool grows (or its autoscale floor moves),
2. the pods are marked with their deletion cost,
3. the Deployment's replicas are set,
4. nodes that no worker pod is on any more are removed.

Nothing is carried from one tick to the next: a tick that fails half-way (an API
error, the process killed) leaves a state the next tick, or a restarted scaler, reads
and finishes. `--dry-run` and the pause annotation on the Deployment stop at the log
line; `--once` runs one tick; SIGTERM stops the loop between ticks.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from datetime import datetime

from django.db import close_old_connections
from django.utils import timezone

from scaler import demand as demand_reader
from scaler.decide import Decision, decide
from scaler.demand import Demand
from scaler.digitalocean import DigitalOcean, NodePool
from scaler.exceptions import ScalerError
from scaler.kube import Kube
from scaler.metrics import Metrics
from scaler.settings import ScalerSettings, load
from volley import liveness, telemetry

log = logging.getLogger("volley.scaler")


class Scaler:
    def __init__(self, settings: ScalerSettings, kube: Kube, digitalocean: DigitalOcean | None, *, dry_run: bool = False):
        self.settings, self.kube, self.digitalocean, self.dry_run = settings, kube, digitalocean, dry_run
        self.metrics = Metrics(settings.interval)

    @classmethod
    def from_settings(cls, settings: ScalerSettings, *, dry_run: bool = False) -> "Scaler":
        kube = Kube.from_environment(settings.namespace, settings.deployment)
        digitalocean = DigitalOcean(settings.do_token, settings.do_api_url) if settings.sizes_pool else None
        return cls(settings, kube, digitalocean, dry_run=dry_run)

    def tick(self, now: datetime | None = None) -> Decision | None:
        """One observe → decide → log → apply. Returns the decision, or None when the tick
        failed (logged; the next tick starts over)."""
        started = time.monotonic()
        decision = None
        try:
            decision = self._tick(now or timezone.now(), started)
        except ScalerError as err:
            log.error("tick failed, nothing more changed this time: %s", err)
        except Exception:  # the database, a bug: the loop must live on to try again
            log.exception("tick failed, nothing more changed this time")
        finally:
            close_old_connections()  # a long-lived process: drop a connection the database closed
            liveness.beat()  # `volley health`: the loop turns (a failed tick is in the metrics)
            self.metrics.tick_ended(failed=decision is None)
        return decision

    def _tick(self, now: datetime, started: float) -> Decision:
        close_old_connections()
        limits = self.settings.limits
        demand = demand_reader.read(now, limits.cooldown, self.settings.upload_window)
        workload = self.kube.observe()
        pool = self._pool()
        decision = decide(demand, workload, pool, limits, now)
        held = "dry run" if self.dry_run else "paused" if workload.paused else ""
        self._log(decision, demand, held)
        if not held:
            self._apply(decision, pool)
        self.metrics.record(demand, decision, paused=workload.paused, dry_run=self.dry_run,
                            seconds=time.monotonic() - started)
        return decision

    def _pool(self) -> NodePool | None:
        if self.digitalocean is None:
            return None
        return self.digitalocean.node_pool(self.settings.do_cluster_id, self.settings.do_pool_id)

    def _apply(self, decision: Decision, pool: NodePool | None) -> None:
        cluster_id = self.settings.do_cluster_id
        if decision.pool_change is not None:
            change = decision.pool_change
            self.digitalocean.update_node_pool(cluster_id, pool, count=change.count, auto_scale=change.auto_scale,
                                               min_nodes=change.min_nodes, max_nodes=change.max_nodes)
        for pod, annotations in decision.marks.items():
            self.kube.annotate(pod, annotations)
        if decision.workers != decision.workers_from:
            self.kube.scale(decision.workers)
        for node in decision.remove_nodes:
            log.info("removing node %s (%s) from pool %s: no worker pod on it", node.name, node.id, pool.name)
            self.digitalocean.delete_node(cluster_id, pool.id, node.id)

    def _log(self, decision: Decision, demand: Demand, held: str) -> None:
        note = f" [{held}: nothing changed]" if held and decision.changes_something else ""
        log.info("scale %s: %s%s", decision.action, decision.reason, note)
        telemetry.record_event("VolleyScalerDecision", {
            "action": decision.action,
            "reason": decision.reason,
            "applied": not held,
            "held": held or None,
            "games_queued": demand.queued,
            "games_in_progress": demand.processing,
            "uploads": demand.uploading,
            "workers_from": decision.workers_from,
            "workers": decision.workers,
            "pods_busy": sum(k == "busy" for k in decision.pods.values()),
            "pods_idle": sum(k == "idle" for k in decision.pods.values()),
            "nodes_from": decision.nodes_from,
            "nodes": decision.nodes,
            "nodes_removed": ",".join(n.name for n in decision.remove_nodes) or None,
        })


def run(args) -> int:
    """`volley scaler [--dry-run] [--once]` (Django is set up by the caller)."""
    settings = load()
    scaler = Scaler.from_settings(settings, dry_run=args.dry_run)
    limits = settings.limits
    log.info("scaler on %s/%s: %d..%d workers, %d game(s) each, cool-down %d s, every %d s; %s%s",
             settings.namespace, settings.deployment, limits.min_workers, limits.max_workers,
             limits.games_per_worker, limits.cooldown, settings.interval,
             f"pool {settings.do_pool_id} ({limits.pool_mode})" if settings.sizes_pool else "no node pool to size",
             "; dry run" if args.dry_run else "")
    if args.once:
        return 0 if scaler.tick() is not None else 1
    server = scaler.metrics.serve(settings.metrics_port)
    stop = threading.Event()
    before = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not stop.is_set():
            scaler.tick()  # a signal lets the tick under way finish
            stop.wait(settings.interval)
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)
        server.shutdown()
        telemetry.shutdown()
    log.info("scaler stopped")
    return 0
