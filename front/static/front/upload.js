// The upload box: multipart straight to the object store with presigned part URLs.
// Resumable: the game id of an unfinished upload is kept in localStorage under the
// file's name, size and date, and the store tells which parts it already holds.
"use strict";

const box = document.getElementById("upload");
const input = document.getElementById("file");
const bar = box.querySelector(".bar");
const status = box.querySelector(".upload-status");
const PARALLEL = 3;
const TRIES = 6;

function start() {
  if (input.files.length) upload(input.files[0]).catch((e) => say(`Upload failed: ${e.message}`, true));
}
input.addEventListener("change", start);
// A file chosen while the page was still loading (before this script ran) goes up too.
if (input.files.length) start();

function say(text, error = false) {
  status.textContent = text;
  status.classList.toggle("error", error);
}

function showProgress(done, total) {
  box.querySelector(".progress").hidden = false;
  const percent = total ? (100 * done) / total : 0;
  bar.style.width = `${percent.toFixed(1)}%`;
  say(`Uploading… ${percent.toFixed(0)}% of ${(total / 1e6).toFixed(0)} MB`);
}

async function upload(file) {
  const maxSize = Number(box.dataset.maxSize);
  if (file.size === 0) return say("This file is empty.", true);
  if (file.size > maxSize) return say(`This file is ${(file.size / 1e9).toFixed(1)} GB; the largest game Volley takes is ${(maxSize / 1e9).toFixed(1)} GB.`, true);
  const state = await resumeOrStart(file);
  const sizes = {};
  for (const part of state.uploaded) sizes[part.number] = part.size;
  const missing = [];
  for (let n = 1; n <= state.part_count; n++) if (!(n in sizes)) missing.push(n);
  const sent = {};
  const report = () => showProgress(Object.values(sizes).reduce((a, b) => a + b, 0) + Object.values(sent).reduce((a, b) => a + b, 0), file.size);
  report();
  const queue = missing.slice();
  const workers = Array.from({ length: PARALLEL }, async () => {
    while (queue.length) {
      const batch = queue.splice(0, 1);
      const urls = (await api("POST", `${box.dataset.api}${state.game}/parts/`, { numbers: batch })).urls;
      for (const n of batch) {
        const blob = file.slice((n - 1) * state.part_size, Math.min(n * state.part_size, file.size));
        await putWithRetry(urls[n], blob, (loaded) => { sent[n] = loaded; report(); });
        delete sent[n];
        sizes[n] = blob.size;
        report();
      }
    }
  });
  await Promise.all(workers);
  say("Checking the file…");
  const game = await api("POST", `${box.dataset.api}${state.game}/complete/`);
  localStorage.removeItem(storageKey(file));
  if (game.status === "failed") return say(game.error, true);
  window.location.href = `/games/${game.id}/`;
}

function storageKey(file) {
  return `volley-upload:${file.name}:${file.size}:${file.lastModified}`;
}

async function resumeOrStart(file) {
  const known = localStorage.getItem(storageKey(file));
  if (known) {
    try {
      const state = await api("GET", `${box.dataset.api}${known}/`);
      say("Resuming the earlier upload of this file…");
      return state;
    } catch (e) {
      localStorage.removeItem(storageKey(file));
    }
  }
  const head = await headBase64(file);
  const state = await api("POST", box.dataset.api, { name: file.name, size: file.size, type: file.type, head });
  localStorage.setItem(storageKey(file), state.game);
  return state;
}

async function headBase64(file) {
  const bytes = new Uint8Array(await file.slice(0, 4096).arrayBuffer());
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text);
}

async function putWithRetry(url, blob, onProgress) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await put(url, blob, onProgress);
    } catch (e) {
      if (attempt >= TRIES) throw e;
      say(`Connection trouble, trying again (${attempt}/${TRIES - 1})…`);
      await new Promise((resolve) => setTimeout(resolve, 1000 * 2 ** attempt));
    }
  }
}

function put(url, blob, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", url);
    xhr.upload.onprogress = (event) => onProgress(event.loaded);
    xhr.onload = () => (xhr.status >= 200 && xhr.status < 300 ? resolve() : reject(new Error(`the store answered ${xhr.status}`)));
    xhr.onerror = () => reject(new Error("network error"));
    xhr.send(blob);
  });
}
