"""Absolute URLs: of the store's objects (CDN, presigned, or the embedded media view)
and of share links, from `VOLLEY_BASE_URL` or else the request's own host."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from front.models import Share
from pusher.store import get_store


def absolute(request, url: str) -> str:
    if url.startswith(("http://", "https://")):
        return url
    if settings.BASE_URL:
        return settings.BASE_URL + url
    return request.build_absolute_uri(url)


def store_url(request, key: str, download_name: str | None = None) -> str | None:
    """A URL that fetches `key` (None when there is no such file)."""
    return absolute(request, get_store().url(key, download_name=download_name)) if key else None


def share_url(request, share: Share) -> str:
    return absolute(request, reverse("share", args=[share.token]))


def media_lifetime() -> int:
    """Seconds a media URL signed now stays valid, at least: S3 URLs are signed at the
    start of a window of up to a quarter of the expiry (`pusher.sigv4.window_start`)."""
    expiry = get_store().expiry
    return expiry - min(3600, expiry // 4)


def rally_media(request, game, rally) -> dict:
    return {
        "index": rally.index,
        "clip_url": store_url(request, rally.clip_key),
        "poster_url": store_url(request, rally.poster_key),
        "download_url": store_url(request, rally.clip_key, download_name=f"{game.name}-{rally.name}.mp4"),
    }


GAME_MEDIA = ("digest_url", "digest_download_url", "best_url", "best_download_url")


def game_media(request, game) -> dict:
    """The digest and the best reel, to play and to download."""
    return {
        "digest_url": store_url(request, game.digest_key),
        "digest_download_url": store_url(request, game.digest_key, download_name=f"{game.name}-digest.mp4"),
        "best_url": store_url(request, game.best_key),
        "best_download_url": store_url(request, game.best_key, download_name=f"{game.name}-best.mp4"),
    }


def share_media(request, share: Share) -> dict:
    """Everything a share page shows, on freshly signed URLs: one rally, or the whole game."""
    game = share.game
    rallies = game.rallies.all()
    if share.rally_index is not None:
        rallies = rallies.filter(index=share.rally_index)
        reels = dict.fromkeys(GAME_MEDIA)  # a rally's link shows no reels
    else:
        reels = game_media(request, game)
    return {"expires_in": media_lifetime(), "rallies": [rally_media(request, game, r) for r in rallies], **reels}
