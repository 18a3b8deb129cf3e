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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_image_commands_migrate_then_serve_under_gunicorn_and_stop_on_sigterm(tmp_path):
    """`volley migrate` then `volley web`, as the chart's hook Job and web pods run them."""
    import signal
    import urllib.request

    port = free_port()
    env = {**os.environ, "VOLLEY_DATA_DIR": str(tmp_path), "VOLLEY_PORT": str(port),
           "VOLLEY_HEALTH_FILE": str(tmp_path / "never"), "VOLLEY_WEB_WORKERS": "1"}
    for name in ("VOLLEY_DATABASE_URL", "VOLLEY_REDIS_URL", "DJANGO_SETTINGS_MODULE"):
        env.pop(name, None)  # the embedded defaults: SQLite in VOLLEY_DATA_DIR
    volley = [sys.executable, "-m", "volley.cli"]
    migrated = subprocess.run([*volley, "migrate"], env=env, capture_output=True, text=True, timeout=120)
    assert migrated.returncode == 0, migrated.stderr
    assert (tmp_path / "volley.sqlite3").exists()
    web = subprocess.Popen([*volley, "web", "--bind", f"127.0.0.1:{port}"], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while subprocess.run([*volley, "health"], env=env, capture_output=True).returncode != 0:
            assert web.poll() is None and time.monotonic() < deadline, "gunicorn did not come up"
            time.sleep(0.5)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=10) as page:
            assert page.status == 200 and b"Volley" in page.read()
        # Static files come from the installed package (WhiteNoise), no collectstatic.
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/static/front/volley.css", timeout=10) as css:
            assert css.status == 200 and css.headers["Content-Type"].startswith("text/css")
    finally:
        web.send_signal(signal.SIGTERM)
        output = web.communicate(timeout=60)[0]
    assert web.returncode == 0, output
    assert "gunicorn" in output.lower() and "Shutting down" in output
