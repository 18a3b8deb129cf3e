"""What the service keeps in its database: games, their rallies, every stage run, share links.

The game's state lives here, not in Redis: a lost queue is rebuilt from these rows
(`front.recovery`), and a retried stage overwrites what it made before.
"""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

#: The pipeline, in order: the stage name users see → the package that does it.
STAGES = ("analysing", "cutting", "building", "publishing")


class Game(models.Model):
    class Status(models.TextChoices):
        UPLOADING = "uploading"  # the browser is still sending it
        QUEUED = "queued"  # waiting for a worker
        PROCESSING = "processing"  # a stage is running
        DONE = "done"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="games")
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.UPLOADING, db_index=True)
    #: The stage running or next to run (one of STAGES), "" before the first, "done" after the last.
    stage = models.CharField(max_length=12, blank=True, default="")
    progress = models.FloatField(default=0.0)  # 0..1 within `stage`
    error = models.TextField(blank=True, default="")
    attempt = models.PositiveIntegerField(default=0)  # tries of `stage` so far
    node = models.CharField(max_length=200, blank=True, default="")  # holds the game's work files

    source_key = models.CharField(max_length=300, blank=True, default="")
    source_size = models.BigIntegerField(null=True, blank=True)
    upload_id = models.CharField(max_length=300, blank=True, default="")  # open multipart upload
    video = models.JSONField(null=True, blank=True)  # duration, fps, width, height
    digest_key = models.CharField(max_length=300, blank=True, default="")
    best_key = models.CharField(max_length=300, blank=True, default="")
    #: Where the court lies in the picture: `volley.payloads.CourtView.to_dict()` (source
    #: pixels; "by": "engine" when analysis found it, "user" when the owner marked it), or
    #: None when none was found. A user's court is kept and re-used by later analyses.
    court = models.JSONField(null=True, blank=True)
    court_frame_key = models.CharField(max_length=300, blank=True, default="")  # a still to mark the court on

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)  # first stage began
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)  # the running stage is alive

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.id})"

    @property
    def prefix(self) -> str:
        """Where the game's files live in the object store."""
        return f"games/{self.id}/"

    @property
    def overall_progress(self) -> float:
        """0..1 across all stages, for one bar."""
        if self.status == self.Status.DONE:
            return 1.0
        if self.stage not in STAGES:
            return 0.0
        return (STAGES.index(self.stage) + min(max(self.progress, 0.0), 1.0)) / len(STAGES)


class Rally(models.Model):
    game = models.ForeignKey(Game, on_delete=models.CASCADE, related_name="rallies")
    index = models.PositiveIntegerField()
    start = models.FloatField()  # seconds on the source's timeline (serve contact)
    end = models.FloatField()  # the ball dead
    stats = models.JSONField(default=dict)
    score = models.FloatField(default=0.0)
    clip_key = models.CharField(max_length=300, blank=True, default="")
    poster_key = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        ordering = ["game", "index"]
        constraints = [models.UniqueConstraint(fields=["game", "index"], name="one_rally_per_index")]

    @property
    def name(self) -> str:
        return f"rally-{self.index:03d}"

    @property
    def duration(self) -> float:
        return self.end - self.start


class StageRun(models.Model):
    """One try of one stage of one game: who ran it, when, and how it ended."""

    class Outcome(models.TextChoices):
        RUNNING = "running"
        OK = "ok"
        FAILED = "failed"  # the game failed (bad input, or the last try)
        RETRY = "retry"  # an error; the stage is queued again
        LOST = "lost"  # the worker vanished (heartbeat stopped); run again

    game = models.ForeignKey(Game, on_delete=models.CASCADE, related_name="runs")
    stage = models.CharField(max_length=12)
    attempt = models.PositiveIntegerField()
    node = models.CharField(max_length=200, blank=True, default="")
    worker = models.CharField(max_length=200, blank=True, default="")
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=8, choices=Outcome.choices, default=Outcome.RUNNING)
    error = models.TextField(blank=True, default="")
    #: What the try measured (frames, video seconds, rallies, clips...): the stage
    #: function's return value, kept for the stage-run event and for operators.
    figures = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["started_at"]
        indexes = [models.Index(fields=["outcome", "finished_at"])]

    @property
    def seconds(self) -> float | None:
        return None if self.finished_at is None else (self.finished_at - self.started_at).total_seconds()


def next_attempt(game_id, stage: str) -> int:
    """Tries are numbered per game and stage across the whole life of the game, so a
    try's number (and its job id) is never reused, even after a restart from analysis
    or a re-analysis the owner asked for."""
    return StageRun.objects.filter(game_id=game_id, stage=stage).count() + 1


def new_token() -> str:
    return secrets.token_urlsafe(18)  # 144 random bits


class Share(models.Model):
    """A link that shows a game, or one of its rallies, to anyone who has it."""

    token = models.CharField(max_length=40, unique=True, default=new_token)
    game = models.ForeignKey(Game, on_delete=models.CASCADE, related_name="shares")
    rally_index = models.PositiveIntegerField(null=True, blank=True)  # None = the whole game
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]


class Counter(models.Model):
    """A count that expires (`front.limits`, the embedded mode only: production keeps
    these in Redis): games a user started today, failed log-ins per name and address,
    and the time a throttled client may try again. Expired rows are swept each minute."""

    key = models.CharField(max_length=200, unique=True)
    value = models.BigIntegerField(default=0)
    expires_at = models.DateTimeField(db_index=True)
