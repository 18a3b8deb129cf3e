"""The court in the service, on production parts (PostgreSQL, Redis, SeaweedFS): the owner
marks its four corners through the API (checked against a camera that could see them),
analysis stores the court it finds or the one the owner marked, publishes it in
rallies.json with a still to mark it on, and a re-analysis re-uses the owner's court."""

from __future__ import annotations

import json
import urllib.request

import cv2
import numpy as np
import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from front import games as game_service
from front.models import Game, StageRun
from front.runner import run_stage, work_dir
from pusher.store import get_store
from tests.conftest import realdata
from tests.service_fixtures import read_json_url

pytestmark = pytest.mark.django_db(transaction=True)

#: A court as a camera behind the end line sees it in a 1280x720 picture, in the
#: order a user might click it (far corners first): near-left, near-right, far-right,
#: far-left once ordered.
CLICKED = [[380, 250], [900, 250], [1180, 650], [100, 650]]
ORDERED = [[100, 650], [1180, 650], [900, 250], [380, 250]]
ENGINE_COURT = {"corners": [[72.0, 701.0], [1218.0, 701.0], [961.0, 345.0], [370.0, 347.0]],
                "camera_height_m": 5.68, "beach": False, "by": "engine"}


def done_game(owner, court=None, video=True) -> Game:
    """A processed 1280x720 game as rows (no files)."""
    return Game.objects.create(
        owner=owner, name="final", status=Game.Status.DONE, stage="done", court=court,
        video={"duration": 120.0, "fps": 30.0, "width": 1280, "height": 720} if video else None)


def outcomes(game: Game) -> list[tuple[str, str]]:
    return [(r.stage, r.outcome) for r in StageRun.objects.filter(game=game).order_by("started_at", "id")]


def still_size(url: str) -> tuple[int, int]:
    """(width, height) of the JPEG at `url`."""
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.headers["Content-Type"] == "image/jpeg"
        image = cv2.imdecode(np.frombuffer(response.read(), np.uint8), cv2.IMREAD_COLOR)
    return image.shape[1], image.shape[0]


# --- the API ---------------------------------------------------------------------------

def test_an_owner_marks_the_court_and_it_is_kept_as_theirs_with_the_camera_height(api_user):
    user, client = api_user
    game = done_game(user, court=ENGINE_COURT)
    response = client.put(f"/api/games/{game.id}/court/", {"corners": CLICKED, "beach": False}, format="json")
    assert response.status_code == 200, response.content
    court = response.json()
    assert court["by"] == "user" and court["beach"] is False
    assert np.allclose(court["corners"], ORDERED, atol=0.1)  # put in the court's own order
    assert 2.0 < court["camera_height_m"] < 15.0
    game.refresh_from_db()
    assert game.court == court
    assert client.get(f"/api/games/{game.id}/").json()["court"] == court


@pytest.mark.parametrize("corners, message", [
    ([[100, 650], [1180, 650], [900, 250]], "exactly four corners"),
    ([[100, 100], [300, 200], [500, 300], [700, 400]], "no three in a line"),
    ([], "exactly four corners"),
])
def test_corners_that_are_no_court_are_refused_with_what_is_wrong(api_user, corners, message):
    user, client = api_user
    game = done_game(user, court=ENGINE_COURT)
    response = client.put(f"/api/games/{game.id}/court/", {"corners": corners}, format="json")
    assert response.status_code == 400
    assert message in response.json()["corners"][0]
    game.refresh_from_db()
    assert game.court == ENGINE_COURT


def test_a_corner_that_is_not_a_pair_of_numbers_is_refused(api_user):
    user, client = api_user
    game = done_game(user)
    response = client.put(f"/api/games/{game.id}/court/", {"corners": [[1, 2, 3]] * 4}, format="json")
    assert response.status_code == 400 and "corners" in response.json()
    assert Game.objects.get(id=game.id).court is None


def test_a_game_not_analysed_yet_cannot_have_its_court_marked(api_user):
    user, client = api_user
    game = done_game(user, video=False)
    response = client.put(f"/api/games/{game.id}/court/", {"corners": CLICKED}, format="json")
    assert response.status_code == 400
    assert "not been analysed" in response.json()["corners"][0]


def test_another_user_can_neither_mark_forget_nor_reanalyse_a_game(api_user):
    user, _ = api_user
    game = done_game(user, court=dict(ENGINE_COURT, by="user"))
    other = APIClient()
    other.force_authenticate(get_user_model().objects.create_user("mallory"))
    assert other.put(f"/api/games/{game.id}/court/", {"corners": CLICKED}, format="json").status_code == 404
    assert other.delete(f"/api/games/{game.id}/court/").status_code == 404
    assert other.post(f"/api/games/{game.id}/reanalyse/").status_code == 404
    game.refresh_from_db()
    assert (game.court["by"], game.status) == ("user", "done")


def test_forgetting_the_marked_court_clears_it_and_a_found_one_stays(api_user):
    user, client = api_user
    marked = done_game(user, court=dict(ENGINE_COURT, by="user"))
    assert client.delete(f"/api/games/{marked.id}/court/").status_code == 204
    assert Game.objects.get(id=marked.id).court is None
    assert client.get(f"/api/games/{marked.id}/").json()["court"] is None
    found = done_game(user, court=ENGINE_COURT)
    assert client.delete(f"/api/games/{found.id}/court/").status_code == 204
    assert Game.objects.get(id=found.id).court == ENGINE_COURT  # nothing of the owner's to forget


def test_a_game_under_way_or_without_its_video_is_not_reanalysed(api_user):
    user, client = api_user
    busy = done_game(user)
    Game.objects.filter(id=busy.id).update(status=Game.Status.PROCESSING, stage="cutting")
    response = client.post(f"/api/games/{busy.id}/reanalyse/")
    assert response.status_code == 409 and "cutting" in response.json()["detail"]
    gone = done_game(user)  # rows only: no source in the store
    response = client.post(f"/api/games/{gone.id}/reanalyse/")
    assert response.status_code == 409 and "no longer stored" in response.json()["detail"]
    assert Game.objects.get(id=gone.id).status == "done"


def test_the_schema_lists_the_court_and_reanalyse_endpoints(service):
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    paths = response.json()["paths"]
    assert {"put", "delete"} <= set(paths["/api/games/{id}/court/"])
    assert "post" in paths["/api/games/{id}/reanalyse/"]


# --- the stages ------------------------------------------------------------------------

def test_a_game_without_a_court_in_the_picture_stores_none_and_still_offers_a_still(api_user, still_video, service):
    user, client = api_user
    game = game_service.start_from_file(user, "pattern", still_video, still_video.name)
    service.run_workers()
    body = client.get(f"/api/games/{game.id}/").json()
    assert body["status"] == "done" and body["court"] is None
    assert still_size(body["court_frame_url"]) == (640, 360)  # the whole 640x360 picture
    published = read_json_url(get_store().url(f"{game.prefix}rallies.json"))
    assert set(published) == {"video", "court", "rallies"} and published["court"] is None


@pytest.mark.slow
def test_analysis_stores_the_court_it_finds_and_a_reanalysis_keeps_the_owners_court(api_user, service):
    """The real indoor clip (16 s, 1280x720): the engine finds its court; the owner moves
    it; the re-analysis takes theirs as it is, publishes it, and replaces the rallies."""
    user, client = api_user
    game = game_service.start_from_file(user, "kats", realdata("kats-beds-rally", "kats-beds-clip.mp4"), "clip.mp4")
    service.run_workers()
    body = client.get(f"/api/games/{game.id}/").json()
    assert body["status"] == "done", body["error"]
    found = body["court"]
    assert found["by"] == "engine" and 3.0 < found["camera_height_m"] < 10.0
    assert still_size(body["court_frame_url"]) == (640, 360)
    published = read_json_url(get_store().url(f"{game.prefix}rallies.json"))
    assert published["court"] == found and published["video"]["width"] == 1280

    # The owner nudges the near corners down by 10 px and asks for a re-analysis.
    moved = [[x, y + 10 if y > 500 else y] for x, y in found["corners"]]
    marked = client.put(f"/api/games/{game.id}/court/", {"corners": moved}, format="json").json()
    assert marked["by"] == "user"
    again = client.post(f"/api/games/{game.id}/reanalyse/")
    assert again.status_code == 202 and again.json()["status"] == "queued"
    assert client.post(f"/api/games/{game.id}/reanalyse/").status_code == 409  # queued already

    assert run_stage(str(game.id), "analysing", 2) == "ok"
    analysed = json.loads((work_dir(game.id) / "analysis.json").read_text())
    assert analysed["court"] == marked  # taken as it is: no search, the same corners
    service.run_workers()  # the queued try 2 is skipped (it ran), the rest goes on
    game.refresh_from_db()
    assert game.status == "done" and game.court == marked
    published = read_json_url(get_store().url(f"{game.prefix}rallies.json"))
    assert published["court"] == marked
    indexes = list(game.rallies.order_by("index").values_list("index", flat=True))
    assert indexes == list(range(1, len(indexes) + 1)) == [r["index"] for r in published["rallies"]]  # replaced, not added
    stages = ("analysing", "cutting", "building", "publishing")
    assert outcomes(game) == [(s, "ok") for s in stages] * 2
