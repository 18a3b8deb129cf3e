"""The embedded mode the README shows: `volley serve` with no settings at all (SQLite,
local files, stages in a thread) takes a game, processes it and serves its clips."""

from __future__ import annotations

import json
import time
import urllib.error

import pytest

from tests.embedded import embedded_server, get as _get

pytestmark = pytest.mark.slow


@pytest.fixture
def embedded(tmp_path, small_game):
    with embedded_server(tmp_path, "--demo", str(small_game.path)) as server:
        yield server.base, server.token("demo")


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
