"""Marking the court on the game page in a real browser (headless Chromium driven by
Playwright) against the service on production parts (PostgreSQL, Redis, SeaweedFS):
on a desktop with a mouse and on a 390 px phone with touch, the owner sees the court
the engine found, marks the four corners on the still, is told in words when they are
no court, saves them, and asks for a re-analysis."""

from __future__ import annotations

import pytest

from front.models import Game
from front.queues import job_id, redis_connection
from tests.conftest import realdata
from tests.test_browser import browser  # noqa: F401  (the fixture: Chromium, headless)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

WIDTH, HEIGHT = 1280, 720  # the source's picture (the real indoor clip's)
#: Where the owner clicks, as fractions of the still: near-left, near-right, far-right, far-left.
CLICKS = [(0.10, 0.90), (0.90, 0.90), (0.70, 0.35), (0.30, 0.35)]
#: One point inside the triangle of the other three: no court, even give or take the
#: whole CSS pixels a touch lands on.
INSIDE = [(0.20, 0.80), (0.80, 0.80), (0.50, 0.20), (0.50, 0.60)]
PASSWORD = "dig-and-set-77"
DEVICES = {
    "desktop mouse": {"viewport": {"width": 1280, "height": 900}},
    "phone touch": {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True},
}


@pytest.fixture
def marked_game(service, tmp_path):
    """A processed game of the real indoor clip as rows, the court the engine found in it,
    and its still in the store, as analysis and publishing leave them."""
    from django.contrib.auth import get_user_model

    from clipper.posters import write_poster
    from pusher.store import get_store

    owner = get_user_model().objects.create_user("gail", password=PASSWORD)
    game = Game.objects.create(
        owner=owner, name="kats", status=Game.Status.DONE, stage="done",
        video={"duration": 15.5, "fps": 30.0, "width": WIDTH, "height": HEIGHT},
        court={"corners": [[71.7, 701.4], [1218.0, 701.3], [961.4, 345.4], [369.6, 347.3]],
               "camera_height_m": 5.68, "beach": False, "by": "engine"})
    clip = realdata("kats-beds-rally", "kats-beds-clip.mp4")
    write_poster(clip, 5.0, tmp_path / "court-frame.jpg")
    store = get_store()
    game.source_key = f"{game.prefix}source.mp4"
    game.court_frame_key = f"{game.prefix}court-frame.jpg"
    game.save(update_fields=["source_key", "court_frame_key"])
    store.put_file(game.source_key, clip, content_type="video/mp4")
    store.put_file(game.court_frame_key, tmp_path / "court-frame.jpg", content_type="image/jpeg")
    return game


def log_in(page, base: str, username: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{base}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login")
    expect(page).to_have_url(f"{base}/games/")


def touch_or_click(page, device: str, fractions) -> None:
    """Mark points on the still at fractions of its width and height."""
    still = page.locator("#court .court-still")
    box = still.bounding_box()
    for fx, fy in fractions:
        position = {"x": fx * box["width"], "y": fy * box["height"]}
        if device == "phone touch":
            still.tap(position=position)
        else:
            still.click(position=position)


@pytest.mark.parametrize("device", list(DEVICES))
def test_the_owner_marks_the_court_on_the_still_saves_it_and_asks_for_a_reanalysis(
        live_server, service, marked_game, browser, device):  # noqa: F811  (rows first: no ORM once Playwright runs)
    from playwright.sync_api import expect

    base = live_server.url
    context = browser.new_context(**DEVICES[device])
    context.set_default_timeout(30_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    log_in(page, base, "gail")
    page.goto(f"{base}/games/{marked_game.id}/")
    card = page.locator("#court")

    # What the engine found: the outline over the still, and what it means.
    expect(card.locator(".court-state")).to_have_text("Court found automatically — check the outline.")
    expect(card.locator(".court-height")).to_have_text("Camera about 5.7 m above the floor.")
    assert card.locator("polygon.outline").get_attribute("points").startswith("71.7,701.4 ")
    expect(card.locator("button:visible")).to_have_text(["Mark the court again"])  # nothing of the owner's yet
    page.wait_for_function("() => document.querySelector('#court .court-still img').naturalWidth > 0")
    still = card.locator(".court-still").bounding_box()
    assert still["width"] <= DEVICES[device]["viewport"]["width"]  # fits a phone's width
    assert abs(still["height"] / still["width"] - HEIGHT / WIDTH) < 0.01  # the whole picture, unstretched

    # Mark mode: four points that are no court are refused, in words.
    card.locator("button.court-mark").click()
    touch_or_click(page, device, INSIDE)
    expect(card.locator("ol.corners li")).to_have_text(["1", "2", "3", "4"])
    card.locator("button.court-save").click()
    expect(card.locator(".court-result")).to_contain_text("Could not save the court: the four corners must enclose the court")
    for _ in INSIDE:
        card.locator("button.court-undo").click()
    expect(card.locator("ol.corners li")).to_have_count(0)

    # The four corners, one undone and marked again, a beach court, saved.
    touch_or_click(page, device, CLICKS)
    card.locator("button.court-undo").click()
    expect(card.locator(".court-help")).to_have_text("Click or tap an outer corner of the court: 3 of 4 marked.")
    touch_or_click(page, device, CLICKS[3:])
    card.get_by_role("button", name="Beach").click()
    expect(card.get_by_role("button", name="Beach")).to_have_attribute("aria-pressed", "true")
    for button in card.locator("button:visible").all():  # tap targets a finger can hit
        box = button.bounding_box()
        assert box["width"] >= 44 and box["height"] >= 44, (button.text_content(), box)
    card.locator("button.court-save").click()
    expect(card.locator(".court-state")).to_have_text("Court set by you.")
    expect(card.locator(".court-result")).to_have_text("")

    court = page.request.get(f"{base}/api/games/{marked_game.id}/").json()["court"]
    assert court["by"] == "user" and court["beach"] is True
    clicked = sorted((fx * WIDTH, fy * HEIGHT) for fx, fy in CLICKS)
    for (x, y), (cx, cy) in zip(sorted(map(tuple, court["corners"])), clicked):
        assert abs(x - cx) <= 3 and abs(y - cy) <= 3, (court["corners"], clicked)

    # Re-analyse: the game is queued again from analysis, and the page shows it.
    reanalyse = card.get_by_role("button", name="Re-analyse with this court")
    reanalyse.focus()  # reachable from the keyboard
    page.keyboard.press("Enter")
    expect(page.locator("#game")).to_have_attribute("data-status", "queued")
    game = page.request.get(f"{base}/api/games/{marked_game.id}/").json()
    assert (game["status"], game["court"]) == ("queued", court)
    assert redis_connection().exists(f"rq:job:{job_id(marked_game.id, 'analysing', 1)}")
    assert not errors, errors
    context.close()
