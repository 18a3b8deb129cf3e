"""Absolute URLs: of the store's objects (CDN, presigned, or the embedded media view;
short-lived ones for share pages, `front.sharing`) and of share links, from
`VOLLEY_BASE_URL` or else the request's own host."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from front import sharing
from front.models import Share
from front.sharing import ShareSigner
from pusher.store import get_store


def absolute(request, url: str) -> str:
    if url.startswith(("http://", "https://")):
        return url
    if settings.BASE_URL:
        return settings.BASE_URL + url
    return request.build_absolute_uri(url)


def store_url(request, key: str, download_name: str | None = None, signer: ShareSigner | None = None) -> str | None:
    """A URL that fetches `key` (None when there is no such file): the owner's, or with
    `signer` the short-lived kind a share page hands out (`front.sharing`)."""
    if not key:
        return None
    url = signer.url(key, download_name) if signer else get_store().url(key, download_name=download_name)
    return absolute(request, url)


def share_url(request, share: Share) -> str:
    return absolute(request, reverse("share", args=[share.token]))


def rally_media(request, game, rally, signer: ShareSigner | None = None) -> dict:
    return {
        "index": rally.index,
        "clip_url": store_url(request, rally.clip_key, signer=signer),
        "poster_url": store_url(request, rally.poster_key, signer=signer),
        "download_url": store_url(request, rally.clip_key, f"{game.name}-{rally.name}.mp4", signer),
    }


GAME_MEDIA = ("digest_url", "digest_download_url", "best_url", "best_download_url")


def game_media(request, game, signer: ShareSigner | None = None) -> dict:
    """The digest and the best reel, to play and to download."""
    return {
        "digest_url": store_url(request, game.digest_key, signer=signer),
        "digest_download_url": store_url(request, game.digest_key, f"{game.name}-digest.mp4", signer),
        "best_url": store_url(request, game.best_key, signer=signer),
        "best_download_url": store_url(request, game.best_key, f"{game.name}-best.mp4", signer),
    }


def owner_media(request, game) -> dict:
    """Everything the owner's game page shows, on freshly signed URLs: for a page left
    open longer than they last (`VOLLEY_URL_EXPIRY`)."""
    rallies = [rally_media(request, game, r) for r in game.rallies.all()]
    return {"expires_in": sharing.owner_lifetime(), "rallies": rallies, **game_media(request, game)}


def share_media(request, share: Share) -> dict:
    """Everything a share page shows, on freshly signed short-lived URLs: one rally, or
    the whole game."""
    game, signer = share.game, ShareSigner(share)
    rallies = game.rallies.all()
    if share.rally_index is not None:
        rallies = rallies.filter(index=share.rally_index)
        reels = dict.fromkeys(GAME_MEDIA)  # a rally's link shows no reels
    else:
        reels = game_media(request, game, signer)
    return {"expires_in": sharing.lifetime(), "rallies": [rally_media(request, game, r, signer) for r in rallies],
            **reels}
