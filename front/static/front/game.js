// The game page: live stage, percentage and time left while the game is processed, Retry
// when it failed; the player, the timeline and the court card once it is done. Sharing
// is in share.js, re-signing a share page's media in refresh.js.
"use strict";

const game = document.getElementById("game");
const player = document.getElementById("player");

function clock(seconds) {
  const s = Math.max(0, Math.round(seconds));
  return s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
}

async function poll() {
  try {
    const data = await api("GET", game.dataset.api);
    if (data.status !== game.dataset.status && (data.status === "done" || data.status === "failed")) {
      window.location.reload();
      return;
    }
    document.getElementById("stage").textContent = data.stage_words;
    document.getElementById("percent").textContent = `${Math.round(data.progress)}%`;
    document.getElementById("eta").textContent = data.eta != null ? `· ${etaWords(data.eta)}` : "";
    document.getElementById("starts-in").textContent = data.starts_in != null ? `· starts in about ${clock(data.starts_in)}` : "";
    game.querySelector(".bar").style.width = `${data.progress}%`;
  } catch (e) {
    // a dropped connection: the next poll tries again
  }
  setTimeout(poll, 2000);
}

if (game.dataset.api && !["done", "failed"].includes(game.dataset.status)) poll();

// A failed game whose video is still stored: process it again from the start.
const retry = document.getElementById("retry");
if (retry) {
  retry.addEventListener("click", async () => {
    retry.disabled = true;
    try {
      await api("POST", retry.dataset.url);
      window.location.reload();  // queued: the page shows its progress
    } catch (e) {
      retry.disabled = false;
      document.querySelector(".retry-result").textContent = `Could not retry: ${e.message}`;
    }
  });
}

// `which` names what plays ("rally:3", "digest_url"), so refresh.js can swap in a freshly
// signed URL of the same thing.
function play(src, poster, which) {
  if (!player) return;
  player.src = src;
  player.dataset.media = which || "";
  if (poster) player.poster = poster;
  player.play().catch(() => {});
  player.scrollIntoView({ behavior: "smooth", block: "center" });
}

function playRally(index) {
  const li = document.querySelector(`li.rally[data-index="${index}"]`);
  if (li) play(li.dataset.clip, li.dataset.poster, `rally:${index}`);
}

if (player) player.dataset.media = `rally:${document.querySelector("li.rally").dataset.index}`;
for (const li of document.querySelectorAll("li.rally")) {
  li.querySelector("button.play").addEventListener("click", () => playRally(li.dataset.index));
}
// Timeline blocks are buttons to the keyboard too (tabindex and role in front/timeline.py).
for (const rect of document.querySelectorAll("svg.timeline rect.rally")) {
  rect.addEventListener("click", () => playRally(rect.dataset.index));
  rect.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" && event.key !== " ") return;
    event.preventDefault();  // Space would scroll the page
    playRally(rect.dataset.index);
  });
}
for (const link of document.querySelectorAll("a[data-play]")) {
  link.addEventListener("click", (event) => { event.preventDefault(); play(link.href, null, link.dataset.media); });
}

// --- The court card: the still with the court's outline over it, and marking the
// court's four outer corners on it. Corners are kept in source pixels (the video's
// width × height), which the still shows scaled down: the SVG's viewBox is in source
// pixels, and a click at a fraction of the still is that fraction of the source.

const courtCard = document.getElementById("court");
const court = {
  saved: courtCard ? JSON.parse(document.getElementById("court-data").textContent) : null,  // what the API holds
  points: [],  // corners marked so far, [x, y] in source pixels
  beach: false,
  marking: false,
  changed: false,  // saved or forgotten on this page: offer a re-analysis
};

function courtPart(selector) {
  return courtCard.querySelector(selector);
}

function courtState(saved) {
  if (!courtPart(".court-still")) return "No still of this game to mark the court on yet — re-analyse it to make one.";
  if (!saved) return "No court found — mark its four corners.";
  return saved.by === "user" ? "Court set by you." : "Court found automatically — check the outline.";
}

function courtHelp(count) {
  if (count < 4) return `Click or tap an outer corner of the court: ${count} of 4 marked.`;
  return "All four corners marked: save them, or undo the last.";
}

function pointList(points) {
  return points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" ");
}

// Numbered dots as HTML over the still (placed in percent), so they stay round and
// readable at any scale, unlike shapes in the stretched SVG.
function drawDots(points) {
  const list = courtPart("ol.corners");
  if (!list) return;
  list.replaceChildren(...points.map(([x, y], n) => {
    const dot = document.createElement("li");
    dot.textContent = String(n + 1);
    dot.style.left = `${(100 * x) / Number(courtCard.dataset.width)}%`;
    dot.style.top = `${(100 * y) / Number(courtCard.dataset.height)}%`;
    return dot;
  }));
}

function drawCourt() {
  const { saved, points, marking } = court;
  const outline = courtPart("polygon.outline");
  if (outline) {
    outline.setAttribute("points", saved && !marking ? pointList(saved.corners) : "");
    const path = marking && points.length === 4 ? [...points, points[0]] : points;
    courtPart("polyline.marking").setAttribute("points", marking ? pointList(path) : "");
  }
  drawDots(marking ? points : []);
  courtCard.classList.toggle("is-marking", marking);
  courtPart(".court-state").textContent = courtState(saved);
  courtPart(".court-height").textContent = saved && saved.camera_height_m != null
    ? `Camera about ${saved.camera_height_m.toFixed(1)} m above the floor.` : "";
  const mark = courtPart("button.court-mark");
  if (mark) {
    mark.hidden = marking;
    mark.textContent = saved ? "Mark the court again" : "Mark the court";
  }
  const again = courtPart("button.court-reanalyse");
  again.hidden = marking || !(court.changed || (saved && saved.by === "user") || !courtPart(".court-still"));
  again.textContent = saved ? "Re-analyse with this court" : "Re-analyse and let Volley look for the court";
  courtPart("button.court-forget").hidden = marking || !(saved && saved.by === "user");
  courtPart(".court-marking").hidden = !marking;
  courtPart(".court-help").textContent = marking ? courtHelp(points.length) : "";
  courtPart("button.court-undo").disabled = points.length === 0;
  courtPart("button.court-save").disabled = points.length !== 4;
  for (const button of courtCard.querySelectorAll(".toggle button")) {
    button.setAttribute("aria-pressed", String((button.dataset.beach === "true") === court.beach));
  }
}

function courtSays(text) {
  courtPart(".court-result").textContent = text;
}

function markCourt(event) {
  if (!court.marking || court.points.length >= 4) return;
  const box = courtPart(".court-still").getBoundingClientRect();
  const within = (v) => Math.min(Math.max(v, 0), 1);
  const fx = within((event.clientX - box.left) / box.width);
  const fy = within((event.clientY - box.top) / box.height);
  court.points.push([fx * Number(courtCard.dataset.width), fy * Number(courtCard.dataset.height)]);
  drawCourt();
}

function startMarking(on) {
  court.marking = on;
  court.points = [];
  court.beach = Boolean(court.saved && court.saved.beach);
  courtSays("");
  drawCourt();
}

// Every call to the API disables its button while it runs and says what went wrong.
async function courtCall(button, what, call) {
  button.disabled = true;
  courtSays("");
  try {
    await call();
  } catch (e) {
    courtSays(`Could not ${what}: ${e.message}`);
  } finally {
    button.disabled = false;
    drawCourt();
  }
}

function saveCourt(button) {
  return courtCall(button, "save the court", async () => {
    court.saved = await api("PUT", courtCard.dataset.api, { corners: court.points, beach: court.beach });
    court.marking = false;
    court.points = [];
    court.changed = true;
  });
}

function forgetCourt(button) {
  return courtCall(button, "forget the corners", async () => {
    await api("DELETE", courtCard.dataset.api);
    court.saved = null;
    court.changed = true;
  });
}

function reanalyse(button) {
  return courtCall(button, "re-analyse the game", async () => {
    await api("POST", courtCard.dataset.reanalyse);
    window.location.reload();  // the game is queued: the page shows its progress
  });
}

if (courtCard) {
  const still = courtPart(".court-still");
  if (still) still.addEventListener("click", markCourt);
  const mark = courtPart("button.court-mark");
  if (mark) mark.addEventListener("click", () => startMarking(true));
  courtPart("button.court-cancel").addEventListener("click", () => startMarking(false));
  courtPart("button.court-undo").addEventListener("click", () => { court.points.pop(); drawCourt(); });
  courtPart("button.court-save").addEventListener("click", (event) => saveCourt(event.currentTarget));
  courtPart("button.court-forget").addEventListener("click", (event) => forgetCourt(event.currentTarget));
  courtPart("button.court-reanalyse").addEventListener("click", (event) => reanalyse(event.currentTarget));
  for (const button of courtCard.querySelectorAll(".toggle button")) {
    button.addEventListener("click", () => { court.beach = button.dataset.beach === "true"; drawCourt(); });
  }
  drawCourt();
}
