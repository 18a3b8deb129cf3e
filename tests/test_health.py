"""What a container needs to run: `volley health` (the image's HEALTHCHECK and the pods'
liveness probe: a worker is healthy while its main loop beats, the front while /healthz
answers) and a database URL with the connection parameters managed databases need."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest


def health(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "volley.cli", "health", *args], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=60)


def test_a_worker_is_healthy_while_its_loop_beats_and_not_once_it_stalls(tmp_path):
    from front.workers import StageWorker
    from front.queues import redis_connection

    beat = tmp_path / "alive"
    os.environ["VOLLEY_HEALTH_FILE"] = str(beat)
    try:
        StageWorker(["vproc"], connection=redis_connection()).heartbeat()
    finally:
        del os.environ["VOLLEY_HEALTH_FILE"]
    assert health(VOLLEY_HEALTH_FILE=str(beat)).returncode == 0
    old = time.time() - 600
    os.utime(beat, (old, old))
    stalled = health(VOLLEY_HEALTH_FILE=str(beat))
    assert stalled.returncode == 1 and "no beat for 600 s" in stalled.stderr


@pytest.mark.django_db
def test_the_front_is_healthy_while_healthz_answers(live_server, tmp_path):
    never = str(tmp_path / "never-beat")
    assert health("--url", f"{live_server.url}/healthz", VOLLEY_HEALTH_FILE=never).returncode == 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    down = health(VOLLEY_HEALTH_FILE=never, VOLLEY_PORT=str(port))
    assert down.returncode == 1 and f"127.0.0.1:{port}/healthz" in down.stderr


def test_database_url_parameters_reach_postgresql(tmp_path):
    """`?sslmode=require` and the like (DigitalOcean's managed PostgreSQL needs it) are
    passed to libpq, not dropped."""
    code = (
        "import django; django.setup()\n"
        "from django.db import connection\n"
        "with connection.cursor() as c:\n"
        "    c.execute('SHOW application_name'); print(c.fetchone()[0])\n"
        "    c.execute('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()'); print(c.fetchone()[0])\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "front.settings", "VOLLEY_DATA_DIR": str(tmp_path),
           "VOLLEY_DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres?application_name=volley-check&sslmode=disable"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["volley-check", "False"]
