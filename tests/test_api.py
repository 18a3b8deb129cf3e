"""The JSON API on production parts: PostgreSQL, Redis, a real S3 server (SeaweedFS).
Every endpoint, who may see what, and how bad uploads are refused."""

from __future__ import annotations

import base64
import subprocess
import urllib.error
import urllib.request

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings
from rest_framework.test import APIClient

from front.models import Game, Rally, Share
from front.queues import job_id, redis_connection

pytestmark = pytest.mark.django_db(transaction=True)
MiB = 1024 * 1024


def upload(client: APIClient, path, **extra):
    with open(path, "rb") as f:
        return client.post("/api/games/", {"video": f, **extra}, format="multipart")


def done_game(owner, rallies: int = 2) -> Game:
    """A processed game as rows, with made-up store keys (URLs are presigned locally)."""
    game = Game.objects.create(owner=owner, name="final", status=Game.Status.DONE, stage="done",
                               video={"duration": 120.0, "fps": 30.0, "width": 640, "height": 360})
    for i in range(1, rallies + 1):
        Rally.objects.create(game=game, index=i, start=10.0 * i, end=10.0 * i + 5, score=i,
                             stats={"net_crossings": 2}, clip_key=f"{game.prefix}clips/rally-{i:03d}.mp4",
                             poster_key=f"{game.prefix}posters/rally-{i:03d}.jpg")
    return game


def test_it_answers_401_to_a_bad_token(service):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = client.get("/api/games/")
    assert response.status_code == 401
    assert APIClient().get("/api/games/").status_code == 401


def test_it_queues_an_uploaded_video_in_the_store(api_user, still_video, service):
    user, client = api_user
    response = upload(client, still_video, name="Saturday final")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["stage"], body["name"]) == ("queued", "queued", "Saturday final")
    game = Game.objects.get(id=body["id"])
    assert service.s3.client().head_object(Bucket=service.s3.bucket, Key=game.source_key)["ContentLength"] == still_video.stat().st_size
    assert redis_connection().exists(f"rq:job:{job_id(game.id, 'analysing', 1)}")


def test_it_lists_and_shows_only_the_owners_games(api_user, service):
    user, client = api_user
    mine = done_game(user)
    theirs = done_game(get_user_model().objects.create_user("bob"))
    listed = client.get("/api/games/").json()
    assert [g["id"] for g in listed["results"]] == [str(mine.id)]
    detail = client.get(f"/api/games/{mine.id}/").json()
    assert [r["index"] for r in detail["rallies"]] == [1, 2]
    assert detail["rallies"][0]["clip_url"].startswith(service.s3.endpoint_url)
    assert "X-Amz-Signature" in detail["rallies"][0]["poster_url"]
    assert client.get(f"/api/games/{theirs.id}/").status_code == 404
    assert client.post(f"/api/games/{theirs.id}/shares/", {}, format="json").status_code == 404


@pytest.mark.parametrize("content, message", [
    (b"\x89PNG\r\n\x1a\n" + bytes(2000), "PNG image"),
    (b"just some notes about the game\n" * 50, "text file"),
    (b"", "empty"),
])
def test_it_refuses_an_upload_that_is_not_a_video(api_user, tmp_path, content, message):
    _, client = api_user
    path = tmp_path / "game.mp4"
    path.write_bytes(content)
    response = upload(client, path)
    assert response.status_code == 400
    assert message in str(response.json())
    assert Game.objects.count() == 0


def test_it_refuses_a_truncated_video_with_what_is_wrong(api_user, still_video, tmp_path):
    _, client = api_user
    path = tmp_path / "cut-short.mp4"
    path.write_bytes(still_video.read_bytes()[: still_video.stat().st_size // 3])
    response = upload(client, path)
    assert response.status_code == 400
    assert "truncated" in str(response.json()).lower() or "incomplete" in str(response.json()).lower()


def test_it_refuses_a_direct_upload_over_the_limit(api_user, still_video):
    _, client = api_user
    with override_settings(MAX_DIRECT_UPLOAD_BYTES=1000):
        response = upload(client, still_video)
    assert response.status_code == 413
    assert "upload it from the web page" in response.json()["detail"]


def test_a_share_link_opens_without_an_account_until_revoked(api_user, service):
    user, client = api_user
    game = done_game(user)
    made = client.post(f"/api/games/{game.id}/shares/", {"rally": 2}, format="json")
    assert made.status_code == 201
    url = made.json()["url"]
    page = APIClient().get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'property="og:image"' in html and "rally-002.jpg" in html
    assert "rally-001.mp4" not in html  # only the shared rally
    assert 'id="delete"' not in html and 'id="shares"' not in html  # a viewer, not the owner
    assert client.delete(f"/api/shares/{made.json()['token']}/").status_code == 204
    assert APIClient().get(url).status_code == 404
    assert client.delete(f"/api/shares/{made.json()['token']}/").status_code == 404


def test_it_refuses_to_share_a_rally_the_game_does_not_have(api_user):
    user, client = api_user
    game = done_game(user, rallies=1)
    assert client.post(f"/api/games/{game.id}/shares/", {"rally": 7}, format="json").status_code == 400
    assert Share.objects.count() == 0


def test_another_user_cannot_revoke_a_share(api_user):
    user, _ = api_user
    share = Share.objects.create(game=done_game(user), created_by=user)
    other = APIClient()
    other.force_authenticate(get_user_model().objects.create_user("mallory"))
    assert other.delete(f"/api/shares/{share.token}/").status_code == 404
    share.refresh_from_db()
    assert share.revoked_at is None


def test_deleting_a_game_removes_its_files(api_user, still_video, service):
    _, client = api_user
    game_id = upload(client, still_video).json()["id"]
    prefix = Game.objects.get(id=game_id).prefix
    assert client.delete(f"/api/games/{game_id}/").status_code == 204
    listed = service.s3.client().list_objects_v2(Bucket=service.s3.bucket, Prefix=prefix)
    assert listed.get("KeyCount", 0) == 0


def test_it_serves_an_openapi_schema_of_every_endpoint(service):
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in ("/api/games/", "/api/games/{id}/", "/api/games/{id}/shares/", "/api/shares/{token}/",
                 "/api/uploads/", "/api/uploads/{id}/parts/", "/api/uploads/{id}/complete/"):
        assert path in paths


# --- the browser's multipart upload, against the real S3 server ----------------------

def _start(client, path, size=None, name="game.mp4"):
    head = base64.b64encode(path.read_bytes()[:4096]).decode()
    return client.post("/api/uploads/", {"name": name, "size": size or path.stat().st_size,
                                          "type": "video/mp4", "head": head}, format="json")


def _put(url: str, data: bytes) -> None:
    request = urllib.request.Request(url, data=data, method="PUT")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200


@override_settings(UPLOAD_PART_BYTES=5 * MiB)
def test_a_browser_upload_resumes_and_completes_in_the_store(api_user, tmp_path, still_video, service):
    _, client = api_user
    data = still_video.read_bytes()
    data = data + bytes(11 * MiB - len(data))  # three parts; the trailing zeros do not matter here
    path = tmp_path / "big.mp4"
    path.write_bytes(data)
    state = _start(client, path).json()
    assert state["part_count"] == 3 and state["uploaded"] == []
    game = state["game"]
    urls = client.post(f"/api/uploads/{game}/parts/", {"numbers": [1, 2, 3]}, format="json").json()["urls"]
    _put(urls["1"], data[: 5 * MiB])
    # the page reloads: it asks which parts the store already holds
    resumed = client.get(f"/api/uploads/{game}/").json()
    assert [p["number"] for p in resumed["uploaded"]] == [1]
    early = client.post(f"/api/uploads/{game}/complete/")
    assert early.status_code == 400 and "1 of 3 parts" in str(early.json())
    _put(urls["2"], data[5 * MiB: 10 * MiB])
    _put(urls["3"], data[10 * MiB:])
    done = client.post(f"/api/uploads/{game}/complete/")
    assert done.status_code == 200, done.content
    assert done.json()["status"] == "queued"
    key = Game.objects.get(id=game).source_key
    stored = service.s3.client().get_object(Bucket=service.s3.bucket, Key=key)["Body"].read()
    assert stored == data


def test_a_browser_upload_of_a_non_video_is_refused_before_it_starts(api_user, tmp_path):
    _, client = api_user
    path = tmp_path / "holiday.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0" + bytes(5000))
    response = _start(client, path, name="holiday.mp4")
    assert response.status_code == 400
    assert "JPEG image" in str(response.json())


def test_a_browser_upload_over_the_size_limit_is_refused_before_it_starts(api_user, still_video):
    _, client = api_user
    with override_settings(MAX_UPLOAD_BYTES=10 * MiB):
        response = _start(client, still_video, size=50 * 1024 * MiB)
    assert response.status_code == 413
    assert "50.0 GB" in response.json()["detail"]


def test_a_presigned_part_url_cannot_be_reused_for_another_part(api_user, still_video, service):
    _, client = api_user
    game = _start(client, still_video).json()["game"]
    url = client.post(f"/api/uploads/{game}/parts/", {"numbers": [1]}, format="json").json()["urls"]["1"]
    with pytest.raises(urllib.error.HTTPError) as refused:
        _put(url.replace("partNumber=1", "partNumber=2"), b"x" * 100)
    assert refused.value.code == 403


def test_token_command_prints_only_the_token(service, tmp_path):
    from django.db import connection
    from rest_framework.authtoken.models import Token

    run = subprocess.run(
        [".venv/bin/volley", "token", "create", "carol"], capture_output=True, text=True,
        env=service.subprocess_env(connection.settings_dict["NAME"]),
    )
    assert run.returncode == 0, run.stderr
    out = run.stdout
    token = Token.objects.get(user__username="carol")
    assert out == token.key + "\n"
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {out.strip()}")
    assert client.get("/api/games/").status_code == 200


def test_an_abandoned_browser_upload_can_be_cancelled(api_user, still_video, service):
    _, client = api_user
    game = _start(client, still_video).json()["game"]
    assert client.delete(f"/api/uploads/{game}/").status_code == 204
    assert not Game.objects.filter(id=game).exists()
    assert client.get(f"/api/uploads/{game}/").status_code == 404


def test_the_game_page_shows_rallies_timeline_and_downloads_to_its_owner_only(api_user, service):
    user, _ = api_user
    game = done_game(user, rallies=3)
    owner = APIClient()
    owner.force_login(user)
    html = owner.get(f"/games/{game.id}/").content.decode()
    assert html.count('class="rally"') >= 3 and 'svg class="timeline"' in html
    assert "response-content-disposition=attachment" in html  # downloads get a file name
    assert 'id="share-game"' in html and 'id="delete"' in html
    stranger = APIClient()
    stranger.force_login(get_user_model().objects.create_user("eve"))
    assert stranger.get(f"/games/{game.id}/").status_code == 404
    assert APIClient().get(f"/games/{game.id}/").status_code == 302  # to the login page


def test_the_openapi_schema_validates_without_warnings(tmp_path):
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert "/api/uploads/{id}/complete/" in (tmp_path / "schema.yaml").read_text()


def test_an_upload_nobody_finished_for_a_week_is_given_up(api_user, still_video, service):
    from datetime import timedelta

    from django.utils import timezone

    from front.recovery import expire_uploads

    _, client = api_user
    stale = _start(client, still_video).json()["game"]
    fresh = _start(client, still_video).json()["game"]
    url = client.post(f"/api/uploads/{stale}/parts/", {"numbers": [1]}, format="json").json()["urls"]["1"]
    _put(url, still_video.read_bytes())
    Game.objects.filter(id=stale).update(created_at=timezone.now() - timedelta(days=8))
    assert expire_uploads() == [stale]
    assert [str(g) for g in Game.objects.values_list("id", flat=True)] == [fresh]
    uploads = service.s3.client().list_multipart_uploads(Bucket=service.s3.bucket, Prefix=f"games/{stale}/")
    assert not uploads.get("Uploads")


def test_an_owner_deletes_a_game_from_its_page_with_its_files(api_user, still_video, service):
    user, client = api_user
    game_id = upload(client, still_video).json()["id"]
    prefix = Game.objects.get(id=game_id).prefix
    stranger = APIClient()
    stranger.force_login(get_user_model().objects.create_user("frank"))
    assert stranger.post(f"/games/{game_id}/delete/").status_code == 404
    owner = APIClient(enforce_csrf_checks=False)
    owner.force_login(user)
    assert owner.get(f"/games/{game_id}/delete/").status_code == 405  # only a form's POST deletes
    response = owner.post(f"/games/{game_id}/delete/")
    assert response.status_code == 302 and response["Location"] == "/games/"
    assert not Game.objects.filter(id=game_id).exists()
    assert service.s3.client().list_objects_v2(Bucket=service.s3.bucket, Prefix=prefix).get("KeyCount", 0) == 0


def test_the_owner_gets_every_clip_poster_and_reel_freshly_signed_and_nobody_else_does(api_user, service):
    # The owner's game page left open past the URLs' expiry fetches these (refresh.js).
    user, client = api_user
    game = done_game(user)
    answer = client.get(f"/api/games/{game.id}/media/")
    assert answer.status_code == 200
    media = answer.json()
    assert 0 < media["expires_in"] <= 6 * 3600
    assert [r["index"] for r in media["rallies"]] == [1, 2]
    assert all("X-Amz-Signature=" in r["clip_url"] and "rally-" in r["download_url"] for r in media["rallies"])
    assert set(media) >= {"digest_url", "digest_download_url", "best_url", "best_download_url"}
    other = APIClient()
    other.force_authenticate(get_user_model().objects.create_user("mallory"))
    assert other.get(f"/api/games/{game.id}/media/").status_code == 404
    assert APIClient().get(f"/api/games/{game.id}/media/").status_code == 401


def test_the_owner_s_game_page_fetches_fresh_media_before_its_urls_expire(api_user):
    user, _ = api_user
    game = done_game(user)
    browser = APIClient()
    browser.force_login(user)
    html = browser.get(f"/games/{game.id}/").content.decode()
    assert f'data-refresh="/api/games/{game.id}/media/"' in html
    assert 'data-gone="This game no longer exists: it was deleted."' in html
