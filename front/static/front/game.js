// The game page: live stage and percentage while the game is processed; the player,
// the timeline, share links once it is done.
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
    document.getElementById("stage").textContent = data.stage;
    document.getElementById("percent").textContent = `${Math.round(data.progress)}%`;
    document.getElementById("starts-in").textContent = data.starts_in != null ? `· starts in about ${clock(data.starts_in)}` : "";
    game.querySelector(".bar").style.width = `${data.progress}%`;
  } catch (e) {
    // a dropped connection: the next poll tries again
  }
  setTimeout(poll, 2000);
}

if (game.dataset.api && !["done", "failed"].includes(game.dataset.status)) poll();

function play(src, poster) {
  if (!player) return;
  player.src = src;
  if (poster) player.poster = poster;
  player.play().catch(() => {});
  player.scrollIntoView({ behavior: "smooth", block: "center" });
}

for (const li of document.querySelectorAll("li.rally")) {
  li.querySelector("button.play").addEventListener("click", () => play(li.dataset.clip, li.dataset.poster));
}
for (const rect of document.querySelectorAll("svg.timeline rect.rally")) {
  rect.addEventListener("click", () => {
    const li = document.querySelector(`li.rally[data-index="${rect.dataset.index}"]`);
    if (li) play(li.dataset.clip, li.dataset.poster);
  });
}
for (const link of document.querySelectorAll("a[data-play]")) {
  link.addEventListener("click", (event) => { event.preventDefault(); play(link.href); });
}

async function share(button, rally) {
  const result = document.querySelector(".share-result");
  try {
    const data = await api("POST", button.dataset.url, rally ? { rally: Number(rally) } : {});
    result.innerHTML = "";
    const link = document.createElement("a");
    link.href = data.url;
    link.textContent = data.url;
    link.id = "share-link";
    result.append("Anyone with this link can watch: ", link);
    listShare(data, rally);
  } catch (e) {
    result.textContent = `Could not share: ${e.message}`;
  }
}

// A new link joins the page's list at once, so it can be revoked without a reload.
function listShare(data, rally) {
  const shares = document.getElementById("shares");
  if (!shares) return;
  const li = document.createElement("li");
  li.dataset.token = data.token;
  const link = document.createElement("a");
  link.href = data.url;
  link.textContent = rally ? `Rally ${rally}` : "Whole game";
  const button = document.createElement("button");
  button.className = "revoke";
  button.textContent = "Revoke";
  button.dataset.url = shares.dataset.revoke.replace("TOKEN", encodeURIComponent(data.token));
  li.append(link, " ", button);
  const list = shares.querySelector("ul");
  list.insertBefore(li, list.firstChild);  // newest first, as the server lists them
  watchRevoke(button);
}

function watchRevoke(button) {
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await api("DELETE", button.dataset.url);
      button.closest("li").remove();
    } catch (e) {
      button.disabled = false;
      if (e.status === 404) button.closest("li").remove();  // revoked already (another tab)
      else alert(`Could not revoke: ${e.message}`);
    }
  });
}

const shareGame = document.getElementById("share-game");
if (shareGame) shareGame.addEventListener("click", () => share(shareGame, null));
for (const button of document.querySelectorAll("button.share-rally")) {
  button.addEventListener("click", () => share(button, button.dataset.index));
}
for (const button of document.querySelectorAll("button.revoke")) watchRevoke(button);
