"""pusher: both stores against the real thing (SeaweedFS on loopback for S3, a temporary
directory for the local store), publishing, and the storage settings."""

from __future__ import annotations

import hashlib
import io
import os
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from pusher import config
from pusher.publish import IMMUTABLE, NO_CACHE, publish
from pusher.store import LocalStore, Part, S3Store, StoreError, get_store, reset_store
from volley.exceptions import SettingError

MiB = 1024 * 1024


@pytest.fixture
def s3(s3_server) -> S3Store:
    return S3Store(s3_server.endpoint_url, s3_server.bucket, region=s3_server.region,
                   access_key=s3_server.access_key, secret_key=s3_server.secret_key, expiry=600)


@pytest.fixture
def prefix() -> str:
    """Each test works under its own prefix of the shared bucket."""
    return f"test/{uuid.uuid4().hex}/"


@pytest.fixture
def local(tmp_path) -> LocalStore:
    return LocalStore(tmp_path / "store", "test-secret", expiry=600)


@pytest.fixture
def no_settings(monkeypatch):
    for name in list(os.environ):
        if name.startswith("VOLLEY_"):
            monkeypatch.delenv(name)
    reset_store()
    yield monkeypatch
    reset_store()


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def fetch(url: str, *, method: str = "GET", data: bytes | None = None, headers: dict | None = None):
    """(status, headers, body) of one plain HTTP request, as a browser would send it."""
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=20) as reply:
            return reply.status, reply.headers, reply.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def _text(value: str | bytes | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def put_part(url: str, data: bytes) -> str:
    status, headers, body = fetch(url, method="PUT", data=data, headers={"Origin": "http://127.0.0.1:8123"})
    assert status == 200, body
    assert "etag" in headers.get("Access-Control-Expose-Headers", "").lower()
    return headers["ETag"].strip('"')


# --- S3: objects ------------------------------------------------------------------------
def test_a_put_file_is_served_by_its_url_with_its_headers(s3, prefix, tmp_path):
    data = os.urandom(3000)
    s3.put_file(prefix + "clip.mp4", write(tmp_path / "clip.mp4", data), content_type="video/mp4",
                cache_control=IMMUTABLE)
    status, headers, body = fetch(s3.url(prefix + "clip.mp4"))
    assert (status, body) == (200, data)
    assert headers["Content-Type"] == "video/mp4"
    assert headers["Cache-Control"] == IMMUTABLE
    assert s3.size(prefix + "clip.mp4") == 3000
    assert s3.size(prefix + "absent.mp4") is None


def test_a_download_name_makes_the_url_an_attachment(s3, prefix, tmp_path):
    s3.put_file(prefix + "best.mp4", write(tmp_path / "best.mp4", b"x"))
    _, headers, _ = fetch(s3.url(prefix + "best.mp4", download_name="Finale – best.mp4"))
    assert headers["Content-Disposition"].startswith("attachment; filename=")
    assert "UTF-8''Finale%20%E2%80%93%20best.mp4" in headers["Content-Disposition"]


def test_a_presigned_url_with_a_tampered_signature_is_refused(s3, prefix, tmp_path):
    s3.put_file(prefix + "a.bin", write(tmp_path / "a.bin", b"secret"))
    url = s3.url(prefix + "a.bin")
    signature = url.rsplit("X-Amz-Signature=", 1)[1][:64]
    tampered = url.replace(signature, ("0" if signature[0] != "0" else "1") + signature[1:])
    assert fetch(url)[0] == 200
    assert fetch(tampered)[0] == 403
    assert fetch(url.replace(prefix + "a.bin", prefix + "b.bin"))[0] == 403  # signed for another key


def test_it_refuses_a_wrong_secret(s3_server, prefix, tmp_path):
    wrong = S3Store(s3_server.endpoint_url, s3_server.bucket, access_key=s3_server.access_key, secret_key="wrong")
    with pytest.raises(StoreError) as caught:
        wrong.put_file(prefix + "a.bin", write(tmp_path / "a.bin", b"x"))
    assert caught.value.operation == "put_file" and prefix + "a.bin" in str(caught.value)
    assert caught.value.code == "SignatureDoesNotMatch"


def test_an_unreachable_store_is_a_store_error_naming_the_operation_and_key():
    dead = S3Store("http://127.0.0.1:9", "volley", access_key="a", secret_key="b")
    dead.client = boto3.session.Session().client(  # no retries: this test need not wait
        "s3", endpoint_url="http://127.0.0.1:9", region_name="us-east-1", aws_access_key_id="a",
        aws_secret_access_key="b", config=Config(retries={"max_attempts": 1}, connect_timeout=2))
    with pytest.raises(StoreError, match=r"size 'games/x/source'"):
        dead.size("games/x/source")


def test_read_head_returns_the_first_bytes(s3, prefix, tmp_path):
    data = os.urandom(100_000)
    s3.put_file(prefix + "game.mp4", write(tmp_path / "game.mp4", data))
    s3.put_file(prefix + "empty", write(tmp_path / "empty", b""))
    assert s3.read_head(prefix + "game.mp4", 1000) == data[:1000]
    assert s3.read_head(prefix + "game.mp4") == data[:65536]
    assert s3.read_head(prefix + "empty") == b""


def test_a_download_streams_into_place_and_reports_progress(s3, prefix, tmp_path):
    data = os.urandom(2 * MiB + 17)
    s3.put_file(prefix + "source", write(tmp_path / "up", data))
    target = write(tmp_path / "work" / "source", b"old")
    seen = []
    s3.download(prefix + "source", target, lambda done, total: seen.append((done, total)))
    assert target.read_bytes() == data
    assert seen[-1] == (len(data), len(data))
    assert sorted(p.name for p in target.parent.iterdir()) == ["source"]  # no temporary left


def test_a_failed_download_leaves_the_old_file_alone(s3, prefix, tmp_path):
    target = write(tmp_path / "source", b"old")
    with pytest.raises(StoreError):
        s3.download(prefix + "absent", target)
    assert target.read_bytes() == b"old"


def test_delete_prefix_deletes_only_under_the_prefix(s3, s3_server, prefix, tmp_path):
    file = write(tmp_path / "f", b"1")
    for key in ("a/1", "a/2", "a/deep/3", "ab"):
        s3.put_file(prefix + key, file)
    upload = s3.start_upload(prefix + "a/upload", "video/mp4")
    assert s3.delete_prefix(prefix + "a/") == 3
    assert s3.size(prefix + "ab") == 1
    with pytest.raises(StoreError) as caught:  # its unfinished uploads are aborted too
        s3.uploaded_parts(prefix + "a/upload", upload)
    assert caught.value.code == "NoSuchUpload"
    with pytest.raises(ValueError):
        s3.delete_prefix("")


def test_with_a_cdn_public_objects_are_public_read_and_served_by_the_cdn(s3_server, prefix, tmp_path):
    cdn = S3Store(s3_server.endpoint_url, s3_server.bucket, access_key=s3_server.access_key,
                  secret_key=s3_server.secret_key, cdn_url="https://cdn.example.com/")
    plain = S3Store(s3_server.endpoint_url, s3_server.bucket, access_key=s3_server.access_key,
                    secret_key=s3_server.secret_key)
    acls = []  # SeaweedFS keeps no canned ACL, so look at what was asked for
    for store in (cdn, plain):
        store.client.meta.events.register(
            "before-send.s3.PutObject", lambda request, **_: acls.append(_text(request.headers.get("x-amz-acl"))))
        store.put_file(prefix + "clips/rally-001.mp4", write(tmp_path / "c", b"x"), public=True)
    assert acls == ["public-read", None]  # without a CDN, objects stay private
    assert cdn.url(prefix + "clips/rally-001.mp4") == f"https://cdn.example.com/{prefix}clips/rally-001.mp4"
    assert "X-Amz-Signature=" in cdn.url(prefix + "clips/rally-001.mp4", download_name="rally.mp4")


# --- S3: browser uploads ----------------------------------------------------------------
def test_a_multipart_upload_through_part_urls_joins_the_parts(s3, prefix):
    key = prefix + "source"
    first, second = os.urandom(5 * MiB + 3), os.urandom(1000)
    upload = s3.start_upload(key, "video/mp4")
    etags = [put_part(s3.part_url(key, upload, n), data) for n, data in ((1, first), (2, second))]
    assert s3.uploaded_parts(key, upload) == [Part(1, etags[0], len(first)), Part(2, etags[1], len(second))]
    assert etags[0] == hashlib.md5(first).hexdigest()
    s3.complete_upload(key, upload)
    assert s3.size(key) == len(first) + len(second)
    assert fetch(s3.url(key))[2] == first + second
    assert s3.client.head_object(Bucket=s3.bucket, Key=key)["ContentType"] == "video/mp4"


def test_an_interrupted_upload_lists_the_parts_already_sent(s3, prefix):
    key = prefix + "source"
    upload = s3.start_upload(key, "video/mp4")
    assert s3.uploaded_parts(key, upload) == []
    data = os.urandom(5 * MiB)
    put_part(s3.part_url(key, upload, 1), data)
    assert [(p.number, p.size) for p in s3.uploaded_parts(key, upload)] == [(1, len(data))]
    put_part(s3.part_url(key, upload, 2), b"tail")  # resumed: only the missing part is sent
    s3.complete_upload(key, upload)
    assert s3.size(key) == len(data) + 4


def test_it_refuses_to_complete_an_upload_with_a_missing_part(s3, prefix):
    key = prefix + "source"
    upload = s3.start_upload(key, "video/mp4")
    put_part(s3.part_url(key, upload, 2), b"only the second")
    with pytest.raises(StoreError, match="part 1 is missing"):
        s3.complete_upload(key, upload)
    s3.abort_upload(key, upload)
    s3.abort_upload(key, upload)  # twice is fine
    assert s3.size(key) is None


def test_a_browser_page_on_loopback_may_put_parts_and_read_the_etag(s3_server):
    for origin in ("http://127.0.0.1:8123", "http://localhost:40111"):
        status, headers, _ = fetch(
            f"{s3_server.endpoint_url}/{s3_server.bucket}/games/x/source?partNumber=1&uploadId=u", method="OPTIONS",
            headers={"Origin": origin, "Access-Control-Request-Method": "PUT",
                     "Access-Control-Request-Headers": "content-type"})
        assert status == 200
        assert headers["Access-Control-Allow-Origin"] == origin
        assert "PUT" in headers["Access-Control-Allow-Methods"]
        assert "ETag" in headers["Access-Control-Expose-Headers"]


# --- publish ------------------------------------------------------------------------------
def clipper_output(out: Path) -> Path:
    for name in ("clips/rally-001.mp4", "clips/rally-002.mp4", "digest.mp4", "best.mp4"):
        write(out / name, os.urandom(2000))
    for name in ("posters/rally-001.jpg", "posters/rally-002.jpg"):
        write(out / name, b"\xff\xd8jpeg")
    write(out / "rallies.json", b'{"rallies": []}')
    write(out / "track.json", b'{"frames": []}')
    write(out / "clips" / ".rally-003.mp4.tmp", b"half")  # a temporary file is never published
    return out


def test_publish_uploads_every_output_with_its_headers_and_is_idempotent(s3, prefix, tmp_path):
    out = clipper_output(tmp_path / "out")
    fractions = []
    keys = publish(out, prefix + "outputs", s3, fractions.append)
    assert keys["clips/rally-001.mp4"] == prefix + "outputs/clips/rally-001.mp4"
    assert sorted(keys) == ["best.mp4", "clips/rally-001.mp4", "clips/rally-002.mp4", "digest.mp4",
                            "posters/rally-001.jpg", "posters/rally-002.jpg", "rallies.json", "track.json"]
    assert fractions[-1] == pytest.approx(1.0) and fractions == sorted(fractions)
    heads = {rel: s3.client.head_object(Bucket=s3.bucket, Key=key) for rel, key in keys.items()}
    assert heads["clips/rally-001.mp4"]["ContentType"] == "video/mp4"
    assert heads["clips/rally-001.mp4"]["CacheControl"] == IMMUTABLE
    assert heads["posters/rally-002.jpg"]["ContentType"] == "image/jpeg"
    assert heads["rallies.json"]["ContentType"] == "application/json"
    assert heads["rallies.json"]["CacheControl"] == NO_CACHE

    def listed() -> list[str]:
        return sorted(o["Key"] for o in s3.client.list_objects_v2(Bucket=s3.bucket, Prefix=prefix).get("Contents", []))

    before = listed()
    assert publish(out, prefix + "outputs/", s3) == keys
    assert listed() == before and len(before) == 8


def test_publish_into_the_local_store(local, tmp_path):
    keys = publish(clipper_output(tmp_path / "out"), "games/g1", local)
    assert local.path(keys["digest.mp4"]).read_bytes() == (tmp_path / "out" / "digest.mp4").read_bytes()
    assert publish(tmp_path / "out", "games/g1", local) == keys


# --- settings -------------------------------------------------------------------------------
def test_without_an_endpoint_the_store_is_local_with_a_key_of_its_data_dir(no_settings, tmp_path):
    no_settings.setenv("VOLLEY_DATA_DIR", str(tmp_path))
    store = get_store()
    assert isinstance(store, LocalStore) and store.root == tmp_path / "store"
    assert get_store() is store
    assert config.load().secret == (tmp_path / "secret.key").read_text().strip()


def test_the_configured_s3_store_talks_to_the_server(no_settings, s3_server, prefix, tmp_path):
    for name, value in s3_server.env().items():
        no_settings.setenv(name, value)
    no_settings.setenv("VOLLEY_SECRET_KEY", "s3cret")
    store = get_store()
    assert isinstance(store, S3Store)
    store.put_file(prefix + "x", write(tmp_path / "x", b"via settings"))
    assert store.read_head(prefix + "x") == b"via settings"


def test_checksums_are_sent_only_when_required_by_default_except_on_aws(no_settings):
    no_settings.setenv("VOLLEY_SECRET_KEY", "s3cret")
    no_settings.setenv("VOLLEY_S3_ENDPOINT", "https://fra1.digitaloceanspaces.com")
    spaces = config.load()
    assert (spaces.checksum, spaces.addressing) == ("when_required", "path")
    no_settings.setenv("VOLLEY_S3_ENDPOINT", "https://s3.eu-west-1.amazonaws.com")
    aws = config.load()
    assert (aws.checksum, aws.addressing) == ("when_supported", "virtual")
    no_settings.setenv("VOLLEY_S3_CHECKSUM", "WHEN_REQUIRED")
    assert config.load().checksum == "when_required"


@pytest.mark.parametrize("name, value", [
    ("VOLLEY_S3_CHECKSUM", "always"),
    ("VOLLEY_S3_ADDRESSING", "dns"),
    ("VOLLEY_URL_EXPIRY", "soon"),
    ("VOLLEY_URL_EXPIRY", str(8 * 24 * 3600)),
    ("VOLLEY_CDN_URL", "cdn.example.com"),
    ("VOLLEY_S3_SECRET_KEY", "a secret without its access key"),
])
def test_a_bad_storage_setting_stops_with_a_setting_error(no_settings, name, value):
    no_settings.setenv("VOLLEY_S3_ENDPOINT", "https://fra1.digitaloceanspaces.com")
    no_settings.setenv("VOLLEY_SECRET_KEY", "s3cret")
    no_settings.setenv(name, value)
    with pytest.raises(SettingError, match=name):
        config.load()


def test_a_secret_key_is_required_with_an_s3_endpoint(no_settings):
    no_settings.setenv("VOLLEY_S3_ENDPOINT", "https://fra1.digitaloceanspaces.com")
    with pytest.raises(SettingError, match="VOLLEY_SECRET_KEY"):
        get_store()


# --- the local store ---------------------------------------------------------------------------
def signed(url: str) -> tuple[str, str, str]:
    """(path, expires, sig) of a local URL, as the front's view reads them."""
    path, query = url.split("?")
    params = dict(item.split("=", 1) for item in query.split("&"))
    return urllib.request.unquote(path), params["expires"], params["sig"]


def test_a_local_url_verifies_and_serves_the_file(local, tmp_path):
    local.put_file("games/g/clips/rally 001.mp4", write(tmp_path / "c", b"clip"))
    url = local.url("games/g/clips/rally 001.mp4")
    path, expires, sig = signed(url)
    assert path == "/media/games/g/clips/rally 001.mp4" and url.startswith("/media/games/g/clips/rally%20001.mp4?")
    assert local.verify(path, expires, sig)
    assert local.path(path.removeprefix("/media/")).read_bytes() == b"clip"


def test_it_refuses_a_tampered_or_expired_local_signature(local, tmp_path):
    path, expires, sig = signed(local.url("games/g/a.mp4"))
    assert not local.verify("/media/games/g/b.mp4", expires, sig)
    assert not local.verify(path, str(int(expires) + 1), sig)
    assert not local.verify(path, expires, sig[:-1] + ("0" if sig[-1] != "0" else "1"))
    assert not local.verify(path, "never", sig)
    assert not LocalStore(tmp_path, "another secret").verify(path, expires, sig)
    old = LocalStore(tmp_path, "test-secret", expiry=-5)
    assert not local.verify(*signed(old.url("games/g/a.mp4")))


def test_a_local_download_name_is_part_of_the_signature(local):
    url = local.url("games/g/best.mp4", download_name="best.mp4")
    path, expires, sig = signed(url)
    assert "dl=best.mp4" in url
    assert local.verify(path, expires, sig, download_name="best.mp4")
    assert not local.verify(path, expires, sig, download_name="other.exe")
    assert not local.verify(path, expires, sig)


@pytest.mark.parametrize("key", ["../escape", "/etc/passwd", "games/../../x", "games//x", "games/./x", "", ".uploads/x",
                                 "games\\x"])
def test_it_refuses_keys_that_leave_the_store(local, key, tmp_path):
    with pytest.raises(ValueError):
        local.put_file(key, write(tmp_path / "f", b"x"))


def test_a_local_multipart_upload_joins_its_parts_in_order(local):
    key = "games/g/source"
    upload = local.start_upload(key, "video/mp4")
    path, expires, sig = signed(local.part_url(key, upload, 2))
    assert path == f"/uploads/local/{upload}/2" and local.verify(path, expires, sig)
    second, first = os.urandom(3 * MiB + 5), os.urandom(1000)
    assert local.write_part(upload, 2, io.BytesIO(second)) == hashlib.md5(second).hexdigest()
    assert [p.number for p in local.uploaded_parts(key, upload)] == [2]  # resume: only part 2 is here
    with pytest.raises(StoreError, match="part 1 is missing"):
        local.complete_upload(key, upload)
    local.write_part(upload, 1, io.BytesIO(b"replaced later"))
    local.write_part(upload, 1, io.BytesIO(first))
    assert local.uploaded_parts(key, upload) == [
        Part(1, hashlib.md5(first).hexdigest(), 1000), Part(2, hashlib.md5(second).hexdigest(), len(second))]
    local.complete_upload(key, upload)
    assert local.path(key).read_bytes() == first + second
    assert not (local.root / ".uploads" / upload).exists()


def test_a_local_upload_is_refused_for_an_unknown_id_or_another_key(local):
    upload = local.start_upload("games/g/source", "video/mp4")
    for bad_id in ("../../etc", "0" * 32):
        with pytest.raises(StoreError) as caught:
            local.write_part(bad_id, 1, io.BytesIO(b"x"))
        assert caught.value.code == "NoSuchUpload"
    with pytest.raises(StoreError):
        local.uploaded_parts("games/other/source", upload)
    with pytest.raises(ValueError):
        local.part_url("games/g/source", upload, 10_001)
    local.abort_upload("games/g/source", upload)
    with pytest.raises(StoreError):
        local.write_part(upload, 1, io.BytesIO(b"x"))


def test_the_local_store_downloads_reads_and_deletes(local, tmp_path):
    data = os.urandom(3 * MiB)
    local.put_file("games/g/source", write(tmp_path / "s", data))
    local.put_file("games/g/clips/rally-001.mp4", write(tmp_path / "c", b"c"))
    local.put_file("games/h/source", write(tmp_path / "h", b"h"))
    seen = []
    local.download("games/g/source", tmp_path / "work" / "source", lambda d, t: seen.append((d, t)))
    assert (tmp_path / "work" / "source").read_bytes() == data and seen[-1] == (len(data), len(data))
    assert local.read_head("games/g/source", 10) == data[:10]
    assert local.size("games/g/source") == len(data) and local.size("games/g/absent") is None
    upload = local.start_upload("games/g/upload", "video/mp4")
    assert local.delete_prefix("games/g/") == 2
    assert not (local.root / "games" / "g").exists() and local.size("games/h/source") == 1
    with pytest.raises(StoreError):
        local.uploaded_parts("games/g/upload", upload)
    with pytest.raises(StoreError):
        local.download("games/g/source", tmp_path / "work" / "source")
    assert (tmp_path / "work" / "source").read_bytes() == data


def test_a_local_url_expires(tmp_path):
    store = LocalStore(tmp_path, "k", expiry=1)
    path, expires, sig = signed(store.url("a/b"))
    assert int(expires) <= time.time() + 1
    assert store.verify(path, expires, sig)


@pytest.mark.parametrize("addressing", ["path", "virtual"])
@pytest.mark.parametrize("download", [None, "Final set-rally-001.mp4"])
@pytest.mark.parametrize("token", [None, "FwoGZXIvYXdzEXAMPLETOKEN"])
def test_our_presigned_urls_are_the_ones_boto_makes(addressing, download, token):
    """pusher/sigv4.py signs GET URLs itself (boto is 8x slower); it must sign exactly
    as boto does, for both addressing styles, a download name and session tokens."""
    import datetime
    from unittest import mock

    import boto3
    from botocore.config import Config

    from pusher import sigv4

    signed_at = 1796300000
    moment = datetime.datetime.fromtimestamp(signed_at, datetime.timezone.utc).replace(tzinfo=None)
    client = boto3.session.Session().client(
        "s3", endpoint_url="https://fra1.digitaloceanspaces.com", region_name="fra1",
        aws_access_key_id="DO00EXAMPLE", aws_secret_access_key="s3cr3t/with+chars", aws_session_token=token,
        config=Config(signature_version="s3v4", s3={"addressing_style": addressing}))
    key = "games/0f8f/clips/rally 001+x.mp4"
    params = {"Bucket": "volley", "Key": key}
    ours_params = {}
    if download:
        params["ResponseContentDisposition"] = ours_params["response-content-disposition"] = f'attachment; filename="{download}"'
    with mock.patch("botocore.auth.get_current_datetime", return_value=moment):
        theirs = client.generate_presigned_url("get_object", Params=params, ExpiresIn=21600)
    ours = sigv4.presign_get(
        "https://fra1.digitaloceanspaces.com", "fra1", "volley", key,
        sigv4.Credentials("DO00EXAMPLE", "s3cr3t/with+chars", token), 21600,
        signed_at=signed_at, virtual=addressing == "virtual", params=ours_params)
    # the same URL and the same signature; boto lists some parameters in another order
    from urllib.parse import parse_qs, urlsplit

    assert urlsplit(ours)._replace(query="") == urlsplit(theirs)._replace(query="")
    assert parse_qs(urlsplit(ours).query) == parse_qs(urlsplit(theirs).query)


def test_a_presigned_url_stays_the_same_within_its_window_so_browsers_cache_it(s3_server):
    from pusher import sigv4

    assert sigv4.window_start(21600, now=7200.0) == sigv4.window_start(21600, now=10799.0) == 7200
    assert sigv4.window_start(120, now=1000.0) == 990  # short expiries get short windows
