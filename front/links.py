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
