"""Issue 23's quotas, throttles and sizes checked before reading, against real parts: the
embedded mode as `volley serve` runs it (its own process, SQLite, the local store, its
counters in the database), and production parts (PostgreSQL, Redis for the counters,
SeaweedFS) through Django's test client. The one fault injected by hand is the full disk
of the in-process test; the embedded one is a real limit on the server's file sizes."""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import resource
import sqlite3
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from requests.adapters import HTTPAdapter

from front.models import Game
from tests.embedded import ROOT, VOLLEY, EmbeddedServer, _wait_until_up, embedded_env, embedded_server, free_port
from tests.test_api import done_game
from tests.test_security import at_once

MiB = 1024 * 1024
#: The embedded server's limits, small enough to reach in a test.
LIMITS = {
    "VOLLEY_MAX_OPEN_UPLOADS": "2",
    "VOLLEY_MAX_GAMES_PER_DAY": "3",
    "VOLLEY_MAX_DIRECT_UPLOAD_BYTES": str(5 * MiB),
    "VOLLEY_LOGIN_FREE_FAILURES": "3",
    "VOLLEY_LOGIN_DELAY_SECONDS": "4",  # long enough for a loaded machine, short to wait out
    "VOLLEY_LOGIN_MAX_DELAY_SECONDS": "8",
    "VOLLEY_TOKEN_FREE_FAILURES": "3",
    "VOLLEY_UPLOAD_EXPIRY_HOURS": "1",
    "VOLLEY_RECONCILE_SECONDS": "1",
}
BOUNDARY = "volley-test-boundary"


# --- helpers ---------------------------------------------------------------------------------------

class FromAddress(HTTPAdapter):
    """Connections from one loopback address (127.0.0.0/8 is all this machine's), so one
    test can be several clients."""

    def __init__(self, address: str):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def client_from(address: str, token: str | None = None) -> requests.Session:
    session = requests.Session()
    session.mount("http://", FromAddress(address))
    if token:
        session.headers["Authorization"] = f"Token {token}"
    return session


def form_post(session: requests.Session, url: str, fields: dict) -> requests.Response:
    """A form POST as the page sends it: with the CSRF token of the page at `url`."""
    page = session.get(url, timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    return session.post(url, data={**fields, "csrfmiddlewaretoken": token}, allow_redirects=False, timeout=30)


def log_in(server, address: str, username: str, password: str) -> requests.Response:
    return form_post(client_from(address), f"{server.base}/login/", {"username": username, "password": password})


def start_body(data: bytes, size: int | None = None, name: str = "game.mp4") -> dict:
    return {"name": name, "size": len(data) if size is None else size, "type": "video/mp4",
            "head": base64.b64encode(data[:4096]).decode()}


def multipart_head(name: str = "game.mp4") -> bytes:
    return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"video\"; filename=\"{name}\"\r\n"
            f"Content-Type: video/mp4\r\n\r\n").encode()


def multipart(data: bytes) -> bytes:
    return multipart_head() + data + f"\r\n--{BOUNDARY}--\r\n".encode()


def raw_request(server, method: str, path: str, headers: dict, body: bytes) -> tuple[int, dict, bytes]:
    """Send the headers and `body` (which may be only the start of what the headers
    announce), then read the answer: it must come without the rest of the body."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.putrequest(method, path, skip_accept_encoding=True)
    for name, value in headers.items():
        connection.putheader(name, value)
    connection.endheaders()
    connection.send(body)
    response = connection.getresponse()
    answer = (response.status, dict(response.getheaders()), response.read())
    connection.close()
    return answer


def deleted_files_held(pid: int, folder: Path) -> list[str]:
    """Files under `folder` that process `pid` still holds open."""
    held = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(folder)):
            held.append(target)
    return held


def video_of(still_video: Path, size: int) -> bytes:
    """A file of `size` bytes that starts like a video (the rest is padding)."""
    data = still_video.read_bytes()[:size]
    return data + bytes(size - len(data))


# --- the embedded mode ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    root = tmp_path_factory.mktemp("limits")
    env = dict(embedded_env(root), **LIMITS, VOLLEY_UPLOAD_TEMP_DIR=str(root / "uploads"))
    (root / "uploads").mkdir()
    with embedded_server(root, env=env) as server:
        yield server


def token_of(server, name: str) -> str:
    return server.token(name)


def test_an_embedded_user_has_at_most_so_many_uploads_under_way_then_429_until_one_is_cancelled(
        embedded, still_video):
    api = client_from("127.0.0.1", token_of(embedded, "uma"))
    data = still_video.read_bytes()
    started = [api.post(f"{embedded.base}/api/uploads/", json=start_body(data), timeout=30) for _ in range(3)]
    assert [r.status_code for r in started] == [201, 201, 429], [r.text for r in started]
    assert "2 uploads under way" in started[2].json()["detail"]
    assert api.delete(f"{embedded.base}/api/uploads/{started[0].json()['game']}/", timeout=30).status_code == 204
    assert api.post(f"{embedded.base}/api/uploads/", json=start_body(data), timeout=30).status_code == 201


def test_embedded_games_per_day_are_capped_with_429_and_deleting_games_gives_none_back(embedded, still_video):
    api = client_from("127.0.0.1", token_of(embedded, "dora"))
    data = still_video.read_bytes()
    for _ in range(3):
        game = api.post(f"{embedded.base}/api/uploads/", json=start_body(data), timeout=30)
        assert game.status_code == 201, game.text
        assert api.delete(f"{embedded.base}/api/uploads/{game.json()['game']}/", timeout=30).status_code == 204
    refused = api.post(f"{embedded.base}/api/uploads/", json=start_body(data), timeout=30)
    assert refused.status_code == 429 and "3 games today" in refused.json()["detail"]
    assert 0 < int(refused.headers["Retry-After"]) <= 24 * 3600
    direct = api.post(f"{embedded.base}/api/games/", files={"video": ("g.mp4", data, "video/mp4")}, timeout=60)
    assert direct.status_code == 429  # the direct upload counts against the same day


def test_an_embedded_part_url_of_a_100_byte_upload_refuses_300_mb_unread_and_takes_100(embedded, still_video):
    api = client_from("127.0.0.1", token_of(embedded, "pam"))
    data = still_video.read_bytes()[:100]
    game = api.post(f"{embedded.base}/api/uploads/", json=start_body(data), timeout=30).json()["game"]
    url = api.post(f"{embedded.base}/api/uploads/{game}/parts/", json={"numbers": [1]}, timeout=30).json()["urls"]["1"]
    path = url.removeprefix(embedded.base)
    status, _, text = raw_request(embedded, "PUT", path, {"Content-Length": str(300 * MiB)}, bytes(64 * 1024))
    assert status == 413 and b"100 bytes" in text
    assert requests.put(url, data=bytes(101), timeout=30).status_code == 413
    status, _, _ = raw_request(embedded, "PUT", path, {"Transfer-Encoding": "chunked"}, b"12c\r\n" + bytes(300))
    assert status == 411
    assert requests.put(url, data=data, timeout=30).status_code == 200
    held = api.get(f"{embedded.base}/api/uploads/{game}/", timeout=30).json()["uploaded"]
    assert held == [{"number": 1, "size": 100}]


def test_an_embedded_direct_upload_declaring_30_mb_against_5_is_refused_before_its_body_is_read(
        embedded, still_video):
    token = token_of(embedded, "dina")
    headers = {"Authorization": f"Token {token}", "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
               "Content-Length": str(30 * MiB)}
    # Only the first 64 KiB are ever sent: the answer cannot have waited for the rest.
    status, _, body = raw_request(embedded, "POST", "/api/games/", headers,
                                  multipart_head() + still_video.read_bytes()[:64 * 1024])
    assert status == 413 and "upload it from the web page" in json.loads(body)["detail"]
    assert list((embedded.data_dir.parent / "uploads").iterdir()) == []


def test_an_embedded_chunked_direct_upload_is_refused_with_411_before_its_body_is_read(embedded, still_video):
    token = token_of(embedded, "chad")
    headers = {"Authorization": f"Token {token}", "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
               "Transfer-Encoding": "chunked"}
    first = multipart_head() + still_video.read_bytes()[:4096]
    status, _, body = raw_request(embedded, "POST", "/api/games/", headers, b"%x\r\n%s\r\n" % (len(first), first))
    assert status == 411 and "Content-Length" in json.loads(body)["detail"]


def test_an_embedded_direct_upload_whose_file_passes_the_limit_is_cut_off_there_and_its_temporary_file_removed(
        embedded, still_video):
    api = client_from("127.0.0.1", token_of(embedded, "tess"))
    data = video_of(still_video, 5 * MiB + 32 * 1024)  # the body's length passes the framing allowance
    body = multipart(data)
    response = api.post(f"{embedded.base}/api/games/", data=body, timeout=60,
                        headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
    assert response.status_code == 413 and "upload it from the web page" in response.json()["detail"]
    uploads = embedded.data_dir.parent / "uploads"
    assert list(uploads.iterdir()) == []
    assert deleted_files_held(embedded.process.pid, uploads) == []
    assert api.get(f"{embedded.base}/api/games/", timeout=30).json()["count"] == 0


def test_embedded_signup_refuses_a_numeric_only_password_and_takes_a_good_one(embedded):
    session = client_from("127.0.0.1")
    refused = form_post(session, f"{embedded.base}/signup/",
                        {"username": "nina", "password1": "8437261950", "password2": "8437261950"})
    assert refused.status_code == 200 and "entirely numeric" in refused.text
    made = form_post(client_from("127.0.0.1"), f"{embedded.base}/signup/",
                     {"username": "nina", "password1": "spike-and-dig-4", "password2": "spike-and-dig-4"})
    assert made.status_code == 302 and made.headers["Location"] == "/games/"


def test_embedded_log_in_waits_after_wrong_passwords_per_name_and_address_and_the_real_user_still_gets_in(embedded):
    password = "serve-receive-9"
    assert form_post(client_from("127.0.0.1"), f"{embedded.base}/signup/", {
        "username": "lena", "password1": password, "password2": password}).status_code == 302
    assert [log_in(embedded, "127.0.0.1", "lena", f"guess-{n}").status_code for n in range(3)] == [200] * 3
    locked = log_in(embedded, "127.0.0.1", "lena", password)  # the right one, but this address must wait
    assert locked.status_code == 429 and "Too many wrong passwords" in locked.text
    assert 1 <= int(locked.headers["Retry-After"]) <= 4
    assert log_in(embedded, "127.0.0.2", "lena", password).status_code == 302  # another address: in at once
    time.sleep(int(locked.headers["Retry-After"]) + 0.2)
    assert log_in(embedded, "127.0.0.1", "lena", "guess-4").status_code == 200
    again = log_in(embedded, "127.0.0.1", "lena", password)
    assert again.status_code == 429 and 5 <= int(again.headers["Retry-After"]) <= 8  # doubled, capped there
    time.sleep(int(again.headers["Retry-After"]) + 0.2)
    assert log_in(embedded, "127.0.0.1", "lena", password).status_code == 302  # the real user, minutes at most


def test_embedded_wrong_api_tokens_from_one_address_are_throttled_while_other_addresses_get_in(embedded):
    token = token_of(embedded, "tom")
    guesser = client_from("127.0.0.3", "0" * 40)
    assert [guesser.get(f"{embedded.base}/api/games/", timeout=30).status_code for _ in range(4)] == [401] * 3 + [429]
    assert client_from("127.0.0.3", token).get(f"{embedded.base}/api/games/", timeout=30).status_code == 429
    assert client_from("127.0.0.4", token).get(f"{embedded.base}/api/games/", timeout=30).status_code == 200


def test_an_embedded_upload_nobody_finished_is_aborted_after_the_expiry_hours_orphans_too(embedded, still_video):
    api = client_from("127.0.0.1", token_of(embedded, "olga"))
    data = still_video.read_bytes()
    stale = api.post(f"{embedded.base}/api/uploads/", json=start_body(data), timeout=30).json()["game"]
    fresh = api.post(f"{embedded.base}/api/uploads/", json=start_body(data), timeout=30).json()["game"]
    uploads = embedded.data_dir / "store" / ".uploads"
    orphan = uploads / ("f" * 32)  # an upload in the store that no game holds
    orphan.mkdir()
    (orphan / "meta.json").write_text(json.dumps({"key": "games/x/source.mp4", "content_type": "video/mp4"}))
    two_hours_ago = time.time() - 7200
    os.utime(orphan / "meta.json", (two_hours_ago, two_hours_ago))
    with sqlite3.connect(embedded.data_dir / "volley.sqlite3", timeout=30) as db:  # as if started 2 hours ago
        db.execute("UPDATE front_game SET created_at = datetime('now', '-2 hours') WHERE id = ?",
                   (stale.replace("-", ""),))
    deadline = time.monotonic() + 60
    while api.get(f"{embedded.base}/api/uploads/{stale}/", timeout=30).status_code != 404 or orphan.exists():
        assert time.monotonic() < deadline, "housekeeping did not give up the stale upload"
        time.sleep(0.5)
    assert api.get(f"{embedded.base}/api/uploads/{fresh}/", timeout=30).status_code == 200


def test_an_embedded_full_disk_while_storing_a_direct_upload_answers_507_with_the_temporary_file_removed(
        tmp_path, still_video):
    # A real limit on the server's files (RLIMIT_FSIZE): a write past 8 MiB fails as on a
    # full disk (EFBIG; Python ignores SIGXFSZ), while its database and log stay small.
    env = dict(embedded_env(tmp_path), VOLLEY_UPLOAD_TEMP_DIR=str(tmp_path / "uploads"))
    (tmp_path / "uploads").mkdir()

    with server_with_small_files(tmp_path, env) as server:
        api = client_from("127.0.0.1", server.token("fay"))
        response = api.post(f"{server.base}/api/games/", data=multipart(video_of(still_video, 12 * MiB)),
                            headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}, timeout=60)
        assert response.status_code == 507 and "no room" in response.json()["detail"]
        assert list((tmp_path / "uploads").iterdir()) == []
        assert deleted_files_held(server.process.pid, tmp_path / "uploads") == []
        assert api.get(f"{server.base}/api/games/", timeout=30).json()["count"] == 0
        small = api.post(f"{server.base}/api/games/", files={"video": ("g.mp4", still_video.read_bytes())},
                         timeout=60)
        assert small.status_code == 201, small.text  # what fits is taken


@contextmanager
def server_with_small_files(tmp_path: Path, env: dict):
    """`volley serve` (as tests.embedded starts it) whose files may not pass 8 MiB."""
    port = free_port()
    log = tmp_path / "serve.log"

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (8 * MiB, 8 * MiB))

    with log.open("ab") as out:
        process = subprocess.Popen([VOLLEY, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env,
                                   cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   preexec_fn=small_files)
    server = EmbeddedServer(f"http://127.0.0.1:{port}", port, env, log, process)
    try:
        _wait_until_up(process, server, 60)
        yield server
    finally:
        process.terminate()
        process.wait(20)


# --- production parts: PostgreSQL, Redis, SeaweedFS ----------------------------------------------

def test_a_user_has_at_most_so_many_uploads_under_way_even_when_started_at_once(api_user, still_video, settings):
    from django.db import connections
    from rest_framework.test import APIClient

    user, _ = api_user
    settings.MAX_OPEN_UPLOADS = 3
    body = start_body(still_video.read_bytes())

    def start() -> int:
        own = APIClient()
        own.force_authenticate(user)
        try:
            return own.post("/api/uploads/", body, format="json").status_code
        finally:
            connections.close_all()

    statuses = at_once(8, start)
    assert sorted(statuses) == [201] * 3 + [429] * 5, statuses
    assert Game.objects.filter(owner=user, status=Game.Status.UPLOADING).count() == 3


def test_bytes_under_way_are_capped_with_429_and_bytes_stored_with_403(api_user, still_video, settings):
    user, client = api_user
    settings.MAX_UPLOAD_BYTES = 10 * 1024**3
    settings.MAX_BYTES_IN_FLIGHT = 100 * MiB
    settings.MAX_BYTES_STORED = 980 * MiB
    data = still_video.read_bytes()
    assert client.post("/api/uploads/", start_body(data, 60 * MiB), format="json").status_code == 201
    in_flight = client.post("/api/uploads/", start_body(data, 60 * MiB), format="json")
    assert in_flight.status_code == 429 and "60 MB" in in_flight.json()["detail"]
    Game.objects.filter(id=done_game(user).id).update(source_size=900 * MiB)
    stored = client.post("/api/uploads/", start_body(data, 30 * MiB), format="json")
    assert stored.status_code == 403 and "Delete games" in stored.json()["detail"]
    assert "960 MB of the 980 MB" in stored.json()["detail"]


def test_games_per_day_are_counted_in_redis_and_deleting_games_gives_none_back(api_user, still_video, settings):
    from front.queues import redis_connection

    _, client = api_user
    settings.MAX_GAMES_PER_DAY = 2
    body = start_body(still_video.read_bytes())
    for _ in range(2):
        game = client.post("/api/uploads/", body, format="json").json()["game"]
        assert client.delete(f"/api/uploads/{game}/").status_code == 204
    refused = client.post("/api/uploads/", body, format="json")
    assert refused.status_code == 429 and "2 games today" in refused.json()["detail"]
    assert int(refused["Retry-After"]) <= 24 * 3600
    keys = redis_connection().keys("volley:limit:games:*")
    assert len(keys) == 1 and int(redis_connection().get(keys[0])) == 2
    assert redis_connection().ttl(keys[0]) > 0


def test_a_part_url_of_a_100_byte_upload_is_refused_by_the_store_for_any_other_length(api_user, still_video, service):
    _, client = api_user
    data = still_video.read_bytes()[:100]
    game = client.post("/api/uploads/", start_body(data), format="json").json()["game"]
    url = client.post(f"/api/uploads/{game}/parts/", {"numbers": [1]}, format="json").json()["urls"]["1"]
    assert requests.put(url, data=bytes(3 * MiB), timeout=60).status_code == 403
    assert client.get(f"/api/uploads/{game}/").json()["uploaded"] == []  # nothing was kept
    assert requests.put(url, data=data, timeout=60).status_code == 200
    assert client.post(f"/api/uploads/{game}/complete/").status_code == 200


def test_a_direct_upload_declaring_more_than_the_limit_is_refused_before_it_is_parsed(api_user, settings):
    _, client = api_user
    settings.MAX_DIRECT_UPLOAD_BYTES = 5 * MiB
    body = multipart(b"\x00\x00\x00\x18ftypmp42" + bytes(1000))
    response = client.generic("POST", "/api/games/", body, content_type=f"multipart/form-data; boundary={BOUNDARY}",
                              CONTENT_LENGTH=str(30 * MiB))
    assert response.status_code == 413 and "upload it from the web page" in response.json()["detail"]


def test_a_full_disk_while_a_direct_upload_is_stored_answers_507_with_the_temporary_file_removed(
        api_user, still_video, settings, tmp_path, monkeypatch):
    import errno

    from django.core.files.uploadedfile import TemporaryUploadedFile

    _, client = api_user
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    written = []

    def write_until_full(data):  # the injected fault: the disk fills after 1 MiB
        if sum(written) + len(data) > MiB:
            raise OSError(errno.ENOSPC, "No space left on device")
        written.append(len(data))

    monkeypatch.setattr(TemporaryUploadedFile, "write", property(lambda self: write_until_full), raising=False)
    body = multipart(video_of(still_video, 3 * MiB))
    response = client.generic("POST", "/api/games/", body, content_type=f"multipart/form-data; boundary={BOUNDARY}")
    assert response.status_code == 507 and "no room" in response.json()["detail"]
    assert list(tmp_path.iterdir()) == []
    assert deleted_files_held(os.getpid(), tmp_path) == []
    assert Game.objects.count() == 0


def test_log_in_waits_per_name_and_client_address_in_redis_and_a_forged_forwarded_for_changes_nothing(
        api_user, settings):
    from django.test import Client

    from front.queues import redis_connection

    settings.LOGIN_FREE_FAILURES, settings.LOGIN_DELAY_SECONDS, settings.LOGIN_MAX_DELAY_SECONDS = 3, 60, 300

    def attempt(password: str, forwarded: str) -> int:
        return Client().post("/login/", {"username": "alice", "password": password},
                             HTTP_X_FORWARDED_FOR=forwarded).status_code

    # The ingress appends the address it saw; entries left of it are the client's to forge.
    assert [attempt("wrong", f"{n}.1.1.1, 10.0.0.7") for n in range(3)] == [200] * 3
    assert attempt("volley-pass-1", "9.9.9.9, 10.0.0.7") == 429
    assert redis_connection().keys("volley:limit:login:wait:*")
    assert attempt("volley-pass-1", "10.0.0.7, 10.0.0.8") == 302  # the real user, from elsewhere
    assert attempt("volley-pass-1", "10.0.0.7") == 429  # still waiting there


def test_wrong_api_tokens_from_one_address_are_throttled_in_redis(api_user, settings):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    user, _ = api_user
    settings.TOKEN_FREE_FAILURES, settings.LOGIN_DELAY_SECONDS = 3, 60

    def get(token: str, address: str) -> int:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        return client.get("/api/games/", HTTP_X_FORWARDED_FOR=address).status_code

    real = Token.objects.get(user=user).key
    assert [get("f" * 40, "10.1.1.1") for _ in range(4)] == [401, 401, 401, 429]
    assert get(real, "10.1.1.1") == 429
    assert get(real, "10.1.1.2") == 200


def test_orphan_uploads_in_the_store_are_aborted_and_those_of_games_kept(api_user, still_video, service):
    from datetime import timedelta

    from django.utils import timezone

    from front.orphans import abort_orphan_uploads

    _, client = api_user
    s3 = service.s3.client()
    orphan = s3.create_multipart_upload(Bucket=service.s3.bucket, Key="games/lost/source.mp4")["UploadId"]
    game = Game.objects.get(id=client.post("/api/uploads/", start_body(still_video.read_bytes()),
                                           format="json").json()["game"])
    aborted = abort_orphan_uploads(timezone.now() + timedelta(minutes=1))
    assert orphan in aborted and game.upload_id not in aborted  # (earlier tests' leftovers go too)
    left = [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=service.s3.bucket, Prefix="games/")["Uploads"]]
    assert left == [game.upload_id]


def test_a_retired_setting_stops_the_start_with_what_to_set_instead(tmp_path):
    env = dict(embedded_env(tmp_path), VOLLEY_UPLOAD_EXPIRY_DAYS="7")
    done = subprocess.run([VOLLEY, "manage", "check"], env=env, capture_output=True, text=True)
    assert done.returncode != 0 and "VOLLEY_UPLOAD_EXPIRY_HOURS" in done.stderr
