"""Multipart uploads in the store that no game holds: a start whose game row was rolled
back, or a game row removed while the store was down. Nothing would ever complete or
abort them, and their parts cost storage; `abort_orphan_uploads` (run with the expiry of
unfinished uploads, `front.recovery.expire_uploads`) aborts those older than the expiry.

The store's interface lists a key's parts, not its open uploads, so this looks at each
store's own listing: S3's ListMultipartUploads, the local store's upload folders.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone as dt_timezone

from front.models import Game
from pusher.local import UPLOADS
from pusher.store import LocalStore, S3Store, StoreError, get_store

log = logging.getLogger("volley.recovery")


def abort_orphan_uploads(before: datetime) -> list[str]:
    """Abort uploads started before `before` that no game holds; their upload ids."""
    store = get_store()
    if isinstance(store, S3Store):
        uploads = _s3_uploads(store)
    elif isinstance(store, LocalStore):
        uploads = _local_uploads(store)
    else:
        return []
    aborted = []
    for key, upload_id, started in uploads:
        if started < before and not _held(upload_id):
            store.abort_upload(key, upload_id)
            aborted.append(upload_id)
    if aborted:
        log.info("aborted %d uploads in the store that no game held", len(aborted))
    return aborted


def _held(upload_id: str) -> bool:
    from front.api import COMPLETING

    return Game.objects.filter(upload_id__in=[upload_id, COMPLETING + upload_id]).exists()


def _s3_uploads(store: S3Store):
    try:
        pages = store.client.get_paginator("list_multipart_uploads").paginate(Bucket=store.bucket, Prefix="games/")
        for page in pages:
            for upload in page.get("Uploads", []):
                yield upload["Key"], upload["UploadId"], upload["Initiated"]
    except Exception as error:  # botocore's errors; the next round tries again
        raise StoreError("list_uploads", "games/", str(error)) from error


def _local_uploads(store: LocalStore):
    base = store.root / UPLOADS
    for folder in sorted(base.iterdir()) if base.is_dir() else []:
        meta = folder / "meta.json"
        try:
            key = json.loads(meta.read_text())["key"]
            started = datetime.fromtimestamp(meta.stat().st_mtime, dt_timezone.utc)
        except (OSError, ValueError, KeyError, TypeError):
            continue  # being written, or not an upload's folder
        yield key, folder.name, started
