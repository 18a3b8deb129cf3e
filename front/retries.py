"""Waiting before trying again: a database write that lost a lock race (retried at once,
a few times, with a short backoff), and a stage that failed (queued again after an
exponential, capped delay: `backoff_seconds`).

A lost lock race is not the stage's fault: SQLite answers "database is locked" when
its busy timeout runs out with another writer holding the lock, PostgreSQL aborts one
side of a deadlock or a serialization conflict. Dropping the job then would leave the
game `queued` or `processing` until recovery noticed, so the claim and the moves of a
game from stage to stage go through `on_lock_race`.
"""

from __future__ import annotations

import functools
import logging
import random
import time

from django.conf import settings
from django.db import OperationalError, connection

log = logging.getLogger("volley.stage")

#: How often a write that lost a lock race is tried in all, and the first and longest
#: wait between tries (seconds; each wait doubles, with jitter so two losers part).
LOCK_TRIES = 6
LOCK_WAIT = 0.1
LOCK_WAIT_MAX = 2.0
#: PostgreSQL's codes for "try the transaction again": serialization failure, deadlock,
#: lock not available.
PG_RETRY_CODES = {"40001", "40P01", "55P03"}


def is_lock_race(err: BaseException) -> bool:
    code = getattr(err.__cause__, "pgcode", None)
    if code in PG_RETRY_CODES:
        return True
    text = str(err).lower()
    return "database is locked" in text or "database table is locked" in text


def on_lock_race(fn):
    """Run `fn` again when it lost a lock race (at most LOCK_TRIES times in all). Only
    for functions that are whole transactions: inside an outer one, the outer one must
    be the one to start again, so the error goes up at once."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        for n in range(1, LOCK_TRIES + 1):
            try:
                return fn(*args, **kwargs)
            except OperationalError as err:
                if n == LOCK_TRIES or connection.in_atomic_block or not is_lock_race(err):
                    raise
                jitter = random.uniform(0.5, 1.0)  # not a secret  # nosec B311
                wait = min(LOCK_WAIT * 2 ** (n - 1), LOCK_WAIT_MAX) * jitter
                log.warning("%s lost a lock race (%s); try %d of %d in %.2f s", fn.__name__, err, n + 1,
                            LOCK_TRIES, wait)
                time.sleep(wait)
        raise AssertionError("not reached")

    return wrapper


def backoff_seconds(failures: int) -> float:
    """How long to wait before the next try of a stage that failed `failures` times
    in a row: RETRY_BASE_SECONDS, doubling with each failure, at most RETRY_MAX_SECONDS."""
    if failures <= 0:
        return 0.0
    return float(min(settings.RETRY_BASE_SECONDS * 2 ** (failures - 1), settings.RETRY_MAX_SECONDS))
