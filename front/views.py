"""The web pages: sign up, the game list with the upload box, a game's page, share pages,
and health checks. The pages' live parts (upload, progress) talk to the JSON API."""

from __future__ import annotations

import math

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.views import LoginView
from django.db import connection
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from front import games as game_service
from front import progress, sharing
from front.limits import login_throttle, wait_words
from front.links import absolute, game_media, rally_media, store_url
from front.models import Game, Share
from front.timeline import clock, duration_words, timeline_svg
from pusher.store import StoreError, get_store


def home(request):
    return redirect("games" if request.user.is_authenticated else "login")


class ThrottledLoginView(LoginView):
    """Django's log-in page, throttled per user name and client address
    (`front.limits.login_throttle`): past the free failures a try waits, answered 429
    without the password being checked, so 40 guesses in a row no longer end in a log-in."""

    template_name = "front/login.html"

    def post(self, request, *args, **kwargs):
        self.throttle = login_throttle(request, request.POST.get("username", ""))
        wait = self.throttle.wait()
        if wait:
            return self._wait(wait)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        self.throttle.succeeded()
        return super().form_valid(form)

    def form_invalid(self, form):
        self.throttle.failed()
        return super().form_invalid(form)

    def _wait(self, wait: float):
        message = (f"Too many wrong passwords for this name from your address. Try again in "
                   f"{wait_words(wait)}.")
        context = self.get_context_data(form=self.form_class(self.request), throttled=message)
        response = self.render_to_response(context, status=429)
        response["Retry-After"] = str(math.ceil(wait))
        return response


def signup(request):
    form = UserCreationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        login(request, form.save())
        return redirect("games")
    return render(request, "front/signup.html", {"form": form})


@login_required
def game_list(request):
    games = Game.objects.filter(owner=request.user).exclude(status=Game.Status.UPLOADING)[:200]
    rows = [{"game": g, **_progress(g)} for g in games]
    return render(request, "front/games.html", {
        "rows": rows, "part_size": settings.UPLOAD_PART_BYTES, "max_upload": settings.MAX_UPLOAD_BYTES})


@login_required
def game_page(request, game_id):
    game = get_object_or_404(Game, id=game_id, owner=request.user)
    context = _game_context(request, game, editable=True)
    # A page left open outlives its signed media URLs: it fetches fresh ones (refresh.js).
    context.update(refresh_url=reverse("game-media", args=[game.id]), media_lifetime=sharing.owner_lifetime(),
                   gone_words="This game no longer exists: it was deleted.")
    return render(request, "front/game.html", context)


@login_required
@require_POST
def delete_game(request, game_id):
    """Delete a game, its rallies, share links and files in the store."""
    game_service.delete_game(get_object_or_404(Game, id=game_id, owner=request.user))
    return redirect("games")


def share_page(request, token):
    share = Share.objects.filter(token=token).select_related("game").first()
    if share is not None and share.revoked_at is not None:
        # Said as it is: the link was real, and its owner stopped sharing it.
        return render(request, "404.html", {"title": "This link was revoked",
                                            "message": "Whoever shared it has stopped sharing it."}, status=404)
    if share is None or share.game.status != Game.Status.DONE:
        raise Http404("no such link")
    # Short-lived URLs tied to the share (`front.sharing`): revoking it cuts them off.
    signer = sharing.ShareSigner(share)
    context = _game_context(request, share.game, editable=False, only=share.rally_index, signer=signer)
    context.update(share=share, media_lifetime=sharing.lifetime(), refresh_url=reverse("share-api", args=[share.token]),
                   gone_words="This link no longer works: whoever shared it has stopped sharing it.")
    return render(request, "front/game.html", context)


def _progress(game: Game) -> dict:
    """Where the game stands, in words, for the page and the list."""
    return {"stage": progress.stage_words(game), "percent": round(100 * progress.weighted_progress(game)),
            "eta": progress.eta_words(progress.eta_seconds(game)), "reason": _reason(game.error)}


def _reason(error: str) -> str:
    """The first line of a failure: what went wrong, without the tail of a tool's log."""
    return error.strip().splitlines()[0] if error.strip() else "Processing stopped with an error."


def _can_retry(game: Game) -> bool:
    """A retry helps a failed game whose video is still stored (a refused upload's is not)."""
    if game.status != Game.Status.FAILED or not game.source_key:
        return False
    try:
        return get_store().size(game.source_key) is not None
    except StoreError:
        return False


def _rally_item(request, game: Game, rally, signer) -> dict:
    media = rally_media(request, game, rally, signer)
    return {"rally": rally, "clip": media["clip_url"], "download": media["download_url"],
            "poster": media["poster_url"], "start": clock(rally.start), "end": clock(rally.end),
            "length": duration_words(rally.duration)}


def _game_context(request, game: Game, editable: bool, only: int | None = None, signer=None) -> dict:
    rallies = list(game.rallies.all())
    if only is not None:
        rallies = [r for r in rallies if r.index == only]
    items = [_rally_item(request, game, r, signer) for r in rallies]
    first = items[0] if items else None
    duration = (game.video or {}).get("duration") or 0
    media = game_media(request, game, signer)
    return {
        "game": game,
        "editable": editable,
        "only": only,
        **_progress(game),
        "can_retry": editable and _can_retry(game),
        "game_length": clock(duration) if duration else "",
        "items": items,
        "digest": media["digest_url"],
        "digest_download": media["digest_download_url"],
        "best": media["best_url"],
        "best_download": media["best_download_url"],
        "timeline": timeline_svg(duration, rallies) if duration and only is None else "",
        "court_frame": store_url(request, game.court_frame_key) if editable else None,
        "og_image": first["poster"] if first else None,
        "og_video": first["clip"] if only is not None and first else media["digest_url"],
        "page_url": absolute(request, request.path),
        "revocation": sharing.revocation_words() if editable else "",
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
