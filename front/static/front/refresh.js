// A game page left open (a phone in a pocket for hours) outlives its signed media URLs.
// It asks the API (the share's, or the owner's game media) for freshly signed ones before
// they expire, when it comes back into view late, and when the video fails to load; once
// the link is revoked or the game deleted it says so in words (`data-gone`) and takes
// the dead controls away. Uses `game` and `player` from game.js.
"use strict";

const refreshing = { url: game.dataset.refresh, dueAt: 0, timer: null, lastTry: 0 };

// Fetch again a third before they expire (at most five minutes before): time for retries.
function scheduleRefresh(lifetime) {
  const ms = 1000 * (lifetime - Math.min(300, lifetime / 3));
  refreshing.dueAt = Date.now() + ms;
  clearTimeout(refreshing.timer);
  refreshing.timer = setTimeout(refreshMedia, ms);
}

async function refreshMedia() {
  refreshing.lastTry = Date.now();
  let data;
  try {
    data = await api("GET", refreshing.url);
  } catch (e) {
    if (e.status === 404) return mediaGone();
    refreshing.timer = setTimeout(refreshMedia, 30_000);  // offline for now: try again soon
    return;
  }
  applyMedia(data);
  scheduleRefresh(data.expires_in);
}

function applyMedia(data) {
  const urls = {};  // what `player.dataset.media` names → its fresh URL
  for (const rally of data.rallies) {
    const li = document.querySelector(`li.rally[data-index="${rally.index}"]`);
    if (!li) continue;
    li.dataset.clip = rally.clip_url;
    li.dataset.poster = rally.poster_url;
    li.querySelector("img").src = rally.poster_url;
    li.querySelector("a[data-media]").href = rally.download_url;
    urls[`rally:${rally.index}`] = rally.clip_url;
  }
  for (const link of document.querySelectorAll(".downloads a[data-media]")) {
    if (data[link.dataset.media]) link.href = data[link.dataset.media];
    urls[link.dataset.media] = data[link.dataset.media];
  }
  const fresh = urls[player.dataset.media];
  if (fresh && fresh !== player.src) swapSource(fresh);
}

// The same video on its new URL, at the same moment, playing if it was.
function swapSource(url) {
  const at = player.currentTime;
  const playing = !player.paused;
  player.src = url;
  player.addEventListener("loadedmetadata", () => {
    player.currentTime = at;
    if (playing) player.play().catch(() => {});
  }, { once: true });
}

function mediaGone() {
  clearTimeout(refreshing.timer);
  player.removeAttribute("src");
  player.load();
  for (const part of game.querySelectorAll("#player, svg.timeline, .downloads, ol.rallies")) part.hidden = true;
  const note = game.querySelector(".media-state");
  note.textContent = game.dataset.gone;
  note.hidden = false;
}

if (refreshing.url && player) {
  scheduleRefresh(Number(game.dataset.lifetime));
  // A phone that slept past the refresh time runs late timers late: catch up at once.
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && Date.now() >= refreshing.dueAt) refreshMedia();
  });
  // An expired or refused URL: fresh ones, at most every ten seconds (no loop on a bad file).
  player.addEventListener("error", () => {
    if (player.getAttribute("src") && Date.now() - refreshing.lastTry > 10_000) refreshMedia();
  });
}
