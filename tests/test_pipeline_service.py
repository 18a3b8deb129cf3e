"""The stage pipeline on production parts: RQ workers on Redis, PostgreSQL, SeaweedFS.
A game goes through every stage and every published URL plays; a killed worker, a
Redis that lost its queues, a node that lost its files and failing stages all leave
the game recoverable, and running a try twice never duplicates anything."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from front import games as game_service
from front import stages
from front.models import Game, StageRun
from front.queues import redis_connection
from front.recovery import reconcile
from front.runner import run_stage, work_dir
from pusher.store import get_store
from tests.service_fixtures import read_json_url
from volley.evaluation import score

pytestmark = pytest.mark.django_db(transaction=True)


def queued_game(owner, path, name="game") -> Game:
    """A game whose source is in the store and which waits for its first stage."""
    return game_service.start_from_file(owner, name, path, path.name)


def outcomes(game: Game) -> list[tuple[str, str]]:
    return [(r.stage, r.outcome) for r in StageRun.objects.filter(game=game).order_by("started_at", "id")]


def ffprobe_url(url: str) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration:stream=codec_name", "-of", "json", url],
        capture_output=True, text=True, check=True, timeout=60).stdout
    return json.loads(out)


@pytest.mark.slow
def test_a_game_goes_through_every_stage_and_every_published_url_plays(api_user, small_game, service, caplog):
    caplog.set_level(logging.INFO, logger="volley.telemetry")
    user, client = api_user
    with small_game.path.open("rb") as f:
        game_id = client.post("/api/games/", {"video": f}, format="multipart").json()["id"]
    service.run_workers()
    body = client.get(f"/api/games/{game_id}/").json()
    assert (body["status"], body["stage"], body["progress"], body["error"]) == ("done", "done", 100.0, "")
    game = Game.objects.get(id=game_id)
    assert outcomes(game) == [(s, "ok") for s in ("analysing", "cutting", "building", "publishing")]
    found = [(r["start"], r["end"]) for r in body["rallies"]]
    assert score(found, small_game.rallies).f1 >= 0.5  # the engine's accuracy has its own tests
    for rally in body["rallies"]:
        probed = ffprobe_url(rally["clip_url"])
        assert {s["codec_name"] for s in probed["streams"]} == {"h264", "aac"}
        # the rally and its padding (less where the video's start or end cuts the padding)
        assert rally["end"] - rally["start"] <= float(probed["format"]["duration"]) <= rally["end"] - rally["start"] + 3.8
        with urllib.request.urlopen(rally["poster_url"], timeout=30) as poster:
            assert poster.headers["Content-Type"] == "image/jpeg" and poster.read(3) == b"\xff\xd8\xff"
    for reel in (body["digest_url"], body["best_url"]):
        assert float(ffprobe_url(reel)["format"]["duration"]) > 3
    published = read_json_url(get_store().url(f"{game.prefix}rallies.json"))
    assert [r["index"] for r in published["rallies"]] == [r["index"] for r in body["rallies"]]
    assert not work_dir(game.id).exists()  # the node's disk is freed once published
    events = [r for r in caplog.records if getattr(r, "event", None) == "VolleyStageRun"]
    assert [(r.attr_stage, r.attr_outcome, r.attr_game) for r in events] == [
        (s, "ok", game_id) for s in ("analysing", "cutting", "building", "publishing")]
    analysed = events[0]
    assert analysed.attr_rallies == len(body["rallies"]) and analysed.attr_video_seconds == pytest.approx(
        small_game.duration, abs=0.1)
    assert analysed.attr_frames > 0 and analysed.attr_fps > 0 and analysed.attr_duration > 0
    assert events[2].attr_clips == len(body["rallies"]) and events[3].attr_objects > len(body["rallies"])


@pytest.mark.slow
def test_a_killed_worker_leaves_the_game_recoverable(api_user, small_game, service, tmp_path):
    user, _ = api_user
    game = queued_game(user, small_game.path)
    worker, log = worker_analysing(game, service, tmp_path)
    _kill_tree(worker)  # the worker and its work horse, mid-analysis, as a deleted pod

    game.refresh_from_db()
    assert (game.status, game.stage) == ("processing", "analysing")
    # Later the heartbeat is stale: recovery queues analysis again.
    Game.objects.filter(id=game.id).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert any("queued again" in line for line in reconcile())
    service.run_workers()
    game.refresh_from_db()
    assert game.status == "done"
    assert outcomes(game) == [("analysing", "lost")] + [(s, "ok") for s in ("analysing", "cutting", "building", "publishing")]
    assert sorted(game.rallies.values_list("index", flat=True)) == list(range(1, game.rallies.count() + 1))


@pytest.mark.slow
def test_a_stopped_worker_finishes_the_games_on_its_node_and_takes_no_new_one(
        api_user, small_game, still_video, service, tmp_path):
    """SIGTERM, as Kubernetes sends to a pod in a rollout: the game under way goes through
    all its stages here (its files are here), the next game is left for another node."""
    user, _ = api_user
    game = queued_game(user, small_game.path)
    worker, log = worker_analysing(game, service, tmp_path)
    try:
        waiting = queued_game(user, still_video, name="next")
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=300)
    finally:
        _kill_tree(worker)
    assert worker.returncode == 0, log.read_text()[-3000:]
    game.refresh_from_db()
    assert game.status == "done", log.read_text()[-3000:]
    assert outcomes(game) == [(s, "ok") for s in ("analysing", "cutting", "building", "publishing")]
    waiting.refresh_from_db()
    assert (waiting.status, waiting.runs.count()) == ("queued", 0)  # another node's work
    assert "stopping once the games on this node are finished" in log.read_text()


def test_a_redis_that_lost_its_queues_loses_no_game(api_user, still_video, service):
    user, _ = api_user
    game = queued_game(user, still_video)
    redis_connection().flushdb()  # what a restarted Redis without persistence holds
    service.run_workers()
    assert Game.objects.get(id=game.id).status == "queued"  # nothing ran: the job was gone
    assert len(reconcile()) == 1
    assert reconcile() == []  # queued once, not again
    service.run_workers()
    game.refresh_from_db()
    assert game.status == "done" and game.rallies.count() == 0
    assert outcomes(game) == [(s, "ok") for s in ("analysing", "cutting", "building", "publishing")]


def test_a_truncated_video_fails_the_game_at_once_with_the_reason(api_user, still_video, tmp_path, service):
    user, client = api_user
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(still_video.read_bytes()[: still_video.stat().st_size // 3])
    game = queued_game(user, cut)
    service.run_workers()
    body = client.get(f"/api/games/{game.id}/").json()
    assert body["status"] == "failed"
    assert "truncated" in body["error"].lower()
    assert outcomes(game) == [("analysing", "failed")]  # bad input is not retried
    assert not work_dir(game.id).exists()


def test_a_failing_stage_is_retried_then_fails_the_game(api_user, still_video, service, monkeypatch, settings):
    settings.STAGE_ATTEMPTS = 2
    settings.RETRY_BASE_SECONDS = 0  # no backoff: the burst worker runs what is queued now
    calls = []

    def broken(game, work, progress):
        calls.append(work)
        raise RuntimeError("disk on fire")

    monkeypatch.setitem(stages.FUNCTIONS, "building", broken)
    user, _ = api_user
    game = queued_game(user, still_video)
    service.run_workers()
    game.refresh_from_db()
    assert game.status == "failed" and len(calls) == 2
    assert "building failed 2 times" in game.error and "disk on fire" in game.error
    assert outcomes(game)[-2:] == [("building", "retry"), ("building", "failed")]


def test_running_a_try_twice_does_nothing_the_second_time(api_user, still_video, service):
    user, _ = api_user
    game = queued_game(user, still_video)
    assert run_stage(str(game.id), "analysing", 1) == "ok"
    assert run_stage(str(game.id), "analysing", 1) == "skipped"
    assert run_stage(str(game.id), "publishing", 1) == "skipped"  # not due yet
    assert outcomes(game) == [("analysing", "ok")]


def test_a_node_that_lost_the_game_files_starts_it_again_from_analysis(api_user, still_video, service):
    user, _ = api_user
    game = queued_game(user, still_video)
    assert run_stage(str(game.id), "analysing", 1) == "ok"
    shutil.rmtree(work_dir(game.id))  # a replaced pod: its scratch volume is new
    assert run_stage(str(game.id), "cutting", 1) == "retry"
    game.refresh_from_db()
    assert (game.stage, game.attempt) == ("analysing", 2)
    service.run_workers()
    game.refresh_from_db()
    assert game.status == "done"


def worker_analysing(game: Game, service, tmp_path) -> tuple[subprocess.Popen, Path]:
    """A `volley worker` process (a node's worker) once it is analysing `game`, and its log."""
    log = tmp_path / "worker.log"
    worker = subprocess.Popen(
        [".venv/bin/volley", "worker", "vproc", "framer", "clipper", "pusher"],
        env=service.subprocess_env(connection.settings_dict["NAME"]), start_new_session=True,
        stdout=log.open("wb"), stderr=subprocess.STDOUT)
    try:
        _wait(lambda: Game.objects.get(id=game.id).progress > 0.05, "analysis to get going", log=log)
    except BaseException:
        _kill_tree(worker)
        raise
    return worker, log


def _kill_tree(process: subprocess.Popen) -> None:
    """SIGKILL a process and its children (RQ's work horse runs in a session of its own)."""
    children = subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True, text=True).stdout.split()
    for pid in [process.pid, *map(int, children)]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait()


def _wait(condition, what: str, seconds: float = 120, log=None) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}" + (f"; worker log:\n{log.read_text()[-3000:]}" if log else ""))
        time.sleep(0.2)


def test_a_worker_frees_the_disk_of_games_no_longer_under_way_here(api_user, still_video, service):
    from front.recovery import sweep_work_dirs

    user, _ = api_user
    kept = queued_game(user, still_video)
    work_dir(kept.id).mkdir(parents=True)
    orphan = work_dir("5a1e7b1e-0000-4000-8000-000000000000")  # a game deleted mid-way
    orphan.mkdir(parents=True)
    (orphan / "source").write_bytes(b"x" * 1000)
    old = time.time() - 3600
    for folder in (orphan, work_dir(kept.id)):
        os.utime(folder, (old, old))
    assert sweep_work_dirs() == [orphan.name]
    assert work_dir(kept.id).exists() and not orphan.exists()
