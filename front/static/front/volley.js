// Shared by the pages: JSON calls to the API with the session's CSRF token.
"use strict";

function csrfToken() {
  const match = document.cookie.match(/(?:^|; )csrftoken=([^;]*)/);
  if (match) return decodeURIComponent(match[1]);
  const input = document.querySelector("input[name=csrfmiddlewaretoken]");
  return input ? input.value : "";
}

async function api(method, url, body) {
  const response = await fetch(url, {
    method,
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(), Accept: "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const data = text ? JSON.parse(text) : {};
  if (!response.ok) {
    const error = new Error(apiMessage(data) || `${response.status} ${response.statusText}`);
    error.status = response.status;
    throw error;
  }
  return data;
}

// DRF errors come as {"detail": "..."} or {"field": ["..."]}: one readable line.
function apiMessage(data) {
  if (!data || typeof data !== "object") return "";
  if (data.detail) return data.detail;
  return Object.values(data).flat().join(" ");
}

// A processing game's time left, as front/progress.py's eta_words says it.
function etaWords(seconds) {
  if (seconds == null) return "";
  if (seconds < 60) return "less than a minute left";
  const minutes = Math.round(seconds / 60);
  return minutes < 60 ? `about ${minutes} min left`
    : `about ${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} min left`;
}

// The pages carry no inline script, handler or style (the Content-Security-Policy allows
// none): what they need on load is set here. Scripts come last in the page, so it is parsed.
for (const bar of document.querySelectorAll(".bar[data-percent]")) bar.style.width = `${bar.dataset.percent}%`;
for (const form of document.querySelectorAll("form[data-confirm]")) {
  form.addEventListener("submit", (event) => {
    if (!window.confirm(form.dataset.confirm)) event.preventDefault();
  });
}
// Dates come as <time datetime="ISO"> in UTC; shown in the viewer's own time zone.
const localDate = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
for (const time of document.querySelectorAll("time[datetime]")) {
  const when = new Date(time.getAttribute("datetime"));
  if (Number.isNaN(when.getTime())) continue;
  time.title = time.textContent;  // the UTC time the server wrote, on hover
  time.textContent = localDate.format(when);
}
