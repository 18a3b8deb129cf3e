"""Issue 23's "Revocation that revokes": the media URLs a share page hands out are
short-lived, and revoking (or deleting) the share cuts them off, as far as each mode
allows. The embedded mode as `volley serve` runs it (its own process, SQLite, the local
store: URLs stop at once); production parts (PostgreSQL, SeaweedFS) where the path
differs (presigned URLs, which nothing revokes: their lifetime is the bound; a CDN,
whose public files the owner is told stay reachable)."""

from __future__ import annotations

import html
import json
import re
import subprocess
import time
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.test import override_settings
from rest_framework.test import APIClient

from front.models import Share
from pusher import sigv4
from tests.embedded import ROOT, VOLLEY, embedded_env, embedded_server
from tests.test_api import done_game

#: The embedded server's share URL lifetime: shorter than the default, to show the setting rules.
EMBEDDED_SHARE_EXPIRY = 120

#: Made in the embedded server's own database by `volley manage shell`: a done game of
#: two rallies owned by USER, and a live share of the whole game. Prints ids as JSON.
SEED = """
import json
from django.contrib.auth import get_user_model
from front.models import Game, Rally, Share
owner = get_user_model().objects.get(username={user!r})
game = Game.objects.create(owner=owner, name="final", status="done", stage="done",
                           video={{"duration": 60.0, "fps": 30.0, "width": 320, "height": 180}})
for i in (1, 2):
    Rally.objects.create(game=game, index=i, start=10.0 * i, end=10.0 * i + 5, score=i, stats={{}},
                         clip_key=f"{{game.prefix}}clips/rally-{{i:03d}}.mp4",
                         poster_key=f"{{game.prefix}}posters/rally-{{i:03d}}.jpg")
game.digest_key = f"{{game.prefix}}digest.mp4"
game.save()
share = Share.objects.create(game=game, created_by=owner)
print(json.dumps({{"game": str(game.id), "prefix": game.prefix, "share": share.token}}))
"""


# --- the embedded mode: `volley serve` in its own process -----------------------------------

@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("revocation")
    env = dict(embedded_env(folder), VOLLEY_SHARE_URL_EXPIRY=str(EMBEDDED_SHARE_EXPIRY))
    with embedded_server(folder, env=env) as server:
        yield server


@pytest.fixture(scope="module")
def owner_api(embedded):
    session = requests.Session()
    session.headers["Authorization"] = f"Token {embedded.token('carol')}"
    return session


@pytest.fixture
def shared_game(embedded, owner_api, still_video):
    """A done game with its files in the embedded store and a live share of it."""
    done = subprocess.run([VOLLEY, "manage", "shell", "-c", SEED.format(user="carol")], env=embedded.env,
                          cwd=ROOT, check=True, capture_output=True, text=True)
    seeded = json.loads(done.stdout.strip().splitlines()[-1])
    for name in ("clips/rally-001.mp4", "clips/rally-002.mp4", "digest.mp4", "posters/rally-001.jpg",
                 "posters/rally-002.jpg"):
        path = embedded.data_dir / "store" / (seeded["prefix"] + name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(still_video.read_bytes() if name.endswith(".mp4") else b"\xff\xd8\xff\xe0 a poster")
    return seeded


def page_media(base: str, token: str) -> list[str]:
    """Every media URL the share page's HTML holds: players, posters, downloads."""
    text = requests.get(f"{base}/s/{token}/", timeout=30).text
    found = re.findall(r'(?:src|href|data-clip|data-poster)="([^"]*/media/[^"]+)"', text)
    return sorted({html.unescape(url) for url in found})


def status_of(url: str) -> int:
    with requests.get(url, timeout=30, stream=True) as response:
        return response.status_code


def test_media_urls_taken_from_a_share_page_play_then_answer_404_the_moment_it_is_revoked(
        embedded, owner_api, shared_game):
    urls = page_media(embedded.base, shared_game["share"])
    assert len(urls) >= 5, urls  # two clips, two posters, their downloads, the digest
    assert all(status_of(url) == 200 for url in urls)

    revoked = owner_api.delete(f"{embedded.base}/api/shares/{shared_game['share']}/", timeout=30)
    assert revoked.status_code == 204
    assert [status_of(url) for url in urls] == [404] * len(urls)
    assert requests.get(f"{embedded.base}/api/shares/{shared_game['share']}/", timeout=30).status_code == 404


def test_media_urls_from_the_share_api_stop_when_the_game_and_its_share_are_deleted(
        embedded, owner_api, shared_game):
    media = requests.get(f"{embedded.base}/api/shares/{shared_game['share']}/", timeout=30).json()
    clip = media["rallies"][0]["clip_url"]
    assert status_of(clip) == 200
    assert owner_api.delete(f"{embedded.base}/api/games/{shared_game['game']}/", timeout=30).status_code == 204
    assert status_of(clip) == 404


def test_share_media_urls_live_minutes_as_set_while_the_owners_own_urls_are_untouched_by_revoking(
        embedded, owner_api, shared_game):
    media = requests.get(f"{embedded.base}/api/shares/{shared_game['share']}/", timeout=30).json()
    expires = int(parse_qs(urlsplit(media["rallies"][0]["clip_url"]).query)["expires"][0])
    assert 0 < expires - time.time() <= EMBEDDED_SHARE_EXPIRY
    assert 0 < media["expires_in"] <= EMBEDDED_SHARE_EXPIRY

    owners = owner_api.get(f"{embedded.base}/api/games/{shared_game['game']}/", timeout=30).json()
    own_clip = owners["rallies"][0]["clip_url"]
    assert int(parse_qs(urlsplit(own_clip).query)["expires"][0]) - time.time() > 3600  # VOLLEY_URL_EXPIRY's 6 h
    owner_api.delete(f"{embedded.base}/api/shares/{shared_game['share']}/", timeout=30)
    assert status_of(own_clip) == 200


def test_a_share_issued_url_cannot_be_moved_to_another_share_another_file_or_a_later_expiry(
        embedded, owner_api, shared_game):
    media = requests.get(f"{embedded.base}/api/shares/{shared_game['share']}/", timeout=30).json()
    clip = media["rallies"][0]["clip_url"]
    assert status_of(clip) == 200
    other = owner_api.post(f"{embedded.base}/api/games/{shared_game['game']}/shares/", json={"rally": 2},
                           timeout=30).json()["token"]
    expires = parse_qs(urlsplit(clip).query)["expires"][0]
    forged = [
        clip.replace(shared_game["share"], other),  # the same file under another live share
        clip.replace("rally-001.mp4", "rally-002.mp4"),  # another file of the same share
        clip.replace(f"expires={expires}", f"expires={int(expires) + 86400}"),  # a day longer
        re.sub(r"&?share=[^&]+", "", clip),  # an owner's URL made of a share's signature
    ]
    assert [status_of(url) for url in forged] == [403] * len(forged)


# --- production parts: presigned URLs on SeaweedFS, and a CDN ------------------------------

def amz(url: str) -> tuple[datetime, int]:
    """When a presigned URL was signed, and for how many seconds."""
    query = parse_qs(urlsplit(url).query)
    signed = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    return signed, int(query["X-Amz-Expires"][0])


@pytest.fixture
def stored_game(api_user, still_video):
    """A done game whose first clip and poster are real objects in SeaweedFS, and its share."""
    from pusher.store import get_store

    user, client = api_user
    game = done_game(user, rallies=1)
    rally = game.rallies.get()
    get_store().put_file(rally.clip_key, still_video, content_type="video/mp4")
    return game, Share.objects.create(game=game, created_by=user), client


@override_settings(SHARE_URL_EXPIRY=120)
def test_a_presigned_share_url_lives_at_most_the_setting_and_the_store_refuses_it_after(stored_game, service):
    game, share, _ = stored_game
    media = APIClient().get(f"/api/shares/{share.token}/").json()
    urls = [media["rallies"][0]["clip_url"], media["rallies"][0]["download_url"]]
    page = APIClient().get(f"/s/{share.token}/").content.decode()
    urls += [html.unescape(u) for u in re.findall(r'data-clip="([^"]+)"', page)]
    now = datetime.now(timezone.utc)
    for url in urls:
        signed, lifetime = amz(url)
        assert lifetime <= 120 and signed <= now, url
        assert (signed - now).total_seconds() + lifetime >= media["expires_in"] > 0
        assert status_of(url) == 200
    # The bound is the store's to enforce: the same file signed as of 121 s ago is refused.
    s3 = service.s3
    stale = sigv4.presign_get(s3.endpoint_url, s3.region, s3.bucket, game.rallies.get().clip_key,
                              sigv4.Credentials(s3.access_key, s3.secret_key), 120, signed_at=int(time.time()) - 121)
    assert status_of(stale) == 403


def test_once_revoked_the_share_api_and_page_hand_out_no_more_urls_in_production(stored_game):
    _, share, client = stored_game
    assert APIClient().get(f"/api/shares/{share.token}/").status_code == 200
    assert client.delete(f"/api/shares/{share.token}/").status_code == 204
    assert APIClient().get(f"/api/shares/{share.token}/").status_code == 404
    page = APIClient().get(f"/s/{share.token}/")
    assert page.status_code == 404 and b"X-Amz-Signature" not in page.content


@override_settings(SHARE_URL_EXPIRY=300)
def test_the_owner_is_told_what_revoking_does_without_a_cdn_in_minutes(stored_game):
    game, _, client = stored_game
    client.force_login(game.owner)
    page = client.get(f"/games/{game.id}/").content.decode()
    assert "stop working within 5 minutes" in page
    assert "at once" in page and "until you delete the game" not in page


def test_with_a_cdn_share_videos_are_cdn_urls_and_the_owner_is_told_they_stay_reachable(
        stored_game, monkeypatch):
    from pusher.store import reset_store

    monkeypatch.setenv("VOLLEY_CDN_URL", "https://cdn.example.com")
    reset_store()
    game, share, client = stored_game
    media = APIClient().get(f"/api/shares/{share.token}/").json()
    assert media["rallies"][0]["clip_url"].startswith("https://cdn.example.com/games/")
    assert amz(media["rallies"][0]["download_url"])[1] <= 600  # downloads are still presigned, briefly
    client.force_login(game.owner)
    page = client.get(f"/games/{game.id}/").content.decode()
    assert "stay reachable at their direct address until you delete the game" in page
    assert "videos it opened, at once" not in page
