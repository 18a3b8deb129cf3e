"""Media URLs handed out by share pages (and `GET /api/shares/TOKEN/`): short-lived, so
that revoking a link cuts off the videos it opened.

- Embedded (the local store): the share's token is signed into each URL, and the
  `/media/` view checks on every request that the share is still live, so a revoked or
  deleted share's URLs stop at once.
- S3 without a CDN: presigned URLs, which nothing can revoke; they live at most
  `SHARE_URL_EXPIRY` seconds (and no longer than `VOLLEY_URL_EXPIRY`), and the open page
  re-signs them through the API until the link is revoked.
- S3 with a CDN: published objects are public, so their CDN URLs never expire; how long a
  revoked clip stays reachable is in docs/operations.md, and `revocation_words()` says no
  more than that to the owner.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import time
from urllib.parse import quote, urlencode

from django.conf import settings

from front.models import Game, Share
from pusher.store import LocalStore, get_store

#: The query parameter that names the share a `/media/` URL was handed out for.
SHARE_PARAM = "share"


def share_expiry() -> int:
    """Seconds a share's media URL signed now is good for, at most."""
    return min(settings.SHARE_URL_EXPIRY, get_store().expiry)


def lifetime(expiry: int | None = None) -> int:
    """Seconds a media URL signed now for `expiry` (by default a share's) stays valid, at
    least: S3 URLs are signed at the start of a window of up to a quarter of their expiry
    (`pusher.sigv4.window_start`)."""
    expiry = share_expiry() if expiry is None else expiry
    return expiry if isinstance(get_store(), LocalStore) else expiry - min(3600, expiry // 4)


def owner_lifetime() -> int:
    """Seconds a media URL signed now for the game's owner stays valid, at least."""
    return lifetime(get_store().expiry)


class ShareSigner:
    """Signs the media of one share; made once per page or API answer."""

    def __init__(self, share: Share):
        self.share = share
        self.expiry = share_expiry()
        store = get_store()
        self.local = isinstance(store, LocalStore)
        # The configured store with a shorter expiry: the same client and credentials,
        # so a share's presigned URL is signed exactly as the owner's, only shorter.
        self.store = store if self.local else _with_expiry(store, self.expiry)

    def url(self, key: str, download_name: str | None = None) -> str:
        if not self.local:
            return self.store.url(key, download_name=download_name)
        expires = int(time.time()) + self.expiry
        query = {"expires": expires, SHARE_PARAM: self.share.token,
                 "sig": _signature(key, expires, download_name, self.share.token)}
        if download_name:
            query["dl"] = download_name
        return f"/media/{quote(key)}?{urlencode(query)}"


def _with_expiry(store, expiry: int):
    shorter = copy.copy(store)
    shorter.expiry = expiry
    return shorter


def _signature(key: str, expires: int, download_name: str | None, token: str) -> str:
    # A key of its own: a share URL's signature is never valid as an owner's URL
    # (`LocalStore.verify`), nor the other way round.
    secret = hmac.new(settings.SECRET_KEY.encode(), b"volley share media urls", hashlib.sha256).digest()
    message = f"{key}\n{expires}\n{download_name or ''}\n{token}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def check(request, key: str) -> int:
    """The HTTP status a share-issued `/media/` URL earns: 200 when its signature holds,
    it has not expired and its share is live and shows this game; 403 for a bad or
    expired signature; 404 once the share is revoked or deleted (or its game is)."""
    token, expires, sig = (request.GET.get(SHARE_PARAM, ""), request.GET.get("expires", ""),
                           request.GET.get("sig", ""))
    if not (expires.isascii() and expires.isdigit() and len(expires) <= 12) or int(expires) < time.time():
        return 403
    expected = _signature(key, int(expires), request.GET.get("dl") or None, token)
    if not sig.isascii() or not hmac.compare_digest(expected, sig):  # compare_digest raises on non-ASCII
        return 403
    share = Share.objects.filter(token=token, revoked_at__isnull=True, game__status=Game.Status.DONE).only(
        "game_id").first()
    if share is None or not key.startswith(f"games/{share.game_id}/"):
        return 404
    return 200


def revocation_words() -> str:
    """What revoking a link does here, said no stronger than it is (docs/operations.md)."""
    store = get_store()
    if isinstance(store, LocalStore):
        return "Revoking a link stops it, and the videos it opened, at once."
    minutes = max(1, round(share_expiry() / 60))
    if getattr(store, "cdn_url", ""):
        return ("Revoking a link stops it and its page at once. Videos already opened from it stay "
                "reachable at their direct address until you delete the game (the CDN may serve "
                "copies it cached for a while after that).")
    return (f"Revoking a link stops it at once; the video addresses it already handed out stop "
            f"working within {minutes} minute{'s' if minutes != 1 else ''}.")
