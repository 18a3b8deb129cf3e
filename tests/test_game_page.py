"""The game page, the game list and share pages in a real browser (headless Chromium
driven by Playwright) against the service on production parts (PostgreSQL, Redis,
SeaweedFS), at desktop size and on a 390x844 phone: sharing from where the button is,
times and stats in words, share pages that outlive their signed URLs, our own 404 page,
processing and failure in words with Retry, and a page that fits a phone and a keyboard.

Games are rows with real clips in the store, as processing leaves them (processing
itself is tests/test_browser.py's); a game moves through its stages by the same row
updates a worker makes.
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from front.models import Game, Rally, Share
from tests.conftest import ffmpeg
from tests.test_browser import browser  # noqa: F401  (the fixture: Chromium, headless)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]

PASSWORD = "block-and-cover-31"
DEVICES = {
    "desktop": {"viewport": {"width": 1280, "height": 900}},
    "phone": {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True},
}
#: Rallies of the made-up game: (start, end, stats); the last is past an hour.
RALLIES = [(65.2, 73.9, {"net_crossings": 1}), (190.0, 202.5, {"net_crossings": 2, "serve_kmh": 61}),
           (4523.1, 4530.0, {"net_crossings": 0})]
ZONE = "Asia/Tokyo"  # nine hours from UTC: a date shown in UTC is plainly not local


@pytest.fixture(scope="session")
def clip_files(tmp_path_factory):
    """A 3-second web-ready clip and a poster, made with ffmpeg."""
    folder = tmp_path_factory.mktemp("game-page")
    clip, poster = folder / "clip.mp4", folder / "poster.jpg"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30:duration=3", "-f", "lavfi", "-i",
           "sine=frequency=440:duration=3", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
           "-c:a", "aac", "-shortest", "-movflags", "+faststart", str(clip))
    ffmpeg("-i", str(clip), "-frames:v", "1", str(poster))
    return clip, poster


@pytest.fixture
def owner(service, monkeypatch):
    """The owner (password and API token). The tests move games on with the ORM while
    Playwright runs, which Django takes for an async context without this."""
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    user = get_user_model().objects.create_user("hana", password=PASSWORD)
    return user, Token.objects.create(user=user).key


@pytest.fixture
def done_game(owner, clip_files):
    """A processed game of three rallies, its clips, posters and digest in the store."""
    from pusher.store import get_store

    clip, poster = clip_files
    store = get_store()
    game = Game.objects.create(owner=owner[0], name="final", status=Game.Status.DONE, stage="done",
                               video={"duration": 5400.0, "fps": 30.0, "width": 320, "height": 180},
                               started_at=timezone.now(), finished_at=timezone.now())
    for n, (start, end, stats) in enumerate(RALLIES, 1):
        rally = Rally.objects.create(game=game, index=n, start=start, end=end, stats=stats, score=n,
                                     clip_key=f"{game.prefix}clips/rally-{n:03d}.mp4",
                                     poster_key=f"{game.prefix}posters/rally-{n:03d}.jpg")
        store.put_file(rally.clip_key, clip, content_type="video/mp4")
        store.put_file(rally.poster_key, poster, content_type="image/jpeg")
    game.digest_key = f"{game.prefix}digest.mp4"
    game.save(update_fields=["digest_key"])
    store.put_file(game.digest_key, clip, content_type="video/mp4")
    return game


def open_page(browser, device, **extra):  # noqa: F811
    context = browser.new_context(**DEVICES[device], **extra)
    context.set_default_timeout(30_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return context, page, errors


def log_in(page, base: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{base}/login/")
    page.fill("input[name=username]", "hana")
    page.fill("input[name=password]", PASSWORD)
    page.click("#login")
    expect(page).to_have_url(f"{base}/games/")


def playing(page, min_time: float = 0.5) -> None:
    page.wait_for_function("(t) => { const v = document.getElementById('player');"
                           " return v.currentTime > t && !v.error; }", arg=min_time)


@pytest.mark.parametrize("device", list(DEVICES))
def test_sharing_shows_the_link_by_the_button_copies_it_and_a_second_tap_gives_the_same_link(
        live_server, done_game, browser, device):  # noqa: F811
    from playwright.sync_api import expect

    base = live_server.url
    context, page, errors = open_page(browser, device)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    if device == "phone":  # the share sheet a phone's browser has; desktop Chromium has none
        context.add_init_script("navigator.share = (data) => { window.sharedWith = data; return Promise.resolve(); };")
    log_in(page, base)
    page.goto(f"{base}/games/{done_game.id}/")

    button = page.locator("li.rally[data-index='2'] button.share-rally")
    button.click()
    panel = page.locator("#share-panel")
    expect(panel).to_contain_text("Anyone with this link can watch rally 2")
    link = panel.locator("#share-link")
    url = link.get_attribute("href")
    assert re.fullmatch(rf"{re.escape(base)}/s/[\w-]+/", url), url
    # Right under the button tapped, inside that rally's card: in view, not at the top.
    assert page.locator("li.rally[data-index='2'] #share-panel").count() == 1
    below = panel.bounding_box()["y"] - (button.bounding_box()["y"] + button.bounding_box()["height"])
    assert 0 <= below < 40, below
    expect(panel).to_be_in_viewport()

    panel.locator("button.share-copy").click()
    expect(panel.locator(".share-status")).to_have_text("Link copied.")
    assert page.evaluate("() => navigator.clipboard.readText()") == url
    send = panel.locator("button.share-send")
    if device == "phone":
        send.click()
        assert page.evaluate("() => window.sharedWith.url") == url
    else:
        expect(send).to_be_hidden()

    button.click()  # again: the same link, said so, and still one link to revoke
    expect(panel).to_contain_text("You shared rally 2 before")
    expect(link).to_have_attribute("href", url)
    expect(page.locator("#shares li[data-token]")).to_have_count(1)
    assert Share.objects.filter(game=done_game, rally_index=2).count() == 1

    page.locator("#share-game").click()  # the whole game: its own link, under its button
    expect(page.locator(".downloads + #share-panel")).to_contain_text("watch the whole game")
    assert link.get_attribute("href") != url
    expect(page.locator("#shares li[data-token]")).to_have_count(2)
    assert not errors, errors
    context.close()


@pytest.mark.parametrize("device", list(DEVICES))
def test_rally_times_read_as_minutes_and_seconds_and_net_crossings_in_good_english(
        live_server, done_game, browser, device):  # noqa: F811
    from playwright.sync_api import expect

    base = live_server.url
    context, page, errors = open_page(browser, device)
    log_in(page, base)
    page.goto(f"{base}/games/{done_game.id}/")
    rallies = page.locator("li.rally")
    expect(rallies.locator(".when")).to_have_text(["1:05 → 1:13 · 9 s", "3:10 → 3:22 · 12 s",
                                                   "1:15:23 → 1:15:30 · 7 s"])
    expect(rallies.locator(".stats")).to_have_text(["1 net crossing", "2 net crossings · serve 61 km/h",
                                                    "0 net crossings"])
    expect(page.locator("body")).not_to_contain_text("px/s")
    assert "a 1:30:00 game" in page.locator("meta[property='og:description']").get_attribute("content")
    assert not errors, errors
    context.close()


@pytest.fixture
def short_lived_urls(service, monkeypatch):
    """Media URLs signed for one minute (the shortest VOLLEY_URL_EXPIRY), so a test sees
    them expire."""
    from pusher.store import reset_store

    monkeypatch.setenv("VOLLEY_URL_EXPIRY", "60")
    reset_store()
    yield 60
    reset_store()


# On a phone only: the page is the same at every size, and each run waits out a real
# one-minute URL expiry.
@pytest.mark.parametrize("device", ["phone"])
def test_a_share_page_left_open_past_its_media_urls_still_plays_and_says_so_once_revoked(
        live_server, short_lived_urls, done_game, owner, browser, device):  # noqa: F811
    from playwright.sync_api import expect

    share = Share.objects.create(game=done_game, created_by=owner[0])
    context, page, errors = open_page(browser, device)
    opened = time.monotonic()
    page.goto(f"{live_server.url}/s/{share.token}/")
    first = page.locator("#player").get_attribute("src")
    old_poster = page.locator("li.rally[data-index='1'] img").get_attribute("src")

    # Before they expire the page fetches freshly signed URLs and keeps playing on them.
    page.wait_for_function("(old) => document.getElementById('player').src !== old", arg=first, timeout=60_000)
    fresh = page.locator("#player").get_attribute("src")
    assert "X-Amz-Signature=" in fresh and fresh.split("?")[0] == first.split("?")[0]
    assert page.locator("li.rally[data-index='1'] img").get_attribute("src") != old_poster
    page.locator("li.rally[data-index='2'] button.play").click()
    playing(page)
    time.sleep(max(0.0, opened + short_lived_urls + 2 - time.monotonic()))
    assert page.request.get(first).status == 403  # the URL the page opened with is dead by now
    page.locator("li.rally[data-index='1'] button.play").click()
    playing(page)

    # Revoked while open: at its next refresh the page says so, and the controls go.
    page.request.delete(f"{live_server.url}/api/shares/{share.token}/",
                        headers={"Authorization": f"Token {owner[1]}"})
    note = page.locator(".media-state")
    expect(note).to_have_text("This link no longer works: whoever shared it has stopped sharing it.",
                              timeout=60_000)
    expect(page.locator("#player, ol.rallies, .downloads")).to_have_count(3)
    for part in ("#player", "ol.rallies", ".downloads"):
        expect(page.locator(part)).to_be_hidden()
    assert not errors, errors
    context.close()


@pytest.mark.parametrize("device", list(DEVICES))
def test_revoked_deleted_and_unknown_links_and_games_show_volleys_own_404_page(
        live_server, done_game, owner, browser, device):  # noqa: F811
    from playwright.sync_api import expect

    base = live_server.url
    revoked = Share.objects.create(game=done_game, created_by=owner[0], revoked_at=timezone.now())
    context, page, errors = open_page(browser, device)

    response = page.goto(f"{base}/s/{revoked.token}/")
    assert response.status == 404
    expect(page.locator("#not-found h1")).to_have_text("This link was revoked")
    expect(page.locator("header.top .brand")).to_have_text("Volley")
    # Styled by our stylesheet (a card on the page's grey), not Django's bare text.
    assert page.locator("#not-found").evaluate("(n) => getComputedStyle(n).borderRadius") == "8px"

    assert page.goto(f"{base}/s/no-such-token/").status == 404
    expect(page.locator("#not-found h1")).to_have_text("Nothing here")

    # The owner deletes the game: its page and its share links are gone, in the same words,
    # as a game that never was.
    live = Share.objects.create(game=done_game, created_by=owner[0])
    assert page.goto(f"{base}/s/{live.token}/").status == 200
    log_in(page, base)
    page.request.delete(f"{base}/api/games/{done_game.id}/", headers={"Authorization": f"Token {owner[1]}"})
    for path in (f"/games/{done_game.id}/", f"/s/{live.token}/", f"/games/{uuid.uuid4()}/"):
        assert page.goto(f"{base}{path}").status == 404
        expect(page.locator("#not-found h1")).to_have_text("Nothing here")
        expect(page.locator("#not-found a.button")).to_have_text("Go to my games")
    assert not errors, errors
    context.close()


def processing_game(owner) -> Game:
    """A game half-way through finding rallies, started a minute ago, on a deployment that
    has measured no stage yet (the default shares)."""
    from front.progress import forget_shares

    forget_shares()
    return Game.objects.create(owner=owner, name="semi", status=Game.Status.PROCESSING, stage="analysing",
                               progress=0.5, attempt=1, queued_at=timezone.now() - timedelta(seconds=70),
                               started_at=timezone.now() - timedelta(seconds=60))


@pytest.mark.parametrize("device", list(DEVICES))
def test_a_processing_game_says_its_stage_in_words_with_a_weighted_bar_and_time_left_and_the_list_follows(
        live_server, owner, browser, device):  # noqa: F811
    from playwright.sync_api import expect

    game = processing_game(owner[0])
    context, page, errors = open_page(browser, device)
    log_in(page, live_server.url)
    row = page.locator(f"tr[data-id='{game.id}'] td.state")
    # Finding rallies is most of the run: half of it is 35% of the bar, 60 s in: ~2 min left.
    expect(row).to_have_text("Finding rallies · 35% · about 2 min left")

    Game.objects.filter(id=game.id).update(stage="cutting", progress=0.5)  # as a worker moves it on
    expect(row).to_have_text(re.compile(r"^Cutting clips · 75% · (about 1 min|less than a minute) left$"))
    Game.objects.filter(id=game.id).update(stage="building", progress=0.0)
    expect(row).to_have_text(re.compile(r"^Making reels · 80%"))

    page.goto(f"{live_server.url}/games/{game.id}/")
    expect(page.locator("#stage")).to_have_text("Making reels")
    Game.objects.filter(id=game.id).update(stage="publishing", progress=0.5)
    expect(page.locator("#stage")).to_have_text("Publishing")
    expect(page.locator("#percent")).to_have_text("98%")
    expect(page.locator("#eta")).to_have_text(re.compile(r"^· (less than a minute|about \d+ min) left$"))
    assert page.locator(".bar").evaluate("(b) => b.style.width") == "97.5%"

    page.goto(f"{live_server.url}/games/")
    Game.objects.filter(id=game.id).update(status=Game.Status.DONE, stage="done", progress=1.0)
    expect(row).to_have_text("Ready")
    expect(page.locator(f"tr[data-id='{game.id}']")).to_have_attribute("data-status", "done")
    assert not errors, errors
    context.close()


@pytest.mark.parametrize("device", list(DEVICES))
def test_a_failed_game_says_why_without_a_bar_or_share_card_and_retry_queues_it_again(
        live_server, owner, still_video, browser, device):  # noqa: F811
    from playwright.sync_api import expect

    from front.queues import job_id, redis_connection
    from pusher.store import get_store

    game = Game.objects.create(owner=owner[0], name="cup", status=Game.Status.FAILED, stage="analysing",
                               progress=0.03, attempt=3, error="ffmpeg exited 1: no decoder\nlong tail of log",
                               finished_at=timezone.now())
    game.source_key = f"{game.prefix}source.mp4"
    game.save(update_fields=["source_key"])
    get_store().put_file(game.source_key, still_video, content_type="video/mp4")
    context, page, errors = open_page(browser, device)
    log_in(page, live_server.url)
    expect(page.locator(f"tr[data-id='{game.id}'] td.reason")).to_have_text("ffmpeg exited 1: no decoder")

    page.goto(f"{live_server.url}/games/{game.id}/")
    expect(page.locator("#stage")).to_have_text("Failed")
    expect(page.locator("#error")).to_have_text("ffmpeg exited 1: no decoder")
    expect(page.locator(".progress, #percent, #shares, #share-game")).to_have_count(0)
    retry = page.get_by_role("button", name="Retry")
    assert retry.bounding_box()["height"] >= 44
    retry.click()
    expect(page.locator("#game")).to_have_attribute("data-status", "queued")
    expect(page.locator("#stage")).to_have_text("Waiting to start")
    assert redis_connection().exists(f"rq:job:{job_id(game.id, 'analysing', 1)}")
    assert not errors, errors
    context.close()


@pytest.mark.parametrize("device", list(DEVICES))
def test_the_header_fits_tap_targets_are_44px_timeline_blocks_play_from_the_keyboard_and_dates_are_local(
        live_server, done_game, browser, device):  # noqa: F811
    from playwright.sync_api import expect

    base = live_server.url
    context, page, errors = open_page(browser, device, timezone_id=ZONE, locale="en-GB")
    log_in(page, base)

    # The upload date in the viewer's zone, not UTC.
    local = done_game.created_at.astimezone(ZoneInfo(ZONE))
    shown = page.locator(f"tr[data-id='{done_game.id}'] time")
    expect(shown).to_contain_text(local.strftime("%H:%M"))
    expect(shown).not_to_contain_text("UTC")
    assert datetime.fromisoformat(shown.get_attribute("datetime")) == done_game.created_at

    page.goto(f"{base}/games/{done_game.id}/")
    header = page.locator("header.top")
    assert header.bounding_box()["height"] <= 70, header.bounding_box()  # one line
    tops = {round(b["y"]) for b in (page.locator(s).bounding_box() for s in ("header .brand", "#logout"))}
    assert max(tops) - min(tops) < 20, tops
    assert page.evaluate("() => document.documentElement.scrollWidth") <= DEVICES[device]["viewport"]["width"]
    for target in page.locator("main button:visible, main a.button:visible, main a.tap:visible").all():
        box = target.bounding_box()
        assert box["height"] >= 44, (target.text_content(), box)

    # Tab reaches the timeline's blocks; Enter and Space play the rally.
    page.locator("#player").focus()
    for _ in range(15):  # past the player's own controls
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.matches('svg.timeline rect.rally')"):
            break
    assert page.evaluate("() => document.activeElement.dataset.index") == "1"
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator("#player")).to_have_attribute(
        "src", page.locator("li.rally[data-index='2']").get_attribute("data-clip"))
    page.locator("svg.timeline rect.rally[data-index='3']").focus()
    page.keyboard.press(" ")
    expect(page.locator("#player")).to_have_attribute(
        "src", page.locator("li.rally[data-index='3']").get_attribute("data-clip"))
    playing(page)
    assert not errors, errors
    context.close()
