// Sharing from the game page. The link appears right under the button that made it (on a
// phone the top of the page is far away), with Copy (the Clipboard API) and the system
// share sheet (the Web Share API) where the browser has one. The API hands out the live
// link of a game or rally again rather than a new one, so tapping twice makes one link.
"use strict";

function sharePanel() {
  let panel = document.getElementById("share-panel");
  if (panel) return panel;
  panel = document.createElement("div");
  panel.id = "share-panel";
  panel.className = "share-panel";
  panel.setAttribute("role", "group");
  panel.setAttribute("aria-label", "Share link");
  const text = document.createElement("p");
  text.className = "share-what";
  const link = document.createElement("a");
  link.id = "share-link";
  const buttons = document.createElement("div");
  buttons.className = "share-buttons";
  const copy = document.createElement("button");
  copy.type = "button";
  copy.className = "share-copy";
  copy.textContent = "Copy link";
  copy.addEventListener("click", () => copyLink(panel));
  const send = document.createElement("button");
  send.type = "button";
  send.className = "share-send secondary";
  send.textContent = "Share…";
  send.hidden = typeof navigator.share !== "function";
  send.addEventListener("click", () => sendLink(panel));
  buttons.append(copy, send);
  const status = document.createElement("p");
  status.className = "share-status";
  status.setAttribute("role", "status");
  panel.append(text, link, buttons, status);
  return panel;
}

function sayShared(panel, text) {
  panel.querySelector(".share-status").textContent = text;
}

async function copyLink(panel) {
  const url = panel.querySelector("#share-link").href;
  try {
    await navigator.clipboard.writeText(url);
    sayShared(panel, "Link copied.");
  } catch (e) {
    // No clipboard (an insecure origin, or refused): select the link for a long-press copy.
    window.getSelection().selectAllChildren(panel.querySelector("#share-link"));
    sayShared(panel, "Press and hold the link to copy it.");
  }
}

async function sendLink(panel) {
  const link = panel.querySelector("#share-link");
  try {
    await navigator.share({ title: document.title, text: panel.dataset.what, url: link.href });
  } catch (e) {
    if (e.name !== "AbortError") sayShared(panel, `Could not open the share sheet: ${e.message}`);
  }
}

// Under the rally's buttons, or under the game's row of buttons.
function showPanel(button, data, rally) {
  const panel = sharePanel();
  button.closest(".actions, .downloads").after(panel);
  panel.dataset.what = rally ? `Rally ${rally}` : "The whole game";
  panel.querySelector(".share-what").textContent = data.created
    ? `Anyone with this link can watch ${rally ? `rally ${rally}` : "the whole game"}:`
    : `You shared ${rally ? `rally ${rally}` : "the whole game"} before; this is its link:`;
  const link = panel.querySelector("#share-link");
  link.href = data.url;
  link.textContent = data.url;
  sayShared(panel, "");
  return panel;
}

async function share(button, rally) {
  button.disabled = true;
  try {
    const data = await api("POST", button.dataset.url, rally ? { rally: Number(rally) } : {});
    showPanel(button, data, rally);
    listShare(data, rally);
  } catch (e) {
    const panel = sharePanel();
    button.closest(".actions, .downloads").after(panel);
    sayShared(panel, `Could not share: ${e.message}`);
  } finally {
    button.disabled = false;
  }
}

// A new link joins the page's list at once, so it can be revoked without a reload.
function listShare(data, rally) {
  const shares = document.getElementById("shares");
  if (!shares || shares.querySelector(`li[data-token="${CSS.escape(data.token)}"]`)) return;
  const li = document.createElement("li");
  li.dataset.token = data.token;
  const link = document.createElement("a");
  link.href = data.url;
  link.textContent = rally ? `Rally ${rally}` : "Whole game";
  const button = document.createElement("button");
  button.type = "button";
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
      forgetShare(button);
    } catch (e) {
      button.disabled = false;
      if (e.status === 404) forgetShare(button);  // revoked already (another tab)
      else alert(`Could not revoke: ${e.message}`);
    }
  });
}

// A revoked link leaves the list, and the panel if it shows that link.
function forgetShare(button) {
  const li = button.closest("li");
  const panel = document.getElementById("share-panel");
  if (panel && panel.querySelector("#share-link").href === li.querySelector("a").href) panel.remove();
  li.remove();
}

const shareGame = document.getElementById("share-game");
if (shareGame) shareGame.addEventListener("click", () => share(shareGame, null));
for (const button of document.querySelectorAll("button.share-rally")) {
  button.addEventListener("click", () => share(button, button.dataset.index));
}
for (const button of document.querySelectorAll("button.revoke")) watchRevoke(button);
