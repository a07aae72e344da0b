// Refreshes the dashboard's "Today in the field" block from /coord/progress.json every minute.
(function () {
  "use strict";
  var card = document.getElementById("live-progress");
  if (!card || !window.fetch) { return; }
  var url = card.getAttribute("data-url");
  var every = 1000 * (parseInt(card.getAttribute("data-refresh-s"), 10) || 60);
  // Texts in the page's language, rendered by the server (data-labels).
  var labels = JSON.parse(card.getAttribute("data-labels") || "{}");
  var dash = labels.none || "–";

  var lang = document.documentElement.lang || "id";
  // Counts in the reader's locale (Indonesian 1.234, English 1,234), as the server renders them.
  function count(value) {
    return typeof value === "number" ? value.toLocaleString(lang) : value;
  }

  function text(id, value) {
    var el = document.getElementById(id);
    if (el) { el.textContent = value === null || value === undefined ? dash : value; }
  }

  function cell(row, tag, value, cls) {
    var el = document.createElement(tag);
    if (tag === "th") { el.scope = "row"; }
    if (cls) { el.className = cls; }
    el.textContent = value === null || value === undefined || value === "" ? dash : value;
    row.appendChild(el);
    return el;
  }

  function note(el, value) {
    // A second, smaller line under a name (textContent only: names are data, not markup).
    el.appendChild(document.createElement("br"));
    var small = document.createElement("small");
    small.textContent = value;
    el.appendChild(small);
  }

  function fill(id, rows, build) {
    var body = document.getElementById(id);
    if (!body) { return; }
    while (body.firstChild) { body.removeChild(body.firstChild); }
    rows.forEach(function (item) {
      var tr = document.createElement("tr");
      build(tr, item);
      body.appendChild(tr);
    });
  }

  function render(data) {
    text("live-date", data.date_label);
    text("live-updated", data.updated);
    text("live-stops-done", count(data.totals.stops_done));
    text("live-stops-total", count(data.totals.stops_total));
    text("live-persons", count(data.totals.persons_total));
    text("live-cards", count(data.totals.cards_used));
    text("live-turned", count(data.totals.turned_away));
    fill("live-teams", data.teams, function (tr, t) {
      var name = cell(tr, "th", t.team_name);
      if (t.current_site) {
        note(name, labels.now_at + ": " + t.current_site);
      } else if (t.next_site) {
        note(name, labels.next + ": " + t.next_site + " " + (t.next_start || ""));
      }
      cell(tr, "td", t.done + " / " + t.stops_total, "num");
      cell(tr, "td", t.not_served, "num");
      cell(tr, "td", t.checked_in, "num");
      cell(tr, "td", t.pending, "num");
      cell(tr, "td", t.late, t.late ? "num stat-warn" : "num");
      cell(tr, "td", t.last_checkin);
    });
    document.getElementById("live-no-routes").hidden = data.teams.length > 0;
    fill("live-services", data.totals.services, function (tr, s) {
      cell(tr, "th", s.label);
      cell(tr, "td", s.persons, "num");
    });
    fill("live-not-served", data.not_served, function (tr, n) {
      var site = cell(tr, "th", n.hotspot_name);
      if (n.kecamatan_name) { note(site, n.kecamatan_name); }
      cell(tr, "td", n.priority);
      cell(tr, "td", n.team_name);
      cell(tr, "td", n.day_label);
      cell(tr, "td", n.problem_labels.join(", "));
      cell(tr, "td", n.remaining, "num");
    });
    document.getElementById("live-no-not-served").hidden = data.not_served.length > 0;
  }

  function refresh() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) {
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        return r.json();
      })
      .then(render)
      .catch(function () { /* weak network: keep the last figures, try again next minute */ })
      .then(function () { window.setTimeout(refresh, every); });
  }

  window.setTimeout(refresh, every);
}());
