"""Issue 23's "Secrets and content" and "No 500 on bad input", against real parts: the
embedded mode as `volley serve` runs it (its own process, SQLite, the local store), and
production parts (PostgreSQL, Redis/RQ, SeaweedFS) through Django's test client and its
live server in a real browser."""

from __future__ import annotations

import base64
import http.client
import stat
import subprocess
import threading

import pytest
import requests
from rest_framework.test import APIClient

from front.models import Game
from front.queues import job_id, redis_connection
from pusher.local import LocalStore
from tests.embedded import VOLLEY, embedded_env, embedded_server
from tests.test_api import done_game

#: The key every embedded install signed with before: public, in the source.
OLD_PUBLIC_KEY = "volley-embedded-dev-key-not-for-production"
#: One more than the largest 64-bit integer.
OVER_64_BITS = "9223372036854775808"


def deeply_nested(depth: int) -> str:
    return "[" * depth + "]" * depth


# --- the embedded mode: `volley serve` in its own process ---------------------------------------

@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    with embedded_server(tmp_path_factory.mktemp("embedded")) as server:
        yield server


@pytest.fixture(scope="module")
def embedded_api(embedded):
    session = requests.Session()
    session.headers["Authorization"] = f"Token {embedded.token('alice')}"
    return session


def signer(server) -> LocalStore:
    """The local store as the server signs its URLs: with the key it keeps in its data dir."""
    return LocalStore(server.data_dir / "store", (server.data_dir / "secret.key").read_text().strip())


def put_in_store(server, key: str, data: bytes) -> None:
    path = server.data_dir / "store" / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def raw_get(server, path: str, headers: dict | None = None) -> http.client.HTTPResponse:
    """A GET of exactly `path`, unnormalised (clients drop `..` segments; attackers do not)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.request("GET", path, headers=headers or {})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def test_the_embedded_mode_signs_with_a_random_key_of_its_own_kept_private_across_restarts(tmp_path, still_video):
    env = embedded_env(tmp_path)
    with embedded_server(tmp_path, env=env) as first:
        key_file = first.data_dir / "secret.key"
        key = key_file.read_text().strip()
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert len(key) >= 40 and key != OLD_PUBLIC_KEY
        put_in_store(first, "games/g1/clips/rally-001.mp4", still_video.read_bytes())
        url = signer(first).url("games/g1/clips/rally-001.mp4")
        assert requests.get(first.base + url, timeout=30).status_code == 200
    with embedded_server(tmp_path, env=env) as again:
        assert key_file.read_text().strip() == key
        assert requests.get(again.base + url, timeout=30).status_code == 200  # links outlive a restart


def test_a_url_signed_with_the_old_public_key_is_refused(embedded, still_video):
    put_in_store(embedded, "games/g2/clips/rally-001.mp4", still_video.read_bytes())
    forged = LocalStore(embedded.data_dir / "store", OLD_PUBLIC_KEY).url("games/g2/clips/rally-001.mp4")
    assert requests.get(embedded.base + forged, timeout=30).status_code == 403
    genuine = signer(embedded).url("games/g2/clips/rally-001.mp4")
    assert requests.get(embedded.base + genuine, timeout=30).status_code == 200


def test_the_uploaded_source_is_never_served_even_on_a_validly_signed_url(embedded, embedded_api, still_video):
    # An MP4 with a script appended, named evil.html: once served as text/html it ran on our origin.
    with open(still_video, "rb") as video:
        made = embedded_api.post(f"{embedded.base}/api/games/", timeout=60, files={
            "video": ("evil.html", video.read() + b"<script>alert(document.cookie)</script>", "text/html")})
    assert made.status_code == 201, made.text
    game = made.json()["id"]
    key = f"games/{game}/source.bin"  # the name is not kept: a store may guess a type from it
    assert [p.name for p in (embedded.data_dir / "store" / "games" / game).iterdir()] == ["source.bin"]
    served = requests.get(embedded.base + signer(embedded).url(key), timeout=30)
    assert served.status_code == 404
    assert "<script>" not in served.text and "source" not in made.text


@pytest.mark.parametrize("name, content_type", [("clips/rally-001.mp4", "video/mp4"),
                                                ("posters/rally-001.jpg", "image/jpeg")])
def test_media_are_served_with_the_type_of_what_volley_made_and_nosniff(embedded, name, content_type):
    key = f"games/g3/{name}"
    put_in_store(embedded, key, b"<html><script>alert(1)</script></html>" + bytes(400))
    url = embedded.base + signer(embedded).url(key)
    whole = requests.get(url, timeout=30)
    assert whole.status_code == 200
    assert (whole.headers["Content-Type"], whole.headers["X-Content-Type-Options"]) == (content_type, "nosniff")
    part = requests.get(url, headers={"Range": "bytes=10-19"}, timeout=30)
    assert part.status_code == 206 and len(part.content) == 10
    assert (part.headers["Content-Type"], part.headers["X-Content-Type-Options"]) == (content_type, "nosniff")


@pytest.mark.parametrize("name", ["page.html", "rallies.json", "picture.svg", "clips/rally-001.mp4.html", "noname"])
def test_any_other_file_in_the_store_is_refused_even_on_a_signed_url(embedded, name):
    key = f"games/g4/{name}"
    put_in_store(embedded, key, b"<html><script>alert(1)</script></html>")
    assert requests.get(embedded.base + signer(embedded).url(key), timeout=30).status_code == 404


def test_a_download_is_an_attachment_with_a_safe_file_name(embedded):
    key = "games/g5/digest.mp4"
    put_in_store(embedded, key, bytes(1000))
    url = signer(embedded).url(key, download_name='../../etc/"final"\r\nSet-Cookie: a=b.html')
    response = requests.get(embedded.base + url, timeout=30)
    assert response.status_code == 200 and "Set-Cookie" not in response.headers
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment; filename=")
    assert "/" not in disposition and "\r" not in disposition and "\n" not in disposition
    assert disposition.count('"') == 2 and disposition.endswith('.mp4"')


@pytest.mark.parametrize("key", ["games/../secret.key", "games/g6/../../secret.key", "games//x.mp4", "./x.mp4"])
def test_a_forged_media_key_that_leaves_the_store_answers_400(embedded, key):
    signed = signer(embedded)._signed(f"/media/{key}")  # as whoever held the key could sign it
    assert raw_get(embedded, signed).status == 400
    assert raw_get(embedded, f"/media/{key}").status == 400


def test_a_range_header_of_thousands_of_digits_answers_400(embedded):
    key = "games/g7/clips/rally-001.mp4"
    put_in_store(embedded, key, bytes(1000))
    url = embedded.base + signer(embedded).url(key)
    for header in ("bytes=" + "9" * 5000 + "-", "bytes=0-" + "1" * 4301, "bytes=-" + "7" * 4400):
        assert requests.get(url, headers={"Range": header}, timeout=30).status_code == 400
    assert requests.get(url, headers={"Range": "bytes=" + "9" * 19 + "-"}, timeout=30).status_code == 416
    assert requests.get(url, headers={"Range": "bytes=-100"}, timeout=30).status_code == 206


def test_a_forged_host_header_is_refused_so_it_never_reaches_a_link(embedded, embedded_api, still_video):
    head = base64.b64encode(still_video.read_bytes()[:4096]).decode()
    game = embedded_api.post(f"{embedded.base}/api/uploads/", timeout=30,
                             json={"name": "x.mp4", "size": 1000, "head": head}).json()["game"]
    parts = f"{embedded.base}/api/uploads/{game}/parts/"
    forged = embedded_api.post(parts, json={"numbers": [1]}, headers={"Host": "evil.example"}, timeout=30)
    assert forged.status_code == 400 and "evil.example/" not in forged.text
    assert raw_get(embedded, "/login/", {"Host": "evil.example:8000"}).status == 400
    links = embedded_api.post(parts, json={"numbers": [1]}, timeout=30).json()["urls"]
    assert links["1"].startswith(f"{embedded.base}/uploads/local/")


def test_serving_on_loopback_says_nothing_and_beyond_it_warns_clearly(embedded, tmp_path):
    assert "beyond this machine" not in embedded.output()
    with embedded_server(tmp_path, host="0.0.0.0") as exposed:
        warning = exposed.output()
    assert "WARNING: Volley is listening on 0.0.0.0" in warning and "VOLLEY_ALLOWED_HOSTS" in warning


def test_the_embedded_game_list_answers_400_to_a_limit_beyond_64_bits(embedded, embedded_api):
    for query in (f"limit={OVER_64_BITS}", f"offset={OVER_64_BITS}", "limit=-1", "limit=0", "limit=1e3",
                  "limit=" + "9" * 5000):
        response = embedded_api.get(f"{embedded.base}/api/games/?{query}", timeout=30)
        assert response.status_code == 400, (query, response.text)
    assert embedded_api.get(f"{embedded.base}/api/games/?limit=500&offset=10", timeout=30).status_code == 200


def test_embedded_json_nested_100000_deep_answers_400(embedded, embedded_api):
    response = embedded_api.post(f"{embedded.base}/api/uploads/", data=deeply_nested(100_000), timeout=30,
                                 headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and "nested" in response.json()["detail"]


def test_four_parallel_completes_of_one_embedded_upload_complete_it_once(embedded, embedded_api, still_video):
    data = still_video.read_bytes()
    state = embedded_api.post(f"{embedded.base}/api/uploads/", timeout=30, json={
        "name": "final.mp4", "size": len(data), "head": base64.b64encode(data[:4096]).decode()}).json()
    urls = embedded_api.post(f"{embedded.base}/api/uploads/{state['game']}/parts/", json={"numbers": [1]},
                             timeout=30).json()["urls"]
    assert requests.put(urls["1"], data=data, timeout=60).status_code == 200
    statuses = at_once(4, lambda: embedded_api.post(f"{embedded.base}/api/uploads/{state['game']}/complete/",
                                                    timeout=60).status_code)
    assert statuses.count(200) == 1 and set(statuses) <= {200, 404, 409}, statuses
    game = embedded_api.get(f"{embedded.base}/api/games/{state['game']}/", timeout=30).json()
    assert game["status"] in ("queued", "processing", "done"), game
    stored = embedded.data_dir / "store" / f"games/{state['game']}/source.mp4"
    assert stored.read_bytes() == data


def at_once(count: int, call) -> list:
    """`call()` from `count` threads released together; their results."""
    barrier, results = threading.Barrier(count), []

    def run():
        barrier.wait()
        results.append(call())

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return results


# --- production parts: PostgreSQL, Redis, SeaweedFS ----------------------------------------------

def test_production_settings_refuse_to_start_without_a_secret_key(tmp_path):
    env = dict(embedded_env(tmp_path), VOLLEY_REDIS_URL="redis://127.0.0.1:6379/15")
    done = subprocess.run([VOLLEY, "manage", "check"], env=env, capture_output=True, text=True)
    assert done.returncode != 0 and "VOLLEY_SECRET_KEY must be set in production" in done.stderr
    assert not (tmp_path / "data" / "secret.key").exists()


def test_django_deploy_checks_pass_on_production_settings(tmp_path):
    env = dict(embedded_env(tmp_path), VOLLEY_REDIS_URL="redis://127.0.0.1:6379/15",
               VOLLEY_DATABASE_URL="postgres://postgres@127.0.0.1:5432/volley",
               VOLLEY_SECRET_KEY=base64.b64encode(bytes(range(60))).decode(), VOLLEY_SECURE_COOKIES="true",
               VOLLEY_ALLOWED_HOSTS="volley.example.com")
    done = subprocess.run([VOLLEY, "manage", "check", "--deploy", "--fail-level", "WARNING"], env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_pages_carry_a_content_security_policy_without_unsafe_inline_and_no_inline_code(api_user, service):
    user, _ = api_user
    owner = APIClient()
    owner.force_login(user)
    page = owner.get(f"/games/{done_game(user).id}/")
    policy = page["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe" not in policy and "frame-ancestors 'none'" in policy
    assert service.s3.endpoint_url in policy.split("media-src")[1].split(";")[0]  # clips play from S3
    html = page.content.decode()
    assert " style=" not in html and " onsubmit=" not in html and " onclick=" not in html
    scripts = html.split("<script")[1:]
    assert scripts and all(' src="/static/' in s.split(">")[0] or 'type="application/json"' in s.split(">")[0]
                           for s in scripts)


def test_hsts_is_sent_behind_tls_and_not_over_plain_http(service):
    client = APIClient()
    assert "Strict-Transport-Security" not in client.get("/login/")
    secure = client.get("/login/", HTTP_X_FORWARDED_PROTO="https")
    assert secure["Strict-Transport-Security"].startswith("max-age=31536000")


def start_upload(client, data: bytes, name: str = "final.mp4", kind: str = "video/mp4") -> str:
    """A browser upload of `data` (one part) started through the API; its game id."""
    body = {"name": name, "size": len(data), "type": kind, "head": base64.b64encode(data[:4096]).decode()}
    return client.post("/api/uploads/", body, format="json").json()["game"]


def send_the_part(client, game: str, data: bytes) -> None:
    """PUT the upload's one part to its presigned URL, as the page does."""
    url = client.post(f"/api/uploads/{game}/parts/", {"numbers": [1]}, format="json").json()["urls"]["1"]
    assert requests.put(url, data=data, timeout=60).status_code == 200


def test_a_source_declared_as_html_is_stored_as_no_renderable_type(api_user, still_video, service):
    _, client = api_user
    data = still_video.read_bytes()
    game = start_upload(client, data, name="evil.html", kind="text/html")
    send_the_part(client, game, data)
    assert client.post(f"/api/uploads/{game}/complete/").status_code == 200
    key = Game.objects.get(id=game).source_key
    assert key.endswith("/source.bin")
    head = service.s3.client().head_object(Bucket=service.s3.bucket, Key=key)
    assert head["ContentType"] == "application/octet-stream"


def test_the_game_list_answers_400_to_a_limit_beyond_64_bits(api_user):
    _, client = api_user
    for query in (f"limit={OVER_64_BITS}", f"offset={OVER_64_BITS}", "limit=abc", "offset=-5"):
        response = client.get(f"/api/games/?{query}")
        assert response.status_code == 400, (query, response.content)
        assert "must be a whole number" in str(response.json())
    assert client.get("/api/games/?limit=1&offset=0").status_code == 200


def test_a_rally_number_beyond_64_bits_answers_400(api_user):
    user, client = api_user
    game = done_game(user)
    response = client.post(f"/api/games/{game.id}/shares/", {"rally": int(OVER_64_BITS)}, format="json")
    assert response.status_code == 400 and "rally" in response.json()


@pytest.mark.parametrize("depth", [100_000, 40])
def test_json_nested_too_deep_answers_400_on_every_json_endpoint(api_user, depth):
    user, client = api_user
    game = done_game(user)
    for method, url in (("post", "/api/uploads/"), ("post", f"/api/games/{game.id}/shares/"),
                        ("put", f"/api/games/{game.id}/court/")):
        response = getattr(client, method)(url, deeply_nested(depth), content_type="application/json")
        assert response.status_code == 400, (url, response.content)
        assert "nested" in response.json()["detail"]


def test_four_parallel_completes_of_one_upload_queue_the_game_once(api_user, still_video, service):
    from django.db import connections

    user, client = api_user
    data = still_video.read_bytes()
    game_id = start_upload(client, data)
    send_the_part(client, game_id, data)

    def complete() -> int:
        own = APIClient()
        own.force_authenticate(user)
        try:
            return own.post(f"/api/uploads/{game_id}/complete/").status_code
        finally:
            connections.close_all()  # this thread's connection, before the test database goes

    statuses = at_once(4, complete)
    assert statuses.count(200) == 1 and set(statuses) <= {200, 404, 409}, statuses
    game = Game.objects.get(id=game_id)
    assert (game.status, game.attempt, game.upload_id) == (Game.Status.QUEUED, 1, "")
    queued = [key for key in redis_connection().keys("rq:job:*") if b"analysing" in key]
    assert queued == [f"rq:job:{job_id(game.id, 'analysing', 1)}".encode()]
    stored = service.s3.client().get_object(Bucket=service.s3.bucket, Key=game.source_key)["Body"].read()
    assert stored == data


def test_an_upload_whose_completion_is_under_way_answers_409_and_can_still_be_deleted(api_user, still_video):
    from front.api import COMPLETING

    _, client = api_user
    game = Game.objects.get(id=start_upload(client, still_video.read_bytes()))
    Game.objects.filter(id=game.id).update(upload_id=COMPLETING + game.upload_id)  # as if a completion died
    assert client.post(f"/api/uploads/{game.id}/complete/").status_code == 409
    assert client.get(f"/api/uploads/{game.id}/").status_code == 409
    assert client.delete(f"/api/uploads/{game.id}/").status_code == 204
    assert not Game.objects.filter(id=game.id).exists()


# --- the pages in a real browser, under their policy ---------------------------------------------

@pytest.mark.slow
def test_the_game_page_runs_under_its_policy_and_still_asks_before_deleting(api_user, service, live_server):
    from playwright.sync_api import sync_playwright

    from tests.test_browser import CHROMIUM, CHROMIUM_ARGS

    user, _ = api_user
    game = done_game(user)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            violations = run_game_page(browser, live_server.url, game)
        finally:
            browser.close()
    assert violations == []
    assert not Game.objects.filter(id=game.id).exists()


def run_game_page(browser, base: str, game: Game) -> list[str]:
    """Log in, open the game's page, refuse then accept its delete question; the policy
    violations the page reported meanwhile."""
    from playwright.sync_api import expect

    context = browser.new_context()
    context.set_default_timeout(30_000)
    violations: list[str] = []
    context.expose_function("volleyViolation", lambda text: violations.append(text))
    context.add_init_script("document.addEventListener('securitypolicyviolation',"
                            " (e) => window.volleyViolation(`${e.violatedDirective} ${e.blockedURI}`));")
    page = context.new_page()
    page.goto(f"{base}/login/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "volley-pass-1")
    page.click("#login")
    expect(page).to_have_url(f"{base}/games/")
    page.goto(f"{base}/games/{game.id}/")
    answers = iter([False, True])
    page.on("dialog", lambda dialog: dialog.accept() if next(answers) else dialog.dismiss())
    page.click("#delete button")
    expect(page).to_have_url(f"{base}/games/{game.id}/")  # dismissed: nothing deleted
    page.click("#delete button")
    expect(page).to_have_url(f"{base}/games/")
    context.close()
    return violations
