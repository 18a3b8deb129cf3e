"""The web pages in a real browser (headless Chromium driven by Playwright) against the
service on production parts: the live Django server of pytest-django, PostgreSQL,
Redis, SeaweedFS as the S3 store and a real `volley worker` process running every stage.

One flow, as a user does it: sign up, upload a game from the page (multipart straight to
S3 with presigned part URLs), watch its progress, play a rally, share it, watch the share
as a stranger, revoke it, log out.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.services import DEFAULT_CORS

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path(os.environ.get("VOLLEY_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--autoplay-policy=no-user-gesture-required", "--mute-audio",
]
#: Processing the ~2-minute small game takes about a minute on a 2-core machine.
PROCESSING_SECONDS = 240

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

#: Reports what the pages show while they change, to the test (window.volleySeen), so a
#: progress step between two polls of the test is not missed. Runs in every page.
WATCH_SCRIPT = """
document.addEventListener("DOMContentLoaded", () => {
  const report = (kind, node, read) => {
    if (!node) return;
    const send = () => window.volleySeen && window.volleySeen(kind, read(node));
    send();
    new MutationObserver(send).observe(node, {attributes: true, childList: true, characterData: true, subtree: true});
  };
  report("upload-status", document.querySelector("#upload .upload-status"), (n) => n.textContent);
  report("upload-bar", document.querySelector("#upload .bar"), (n) => n.style.width);
  report("stage", document.getElementById("stage"), (n) => n.textContent);
  report("percent", document.getElementById("percent"), (n) => n.textContent);
});
"""


@pytest.fixture
def worker(service, live_server, tmp_path):
    """`volley worker` for every queue, in its own process group, on this test's database."""
    from django.db import connection

    env = service.subprocess_env(connection.settings_dict["NAME"])
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "volley"), "worker", "vproc", "framer", "clipper", "pusher"],
            env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)  # its own group: the work horses and ffmpeg go with it
    try:
        yield process, log
    finally:
        _stop_group(process)


def _stop_group(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGINT, 10), (signal.SIGKILL, 10)):  # RQ: SIGINT stops it, horse and all
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(wait)
            break
        except subprocess.TimeoutExpired:
            continue
    try:
        os.killpg(process.pid, signal.SIGKILL)  # anything left in the group (a horse's ffmpeg)
    except ProcessLookupError:
        pass


@pytest.fixture
def browser(live_server):
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail(f"no Chromium at {CHROMIUM} (set VOLLEY_TEST_CHROMIUM)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def store_origin(service, live_server):
    """The bucket's CORS narrowed to the live server's origin, as production sets it
    (the page PUTs the parts to S3 itself), and put back afterwards."""
    service.s3.allow_origins(live_server.url)
    yield live_server.url
    service.s3.allow_origins(*DEFAULT_CORS)


@pytest.fixture
def small_parts(settings):
    """5 MiB parts (the S3 minimum), so the small game goes up in several."""
    settings.UPLOAD_PART_BYTES = 5 * 1024 * 1024
    return settings.UPLOAD_PART_BYTES


def sign_up(page, base: str, username: str, password: str) -> None:
    """Make an account through the sign-up page; it lands on the game list, loaded."""
    from playwright.sync_api import expect

    page.goto(f"{base}/signup/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password1]", password)
    page.fill("input[name=password2]", password)
    page.click("#signup")
    expect(page).to_have_url(f"{base}/games/")
    page.wait_for_load_state("load")  # the upload script listens from here on


def test_a_user_uploads_a_game_watches_it_processed_plays_a_rally_and_shares_then_revokes_it(
        live_server, service, worker, browser, store_origin, small_parts, small_game):
    from playwright.sync_api import expect

    base = live_server.url
    seen: dict[str, list[str]] = {}
    context = browser.new_context()
    context.set_default_timeout(30_000)
    context.expose_function("volleySeen", lambda kind, text: seen.setdefault(kind, []).append(text))
    context.add_init_script(WATCH_SCRIPT)
    page = context.new_page()
    browser_errors: list[str] = []
    page.on("pageerror", lambda error: browser_errors.append(str(error)))

    # Sign up: a new user lands on their (empty) game list.
    sign_up(page, base, "dana", "spike-and-dig-42")
    expect(page.locator("header .who")).to_have_text("dana")
    expect(page.get_by_text("No games yet.")).to_be_visible()

    # Upload from the page: parts go straight to S3, then the game's page.
    size = small_game.path.stat().st_size
    assert size > small_parts, "the game should need several parts"
    page.set_input_files("#file", str(small_game.path))
    page.wait_for_url(re.compile(rf"{re.escape(base)}/games/[0-9a-f-]{{36}}/$"), timeout=120_000)
    game_url = page.url
    statuses = seen.get("upload-status", [])
    uploading = [s for s in statuses if s.startswith("Uploading…")]
    assert uploading and uploading[0].startswith("Uploading… 0%"), statuses
    assert any(s.startswith("Uploading… 100%") for s in statuses), statuses
    assert "Checking the file…" in statuses, statuses
    bars = [float(w.rstrip("%")) for w in seen.get("upload-bar", []) if w.endswith("%")]
    assert bars and bars[0] < 50 and bars[-1] == 100.0 and len(set(bars)) >= 3, bars

    # Processing: the page polls, shows the stage and percentage, and reloads when done.
    page.wait_for_selector("#player", timeout=PROCESSING_SECONDS * 1000)
    stages = set(seen.get("stage", []))
    percents = [int(p.rstrip("%")) for p in seen.get("percent", []) if p.endswith("%")]
    assert stages & {"Waiting to start", "Finding rallies", "Cutting clips", "Making reels", "Publishing"}, stages
    assert len(stages) >= 2, f"the stage shown never changed: {stages}"
    assert len(set(percents)) >= 2 and max(percents) > min(percents), percents
    expect(page.locator("#game")).to_have_attribute("data-status", "done")
    rallies = page.locator("li.rally")
    assert rallies.count() >= 1, "no rally found in the generated game"

    # Play a rally: the player takes that rally's clip (a presigned S3 URL) and plays it.
    rally = rallies.nth(rallies.count() - 1)
    index = rally.get_attribute("data-index")
    clip = rally.get_attribute("data-clip")
    assert clip.startswith(service.s3.endpoint_url) and "X-Amz-Signature=" in clip, clip
    rally.locator("button.play").click()
    page.wait_for_function(
        "(clip) => { const v = document.getElementById('player');"
        " return v.src === clip && v.currentTime > 0.5 && !v.error; }",
        arg=clip, timeout=30_000)
    first = page.evaluate("document.getElementById('player').currentTime")
    # Functions, not expression strings: Playwright polls a string with eval(), which the
    # pages' Content-Security-Policy refuses.
    page.wait_for_function("(first) => document.getElementById('player').currentTime > first", arg=first,
                           timeout=10_000)

    # Share that rally: the link shows at once and joins the page's list of share links.
    rally.locator("button.share-rally").click()
    link = page.locator("#share-link")
    expect(link).to_have_attribute("href", re.compile(rf"^{re.escape(base)}/s/[\w-]+/$"))
    share_url = link.get_attribute("href")
    token = share_url.rstrip("/").rsplit("/", 1)[-1]
    listed = page.locator(f"#shares li[data-token='{token}']")
    expect(listed).to_contain_text(f"Rally {index}")
    expect(page.locator("#shares li.none")).to_be_hidden()

    # A stranger (no session) opens the link: that one rally, playable.
    stranger = browser.new_context()
    try:
        other = stranger.new_page()
        other.set_default_timeout(30_000)
        response = other.goto(share_url)
        assert response.status == 200
        expect(other.locator("h1")).to_contain_text(f"rally {index}")
        expect(other.locator("li.rally")).to_have_count(1)
        expect(other.locator("li.rally")).to_have_attribute("data-index", index)
        expect(other.locator("button.share-rally, #share-game, #shares, #logout")).to_have_count(0)
        expect(other.locator("meta[property='og:video']")).to_have_attribute("content", re.compile("X-Amz-Signature="))
        other.locator("li.rally button.play").click()
        other.wait_for_function("() => document.getElementById('player').currentTime > 0.5", timeout=30_000)

        # The owner revokes it; the stranger's link answers 404 from then on.
        listed.locator("button.revoke").click()
        expect(listed).to_have_count(0)
        expect(page.locator("#shares li.none")).to_be_visible()
        response = other.goto(share_url)
        assert response.status == 404
        page.reload()
        expect(page.locator("#shares li[data-token]")).to_have_count(0)
    finally:
        stranger.close()

    # Log out: the pages ask for a login again.
    page.click("#logout")
    expect(page).to_have_url(re.compile(rf"{re.escape(base)}/login/"))
    page.goto(game_url)
    expect(page).to_have_url(re.compile(rf"{re.escape(base)}/login/\?next="))
    assert not browser_errors, browser_errors
    context.close()


def test_an_interrupted_upload_resumes_after_a_reload_without_sending_parts_again(
        live_server, service, browser, store_origin, small_parts, still_video, tmp_path):
    from playwright.sync_api import expect

    base = live_server.url
    game_file = tmp_path / "long game.mp4"  # a real video's head, padded to three parts
    data = still_video.read_bytes()
    game_file.write_bytes(data + bytes(3 * small_parts - 1000 - len(data)))
    context = browser.new_context()
    context.set_default_timeout(30_000)
    page = context.new_page()
    sign_up(page, base, "erin", "float-serve-93")

    sent: list[int] = []

    def count(request):
        match = re.search(r"partNumber=(\d+)", request.url)
        if request.method == "PUT" and match:
            sent.append(int(match.group(1)))

    page.on("request", count)
    # The connection drops after the first part: every later part fails.
    page.route(re.compile(r"partNumber=[2-9]"), lambda route: route.abort("connectionreset"))
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.on("requestfailed", lambda request: console.append(f"failed: {request.method} {request.url[:120]} {request.failure}"))
    try:
        with page.expect_response(re.compile(r"partNumber=1\b"), timeout=60_000) as first:
            page.set_input_files("#file", str(game_file))
        assert first.value.ok
    except Exception as err:
        status = page.locator("#upload .upload-status").text_content()
        raise AssertionError(f"part 1 never went up; the page says {status!r}; console: {console}; sent {sent}") from err
    expect(page.locator("#upload .upload-status")).to_contain_text("Connection trouble", timeout=60_000)
    games = page.request.get(f"{base}/api/games/").json()["results"]  # as the page's user
    assert [g["status"] for g in games] == ["uploading"]
    game_id = games[0]["id"]

    # The user reloads and picks the same file again: only the missing parts go up.
    page.unroute(re.compile(r"partNumber=[2-9]"))
    sent.clear()
    page.reload()
    page.set_input_files("#file", str(game_file))
    page.wait_for_url(re.compile(rf"{re.escape(base)}/games/{game_id}/$"), timeout=60_000)
    assert sorted(set(sent)) == [2, 3], sent
    assert page.request.get(f"{base}/api/games/{game_id}/").json()["status"] == "queued"
    s3 = service.s3.client()
    key = s3.list_objects_v2(Bucket=service.s3.bucket, Prefix=f"games/{game_id}/source")["Contents"][0]["Key"]
    assert s3.get_object(Bucket=service.s3.bucket, Key=key)["Body"].read() == game_file.read_bytes()
    context.close()
