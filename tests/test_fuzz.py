"""Issue 23's "No 500 on bad input": every endpoint of the API (the OpenAPI schema's list,
checked against the schema the service serves), the share page and the embedded store's
views, driven by hypothesis with hostile values: huge, negative and non-numeric integers,
deep JSON, long strings, unicode and lone surrogates, null bytes, wrong types, bad Range
and Content-Length headers, `..` keys. No answer may be a 5xx or carry a traceback.
Production parts (PostgreSQL, Redis, SeaweedFS) through Django's test client; the local
store's views with the local store, as the embedded mode serves them."""

from __future__ import annotations

import base64
import json
import re
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from front.models import Game, Share
from tests.test_api import done_game


def fuzz(examples: int):
    """Hypothesis settings for one test: its examples (together about a minute of requests
    on a two-core machine), no deadline (the database's pace varies), nothing kept on disk."""
    return settings(max_examples=examples, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large])


#: Every operation of the API, as /api/schema/ lists them ({id} and {token} are filled in).
OPERATIONS = [
    ("get", "/api/games/"), ("post", "/api/games/"), ("get", "/api/games/{id}/"), ("delete", "/api/games/{id}/"),
    ("put", "/api/games/{id}/court/"), ("delete", "/api/games/{id}/court/"), ("post", "/api/games/{id}/reanalyse/"),
    ("post", "/api/games/{id}/shares/"), ("get", "/api/games/{id}/media/"), ("get", "/api/schema/"),
    ("get", "/api/shares/{token}/"),
    ("delete", "/api/shares/{token}/"), ("post", "/api/uploads/"), ("get", "/api/uploads/{id}/"),
    ("delete", "/api/uploads/{id}/"), ("post", "/api/uploads/{id}/complete/"), ("post", "/api/uploads/{id}/parts/"),
]
#: The pages that take a value from the path.
PAGES = [("get", "/s/{token}/"), ("get", "/games/{id}/"), ("post", "/games/{id}/delete/")]
#: Field names the API reads, so hostile values reach its code, not only its parsers.
FIELDS = ["rally", "numbers", "corners", "beach", "name", "size", "head", "type", "video", "limit", "offset",
          "format", "lang", "camera_height_m", "by"]

huge_ints = st.sampled_from([2**63, -(2**63) - 1, 2**64, 10**30, -1, 0, 2**31]) | st.integers(-(2**70), 2**70)
hostile_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["..", "../..", "a/../b", "/", "\x00", "a\x00b", "\ud800", "%00", "%2e%2e", "NaN", "-1",
                     "9223372036854775808", "1e309", "0x10", " 1", "١٢٣", "☃", "\u202e", "' OR 1=1 --", "<script>",
                     "bytes=0-", "games/../../secret.key", "true", "null", "[]", "{}"]),
    st.integers(1, 5000).map(lambda n: "9" * n),  # a number of thousands of digits
    st.integers(1000, 100_000).map(lambda n: "x" * n),  # a long string
)
scalars = st.one_of(st.none(), st.booleans(), huge_ints, st.floats(allow_nan=True), hostile_text)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.sampled_from(FIELDS) | hostile_text, inner, max_size=4), max_leaves=12)
json_bodies = st.one_of(
    st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=5).map(json.dumps),
    json_values.map(json.dumps),
    st.integers(10, 100_000).map(lambda depth: "[" * depth + "]" * depth),
    st.integers(1, 5000).map(lambda n: '{"rally": ' + "9" * n + "}"),  # too long for int()
    st.sampled_from(['{"rally": NaN}', '{"size": Infinity}', "{", "\x00", '{"a": "\\ud800"}', "[" * 10]),
    st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
)
path_values = st.sampled_from(["GAME", "UPLOAD", "SHARE"]) | hostile_text
content_types = st.sampled_from(["application/json", "application/x-www-form-urlencoded", "text/plain",
                                 "multipart/form-data; boundary=x", "application/json; charset=ebcdic", ""])


#: Content-Length values a real server would get: no number, or one far past any limit
#: (refused unread). A number between the body's length and the limit is left out: the
#: test client cannot wait for bytes that never come, as a server would (and time out).
lengths = st.none() | st.sampled_from(["", "abc", "-1", "1e3", "0x10", "99999999999999999999", "9" * 5000,
                                       "SHORTER"])


def raw(text: str) -> bytes:
    """`text` as UTF-8, lone surrogates included: an attacker's bytes need not be valid."""
    return text.encode("utf-8", "surrogatepass")


def length_header(length: str | None, body: bytes) -> dict:
    if length is None:
        return {}
    return {"CONTENT_LENGTH": str(len(body) // 2) if length == "SHORTER" else length}


def no_failure(response) -> None:
    body = getattr(response, "content", b"") or b""
    assert response.status_code < 500, (response.status_code, body[:500])
    assert b"Traceback" not in body and b"most recent call last" not in body, body[:500]


class World:
    """The user's live game, open upload and share, made again when an example deleted them."""

    def __init__(self, user, client, video: bytes):
        self.user, self.client, self.video, self.head = user, client, video, video[:4096]

    def value(self, name: str) -> str:
        if name == "GAME":
            game = Game.objects.filter(owner=self.user, status=Game.Status.DONE).first() or done_game(self.user)
            return str(game.id)
        if name == "SHARE":
            game = Game.objects.get(id=self.value("GAME"))
            share = Share.objects.filter(game=game, revoked_at__isnull=True).first()
            return (share or Share.objects.create(game=game, created_by=self.user)).token
        if name == "UPLOAD":
            upload = Game.objects.filter(owner=self.user, status=Game.Status.UPLOADING).first()
            return str(upload.id) if upload else self._start_upload()
        return quote(raw(name), safe="")

    def _start_upload(self) -> str:
        body = {"name": "game.mp4", "size": 20 * 1024**2, "head": base64.b64encode(self.head).decode()}
        answer = self.client.post("/api/uploads/", body, format="json")
        return answer.json()["game"] if answer.status_code == 201 else "00000000-0000-0000-0000-000000000000"


@pytest.fixture
def world(api_user, still_video):
    user, client = api_user
    return World(user, client, still_video.read_bytes())


def fill(template: str, world: World, value: str) -> str:
    """The path with its one placeholder, if any, filled (a live object made only then)."""
    if "{" not in template:
        return template
    return re.sub(r"\{(id|token)\}", lambda _: world.value(value), template)


@fuzz(700)
@given(operation=st.sampled_from(OPERATIONS + PAGES), value=path_values, body=json_bodies,
       query=st.dictionaries(st.sampled_from(FIELDS) | hostile_text, hostile_text, max_size=3),
       content_type=content_types, anonymous=st.booleans())
def test_no_endpoint_answers_5xx_to_hostile_paths_queries_and_bodies(world, operation, value, body, query,
                                                                       content_type, anonymous):
    method, template = operation
    client = APIClient() if anonymous else world.client
    url = fill(template, world, value) + ("?" + urlencode({raw(k): raw(v) for k, v in query.items()}) if query else "")
    no_failure(client.generic(method.upper(), url, raw(body), content_type=content_type))


@fuzz(300)
@given(fields=st.dictionaries(st.sampled_from(FIELDS) | hostile_text, hostile_text, max_size=4),
       file_name=hostile_text, file_bytes=st.binary(max_size=64) | st.sampled_from([b"\x00\x00\x00\x18ftypmp42", b"REAL"]),
       length=lengths, authorization=st.none() | hostile_text)
def test_the_upload_endpoints_answer_no_5xx_to_hostile_forms_files_and_headers(world, fields, file_name, file_bytes,
                                                                             length, authorization):
    client, headers = world.client, {}
    if authorization is not None:
        client = APIClient()
        headers["HTTP_AUTHORIZATION"] = raw(authorization).decode("latin-1")
    # A real video now and then: hostile names then reach the database (until the day's quota).
    form, content_type = multipart(fields, file_name, world.video if file_bytes == b"REAL" else file_bytes)
    no_failure(client.generic("POST", "/api/games/", form, content_type=content_type, **headers,
                              **length_header(length, form)))
    forms = {printable(k): printable(v) for k, v in fields.items()}
    body = raw(json.dumps(forms))
    for url in ("/api/uploads/", f"/api/uploads/{world.value('UPLOAD')}/parts/"):
        no_failure(client.generic("POST", url, body, content_type="application/json",
                                  **headers, **length_header(length, body)))


def multipart(fields: dict, file_name: str, data: bytes) -> tuple[bytes, str]:
    """A multipart form as a browser or a script sends it, names and all as raw bytes (the
    test client's own encoder refuses names like `..` before they are sent)."""
    boundary = b"volleyfuzzboundary"
    parts = [b'Content-Disposition: form-data; name="' + raw(name) + b'"\r\n\r\n' + raw(value)
             for name, value in fields.items()]
    parts.append(b'Content-Disposition: form-data; name="video"; filename="' + raw(file_name) +
                 b'"\r\nContent-Type: video/mp4\r\n\r\n' + data)
    body = b"".join(b"--" + boundary + b"\r\n" + part + b"\r\n" for part in parts) + b"--" + boundary + b"--\r\n"
    return body, "multipart/form-data; boundary=" + boundary.decode()


def printable(text: str) -> str:
    """What a form field can carry: any text, lone surrogates as the browser sends them (U+FFFD)."""
    return raw(text).decode("utf-8", "replace")


# --- the embedded store's views: /media/ and upload parts ------------------------------------

@pytest.fixture
def local_store(world, tmp_path, monkeypatch, still_video):
    """The local store under tmp_path (as `volley serve` keeps it), with one clip and an open
    upload; the world's game points at that clip."""
    from pusher.store import get_store, reset_store

    monkeypatch.delenv("VOLLEY_S3_ENDPOINT")
    monkeypatch.setenv("VOLLEY_DATA_DIR", str(tmp_path / "data"))
    reset_store()
    store = get_store()
    game = Game.objects.get(id=world.value("GAME"))
    rally = game.rallies.first()
    store.put_file(rally.clip_key, still_video)
    upload = Game.objects.create(owner=world.user, name="up", status=Game.Status.UPLOADING,
                                 source_size=6 * 1024**2)
    upload.source_key = f"{upload.prefix}source.bin"
    upload.upload_id = store.start_upload(upload.source_key, "video/mp4")
    upload.save()
    yield store, rally.clip_key, upload
    reset_store()


ranges = st.one_of(st.none(), hostile_text, st.tuples(huge_ints, huge_ints).map(lambda p: f"bytes={p[0]}-{p[1]}"),
                   st.integers(0, 30).map(lambda n: "bytes=" + ",".join(["0-1"] * n)),
                   st.sampled_from(["bytes=-0", "bytes=-", "bytes=5-1", "bytes=0-0", "bytes=-99999999999"]))


@fuzz(600)
@given(key=st.sampled_from(["CLIP"]) | hostile_text, signing=st.sampled_from(["owner", "share", "forged"]),
       download_name=st.none() | hostile_text, range_header=ranges,
       query=st.dictionaries(st.sampled_from(["expires", "sig", "share", "dl"]), hostile_text, max_size=4))
def test_the_embedded_media_view_answers_no_5xx_to_hostile_keys_signatures_ranges_and_names(
        world, local_store, key, signing, download_name, range_header, query):
    from front.sharing import ShareSigner

    store, clip_key, _ = local_store
    name = None if download_name is None else printable(download_name)
    if key == "CLIP" and signing != "forged":
        signer = ShareSigner(Share.objects.get(token=world.value("SHARE"))) if signing == "share" else None
        url = signer.url(clip_key, name) if signer else store.url(clip_key, download_name=name)
    else:
        query = urlencode({raw(k): raw(v) for k, v in query.items()})
        url = f"/media/{quote(raw(clip_key if key == 'CLIP' else key), safe='/')}?{query}"
    headers = {} if range_header is None else {"HTTP_RANGE": raw(range_header).decode("latin-1")}
    response = APIClient().get(url, **headers)
    no_failure(response)
    if hasattr(response, "streaming_content"):
        b"".join(response.streaming_content)  # the body too: a range read past the end must not fail


@fuzz(300)
@given(number=st.integers(-5, 10_002) | st.sampled_from([2**63]), signed=st.booleans(), length=lengths,
       body=st.binary(max_size=2048))
def test_the_embedded_upload_part_view_answers_no_5xx_to_hostile_numbers_lengths_and_bodies(
        local_store, number, signed, length, body):
    store, _, upload = local_store
    if signed and 1 <= number <= 10_000:
        url = store.part_url(upload.source_key, upload.upload_id, number)
    else:
        url = f"/uploads/local/{upload.upload_id}/{number}?expires=9999999999&sig=00"
    no_failure(APIClient().generic("PUT", url, body, content_type="application/octet-stream",
                                   **length_header(length, body)))


def test_the_fuzzed_operations_are_every_operation_the_schema_lists(service):
    served = APIClient().get("/api/schema/?format=json").json()["paths"]
    listed = {(method, path) for path, operations in served.items() for method in operations}
    assert listed == set(OPERATIONS)
