"""Quotas and throttles (issue 23): what one user may have under way and stored, how many
games a day they may start, and how fast log-ins and API tokens may be guessed.

Two kinds of figure, kept where each is right:
- **Counts that must outlive a row or a process** (games started today, deleted ones
  included; failed log-ins per user name and client address; failed tokens per address;
  when a throttled client may try again) are `Counters`: Redis in production (one
  INCR, atomic across every web pod), a `Counter` row per key in the embedded mode.
- **Amounts the database already holds** (open uploads, the bytes they declare, the
  bytes of stored sources) are summed from the user's games, never counted on the
  side, so they cannot drift from the truth; the check and the new game's row share
  one transaction holding the user's row, so two starts at once cannot both slip under.

Answers: 429 with `Retry-After` for what passes by waiting (games per day, uploads or
bytes under way, log-in and token throttles), 403 for what waiting does not cure (the
bytes stored: delete games), 413 for one request too large (`front.uploads`).
"""

from __future__ import annotations

import hashlib
import math
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone as dt_timezone

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone
from rest_framework import status
from rest_framework.authentication import TokenAuthentication, get_authorization_header
from rest_framework.exceptions import APIException, AuthenticationFailed

#: Keys share Redis with RQ: a prefix of their own keeps them apart.
PREFIX = "volley:limit:"


class TooMany(APIException):
    """Over a rate or an amount that waiting cures: 429, with Retry-After when known."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "too_many"

    def __init__(self, detail: str, wait: float | None = None):
        super().__init__(detail)
        self.wait = math.ceil(wait) if wait else None  # DRF sends it as Retry-After


class QuotaExceeded(APIException):
    """Over an amount that waiting does not cure (the bytes stored): 403."""

    status_code = status.HTTP_403_FORBIDDEN
    default_code = "quota_exceeded"


# --- counters ------------------------------------------------------------------------------

class RedisCounters:
    """Production: counters in Redis, shared by every web pod."""

    def __init__(self, connection):
        self.redis = connection

    def add(self, key: str, seconds: float, amount: int = 1) -> int:
        """Add `amount` to `key`, which then expires `seconds` from now; the new count."""
        pipe = self.redis.pipeline()
        pipe.incrby(PREFIX + key, amount)
        pipe.pexpire(PREFIX + key, max(1, int(seconds * 1000)))
        return int(pipe.execute()[0])

    def hold(self, key: str, seconds: float) -> None:
        """`key` exists for `seconds` from now (a wait imposed on a client)."""
        self.redis.set(PREFIX + key, 1, px=max(1, int(seconds * 1000)))

    def left(self, key: str) -> float:
        """Seconds until `key` expires; 0 when it does not exist."""
        return max(0, self.redis.pttl(PREFIX + key)) / 1000

    def clear(self, *keys: str) -> None:
        self.redis.delete(*(PREFIX + k for k in keys))


class DatabaseCounters:
    """The embedded mode: a `Counter` row per key (no Redis there). SQLite's immediate
    transactions make each change atomic; an expired row counts as absent."""

    def add(self, key: str, seconds: float, amount: int = 1) -> int:
        from front.models import Counter

        now = timezone.now()
        with transaction.atomic():
            Counter.objects.get_or_create(key=key, defaults={"expires_at": now})
            row = Counter.objects.select_for_update().get(key=key)
            row.value = (row.value if row.expires_at > now else 0) + amount
            row.expires_at = now + timedelta(seconds=seconds)
            row.save(update_fields=["value", "expires_at"])
        return row.value

    def hold(self, key: str, seconds: float) -> None:
        from front.models import Counter

        Counter.objects.update_or_create(key=key, defaults={
            "value": 1, "expires_at": timezone.now() + timedelta(seconds=seconds)})

    def left(self, key: str) -> float:
        from front.models import Counter

        row = Counter.objects.filter(key=key, expires_at__gt=timezone.now()).first()
        return 0.0 if row is None else (row.expires_at - timezone.now()).total_seconds()

    def clear(self, *keys: str) -> None:
        from front.models import Counter

        Counter.objects.filter(key__in=keys).delete()


def counters() -> RedisCounters | DatabaseCounters:
    if settings.EMBEDDED:
        return DatabaseCounters()
    from front.queues import redis_connection

    return RedisCounters(redis_connection())


def forget_expired_counters() -> int:
    """Delete the embedded mode's expired counter rows (Redis expires its own keys)."""
    from front.models import Counter

    return Counter.objects.filter(expires_at__lte=timezone.now()).delete()[0]


# --- who is asking ---------------------------------------------------------------------------

def client_address(request) -> str:
    """The client's address: REMOTE_ADDR, or behind VOLLEY_FORWARDED_HOPS proxies that
    append to X-Forwarded-For, the entry that many from its right end (entries further
    left are the client's own to forge)."""
    hops = settings.FORWARDED_HOPS
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
    if hops and len(forwarded) >= hops:
        return forwarded[-hops][:100]
    return request.META.get("REMOTE_ADDR", "")[:100]


def _digest(*parts: str) -> str:
    """A key part that stores neither user names nor addresses in the clear."""
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


# --- log-in and token throttling ---------------------------------------------------------------

def _delay(failures: int, free: int) -> float:
    """The wait after `failures` in a row: none before the `free`-th, then doubling, capped."""
    beyond = failures - free
    if beyond < 0:
        return 0.0
    return float(min(settings.LOGIN_DELAY_SECONDS * 2 ** min(beyond, 30), settings.LOGIN_MAX_DELAY_SECONDS))


class Throttle:
    """Failures of one kind per subject (a user name and address, or an address): after
    the free ones, each failure makes the next try wait, the wait doubling up to a cap.
    A locked-out try is answered without being checked, so it neither counts nor tells
    a guesser anything; a success forgets the failures."""

    def __init__(self, kind: str, *subject: str, free: int | None = None):
        self.failures_key = f"{kind}:fail:{_digest(*subject)}"
        self.wait_key = f"{kind}:wait:{_digest(*subject)}"
        self.free = settings.LOGIN_FREE_FAILURES if free is None else free

    def wait(self) -> float:
        """Seconds before this subject may try again (0: now)."""
        return counters().left(self.wait_key)

    def failed(self) -> None:
        store = counters()
        failures = store.add(self.failures_key, settings.LOGIN_FORGET_SECONDS)
        delay = _delay(failures, self.free)
        if delay:
            store.hold(self.wait_key, delay)

    def succeeded(self) -> None:
        counters().clear(self.failures_key, self.wait_key)


def login_throttle(request, username: str) -> Throttle:
    """Per user name (case-folded, as people type it) and client address: a guesser
    elsewhere never locks the real user out of their own address, and the real user on
    another address, or after at most LOGIN_MAX_DELAY_SECONDS, gets in."""
    return Throttle("login", (username or "").strip().casefold(), client_address(request))


def token_throttle(request) -> Throttle:
    """Per client address: a token names no user, so guesses are counted where they come from."""
    return Throttle("token", client_address(request), free=settings.TOKEN_FREE_FAILURES)


def wait_words(seconds: float) -> str:
    seconds = math.ceil(seconds)
    return f"{seconds} s" if seconds < 120 else f"{math.ceil(seconds / 60)} minutes"


class ThrottledTokenAuthentication(TokenAuthentication):
    """DRF's token authentication, throttled per client address: past TOKEN_FREE_FAILURES
    wrong tokens, requests from that address carrying a token wait (429) before any
    token is looked at, so the throttle cannot be used to tell a right token from a wrong one."""

    def authenticate(self, request):
        words = get_authorization_header(request).split()
        if not words or words[0].lower() != self.keyword.lower().encode():
            return None
        throttle = token_throttle(request)
        wait = throttle.wait()
        if wait:
            raise TooMany(f"Too many wrong API tokens from your address; try again in {wait_words(wait)}.", wait)
        try:
            return super().authenticate(request)
        except AuthenticationFailed:
            throttle.failed()
            raise


# --- quotas ------------------------------------------------------------------------------------

def _size(size: int) -> str:
    return f"{size / 1024**3:.1f} GB" if size >= 1024**3 else f"{size / 1024**2:.0f} MB"


def _check_amounts(user, size: int) -> None:
    """Refuse a new game of `size` bytes that would take the user past their uploads under
    way, the bytes those declare, or the bytes stored."""
    from front.models import Game

    uploading = Q(status=Game.Status.UPLOADING)
    mine = Game.objects.filter(owner=user).aggregate(
        open=Count("id", filter=uploading), in_flight=Sum("source_size", filter=uploading, default=0),
        stored=Sum("source_size", default=0))
    if mine["open"] >= settings.MAX_OPEN_UPLOADS:
        raise TooMany(f"You have {mine['open']} uploads under way, the most at once; "
                      f"finish or cancel one first.")
    if mine["in_flight"] + size > settings.MAX_BYTES_IN_FLIGHT:
        raise TooMany(f"Your uploads under way already come to {_size(mine['in_flight'])}; with this one "
                      f"they would pass the {_size(settings.MAX_BYTES_IN_FLIGHT)} you may send at once. "
                      f"Finish or cancel one first.")
    if mine["stored"] + size > settings.MAX_BYTES_STORED:
        raise QuotaExceeded(f"Your games take {_size(mine['stored'])} of the {_size(settings.MAX_BYTES_STORED)} "
                            f"you may store; this one ({_size(size)}) does not fit. Delete games you no longer need.")


def _next_utc_midnight(now: datetime) -> datetime:
    day = now.astimezone(dt_timezone.utc).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, tzinfo=dt_timezone.utc)


def _count_game_today(user) -> str:
    """Count one more game started today (UTC) by `user`; 429 past MAX_GAMES_PER_DAY.
    Counted apart from the games, so deleting games does not give any back. Returns the key."""
    now = timezone.now()
    key = f"games:{user.pk}:{now.astimezone(dt_timezone.utc):%Y%m%d}"
    midnight = _next_utc_midnight(now)
    store = counters()
    started = store.add(key, (midnight - now).total_seconds() + 3600)
    if started > settings.MAX_GAMES_PER_DAY:
        store.add(key, (midnight - now).total_seconds() + 3600, -1)
        raise TooMany(f"You have started {settings.MAX_GAMES_PER_DAY} games today, the most a day; "
                      f"more can start after midnight UTC.", (midnight - now).total_seconds())
    return key


@contextmanager
def admitting(user, size: int):
    """Admit a new game of `size` bytes for `user`, or raise TooMany / QuotaExceeded. The
    block creates the game's row: it runs in the transaction that holds the user's row,
    so concurrent starts of one user are checked one after another. Should the block
    fail, today's count is given back."""
    from django.contrib.auth import get_user_model

    with transaction.atomic():
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        _check_amounts(user, size)
        key = _count_game_today(user)
        try:
            yield
        except BaseException:
            counters().add(key, 3600 * 25, -1)
            raise
