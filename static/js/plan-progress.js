// Polls a solve job's JSON and updates the progress bar; goes to the review page when done.
(function () {
  "use strict";
  var card = document.getElementById("job");
  if (!card) { return; }
  var url = card.getAttribute("data-status-url");
  // Status texts in the page's language, rendered by the server (data-labels).
  var labels = JSON.parse(card.getAttribute("data-labels") || "{}");
  var delay = 1000;

  function text(id, value) {
    var el = document.getElementById(id);
    if (el) { el.textContent = value; }
  }

  // The parts of a decomposed solve: rebuilt from the JSON with textContent only.
  function renderParts(parts) {
    var box = document.getElementById("job-parts-box");
    var body = document.querySelector("#job-parts tbody");
    if (!box || !body || !parts.length) { return; }
    box.hidden = false;
    while (body.firstChild) { body.removeChild(body.firstChild); }
    parts.forEach(function (p) {
      var tr = document.createElement("tr");
      var name = document.createElement("td");
      name.appendChild(document.createTextNode(p.label));
      name.appendChild(document.createElement("br"));
      var small = document.createElement("small");
      small.textContent = p.detail;
      name.appendChild(small);
      tr.appendChild(name);
      [p.status_label + (p.attempts > 1 ? " (" + (labels.retry || "retry") + ")" : ""),
       p.persons === null || p.persons === undefined ? "–" : Number(p.persons).toLocaleString(document.documentElement.lang || "id"),
       p.percent + "%"].forEach(function (value) {
        var td = document.createElement("td");
        td.textContent = value;
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
  }

  function render(data) {
    var bar = document.getElementById("job-bar");
    bar.value = data.fraction;
    bar.textContent = Math.round(data.fraction * 100) + "%";
    text("job-status", labels[data.status] || data.status);
    text("job-persons", data.persons === null || data.persons === undefined ? "–" : Number(data.persons).toLocaleString(document.documentElement.lang || "id"));
    if (data.persons_requested) {
      var req = document.getElementById("job-requested");
      if (!req) {
        req = document.createElement("span");
        req.id = "job-requested";
        var persons = document.getElementById("job-persons");
        persons.parentNode.appendChild(document.createTextNode(" / "));
        persons.parentNode.appendChild(req);
      }
      req.textContent = Number(data.persons_requested).toLocaleString(document.documentElement.lang || "id");
    }
    text("job-km", data.km === null || data.km === undefined ? "–" : Number(data.km).toLocaleString(document.documentElement.lang || "id", { minimumFractionDigits: 1, maximumFractionDigits: 1 }));
    text("job-elapsed", data.elapsed_s === null ? "0" : Math.round(data.elapsed_s));
    renderParts(data.parts || []);
    if (data.error) {
      var err = document.getElementById("job-error");
      err.textContent = data.error;
      err.hidden = false;
    }
    if (data.done) {
      text("job-title", data.status === "failed" ? labels.title_failed : labels.title_done);
      document.getElementById("cancel-form").hidden = true;
      var link = document.getElementById("review-link");
      link.classList.add("button-primary");
      if (data.status !== "failed") { window.location.assign(data.review_url); }
    }
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) {
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        return r.json();
      })
      .then(function (data) {
        render(data);
        delay = 1000;
        if (!data.done) { window.setTimeout(poll, delay); }
      })
      .catch(function () {
        // Weak networks: back off and keep trying rather than giving up.
        delay = Math.min(delay * 2, 10000);
        window.setTimeout(poll, delay);
      });
  }

  window.setTimeout(poll, 500);
}());
