// The game list keeps itself current while games are processed: it asks the API every few
// seconds while a row is queued or processing, and rewrites those rows' state in place
// (no reload: the upload box on the same page may be sending a file).
"use strict";

const gameTable = document.getElementById("games");
const LIST_POLL_MS = 3000;
const UNDER_WAY = ["queued", "processing"];

function rowState(game) {
  if (game.status !== "processing") return game.stage_words;
  const eta = etaWords(game.eta);
  return `${game.stage_words} · ${Math.round(game.progress)}%${eta ? ` · ${eta}` : ""}`;
}

function updateRow(row, game) {
  row.dataset.status = game.status;
  const state = row.querySelector("td.state");
  state.className = `state state-${game.status}`;
  state.textContent = rowState(game);
  const reason = row.querySelector("td.reason");
  reason.replaceChildren();
  if (game.status === "failed") {
    const text = document.createElement("span");
    text.className = "error";
    text.textContent = (game.error || "").split("\n")[0].slice(0, 80);
    reason.append(text);
  }
}

async function pollList() {
  if (!gameTable.querySelector(UNDER_WAY.map((s) => `tr[data-status="${s}"]`).join(","))) return;
  try {
    const data = await api("GET", gameTable.dataset.api);
    for (const game of data.results) {
      const row = gameTable.querySelector(`tr[data-id="${game.id}"]`);
      if (row) updateRow(row, game);
    }
  } catch (e) {
    // a dropped connection: the next poll tries again
  }
  setTimeout(pollList, LIST_POLL_MS);
}

if (gameTable) setTimeout(pollList, LIST_POLL_MS);
