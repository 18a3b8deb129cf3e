"""Where a game stands, in the words and numbers its owner sees: stage names in plain
words, one progress bar weighted by how long each stage takes on this deployment, and
an estimate of the time left from how fast this game has gone so far."""

from __future__ import annotations

import time

from django.utils import timezone

from front.models import STAGES, Game, StageRun

#: What each stage does, as users say it; `Game.stage` keeps the internal names.
STAGE_WORDS = {
    "analysing": "Finding rallies",
    "cutting": "Cutting clips",
    "building": "Making reels",
    "publishing": "Publishing",
}
STATUS_WORDS = {
    Game.Status.UPLOADING: "Uploading",
    Game.Status.QUEUED: "Waiting to start",
    Game.Status.DONE: "Ready",
    Game.Status.FAILED: "Failed",
}
#: Shares of the whole run before this deployment has measured its own: analysis decodes
#: the whole game, the others only touch the rallies.
DEFAULT_SHARES = {"analysing": 0.70, "cutting": 0.10, "building": 0.15, "publishing": 0.05}
#: Recent successful runs that the measured shares are taken from, and how long they are
#: kept (the game list asks for every row: one query per minute, not per game).
SAMPLE_RUNS = 400
CACHE_SECONDS = 60.0
#: Below this much progress or time, a rate says nothing yet.
ETA_MIN_FRACTION = 0.03
ETA_MIN_SECONDS = 5.0

_cache: dict[str, object] = {"at": -CACHE_SECONDS, "shares": DEFAULT_SHARES}


def stage_words(game: Game) -> str:
    if game.status == Game.Status.PROCESSING:
        return STAGE_WORDS.get(game.stage, "Processing")
    return STATUS_WORDS.get(game.status, str(game.status))


def stage_shares() -> dict[str, float]:
    """Each stage's share of a game's processing time, measured on this deployment's
    recent runs when every stage has some, else DEFAULT_SHARES."""
    now = time.monotonic()
    if now - _cache["at"] >= CACHE_SECONDS:
        _cache["shares"] = _measured_shares() or DEFAULT_SHARES
        _cache["at"] = now
    return _cache["shares"]


def forget_shares() -> None:
    """Measure again at the next call (tests, and a deployment's changed database)."""
    _cache["at"] = -CACHE_SECONDS


def _measured_shares() -> dict[str, float] | None:
    runs = StageRun.objects.filter(outcome=StageRun.Outcome.OK, finished_at__isnull=False).order_by(
        "-finished_at").values_list("stage", "started_at", "finished_at")[:SAMPLE_RUNS]
    totals: dict[str, list[float]] = {stage: [] for stage in STAGES}
    for stage, started, finished in runs:
        if stage in totals:
            totals[stage].append(max((finished - started).total_seconds(), 0.0))
    if not all(totals.values()):
        return None
    means = {stage: sum(seconds) / len(seconds) for stage, seconds in totals.items()}
    whole = sum(means.values())
    return {stage: mean / whole for stage, mean in means.items()} if whole > 0 else None


def weighted_progress(game: Game) -> float:
    """0..1 across all stages, each stage counting for its share of the time."""
    if game.status == Game.Status.DONE:
        return 1.0
    if game.stage not in STAGES:
        return 0.0
    shares = stage_shares()
    done = sum(shares[s] for s in STAGES[:STAGES.index(game.stage)])
    return min(done + shares[game.stage] * min(max(game.progress, 0.0), 1.0), 1.0)


def eta_words(seconds: float | None) -> str:
    """An estimate as people say it (game.js's `etaWords` says the same while it polls)."""
    if seconds is None:
        return ""
    if seconds < 60:
        return "less than a minute left"
    minutes = round(seconds / 60)
    return f"about {minutes} min left" if minutes < 60 else f"about {minutes // 60} h {minutes % 60:02d} min left"


def eta_seconds(game: Game) -> float | None:
    """Seconds until a processing game is done, at the rate it has gone so far; None
    when it is not processing or too early to tell."""
    if game.status != Game.Status.PROCESSING or game.started_at is None:
        return None
    fraction = weighted_progress(game)
    elapsed = (timezone.now() - game.started_at).total_seconds()
    if fraction < ETA_MIN_FRACTION or elapsed < ETA_MIN_SECONDS:
        return None
    return round(elapsed * (1 - fraction) / fraction, 1)
