"""Jobs that cannot get stuck (issue 23): faults during a game's processing, against
real parts. In the embedded mode a real `volley serve` process on SQLite is killed with
SIGKILL and restarted, written to by 50 clients at once, and has a game deleted under
it; on the production parts (PostgreSQL, Redis/RQ) a try lost to a dead worker is not
counted as a failure, retries back off, and a claim that loses a lock race on SQLite
is tried again. Every game ends `done` or `failed` with a reason; none stays under way.
"""

from __future__ import annotations

import base64
import os
import signal
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
import requests

from tests.embedded import ROOT, EmbeddedServer, embedded_env, embedded_server

UNDER_WAY = ("queued", "processing")


# --- the embedded mode: a real `volley serve` on SQLite -------------------------------

def api(server: EmbeddedServer, token: str, method: str, path: str, **kwargs) -> requests.Response:
    return requests.request(method, f"{server.base}{path}", headers={"Authorization": f"Token {token}"},
                            timeout=60, **kwargs)


def games(server: EmbeddedServer, token: str) -> list[dict]:
    return api(server, token, "GET", "/api/games/?limit=200").json()["results"]


def wait_for(condition, what: str, server: EmbeddedServer, seconds: float = 240, every: float = 0.2):
    deadline = time.monotonic() + seconds
    while True:
        found = condition()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; server log:\n{server.output()[-4000:]}")
        time.sleep(every)


def analysing(server: EmbeddedServer, token: str) -> dict | None:
    """The game being analysed, once analysis is well under way."""
    return next((g for g in games(server, token) if g["status"] == "processing" and g["stage"] == "analysing"
                 and g["progress"] > 2), None)


def all_settled(server: EmbeddedServer, token: str) -> list[dict] | None:
    found = games(server, token)
    return None if any(g["status"] in UNDER_WAY for g in found) else found


def runs(server: EmbeddedServer) -> list[tuple[str, str]]:
    """(stage, outcome) of every try, read from the server's SQLite database."""
    with sqlite3.connect(server.data_dir / "volley.sqlite3") as db:
        return db.execute("SELECT stage, outcome FROM front_stagerun ORDER BY started_at, id").fetchall()


@pytest.mark.slow
def test_kill_9_of_volley_serve_mid_analysis_then_an_immediate_restart_ends_the_game_done(tmp_path, small_game):
    env = embedded_env(tmp_path)
    with embedded_server(tmp_path, "--demo", str(small_game.path), env=env) as first:
        token = first.token("demo")
        game = wait_for(lambda: analysing(first, token), "analysis to get going", first)
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(10)
    # At once: the heartbeat is seconds old, far from VOLLEY_STALL_SECONDS (120).
    with embedded_server(tmp_path, env=env, port=first.port) as second:
        done = wait_for(lambda: all_settled(second, token), "the game to finish", second)
        assert [(g["id"], g["status"], g["error"]) for g in done] == [(game["id"], "done", "")]
        assert runs(second) == [("analysing", "lost")] + [
            (s, "ok") for s in ("analysing", "cutting", "building", "publishing")]
        assert "stopped answering; analysing queued again" in second.output()


def upload_start(server: EmbeddedServer, token: str, head: bytes, n: int) -> int:
    body = {"name": f"start-{n}.mp4", "size": 1000 + n, "type": "video/mp4", "head": base64.b64encode(head).decode()}
    return api(server, token, "POST", "/api/uploads/", json=body).status_code


def direct_upload(server: EmbeddedServer, token: str, video: Path, n: int) -> int:
    with video.open("rb") as f:
        return api(server, token, "POST", "/api/games/", files={"video": (f"direct-{n}.mp4", f, "video/mp4")}).status_code


def share(server: EmbeddedServer, token: str, game_id: str) -> int:
    return api(server, token, "POST", f"/api/games/{game_id}/shares/", json={}).status_code


@pytest.mark.slow
def test_fifty_concurrent_api_writes_while_a_game_processes_on_sqlite_leave_no_game_stuck(
        tmp_path, small_game, still_video):
    # One user's 44 starts at once: past the quotas (tests/test_limits.py), which are not
    # what this test is about.
    env = dict(embedded_env(tmp_path), VOLLEY_MAX_OPEN_UPLOADS="100", VOLLEY_MAX_GAMES_PER_DAY="100")
    with embedded_server(tmp_path, "--demo", str(small_game.path), env=env) as server:
        token = server.token("demo")
        game = wait_for(lambda: analysing(server, token), "analysis to get going", server)
        head = small_game.path.read_bytes()[:4096]
        writes = [lambda n=n: upload_start(server, token, head, n) for n in range(40)]
        writes += [lambda n=n: share(server, token, game["id"]) for n in range(6)]
        writes += [lambda n=n: direct_upload(server, token, still_video, n) for n in range(4)]
        with ThreadPoolExecutor(len(writes)) as pool:
            answers = list(pool.map(lambda write: write(), writes))
        shares = answers[40:46]  # sharing a game again answers its live link (200)
        assert answers[:40] + answers[46:] == [201] * 44 and set(shares) <= {200, 201}, answers
        settled = wait_for(lambda: all_settled(server, token), "every game to finish", server, seconds=400, every=1)
        processed = [g for g in settled if g["status"] != "uploading"]
        assert sorted(g["status"] for g in processed) == ["done"] * 5, [(g["name"], g["status"]) for g in processed]
        assert "crashed" not in server.output()


@pytest.mark.slow
def test_deleting_a_game_mid_analysis_stops_its_stage_and_removes_its_work_files(tmp_path, small_game, still_video):
    with embedded_server(tmp_path, "--demo", str(small_game.path)) as server:
        token = server.token("demo")
        game = wait_for(lambda: analysing(server, token), "analysis to get going", server)
        work = Path(server.env["VOLLEY_WORK_DIR"]) / "games" / game["id"]
        assert work.is_dir()
        assert api(server, token, "DELETE", f"/api/games/{game['id']}/").status_code == 204
        wait_for(lambda: "stopped and its work files removed" in server.output(), "the stage to stop", server,
                 seconds=30)
        assert not work.exists()
        # The stage thread is free again: the next game goes through.
        assert direct_upload(server, token, still_video, 1) == 201
        settled = wait_for(lambda: all_settled(server, token), "the next game to finish", server, seconds=120)
        assert [g["status"] for g in settled] == ["done"]
        assert not any((Path(server.env["VOLLEY_WORK_DIR"]) / "games").iterdir())  # no orphaned work file


@pytest.mark.slow
def test_volley_serve_queues_again_in_the_background_a_game_that_no_job_holds(tmp_path, still_video):
    """A job dropped while the server runs (what a lock race did before it was retried) is
    picked up by the next round of recovery, not at the next restart."""
    env = dict(embedded_env(tmp_path), VOLLEY_RECONCILE_SECONDS="1")
    with embedded_server(tmp_path, env=env) as server:
        token = server.token("demo")
        assert direct_upload(server, token, still_video, 1) == 201
        (game,) = wait_for(lambda: all_settled(server, token), "the game to finish", server)
        with sqlite3.connect(server.data_dir / "volley.sqlite3") as db:  # due, and queued nowhere
            db.execute("UPDATE front_game SET status = 'queued', stage = 'analysing', attempt = 2 WHERE id = ?",
                       [game["id"].replace("-", "")])
        wait_for(lambda: len(runs(server)) == 8, "the dropped try to run", server, seconds=60)
        (game,) = wait_for(lambda: all_settled(server, token), "the game to finish again", server)
        assert game["status"] == "done"
        assert "analysing try 2 was queued nowhere; queued again" in server.output()


# --- the production parts: PostgreSQL, Redis/RQ ---------------------------------------

def queued_game(owner, path):
    from front import games as game_service

    return game_service.start_from_file(owner, "game", path, path.name)


def outcomes(game) -> list[tuple[str, str]]:
    from front.models import StageRun

    return [(r.stage, r.outcome) for r in StageRun.objects.filter(game=game).order_by("started_at", "id")]


def lose_the_running_try(game) -> list[str]:
    """Claim the game's due try as a worker that then dies (its heartbeat stops), and
    let recovery find it."""
    from django.utils import timezone

    from front.models import Game
    from front.recovery import reconcile
    from front.runner import claim

    game.refresh_from_db()
    assert claim(str(game.id), game.stage, game.attempt) is not None
    Game.objects.filter(id=game.id).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    return reconcile()


@pytest.mark.django_db(transaction=True)
def test_a_try_lost_to_a_dead_worker_does_not_use_up_an_attempt(api_user, still_video, service, settings):
    settings.STAGE_ATTEMPTS = 1  # one failure would fail the game
    user, _ = api_user
    game = queued_game(user, still_video)
    from front.queues import redis_connection

    redis_connection().flushdb()  # the claim below is the only run of this try
    assert any("queued again" in line for line in lose_the_running_try(game))
    service.run_workers()
    game.refresh_from_db()
    assert (game.status, game.error) == ("done", "")
    assert outcomes(game) == [("analysing", "lost")] + [
        (s, "ok") for s in ("analysing", "cutting", "building", "publishing")]


@pytest.mark.django_db(transaction=True)
def test_a_game_whose_worker_dies_on_every_try_fails_with_a_reason(api_user, still_video, service, settings):
    settings.STAGE_LOST_TRIES = 2
    user, _ = api_user
    game = queued_game(user, still_video)
    from front.queues import redis_connection

    redis_connection().flushdb()
    lose_the_running_try(game)
    assert any("lost 2 times, failed" in line for line in lose_the_running_try(game))
    game.refresh_from_db()
    assert game.status == "failed" and "analysing was lost with its worker 2 times" in game.error
    assert outcomes(game) == [("analysing", "lost"), ("analysing", "lost")]


def test_retries_back_off_exponentially_up_to_a_cap(settings):
    from front.retries import backoff_seconds

    settings.RETRY_BASE_SECONDS, settings.RETRY_MAX_SECONDS = 15, 100
    assert [backoff_seconds(n) for n in range(6)] == [0, 15, 30, 60, 100, 100]


@pytest.mark.django_db(transaction=True)
def test_a_failed_stage_is_queued_again_only_after_its_backoff(api_user, still_video, service, settings, monkeypatch):
    from rq import Queue
    from rq.registry import ScheduledJobRegistry

    from front import stages
    from front.queues import job_id, queue_name, redis_connection
    from front.recovery import reconcile

    settings.RETRY_BASE_SECONDS = 40
    monkeypatch.setitem(stages.FUNCTIONS, "building", lambda game, work, progress: 1 / 0)
    user, _ = api_user
    game = queued_game(user, still_video)
    service.run_workers()  # analysing and cutting pass; building fails once
    game.refresh_from_db()
    assert (game.status, game.stage, game.attempt) == ("processing", "building", 2)
    assert outcomes(game)[-1] == ("building", "retry")
    queue = Queue(queue_name("building", game.node), connection=redis_connection())
    registry = ScheduledJobRegistry(queue=queue)
    due = registry.get_scheduled_time(job_id(game.id, "building", 2))
    assert 35 < (due.timestamp() - time.time()) <= 40  # not at once: in RETRY_BASE_SECONDS
    assert queue.count == 0 and reconcile() == []  # waiting, not lost

    redis_connection().flushdb()  # a Redis restart loses the schedule: recovery keeps the wait
    (line,) = reconcile()
    assert "queued again to run in" in line
    assert 35 < (registry.get_scheduled_time(job_id(game.id, "building", 2)).timestamp() - time.time()) <= 40


CLAIM_AGAINST_A_WRITER = """
import os, sqlite3, sys, threading, time
os.environ["DJANGO_SETTINGS_MODULE"] = "front.settings"
import django
django.setup()
from django.core.management import call_command
from django.contrib.auth import get_user_model
from front.models import Game
from front.runner import claim
call_command("migrate", verbosity=0)
game = Game.objects.create(owner=get_user_model().objects.create(username="u"), name="g",
                           status="queued", stage="analysing", attempt=1)
held = threading.Event()
def writer():  # another writer holds the lock longer than the busy timeout (1 s)
    db = sqlite3.connect(sys.argv[1], isolation_level=None)
    db.execute("BEGIN IMMEDIATE")
    held.set()
    time.sleep(1.6)
    db.execute("COMMIT")
threading.Thread(target=writer).start()
held.wait()
print("claimed" if claim(str(game.id), "analysing", 1) else "skipped")
"""


def test_a_claim_that_loses_a_lock_race_on_sqlite_is_tried_again_not_dropped(tmp_path):
    env = dict(embedded_env(tmp_path), VOLLEY_SQLITE_BUSY_SECONDS="1")
    database = tmp_path / "data" / "volley.sqlite3"
    database.parent.mkdir(parents=True)
    done = subprocess.run([sys.executable, "-c", CLAIM_AGAINST_A_WRITER, str(database)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "claimed"
    assert "claim lost a lock race (database is locked); try 2 of" in done.stderr
    with sqlite3.connect(database) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


@pytest.mark.django_db(transaction=True)
def test_a_claim_that_loses_a_lock_race_on_postgresql_is_tried_again(api_user, still_video, service, caplog):
    import threading

    import psycopg2
    from django.db import connection

    from front.runner import claim

    user, _ = api_user
    game = queued_game(user, still_video)
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '200ms'")  # this session gives up on a held row at once
    other = psycopg2.connect(dbname=connection.settings_dict["NAME"], user="postgres", host="127.0.0.1")
    held, release = threading.Event(), threading.Event()

    def hold():  # another transaction holds the game's row a while (an API write, another worker)
        with other, other.cursor() as cursor:
            cursor.execute("SELECT 1 FROM front_game WHERE id = %s FOR UPDATE", [str(game.id)])
            held.set()
            release.wait(0.5)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(10)
    try:
        assert claim(str(game.id), "analysing", 1) is not None
    finally:
        holder.join()
        other.close()
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = 0")
    assert any("claim lost a lock race" in r.getMessage() for r in caplog.records)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_volley_worker_runs_a_retry_once_its_backoff_is_over(api_user, still_video, service, tmp_path):
    """RQ's scheduler (run by `volley worker`) moves a retry waiting out its backoff to its
    queue when it is due."""
    from django.db import connection

    from front.queues import _send, redis_connection

    user, _ = api_user
    game = queued_game(user, still_video)
    redis_connection().flushdb()
    _send(str(game.id), "analysing", 1, "", delay=2)
    log = tmp_path / "worker.log"
    worker = subprocess.Popen(
        [str(ROOT / ".venv/bin/volley"), "worker", "vproc", "framer", "clipper", "pusher"],
        env=service.subprocess_env(connection.settings_dict["NAME"]), cwd=ROOT, start_new_session=True,
        stdout=log.open("wb"), stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while (status := type(game).objects.get(id=game.id).status) != "done":
            assert time.monotonic() < deadline and status != "failed", log.read_text()[-3000:]
            time.sleep(0.3)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
    assert outcomes(game) == [(s, "ok") for s in ("analysing", "cutting", "building", "publishing")]
