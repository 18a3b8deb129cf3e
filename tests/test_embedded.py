"""The embedded mode the README shows: `volley serve` with no settings at all (SQLite,
local files, stages in a thread) takes a game, processes it and serves its clips."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _embedded_env(tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOLLEY_") and k != "DJANGO_SETTINGS_MODULE"}
    env.update(VOLLEY_DATA_DIR=str(tmp_path / "data"), VOLLEY_WORK_DIR=str(tmp_path / "work"))
    return env


def _get(url: str, token: str | None = None, headers: dict | None = None):
    request = urllib.request.Request(url, headers={**(headers or {}), **({"Authorization": f"Token {token}"} if token else {})})
    return urllib.request.urlopen(request, timeout=30)


@pytest.fixture
def embedded(tmp_path, small_game):
    port, env = _free_port(), _embedded_env(tmp_path)
    server = subprocess.Popen([".venv/bin/volley", "serve", "--port", str(port), "--demo", str(small_game.path)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _get(f"http://127.0.0.1:{port}/healthz")
                break
            except (urllib.error.URLError, ConnectionError):
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"volley serve did not come up:\n{server.stdout.read()}")
                time.sleep(0.3)
        token = subprocess.run([".venv/bin/volley", "token", "create", "demo"], env=env, check=True,
                               capture_output=True, text=True).stdout.strip()
        yield f"http://127.0.0.1:{port}", token
    finally:
        server.terminate()
        server.wait(20)


def test_the_embedded_service_processes_a_game_and_serves_its_clips(embedded, small_game):
    base, token = embedded
    deadline = time.monotonic() + 300
    while True:
        games = json.loads(_get(f"{base}/api/games/", token).read())["results"]
        assert len(games) == 1 and games[0]["status"] != "failed", games
        if games[0]["status"] == "done":
            break
        assert time.monotonic() < deadline, games
        time.sleep(1)
    game = json.loads(_get(games[0]["url"], token).read())
    assert game["rallies"], game
    clip = game["rallies"][0]["clip_url"]
    with _get(clip) as whole:
        assert whole.headers["Content-Type"] == "video/mp4"
        size = len(whole.read())
    with _get(clip, headers={"Range": "bytes=100-199"}) as part:
        assert part.status == 206 and part.headers["Content-Range"] == f"bytes 100-199/{size}"
        assert len(part.read()) == 100
    with pytest.raises(urllib.error.HTTPError) as refused:
        _get(clip.replace("sig=", "sig=0"))
    assert refused.value.code == 403
    with _get(f"{base}/games/{game['id']}/") as page:  # not logged in: sent to log in
        assert "/login/" in page.url
