"""Liveness of a long-running process without a web port (a stage worker, the scaler):
the process touches a file while its main loop turns, and `volley health` (the image's
HEALTHCHECK, and the Kubernetes liveness probe) checks the file is fresh. A process
that never touched it is checked over HTTP instead (the web front's /healthz).
"""

from __future__ import annotations

import time
from pathlib import Path

from volley.settings import env_int, env_path

#: A beat older than this means the loop is stuck (RQ beats at least every worker_ttl,
#: 75 s, even while a long job runs).
STALE_SECONDS = 180


def path() -> Path:
    """`VOLLEY_HEALTH_FILE`, default `/tmp/volley-alive` (per container in Kubernetes)."""
    return env_path("HEALTH_FILE", Path("/tmp/volley-alive"))  # a container's own /tmp  # nosec B108


def beat() -> None:
    """Say the main loop is turning. Never raises: a full disk must not stop work."""
    try:
        target = path()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.touch()
    except OSError:
        pass


def age() -> float | None:
    """Seconds since the last beat, or None if this container never beat."""
    try:
        return time.time() - path().stat().st_mtime
    except FileNotFoundError:
        return None


def stale_after() -> int:
    return env_int("HEALTH_STALE_SECONDS", STALE_SECONDS, minimum=10)
