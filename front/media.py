"""The embedded mode's stand-in for S3: serves the local store's files (with HTTP
ranges, so players can seek) and takes upload parts, both on signed URLs the
local store hands out. In production the browser talks to S3/the CDN instead."""

from __future__ import annotations

import mimetypes
import re

from django.http import FileResponse, Http404, HttpResponse, HttpResponseForbidden, StreamingHttpResponse
from django.utils.http import content_disposition_header
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from pusher.store import LocalStore, StoreError, get_store

_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")
CHUNK = 1024 * 1024


def _local_store() -> LocalStore:
    store = get_store()
    if not isinstance(store, LocalStore):
        raise Http404("files are served by the object store")
    return store


def _signed(request, store: LocalStore) -> bool:
    return store.verify(request.path_info, request.GET.get("expires", ""), request.GET.get("sig", ""),
                        download_name=request.GET.get("dl") or None)


@require_http_methods(["GET", "HEAD"])
def media(request, key: str):
    store = _local_store()
    if not _signed(request, store):
        return HttpResponseForbidden("link expired or not signed")
    path = store.path(key)
    if not path.is_file():
        raise Http404("no such file")
    size = path.stat().st_size
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    match = _RANGE.match(request.headers.get("Range", ""))
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
    if request.GET.get("dl"):
        response["Content-Disposition"] = content_disposition_header(True, request.GET["dl"])
    return response


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
    store = _local_store()
    if not _signed(request, store):
        return HttpResponseForbidden("link expired or not signed")
    try:
        etag = store.write_part(upload_id, number, request)
    except StoreError as err:
        status = 413 if err.code == "EntityTooLarge" else 404
        return HttpResponse(str(err), status=status, content_type="text/plain")
    response = HttpResponse(status=200)
    response["ETag"] = etag
    return response
