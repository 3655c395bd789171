// The gateway's dashboard: reads the admin API with the administrator's token (kept for this tab only) and
// refreshes itself. Everything shown is set as text, never as HTML: session ids, user names and refusal messages
// come from clients.
"use strict";

const api = "api/v1/admin";
const refreshMs = 5000;
let token = sessionStorage.getItem("sparkConnectAdminToken");
let timer = null;

const $ = (id) => document.getElementById(id);

async function call(method, path) {
  const response = await fetch(`${api}/${path}`, { method, headers: { Authorization: `Bearer ${token}` }, cache: "no-store" });
  if (response.status === 401 || response.status === 403) {
    const problem = await response.json().catch(() => ({}));
    signOut(problem.detail || `HTTP ${response.status}`);
    throw new Error("signed out");
  }
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    throw new Error(problem.detail || problem.title || `HTTP ${response.status}`);
  }
  return response.status === 204 ? null : response.json();
}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text ?? "";
  if (className) td.className = className;
  return td;
}

function duration(seconds) {
  const s = Math.floor(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

function fill(table, items, render, empty) {
  const body = $(table).tBodies[0];
  body.replaceChildren();
  if (items.length === 0) {
    const row = body.insertRow();
    const td = cell(row, empty, "empty");
    td.colSpan = $(table).tHead.rows[0].cells.length;
    return;
  }
  for (const item of items) render(body.insertRow(), item);
}

function actionButton(row, label, question, action) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "danger";
  button.textContent = label;
  button.addEventListener("click", async () => {
    if (!window.confirm(question)) return;
    button.disabled = true;
    try {
      await action();
      $("status").textContent = `${label}: done`;
    } catch (e) {
      $("status").textContent = `${label} failed: ${e.message}`;
    }
    await refresh();
  });
  row.insertCell().append(button);
}

async function refresh() {
  try {
    const [sessions, engines, refusals] = await Promise.all([call("GET", "sessions"), call("GET", "engines"), call("GET", "refusals")]);
    $("session-count").textContent = `(${sessions.length})`;
    fill("sessions", sessions, (row, s) => {
      row.dataset.sessionId = s.sessionId;
      row.dataset.user = s.user;
      cell(row, s.user);
      cell(row, s.sessionId, "mono");
      cell(row, s.engineId, "mono");
      cell(row, s.clientAddress ?? "");
      cell(row, duration(s.ageSeconds));
      cell(row, duration(s.idleSeconds));
      cell(row, String(s.runningCalls));
      actionButton(row, "Release", `Release session ${s.sessionId} of ${s.user}? Its owner's next call on it is refused.`,
        () => call("DELETE", `sessions/${encodeURIComponent(s.sessionId)}`));
    }, "No sessions.");
    $("engine-count").textContent = `(${engines.length})`;
    fill("engines", engines, (row, e) => {
      row.dataset.engineId = e.id;
      cell(row, e.id, "mono");
      cell(row, e.key ?? "");
      cell(row, e.address ?? "", "mono");
      cell(row, String(e.sessions));
      const health = cell(row, e.health, `health-${e.health}`);
      if (e.healthDetail) health.title = e.healthDetail;
      cell(row, e.launched ? `yes (${e.state})` : "no");
      if (e.launched) {
        actionButton(row, "Stop", `Stop engine ${e.id}? Its ${e.sessions} session(s) are lost.`,
          () => call("DELETE", `engines/${encodeURIComponent(e.id)}`));
      } else {
        row.insertCell();
      }
    }, "No engines.");
    fill("refusals", refusals, (row, r) => {
      cell(row, new Date(r.at).toLocaleTimeString());
      cell(row, r.method);
      cell(row, r.user ?? "");
      cell(row, r.clientAddress ?? "");
      cell(row, r.status);
      cell(row, r.reason);
      cell(row, r.message);
    }, "No refusals.");
    $("status").textContent = `Updated ${new Date().toLocaleTimeString()}`;
  } catch (e) {
    if (e.message !== "signed out") $("status").textContent = `Refresh failed: ${e.message}`;
  }
}

function signIn() {
  $("login").hidden = true;
  $("content").hidden = false;
  $("logout").hidden = false;
  refresh();
  timer = window.setInterval(refresh, refreshMs);
}

function signOut(reason) {
  token = null;
  sessionStorage.removeItem("sparkConnectAdminToken");
  window.clearInterval(timer);
  $("content").hidden = true;
  $("logout").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = reason ?? "";
}

document.addEventListener("DOMContentLoaded", () => {
  $("signin").addEventListener("click", () => {
    token = $("token").value.trim();
    if (!token) return;
    sessionStorage.setItem("sparkConnectAdminToken", token);
    $("token").value = "";
    signIn();
  });
  $("token").addEventListener("keydown", (e) => { if (e.key === "Enter") $("signin").click(); });
  $("logout").addEventListener("click", () => signOut());
  if (token) signIn();
});
