"""The embedded mode's stand-in for S3: serves the local store's files (with HTTP
ranges, so players can seek) and takes upload parts, both on signed URLs the
local store hands out, or that a share page handed out (`front.sharing`: good only while
the share is live). In production the browser talks to S3/the CDN instead."""

from __future__ import annotations

import re
import unicodedata

from django.http import (FileResponse, Http404, HttpResponse, HttpResponseBadRequest, HttpResponseForbidden,
                         HttpResponseNotFound, StreamingHttpResponse)
from django.utils.http import content_disposition_header
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from front import sharing
from front.games import is_source_key
from front.models import Game
from front.uploads import declared_length, part_size
from pusher.base import check_key
from pusher.store import LocalStore, StoreError, get_store

#: What Volley makes and serves, by extension, and the only types it answers with: a
#: type guessed from any other name (an upload named evil.html) could run on our origin.
SERVED_TYPES = {".mp4": "video/mp4", ".jpg": "image/jpeg"}
#: One range of at most 19 digits a side: int() of thousands of digits is slow, then fails.
_RANGE = re.compile(r"bytes=(\d{0,19})-(\d{0,19})$")
#: A longer Range header is not a player seeking: it is refused, not parsed.
MAX_RANGE_HEADER = 200
CHUNK = 1024 * 1024


def _local_store() -> LocalStore:
    store = get_store()
    if not isinstance(store, LocalStore):
        raise Http404("files are served by the object store")
    return store


def _signed(request, store: LocalStore) -> bool:
    sig = request.GET.get("sig", "")
    # hmac.compare_digest raises on non-ASCII text (a 500): no signature of ours is.
    return sig.isascii() and store.verify(request.path_info, request.GET.get("expires", ""), sig,
                                          download_name=request.GET.get("dl") or None)


def _refusal(request, store: LocalStore, key: str) -> HttpResponse | None:
    """None when the URL may fetch `key`: signed for its owner by the store, or handed out
    by a share page that is still live (checked on every request: revoking cuts it off)."""
    if sharing.SHARE_PARAM not in request.GET:
        return None if _signed(request, store) else HttpResponseForbidden("link expired or not signed")
    status = sharing.check(request, key)
    if status == 404:
        return HttpResponseNotFound("this link is no longer shared", content_type="text/plain")
    return None if status == 200 else HttpResponseForbidden("link expired or not signed")


@require_http_methods(["GET", "HEAD"])
def media(request, key: str):
    store = _local_store()
    try:
        check_key(key)
    except ValueError:
        return HttpResponseBadRequest("bad file name", content_type="text/plain")
    refused = _refusal(request, store, key)
    if refused:
        return refused
    content_type = SERVED_TYPES.get(_suffix(key))
    # The uploaded source is never served, even on a validly signed URL.
    if content_type is None or is_source_key(key):
        raise Http404("no such file")
    path = store.path(key)
    if not path.is_file():
        raise Http404("no such file")
    response = _ranged(request, path, content_type)
    response["X-Content-Type-Options"] = "nosniff"
    if request.GET.get("dl") and response.status_code != 416:
        response["Content-Disposition"] = content_disposition_header(True, safe_download_name(request.GET["dl"], key))
    return response


def _ranged(request, path, content_type: str) -> HttpResponse:
    """The whole file, or the one byte range asked for (players seek with it)."""
    size = path.stat().st_size
    header = request.headers.get("Range", "")
    if len(header) > MAX_RANGE_HEADER:
        return HttpResponseBadRequest("Range header too long", content_type="text/plain")
    match = _RANGE.match(header)
    if not match or not (match.group(1) or match.group(2)):
        response = FileResponse(path.open("rb"), content_type=content_type)
    else:
        first, last = _span(match, size)
        if first >= size or first > last:
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
            return response
        response = StreamingHttpResponse(_read(path, first, last), status=206, content_type=content_type)
        response["Content-Range"] = f"bytes {first}-{last}/{size}"
        response["Content-Length"] = str(last - first + 1)
    response["Accept-Ranges"] = "bytes"
    return response


def _suffix(key: str) -> str:
    name = key.rpartition("/")[2]
    return name[name.rfind("."):].lower() if "." in name else ""


def safe_download_name(name: str, key: str) -> str:
    """A file name a browser saves as it is: no folders, no control or quoting characters,
    at most 120 characters, ending with the served file's extension."""
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rpartition("/")[2]
    name = "".join(c if c.isprintable() and c not in '"<>:|?*;' else "_" for c in name).strip(" .")[:120]
    suffix = _suffix(key)
    if not name.lower().endswith(suffix):
        name = f"{name or 'volley'}{suffix}"
    return name


def _span(match, size: int) -> tuple[int, int]:
    start, end = match.group(1), match.group(2)
    if not start:  # the last N bytes
        return max(size - int(end), 0), size - 1
    return int(start), min(int(end), size - 1) if end else size - 1


def _read(path, first: int, last: int):
    with path.open("rb") as f:
        f.seek(first)
        left = last - first + 1
        while left > 0:
            chunk = f.read(min(CHUNK, left))
            if not chunk:
                return
            left -= len(chunk)
            yield chunk


@csrf_exempt  # the signed URL is the credential, as with S3's presigned part URLs
@require_http_methods(["PUT"])
def upload_part(request, upload_id: str, number: int):
    """One part of a browser upload, held to the size its upload's declared total gives
    it: a longer Content-Length is refused unread (413), and a body without one (411),
    as S3 does."""
    store = _local_store()
    if not _signed(request, store):
        return HttpResponseForbidden("link expired or not signed")
    game = Game.objects.filter(upload_id=upload_id, status=Game.Status.UPLOADING).only("source_size").first()
    if game is None:
        return HttpResponse("no such upload (finished, cancelled or given up)", status=404, content_type="text/plain")
    size = part_size(game.source_size or 0, number)
    if not size:
        return HttpResponseBadRequest(f"this upload has no part {number}", content_type="text/plain")
    declared = declared_length(request)
    if declared is None:  # as S3 answers a part without one; Django would read it as empty
        return HttpResponse("send the part with a Content-Length header", status=411, content_type="text/plain")
    if declared > size:
        return _part_too_large(number, size)
    try:
        # Django reads a request's body up to its Content-Length and no further.
        etag = store.write_part(upload_id, number, request)
    except StoreError as err:
        status = 413 if err.code == "EntityTooLarge" else 404
        return HttpResponse(str(err), status=status, content_type="text/plain")
    response = HttpResponse(status=200)
    response["ETag"] = etag
    return response


def _part_too_large(number: int, size: int) -> HttpResponse:
    return HttpResponse(f"part {number} of this upload is {size} bytes; no more is taken",
                        status=413, content_type="text/plain")
