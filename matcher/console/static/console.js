// Progressive enhancement only: every page works without this file.
// - Alerts: live updates by server-sent events, acknowledgement without reloading.
// - Picking a face on a photo: a click on its box selects it.
"use strict";

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text;
  row.appendChild(td);
  return td;
}

function acknowledge(name, row, button) {
  button.disabled = true;
  const body = new URLSearchParams({ csrf: csrfToken(), alert: name });
  fetch("/alerts/ack", { method: "POST", body, headers: { Accept: "application/json" }, credentials: "same-origin" })
    .then((r) => r.json())
    .then((answer) => {
      if (answer.ok) { row.remove(); return; }
      button.disabled = false;
      button.title = answer.words || "refused";
    })
    .catch(() => { button.disabled = false; });
}

function showAlert(tbody, alert) {
  if (tbody.querySelector('tr[data-name="' + CSS.escape(alert.name) + '"]')) return;
  const row = document.createElement("tr");
  row.className = "alert new";
  row.dataset.name = alert.name;
  [alert.captured, alert.person, alert.order, alert.camera, alert.zones.join(", "), String(alert.score)]
    .forEach((text) => cell(row, text));
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = "Acknowledge";
  button.addEventListener("click", () => acknowledge(alert.name, row, button));
  cell(row, "").appendChild(button);
  tbody.prepend(row);
}

function liveAlerts() {
  const state = document.getElementById("stream-state");
  const table = document.getElementById("alerts");
  if (!state || !table || state.dataset.live !== "yes" || !window.EventSource) return;
  const tbody = table.querySelector("tbody");
  const source = new EventSource("/alerts/events");
  state.textContent = "Connecting…";
  source.addEventListener("open", () => { state.textContent = "Live: new alerts appear here as they happen."; });
  source.addEventListener("alert", (event) => showAlert(tbody, JSON.parse(event.data)));
  const stop = (event) => {
    source.close();
    state.textContent = JSON.parse(event.data).words;
  };
  source.addEventListener("signed-out", stop);
  source.addEventListener("refused", stop);
  source.addEventListener("error", () => {
    if (source.readyState === EventSource.CLOSED) state.textContent = "Disconnected: reload the page.";
    else state.textContent = "Reconnecting…";
  });
}

function pickableFaces() {
  document.querySelectorAll("form.pick").forEach((form) => {
    const radios = form.querySelectorAll('input[name="face_box"]');
    form.querySelectorAll("svg.photo rect.face").forEach((rect, index) => {
      rect.addEventListener("click", () => {
        const radio = radios[index];
        if (!radio || radio.disabled) return;
        radio.checked = true;
        form.querySelectorAll("svg.photo rect.face").forEach((r) => r.classList.remove("chosen"));
        rect.classList.add("chosen");
      });
    });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  liveAlerts();
  pickableFaces();
});
