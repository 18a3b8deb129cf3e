"""The web pages: sign up, the game list with the upload box, a game's page, share pages,
and health checks. The pages' live parts (upload, progress) talk to the JSON API."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.db import connection
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from front import games as game_service
from front.links import absolute, store_url
from front.models import Game, Share
from front.timeline import timeline_svg


def home(request):
    return redirect("games" if request.user.is_authenticated else "login")


def signup(request):
    form = UserCreationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        login(request, form.save())
        return redirect("games")
    return render(request, "front/signup.html", {"form": form})


@login_required
def game_list(request):
    games = Game.objects.filter(owner=request.user).exclude(status=Game.Status.UPLOADING)[:200]
    rows = [{"game": g, "stage": game_service.stage_label(g), "percent": round(100 * g.overall_progress)} for g in games]
    return render(request, "front/games.html", {
        "rows": rows, "part_size": settings.UPLOAD_PART_BYTES, "max_upload": settings.MAX_UPLOAD_BYTES})


@login_required
def game_page(request, game_id):
    game = get_object_or_404(Game, id=game_id, owner=request.user)
    return render(request, "front/game.html", _game_context(request, game, editable=True))


@login_required
@require_POST
def delete_game(request, game_id):
    """Delete a game, its rallies, share links and files in the store."""
    game_service.delete_game(get_object_or_404(Game, id=game_id, owner=request.user))
    return redirect("games")


def share_page(request, token):
    share = Share.objects.filter(token=token, revoked_at__isnull=True).select_related("game").first()
    if share is None or share.game.status != Game.Status.DONE:
        raise Http404("no such link")
    context = _game_context(request, share.game, editable=False, only=share.rally_index)
    context["share"] = share
    return render(request, "front/game.html", context)


def _game_context(request, game: Game, editable: bool, only: int | None = None) -> dict:
    rallies = list(game.rallies.all())
    if only is not None:
        rallies = [r for r in rallies if r.index == only]
    items = [{
        "rally": r,
        "clip": store_url(request, r.clip_key),
        "download": store_url(request, r.clip_key, download_name=f"{game.name}-{r.name}.mp4"),
        "poster": store_url(request, r.poster_key),
    } for r in rallies]
    first = items[0] if items else None
    duration = (game.video or {}).get("duration") or 0
    return {
        "game": game,
        "editable": editable,
        "only": only,
        "stage": game_service.stage_label(game),
        "percent": round(100 * game.overall_progress),
        "items": items,
        "digest": store_url(request, game.digest_key),
        "digest_download": store_url(request, game.digest_key, download_name=f"{game.name}-digest.mp4"),
        "best": store_url(request, game.best_key),
        "best_download": store_url(request, game.best_key, download_name=f"{game.name}-best.mp4"),
        "timeline": timeline_svg(duration, rallies) if duration and only is None else "",
        "court_frame": store_url(request, game.court_frame_key) if editable else None,
        "og_image": first["poster"] if first else None,
        "og_video": first["clip"] if only is not None and first else store_url(request, game.digest_key),
        "page_url": absolute(request, request.path),
    }


def healthz(request):
    """Liveness: the process answers."""
    return JsonResponse({"ok": True})


def readyz(request):
    """Readiness: the database (and Redis, when configured) answer."""
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as err:  # report, do not raise: this is what the probe reads
        checks["database"] = f"error: {err}"
    if not settings.EMBEDDED:
        from front.queues import redis_connection

        try:
            redis_connection().ping()
            checks["redis"] = "ok"
        except Exception as err:
            checks["redis"] = f"error: {err}"
    ok = all(v == "ok" for v in checks.values())
    return JsonResponse({"ok": ok, **checks}, status=200 if ok else 503)
