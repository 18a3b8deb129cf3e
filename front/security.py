"""The Content-Security-Policy every response carries, and the warning `volley serve`
gives when it listens beyond this machine.

The pages load their scripts and styles from /static/ only (no inline script, style
attribute or event handler), so the policy needs no 'unsafe-inline' and no nonce. Media
come from this origin (the embedded store, `/media/`) or from the object store and its
CDN, whose origins are read from the store's settings; browser uploads PUT their parts
to the object store, so it is allowed as a `connect-src` too.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from urllib.parse import urlsplit

from django.conf import settings

LOOPBACK_NAMES = ("localhost", "ip6-localhost", "ip6-loopback")


class ContentSecurityPolicyMiddleware:
    """Adds the policy to every response that has none."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from pusher.store import get_store

        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", content_security_policy(get_store()))
        return response


@lru_cache(maxsize=4)
def content_security_policy(store) -> str:
    """The policy for pages whose media come from `store` (made once per store: the
    store is made once per process, and again when tests change its settings)."""
    sources = " ".join(["'self'", *store_origins(store)])
    directives = {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": sources,
        "media-src": sources,
        "connect-src": sources,
        "object-src": "'none'",
        "base-uri": "'none'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def store_origins(store) -> list[str]:
    """Origins that media and upload URLs point at besides this one: the S3 endpoint (and
    the bucket's own host with virtual addressing), the CDN, and VOLLEY_BASE_URL."""
    origins = [settings.BASE_URL, getattr(store, "cdn_url", "")]
    endpoint = getattr(store, "endpoint", "")
    if endpoint:
        parts = urlsplit(endpoint)
        origins.append(f"{parts.scheme}://{parts.netloc}")
        if getattr(store, "virtual", False):
            origins.append(f"{parts.scheme}://{store.bucket}.{parts.netloc}")
    return sorted({_origin(url) for url in origins if url})


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def is_loopback(host: str) -> bool:
    """True when `host` (a `--host` value) only listens on this machine."""
    name = host.strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def beyond_loopback_warning(host: str, port: int) -> str:
    return (
        f"WARNING: Volley is listening on {host}:{port}, beyond this machine: anyone who can reach "
        f"that port can use it, over plain HTTP (passwords and links unencrypted). Put it behind "
        f"a TLS proxy, and set VOLLEY_ALLOWED_HOSTS (now {', '.join(settings.ALLOWED_HOSTS)}) to the "
        f"names clients use (requests for any other host are refused) and VOLLEY_BASE_URL to its "
        f"public address."
    )
