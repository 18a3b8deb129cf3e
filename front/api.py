"""The JSON API (Django REST Framework): games, their rallies and videos, share links,
and the browser's multipart upload. Authenticated by `Authorization: Token <token>`
(or the page's session). Another user's game answers 404, never 403, so ids leak nothing.
The schema is at /api/schema/.
"""

from __future__ import annotations

import base64
import binascii
import tempfile
from pathlib import Path

from django.conf import settings
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from front import games as game_service
from front import limits
from front import progress as game_progress
from front.bounds import BoundedJSONParser
from front.exceptions import UploadRejected
from front.links import absolute, owner_media, share_media, share_url, store_url
from front.models import Game, Rally, Share
from front.sniff import not_video_reason
from front.uploads import (PayloadTooLarge, part_count, part_size, refuse_long_body, room_or_507, too_large_detail,
                           was_too_large, wrong_part_sizes)
from pusher.store import StoreError, get_store
from volley.exceptions import BadInput


#: Game and upload ids in paths: the router matches with regular expressions, not the
#: `uuid` converter, and an id that is no UUID reached the database lookup (a 500).
UUID_PATH = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


class Conflict(APIException):
    status_code = 409
    default_detail = "The game is not in a state that allows this."


class CourtSerializer(serializers.Serializer):
    """Where the court lies in the source picture (`volley.payloads.CourtView`)."""

    corners = serializers.ListField(
        child=serializers.ListField(child=serializers.FloatField(), min_length=2, max_length=2),
        help_text="the four outer corners in source pixels (the video's width × height): "
                  "near-left, near-right, far-right, far-left")
    camera_height_m = serializers.FloatField(allow_null=True, help_text="the camera's height above the floor")
    beach = serializers.BooleanField(help_text="a beach court (8 × 16 m) rather than indoor (9 × 18 m)")
    by = serializers.ChoiceField(["engine", "user"], help_text="found in the picture, or marked by the owner")


class CourtMark(serializers.Serializer):
    """The court's four outer corners as the owner marked them, in any order."""

    corners = serializers.ListField(
        child=serializers.ListField(child=serializers.FloatField(), min_length=2, max_length=2),
        max_length=16, help_text="[[x, y], ...] in source pixels: four points, the court's outer corners")
    beach = serializers.BooleanField(default=False)


class RallySerializer(serializers.ModelSerializer):
    duration = serializers.SerializerMethodField()
    clip_url = serializers.SerializerMethodField()
    poster_url = serializers.SerializerMethodField()

    class Meta:
        model = Rally
        fields = ["index", "start", "end", "duration", "clip_url", "poster_url", "stats", "score"]

    def get_duration(self, rally: Rally) -> float:
        """Seconds from serve to dead ball."""
        return round(rally.duration, 3)

    def get_clip_url(self, rally: Rally) -> str | None:
        return store_url(self.context["request"], rally.clip_key)

    def get_poster_url(self, rally: Rally) -> str | None:
        return store_url(self.context["request"], rally.poster_key)


class GameListSerializer(serializers.ModelSerializer):
    stage = serializers.SerializerMethodField()
    stage_words = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()
    eta = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    class Meta:
        model = Game
        fields = ["id", "name", "status", "stage", "stage_words", "progress", "eta", "error", "created_at",
                  "finished_at", "url"]

    def get_stage(self, game: Game) -> str:
        return game_service.stage_label(game)

    def get_stage_words(self, game: Game) -> str:
        """Where the game stands, as its owner reads it ("Finding rallies", "Ready")."""
        return game_progress.stage_words(game)

    def get_progress(self, game: Game) -> float:
        """Percent of the whole pipeline done, each stage weighted by its usual share of the time."""
        return round(100 * game_progress.weighted_progress(game), 1)

    def get_eta(self, game: Game) -> float | None:
        """Estimated seconds until a processing game is done (null when unknown)."""
        return game_progress.eta_seconds(game)

    def get_url(self, game: Game) -> str:
        return absolute(self.context["request"], f"/api/games/{game.id}/")


class GameSerializer(GameListSerializer):
    rallies = RallySerializer(many=True, read_only=True)
    stage_progress = serializers.SerializerMethodField()
    digest_url = serializers.SerializerMethodField()
    best_url = serializers.SerializerMethodField()
    starts_in = serializers.SerializerMethodField()
    court = CourtSerializer(read_only=True, allow_null=True)
    court_frame_url = serializers.SerializerMethodField()

    class Meta(GameListSerializer.Meta):
        fields = GameListSerializer.Meta.fields + [
            "stage_progress", "starts_in", "video", "rallies", "digest_url", "best_url", "court", "court_frame_url"]

    def get_stage_progress(self, game: Game) -> float:
        """Percent of the current stage done."""
        return round(100 * game.progress, 1) if game.status == Game.Status.PROCESSING else 0.0

    def get_starts_in(self, game: Game) -> float | None:
        """Estimated seconds until a queued game starts (null when not queued or unknown)."""
        return game_service.start_estimate(game)

    def get_digest_url(self, game: Game) -> str | None:
        return store_url(self.context["request"], game.digest_key)

    def get_best_url(self, game: Game) -> str | None:
        return store_url(self.context["request"], game.best_key)

    def get_court_frame_url(self, game: Game) -> str | None:
        """A still of the whole source picture, scaled down, to mark the court on: a
        point at (fx, fy) of its width and height is (fx × video.width, fy × video.height)
        in source pixels."""
        return store_url(self.context["request"], game.court_frame_key)


class ShareSerializer(serializers.Serializer):
    rally = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=100_000,
                                     help_text="share one rally")


class ShareMedia(serializers.Serializer):
    """Freshly signed URLs of what a share link shows."""

    expires_in = serializers.IntegerField(help_text="seconds the URLs stay valid, at least: fetch them again "
                                                    "before then (CDN URLs of published files do not expire)")
    rallies = serializers.ListField(child=serializers.DictField(), help_text="index, clip_url, poster_url, download_url")
    digest_url = serializers.URLField(allow_null=True)
    digest_download_url = serializers.URLField(allow_null=True)
    best_url = serializers.URLField(allow_null=True)
    best_download_url = serializers.URLField(allow_null=True)


class GameViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Your games. `POST` takes a video in the multipart field `video` (files up to
    VOLLEY_MAX_DIRECT_UPLOAD_BYTES; browsers upload bigger ones through /api/uploads/)."""

    parser_classes = [MultiPartParser, BoundedJSONParser]
    queryset = Game.objects.none()  # typed for the schema; get_queryset picks the user's
    lookup_value_converter = "uuid"
    lookup_value_regex = UUID_PATH

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return Game.objects.none()
        games = Game.objects.filter(owner=self.request.user)
        if self.action == "retrieve":
            games = games.prefetch_related("rallies")
        return games

    def get_serializer_class(self):
        return GameListSerializer if self.action == "list" else GameSerializer

    def initial(self, request, *args, **kwargs):
        # Before authentication, which may read a form body (the session's CSRF check):
        # a body too long to be taken is refused before a byte of it is read.
        if self.action == "create":
            refuse_long_body(request)
        super().initial(request, *args, **kwargs)

    @extend_schema(
        request={"multipart/form-data": inline_serializer("GameUpload", {
            "video": serializers.FileField(), "name": serializers.CharField(required=False)})},
        responses={201: GameSerializer},
    )
    def create(self, request):
        video = request.FILES.get("video")
        if was_too_large(request) or (video is not None and video.size > settings.MAX_DIRECT_UPLOAD_BYTES):
            raise PayloadTooLarge(too_large_detail())  # its file was cut off at the limit
        if video is None:
            raise ValidationError({"video": "send the game as the multipart field `video`"})
        name = game_name(request.data.get("name") or Path(video.name).stem)
        try:
            with room_or_507():
                game = _create_from_file(request.user, name, video)
        except BadInput as err:
            raise ValidationError({"video": str(err)}) from None
        return Response(GameSerializer(game, context={"request": request}).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, game: Game) -> None:
        game_service.delete_game(game)

    @extend_schema(request=ShareSerializer, responses={201: inline_serializer("ShareCreated", {
        "token": serializers.CharField(), "url": serializers.URLField()})})
    @action(detail=True, methods=["post"])
    def shares(self, request, pk=None):
        game = self.get_object()
        body = ShareSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        rally = body.validated_data.get("rally")
        if rally is not None and not game.rallies.filter(index=rally).exists():
            raise ValidationError({"rally": f"game has no rally {rally}"})
        # One live link per game or rally: sharing again hands out the same link (200),
        # so a second tap does not leave a trail of identical links to revoke.
        share = Share.objects.filter(game=game, rally_index=rally, revoked_at__isnull=True).first()
        made = share is None
        if made:
            share = Share.objects.create(game=game, rally_index=rally, created_by=request.user)
        return Response({"token": share.token, "url": share_url(request, share), "created": made},
                        status=status.HTTP_201_CREATED if made else status.HTTP_200_OK)

    @extend_schema(responses={200: ShareMedia})
    @action(detail=True, methods=["get"])
    def media(self, request, pk=None):
        """The game's clips, posters and reels on freshly signed URLs (VOLLEY_URL_EXPIRY),
        for the owner's page left open longer than they last."""
        return Response(owner_media(request, self.get_object()))

    @extend_schema(methods=["PUT"], request=CourtMark, responses={200: CourtSerializer})
    @extend_schema(methods=["DELETE"], request=None, responses={204: None})
    @action(detail=True, methods=["put", "delete"])
    def court(self, request, pk=None):
        """`PUT` the court's four outer corners as you see them (source pixels): they are
        checked against a camera that could see them, stored, and used by the next
        analysis (`reanalyse`). `DELETE` forgets them: the next analysis looks itself."""
        game = self.get_object()
        if request.method == "DELETE":
            game_service.forget_court(game)
            return Response(status=status.HTTP_204_NO_CONTENT)
        body = CourtMark(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            court = game_service.mark_court(game, body.validated_data["corners"], body.validated_data["beach"])
        except BadInput as err:
            raise ValidationError({"corners": [str(err)]}) from None
        return Response(court)

    @extend_schema(request=None, responses={202: GameSerializer})
    @action(detail=True, methods=["post"])
    def reanalyse(self, request, pk=None):
        """Process a done or failed game again from its source, with the court you marked."""
        game = self.get_object()
        if game.status not in (Game.Status.DONE, Game.Status.FAILED):
            raise Conflict(f"the game is {game_service.stage_label(game)}; re-analyse it once it is done")
        if not game.source_key or get_store().size(game.source_key) is None:
            raise Conflict("the game's video is no longer stored; upload it again")
        if not game_service.analyse_again(game):
            raise Conflict("the game was queued again already")
        return Response(GameSerializer(game, context={"request": request}).data, status=status.HTTP_202_ACCEPTED)


def game_name(text: str) -> str:
    """A game's name from what a client sent: printable characters only (PostgreSQL refuses
    NUL bytes, UTF-8 has no lone surrogates: both were 500s), at most 200, else "game"."""
    return "".join(c for c in text if c.isprintable()).strip()[:200] or "game"


def _create_from_file(user, name: str, video) -> Game:
    """Check the file, admit it under the user's quotas, put it in the store and queue it
    (one request, small files)."""
    from vproc.probe import probe

    game_service.check_size(video.size, settings.MAX_DIRECT_UPLOAD_BYTES)
    video.seek(0)
    game_service.check_head(video.read(4096))
    with tempfile.TemporaryDirectory(prefix="volley-upload-", dir=settings.FILE_UPLOAD_TEMP_DIR) as scratch:
        path = _on_disk(video, Path(scratch))
        probe(path)  # raises BadInput naming what is wrong
        with limits.admitting(user, video.size):
            game = game_service.new_game(user, name, video.size, video.name)
        # Outside the quota's transaction: storing a large file must not hold the lock.
        game_service.store_and_queue(game, path, video.content_type or "video/mp4")
        return game


def _on_disk(video, scratch: Path) -> Path:
    path = getattr(video, "temporary_file_path", None)
    if path:
        return Path(path())
    target = scratch / "upload"
    with target.open("wb") as out:
        for chunk in video.chunks():
            out.write(chunk)
    return target


class ShareView(APIView):
    def get_permissions(self):
        # Reading a share is what the link is for: whoever has the token may.
        return [AllowAny()] if self.request.method == "GET" else super().get_permissions()

    @extend_schema(responses={200: ShareMedia})
    def get(self, request, token: str):
        """The shared game's or rally's media on freshly signed, short-lived URLs
        (VOLLEY_SHARE_URL_EXPIRY), for a share page left open longer than they last;
        404 once the link is revoked."""
        share = get_object_or_404(Share.objects.select_related("game"), token=token, revoked_at__isnull=True,
                                  game__status=Game.Status.DONE)
        return Response(share_media(request, share))

    @extend_schema(responses={204: None})
    def delete(self, request, token: str):
        """Revoke a share link: the link, its page and this API answer 404 from now on.
        The media URLs it already handed out stop at once in the embedded mode; presigned
        S3 URLs run out within VOLLEY_SHARE_URL_EXPIRY; with a CDN, files already opened
        stay reachable at their CDN address until the game is deleted (docs/operations.md,
        "Revoking a share")."""
        share = get_object_or_404(Share, token=token, game__owner=request.user, revoked_at__isnull=True)
        share.revoked_at = timezone.now()
        share.save(update_fields=["revoked_at"])
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- browser uploads: multipart straight to the store -----------------------------------

#: While one request completes an upload, its id carries this mark, so a second
#: "complete" at the same time finds it taken instead of completing twice.
COMPLETING = "completing:"


def _claim_completion(game: Game) -> str:
    """Mark the upload as being completed (one atomic update: exactly one request wins)
    and return its id; 409 for the others."""
    upload_id = game.upload_id
    claimed = Game.objects.filter(id=game.id, status=Game.Status.UPLOADING, upload_id=upload_id).update(
        upload_id=COMPLETING + upload_id)
    if not claimed:
        raise Conflict("the upload is being completed")
    return upload_id


class UploadStart(serializers.Serializer):
    name = serializers.CharField(max_length=300)
    size = serializers.IntegerField(min_value=1, max_value=2**62)  # over the limit: 413; over this: 400
    type = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)
    head = serializers.CharField(max_length=65536,
                                 help_text="base64 of the file's first bytes (≥ 64), to refuse non-videos at once")


class UploadPartSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    size = serializers.IntegerField()


class UploadStateSerializer(serializers.Serializer):
    game = serializers.UUIDField()
    name = serializers.CharField()
    size = serializers.IntegerField()
    part_size = serializers.IntegerField()
    part_count = serializers.IntegerField()
    uploaded = UploadPartSerializer(many=True, help_text="parts the store holds already")


class UploadViewSet(viewsets.GenericViewSet):
    """The browser's upload: start (the server checks size and the first bytes), ask for
    presigned part URLs, PUT the parts straight to the store, complete. `GET` lists the
    parts the store already holds, so a reloaded page resumes where it stopped."""

    serializer_class = UploadStateSerializer
    queryset = Game.objects.none()  # typed for the schema; uploads are looked up by owner
    lookup_value_converter = "uuid"
    lookup_value_regex = UUID_PATH

    def _game(self, request, pk) -> Game:
        """The user's open upload; 409 while another request completes it."""
        game = get_object_or_404(Game, id=pk, owner=request.user, status=Game.Status.UPLOADING)
        if game.upload_id.startswith(COMPLETING):
            raise Conflict("the upload is being completed")
        return game

    @extend_schema(request=UploadStart, responses={201: UploadStateSerializer})
    def create(self, request):
        body = UploadStart(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            head = base64.b64decode(data["head"], validate=True)
            game_service.check_size(data["size"], settings.MAX_UPLOAD_BYTES)
            game_service.check_head(head)
        except (binascii.Error, ValueError):
            raise ValidationError({"head": "must be base64"}) from None
        except UploadRejected as err:
            if data["size"] > settings.MAX_UPLOAD_BYTES:
                raise PayloadTooLarge(str(err)) from None
            raise ValidationError({"file": str(err)}) from None
        with limits.admitting(request.user, data["size"]):
            game = Game.objects.create(owner=request.user, name=Path(data["name"]).stem[:200] or "game",
                                       source_size=data["size"])
            game.source_key = game_service.source_key(game, data["name"])
            game.upload_id = get_store().start_upload(game.source_key, game_service.source_type(data["type"] or "video/mp4"))
            game.save(update_fields=["source_key", "upload_id"])
        return Response(self._state(game), status=status.HTTP_201_CREATED)

    def retrieve(self, request, pk=None):
        return Response(self._state(self._game(request, pk)))

    @extend_schema(
        request=inline_serializer("PartNumbers", {"numbers": serializers.ListField(child=serializers.IntegerField())}),
        responses=inline_serializer("PartUrls", {"urls": serializers.DictField(
            child=serializers.URLField(), help_text="part number → presigned PUT URL")}))
    @action(detail=True, methods=["post"])
    def parts(self, request, pk=None):
        game = self._game(request, pk)
        count = self._count(game)
        # A JSON body may be any value (null, a list): only an object has numbers.
        numbers = (request.data.get("numbers") if isinstance(request.data, dict) else None) or []
        if not isinstance(numbers, list) or len(numbers) > count or not all(
                isinstance(n, int) and 1 <= n <= count for n in numbers):
            raise ValidationError({"numbers": f"part numbers between 1 and {count}"})
        store = get_store()
        return Response({"urls": {str(n): absolute(request, store.part_url(
            game.source_key, game.upload_id, n, size=part_size(game.source_size, n))) for n in numbers}})

    @extend_schema(request=None, responses=GameSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        """Join the parts into the game's video and queue it. Only one request completes an
        upload: a second one at the same time (a double click, a retry) answers 409."""
        game = self._game(request, pk)
        upload_id = _claim_completion(game)
        store = get_store()
        try:
            parts = store.uploaded_parts(game.source_key, upload_id)
            if len(parts) != self._count(game) or sum(p.size for p in parts) != game.source_size:
                wrong = wrong_part_sizes(game.source_size, parts)
                raise ValidationError({"parts": "; ".join(wrong) if wrong else
                                       f"{len(parts)} of {self._count(game)} parts are in; send the rest"})
            store.complete_upload(game.source_key, upload_id)
        except (ValidationError, StoreError) as err:
            # Not completed: the upload stays open, for the missing parts or another try.
            Game.objects.filter(id=game.id, upload_id=COMPLETING + upload_id).update(upload_id=upload_id)
            if isinstance(err, StoreError):
                raise ValidationError({"parts": f"the upload could not be completed: {err}"}) from None
            raise
        reason = not_video_reason(store.read_head(game.source_key, 4096))
        if reason:
            store.delete_prefix(game.prefix)
            game_service.reject(game, reason)
        else:
            game_service.queue_game(game)
        return Response(GameSerializer(game, context={"request": request}).data)

    @extend_schema(responses={204: None})
    def destroy(self, request, pk=None):
        # Not `_game`: an upload whose completion died half-way must still be deletable.
        game_service.delete_game(get_object_or_404(Game, id=pk, owner=request.user, status=Game.Status.UPLOADING))
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _count(self, game: Game) -> int:
        return part_count(game.source_size)

    def _state(self, game: Game) -> dict:
        try:
            parts = get_store().uploaded_parts(game.source_key, game.upload_id)
        except StoreError as err:  # completed or given up meanwhile
            raise Conflict(f"the upload is no longer open: {err}") from None
        return {"game": str(game.id), "name": game.name, "size": game.source_size,
                "part_size": settings.UPLOAD_PART_BYTES, "part_count": self._count(game),
                "uploaded": [{"number": p.number, "size": p.size} for p in parts]}
