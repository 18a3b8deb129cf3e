"""The scaler's Prometheus metrics and its liveness page, on one small HTTP server
(`VOLLEY_SCALER_METRICS_PORT`, 9100): GET /metrics (Prometheus text) and GET /healthz
(200 while the loop keeps ending ticks, 503 when it is stuck).

Each `Metrics` has its own registry, so that several scalers (tests) can live in one
process.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, generate_latest

from scaler import defaults
from scaler.decide import Decision
from scaler.demand import Demand


class Metrics:
    def __init__(self, interval: int):
        self.registry = CollectorRegistry()
        self.stuck_after = max(defaults.HEALTHY_INTERVALS * interval, defaults.HEALTH_GRACE)
        self.started = time.monotonic()
        self.last_end: float | None = None
        r = self.registry
        self.games = Gauge("volley_scaler_games", "Games by status, as the last tick read them.", ["status"], registry=r)
        self.stage_games = Gauge("volley_scaler_games_in_stage", "Games in progress per stage.", ["stage"], registry=r)
        self.workers = Gauge("volley_scaler_workers", "Worker replicas before the last decision.", registry=r)
        self.workers_wanted = Gauge("volley_scaler_workers_desired", "Worker replicas decided.", registry=r)
        self.pods = Gauge("volley_scaler_pods", "Live worker pods by kind (busy, warm, idle).", ["kind"], registry=r)
        self.nodes = Gauge("volley_scaler_nodes", "Pool nodes up (provisioning or running).", registry=r)
        self.nodes_wanted = Gauge("volley_scaler_nodes_desired", "Pool nodes decided.", registry=r)
        self.decisions = Counter("volley_scaler_decisions", "Decisions by action (up, down, hold).", ["action"], registry=r)
        self.errors = Counter("volley_scaler_tick_errors", "Ticks that failed (see the log).", registry=r)
        self.paused = Gauge("volley_scaler_paused", "1 while the worker Deployment carries the pause annotation.", registry=r)
        self.dry_run = Gauge("volley_scaler_dry_run", "1 when the scaler decides but changes nothing.", registry=r)
        self.last_success = Gauge("volley_scaler_last_success_timestamp_seconds", "When a tick last succeeded.", registry=r)
        self.tick_seconds = Gauge("volley_scaler_tick_seconds", "How long the last tick took.", registry=r)

    def record(self, demand: Demand, decision: Decision, *, paused: bool, dry_run: bool, seconds: float) -> None:
        for status, n in (("queued", demand.queued), ("processing", demand.processing), ("uploading", demand.uploading)):
            self.games.labels(status).set(n)
        self.stage_games.clear()
        for stage, n in demand.stages.items():
            self.stage_games.labels(stage).set(n)
        self.workers.set(decision.workers_from)
        self.workers_wanted.set(decision.workers)
        for kind in ("busy", "warm", "idle"):
            self.pods.labels(kind).set(sum(k == kind for k in decision.pods.values()))
        if decision.nodes is not None:
            self.nodes.set(decision.nodes_from)
            self.nodes_wanted.set(decision.nodes)
        self.decisions.labels(decision.action).inc()
        self.paused.set(int(paused))
        self.dry_run.set(int(dry_run))
        self.last_success.set(time.time())
        self.tick_seconds.set(seconds)

    def tick_ended(self, failed: bool) -> None:
        if failed:
            self.errors.inc()
        self.last_end = time.monotonic()

    def healthy(self) -> bool:
        return time.monotonic() - (self.last_end or self.started) < self.stuck_after

    def serve(self, port: int, host: str = "0.0.0.0") -> ThreadingHTTPServer:  # scraped inside the pod network  # nosec B104
        """Start the HTTP server in a daemon thread; `server.server_address` has the port."""
        metrics = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    self._send(200, CONTENT_TYPE_LATEST, generate_latest(metrics.registry))
                elif path == "/healthz":
                    ok = metrics.healthy()
                    self._send(200 if ok else 503, "text/plain; charset=utf-8", b"ok\n" if ok else b"stuck\n")
                else:
                    self._send(404, "text/plain; charset=utf-8", b"not found\n")

            def _send(self, status: int, content_type: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:  # scrapes every few seconds would flood the log
                pass

        server = ThreadingHTTPServer((host, port), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, name="scaler-metrics", daemon=True).start()
        return server
