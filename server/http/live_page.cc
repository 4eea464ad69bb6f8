#include "server/http/live_page.h"

namespace admit::server::http {
namespace {

// Data never goes through innerHTML: every id and counter is set with
// textContent or setAttribute, so an event id like "<img onerror=...>" shows
// as text. Each row says how it is kept: "live" (its EventSource, which
// reconnects by itself), "reconnecting", or "polled" (the list, every
// REFRESH_MS): a browser opens at most 6 HTTP/1.1 connections per host, so
// at most LIVE_MAX events stream at once, leaving connections for the list.
constexpr std::string_view page = R"page(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Admit: live sale</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #1d232a; background: #f6f7f9; }
  h1 { font-size: 1.3em; margin: 0 0 .2em; }
  #status { color: #5b6670; margin-bottom: 1em; }
  #status.error { color: #b3261e; font-weight: 600; }
  table { border-collapse: collapse; background: #fff; box-shadow: 0 1px 2px #0002; }
  th, td { padding: .45em .8em; text-align: right; border-bottom: 1px solid #e4e7eb; }
  th { background: #eef1f4; font-weight: 600; }
  td.id, th.id { text-align: left; max-width: 22em; overflow-wrap: anywhere; }
  td.sold, th.sold { min-width: 12em; text-align: left; }
  .bar { height: .8em; background: #e4e7eb; border-radius: .4em; overflow: hidden; }
  .fill { height: 100%; width: 0; background: #2f7d4f; transition: width .3s; }
  tr.soldout .fill { background: #b3261e; }
  .pct { font-size: .85em; color: #5b6670; }
  td.live { font-size: .85em; color: #5b6670; }
  td.live.on { color: #2f7d4f; font-weight: 600; }
  p.note { color: #5b6670; font-size: .85em; max-width: 60em; }
</style>
</head>
<body>
<h1>Admit: live sale</h1>
<div id="status">loading events…</div>
<table>
  <thead><tr>
    <th class="id">event</th><th class="sold">sold</th><th>available</th><th>held</th><th>confirmed</th>
    <th>waitlisted</th><th>watchers</th><th>state</th><th>updates</th>
  </tr></thead>
  <tbody id="events"></tbody>
</table>
<p class="note">Live rows follow the event through Server-Sent Events
(GET /v1/events/{id}/watch); the others are refreshed from GET /v1/events.
Add <code>?event=ID</code> (repeatable) to choose the events watched live.
Sold is (held + confirmed) / capacity. The page calls the API without a
token: it works with a server without --auth-secret.</p>
<script>
"use strict";
const LIVE_MAX = 4;       // EventSources at once (6 connections per host in all)
const PAGE_LIMIT = 100;   // events per GET /v1/events page
const EVENTS_MAX = 1000;  // events listed
const REFRESH_MS = 5000;  // the list: new events, the counters of polled rows

const rows = new Map();   // event id -> {cells, row, source}
const chosen = new URLSearchParams(location.search).getAll("event");
const statusLine = document.getElementById("status");

function setStatus(text, error) {
  statusLine.textContent = text;
  statusLine.className = error ? "error" : "";
}

async function listEvents() {
  const events = [];
  let after = null;
  while (events.length < EVENTS_MAX) {
    let url = "/v1/events?limit=" + PAGE_LIMIT;
    if (after !== null) url += "&after=" + encodeURIComponent(after);
    const reply = await fetch(url, {cache: "no-store"});
    if (reply.status === 401) {
      throw new Error("the API asks for a token (admitd --auth-secret): this page works " +
                      "with a server without auth");
    }
    if (!reply.ok) throw new Error("GET /v1/events answered " + reply.status);
    const page = await reply.json();
    events.push(...page.events);
    if (page.next_after === null || page.events.length === 0) break;
    after = page.next_after;
  }
  return events;
}

function addCell(row, name) {
  const cell = document.createElement("td");
  cell.className = name;
  row.appendChild(cell);
  return cell;
}

function addRow(id) {
  const row = document.createElement("tr");
  row.setAttribute("data-event", id);
  const cells = {};
  cells.id = addCell(row, "id");
  cells.id.textContent = id;
  const sold = addCell(row, "sold");
  const bar = document.createElement("div");
  bar.className = "bar";
  cells.fill = document.createElement("div");
  cells.fill.className = "fill";
  bar.appendChild(cells.fill);
  sold.appendChild(bar);
  cells.pct = document.createElement("span");
  cells.pct.className = "pct";
  sold.appendChild(cells.pct);
  for (const name of ["available", "held", "confirmed", "waitlisted", "watchers", "state"]) {
    cells[name] = addCell(row, name);
  }
  cells.live = addCell(row, "live");
  cells.live.textContent = "polled";
  document.getElementById("events").appendChild(row);
  const entry = {id, row, cells, source: null};
  rows.set(id, entry);
  return entry;
}

function show(entry, event) {
  const c = entry.cells;
  const sold = event.held + event.confirmed;
  const percent = event.capacity > 0 ? Math.min(100, (100 * sold) / event.capacity) : 0;
  c.fill.style.width = percent.toFixed(1) + "%";
  c.pct.textContent = sold + " / " + event.capacity + " (" + Math.round(percent) + "%)";
  for (const name of ["available", "held", "confirmed", "waitlisted", "watchers", "state"]) {
    c[name].textContent = String(event[name]);
  }
  entry.row.classList.toggle("soldout", event.capacity > 0 && event.available === 0);
}

function setLive(entry, text) {
  entry.cells.live.textContent = text;
  entry.cells.live.classList.toggle("on", text === "live");
}

// One EventSource: it reconnects by itself after a dropped connection; one
// closed for good (the server refused it) is opened again by the next refresh.
function watch(entry) {
  const source = new EventSource("/v1/events/" + encodeURIComponent(entry.id) + "/watch");
  entry.source = source;
  setLive(entry, "connecting");
  source.addEventListener("availability", (message) => {
    setLive(entry, "live");
    show(entry, JSON.parse(message.data));
  });
  source.addEventListener("error", () => {
    setLive(entry, source.readyState === EventSource.CLOSED ? "closed" : "reconnecting");
  });
}

function liveIds(events) {
  const ids = chosen.length > 0 ? chosen : events.map((event) => event.id);
  return new Set(ids.slice(0, LIVE_MAX));
}

async function refresh() {
  try {
    const events = await listEvents();
    const live = liveIds(events);
    for (const event of events) {
      const entry = rows.get(event.id) || addRow(event.id);
      if (entry.source && entry.source.readyState === EventSource.CLOSED) {
        entry.source = null;
      }
      if (live.has(event.id)) {
        if (!entry.source) watch(entry);
        if (!entry.cells.available.textContent) show(entry, event);
      } else {
        show(entry, event);
      }
    }
    setStatus(events.length + " events, " + Math.min(live.size, events.length) +
              " live; list refreshed " + new Date().toLocaleTimeString(), false);
  } catch (error) {
    setStatus(String(error.message || error), true);
  }
  setTimeout(refresh, REFRESH_MS);
}

refresh();
</script>
</body>
</html>
)page";

}  // namespace

Answer live_page_answer() {
  Answer answer;
  answer.content_type = html_content_type;
  answer.body = page;
  return answer;
}

}  // namespace admit::server::http
