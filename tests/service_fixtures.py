"""Fixtures for the service tests: real PostgreSQL (pytest-django's test database),
Redis (db 15, emptied per test), a SeaweedFS S3 server per session, RQ workers, and a
generated game with known rallies."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import services


def pytest_configure(config):
    services.ensure_postgres()
    services.ensure_redis()
    services.drop_abandoned_test_databases()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    with services.seaweedfs(tmp_path_factory.mktemp("s3")) as server:
        yield server


@dataclass
class Service:
    """The service on production parts, for one test."""

    s3: object
    work_dir: Path
    env: dict[str, str]

    def run_workers(self) -> None:
        """Run every queued stage job (and the ones they queue) to the end, as a node's
        worker would (`volley worker`'s StageWorker, with its stage-run events), but in
        this process (no fork: the same test database). Its housekeeping is left out:
        tests call `front.recovery` themselves, at the moment they mean to."""
        from rq import SimpleWorker, Worker

        from front.queues import redis_connection, worker_queues
        from front.workers import StageWorker
        from volley.settings import node_name

        class InProcessStageWorker(StageWorker):
            def execute_job(self, job, queue) -> None:
                SimpleWorker.execute_job(self, job, queue)
                self.after_job(job)

            def run_maintenance_tasks(self) -> None:
                Worker.run_maintenance_tasks(self)

        queues = worker_queues(["vproc", "framer", "clipper", "pusher"], node_name())
        InProcessStageWorker(queues, connection=redis_connection()).work(burst=True)

    def subprocess_env(self, database: str) -> dict[str, str]:
        """Environment for a `volley` process on the same parts and test database."""
        env = dict(os.environ, **self.env)
        env["VOLLEY_DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{database}"
        env["DJANGO_SETTINGS_MODULE"] = "front.settings"  # tests/ is not importable there
        return env


@pytest.fixture
def service(s3_server, tmp_path, monkeypatch, transactional_db):
    """Production settings pointed at this session's S3 server, an empty Redis db and a
    fresh node-local work directory. Tests using it commit for real (workers see rows)."""
    from front.queues import redis_connection
    from pusher.store import reset_store

    env = dict(s3_server.env(), VOLLEY_WORK_DIR=str(tmp_path / "work"))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    reset_store()
    redis_connection().flushdb()
    yield Service(s3_server, tmp_path / "work", env)
    redis_connection().flushdb()
    reset_store()


@pytest.fixture
def api_user(service):
    """A user with an API token, and a DRF client sending it."""
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    user = get_user_model().objects.create_user("alice", password="volley-pass-1")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return user, client


@dataclass(frozen=True)
class SmallGame:
    path: Path
    rallies: list[tuple[float, float]]
    duration: float


@pytest.fixture(scope="session")
def small_game(tmp_path_factory) -> SmallGame:
    """A generated game of a little over two minutes at 640x360 with known rallies."""
    from volley.synth import GameSpec, render_game

    path = tmp_path_factory.mktemp("service-game") / "game.mp4"
    truth = render_game(path, GameSpec(seed=31, width=640, height=360, fps=30.0, rallies=5))
    return SmallGame(path, [tuple(r) for r in truth.rallies], truth.duration)


def read_json_url(url: str) -> dict:
    from urllib.request import urlopen

    with urlopen(url, timeout=30) as response:
        return json.loads(response.read())
