"""The object store behind one interface (`Store`), and `get_store()`, the one this
process is configured for: an `S3Store` when `VOLLEY_S3_ENDPOINT` is set, else a
`LocalStore` under `VOLLEY_DATA_DIR/store` (embedded mode).

Keys look like `games/<uuid>/clips/rally-001.mp4`. Every failure underneath is a
`StoreError` naming the operation and the key.
"""

from __future__ import annotations

from functools import lru_cache

from pusher import config
from pusher.base import Part, Store
from pusher.exceptions import StoreError
from pusher.local import LocalStore
from pusher.s3 import S3Store

__all__ = ["Part", "Store", "StoreError", "LocalStore", "S3Store", "get_store", "reset_store"]


@lru_cache(maxsize=1)
def get_store() -> Store:
    """The configured store, made once per process (boto clients are costly to make and
    thread-safe to share). Tests that change settings call `reset_store()`."""
    settings = config.load()
    if not settings.endpoint:
        return LocalStore(settings.local_root, settings.secret, expiry=settings.url_expiry)
    return S3Store(
        settings.endpoint, settings.bucket, region=settings.region, access_key=settings.access_key,
        secret_key=settings.secret_key, checksum=settings.checksum, addressing=settings.addressing,
        cdn_url=settings.cdn_url, expiry=settings.url_expiry,
    )


def reset_store() -> None:
    get_store.cache_clear()

