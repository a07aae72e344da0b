/* Field pages: offline outbox for check-ins and outcomes, sync badge, service worker, and the
 * member's own position on the day map.
 *
 * The check-in and outcome forms also work without this script (server routes). With it, a
 * submit builds the JSON body of the field API, puts it in an outbox (localStorage, per user),
 * updates the page at once and sends the outbox when there is a network: on load, on the
 * "online" event and every 30 s. An item leaves the outbox on 200/201 (201 = new, 200 = the
 * server already had this client_uuid: nothing is counted twice). A final refusal (400, 403,
 * 404, 409, 422) stays visible as "not accepted" with the server's message until removed; 401
 * keeps everything and asks to sign in again; other errors are retried later.
 * No inline handlers: the CSP allows only this file and nonce'd scripts.
 */
(function () {
  "use strict";

  var cfgNode = document.getElementById("field-config");
  if (!cfgNode) {
    return;
  }
  var cfg = JSON.parse(cfgNode.textContent);
  var T = cfg.texts;
  var KEY = "jb-field-outbox:" + cfg.user;
  var RETRY_MS = 30000;
  var FINAL = [400, 403, 404, 409, 410, 413, 422];
  var flushing = null;
  var signinNeeded = false;

  function fmt(text, values) {
    return text.replace(/%\((\w+)\)[sd]/g, function (_m, key) {
      return String(values[key]);
    });
  }

  function uuid4() {
    if (window.crypto && crypto.randomUUID) {
      return crypto.randomUUID();
    }
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) {
      return (x + 0x100).toString(16).slice(1);
    });
    return [h.slice(0, 4), h.slice(4, 6), h.slice(6, 8), h.slice(8, 10), h.slice(10)]
      .map(function (p) {
        return p.join("");
      })
      .join("-");
  }

  function hm(date) {
    return ("0" + date.getHours()).slice(-2) + ":" + ("0" + date.getMinutes()).slice(-2);
  }

  // ---------------------------------------------------------------------------- outbox

  function load() {
    try {
      var items = JSON.parse(localStorage.getItem(KEY) || "[]");
      return Array.isArray(items) ? items : [];
    } catch (e) {
      return [];
    }
  }

  function save(items) {
    try {
      localStorage.setItem(KEY, JSON.stringify(items));
    } catch (e) {
      /* storage full or disabled: the item stays in memory for this page only */
    }
  }

  function pageLabel() {
    var title = document.querySelector(".stop-title");
    return title ? title.textContent.trim() : "";
  }

  function enqueue(kind, payload) {
    var items = load();
    var existing = items.filter(function (i) {
      return i.id === payload.client_uuid;
    })[0];
    if (existing) {
      return existing; // a double tap: the same client_uuid is queued once
    }
    var item = {
      id: payload.client_uuid,
      kind: kind,
      stopId: payload.stop_id,
      label: pageLabel(),
      payload: payload,
      status: "pending",
      message: "",
      queuedAt: new Date().toISOString(),
    };
    items.push(item);
    save(items);
    return item;
  }

  function update(id, change) {
    save(
      load()
        .map(function (i) {
          if (i.id !== id) {
            return i;
          }
          if (change === null) {
            return null;
          }
          for (var k in change) {
            i[k] = change[k];
          }
          return i;
        })
        .filter(Boolean)
    );
  }

  function errorText(body, status) {
    var err = body && body.error;
    if (!err) {
      return "HTTP " + status;
    }
    var parts = [err.message];
    (err.details || []).forEach(function (d) {
      parts.push(typeof d === "string" ? d : (d.field ? d.field + ": " : "") + d.message);
    });
    return parts.join(" ");
  }

  function getToken() {
    return fetch(cfg.csrfUrl, {
      credentials: "same-origin",
      cache: "no-store",
      headers: { Accept: "application/json" },
    }).then(function (resp) {
      var type = resp.headers.get("Content-Type") || "";
      if (resp.status === 401 || resp.redirected || type.indexOf("json") < 0) {
        return null;
      }
      return resp.json().then(function (body) {
        return body.csrf_token;
      });
    });
  }

  function post(item, token) {
    var url = item.kind === "checkin" ? cfg.checkinsUrl : cfg.outcomesUrl;
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": token,
      },
      body: JSON.stringify(item.payload),
    }).then(function (resp) {
      return resp
        .json()
        .catch(function () {
          return null;
        })
        .then(function (body) {
          return { status: resp.status, body: body };
        });
    });
  }

  function isCsrf(res) {
    var err = res.body && res.body.error;
    return res.status === 400 && err && err.code !== "validation_error" && /csrf/i.test(err.message);
  }

  async function sendAll() {
    var results = {};
    var pending = load().filter(function (i) {
      return i.status === "pending";
    });
    if (!pending.length || !navigator.onLine) {
      return results;
    }
    var token;
    try {
      token = await getToken();
    } catch (e) {
      return results; // no network after all
    }
    if (token === null) {
      signinNeeded = true;
      return results;
    }
    signinNeeded = false;
    for (var n = 0; n < pending.length; n++) {
      var item = pending[n];
      var res;
      try {
        res = await post(item, token);
        if (isCsrf(res)) {
          token = await getToken();
          if (token === null) {
            signinNeeded = true;
            break;
          }
          res = await post(item, token);
        }
      } catch (e) {
        break; // the network dropped: keep the rest for later
      }
      results[item.id] = res;
      if (res.status === 200 || res.status === 201) {
        update(item.id, null);
        markSent(item);
        results.sent = true;
      } else if (res.status === 401) {
        signinNeeded = true;
        break;
      } else if (FINAL.indexOf(res.status) >= 0) {
        update(item.id, { status: "rejected", message: errorText(res.body, res.status) });
      } else {
        break; // 429, 5xx: try again later, in order
      }
    }
    return results;
  }

  function flush() {
    if (!flushing) {
      flushing = sendAll()
        .then(function (results) {
          if (results.sent) {
            precache(cfg.refresh);
          }
          return results;
        })
        .finally(function () {
          flushing = null;
          render();
        });
    }
    return flushing;
  }

  // ---------------------------------------------------------------------------- display

  function stateLabel(state, waiting) {
    var text = T.states[state] || state;
    return waiting ? text + " · " + T.waiting_badge : text;
  }

  function setState(stopId, state, waiting) {
    var nodes = document.querySelectorAll(
      '[data-stop-id="' + stopId + '"] [data-state], [data-stop-id="' + stopId + '"][data-state]'
    );
    Array.prototype.forEach.call(nodes, function (node) {
      node.className = "state state-" + state + (waiting ? " state-waiting" : "");
      node.setAttribute("data-state", state);
      node.textContent = stateLabel(state, waiting);
    });
  }

  function outcomeState(payload) {
    return payload.result === "not_served" ? "not_served" : "done";
  }

  function markSent(item) {
    setState(item.stopId, item.kind === "checkin" ? "checked_in" : outcomeState(item.payload), false);
  }

  function renderRejected(rejected) {
    var box = document.querySelector("[data-sync-rejected]");
    var list = document.querySelector("[data-sync-rejected-list]");
    if (!box || !list) {
      return;
    }
    list.textContent = "";
    rejected.forEach(function (item) {
      var li = document.createElement("li");
      var what = document.createElement("strong");
      what.textContent = (item.label || fmt(T.stop, { n: item.stopId })) + " – " + T.rejected + ": ";
      var msg = document.createElement("span");
      msg.textContent = item.message;
      var btn = document.createElement("button");
      btn.type = "button";
      btn.className = "button";
      btn.textContent = T.dismiss;
      btn.addEventListener("click", function () {
        update(item.id, null);
        render();
      });
      li.appendChild(what);
      li.appendChild(msg);
      li.appendChild(document.createTextNode(" "));
      li.appendChild(btn);
      list.appendChild(li);
    });
    box.hidden = rejected.length === 0;
  }

  function render() {
    var items = load();
    var pending = items.filter(function (i) {
      return i.status === "pending";
    });
    var bar = document.querySelector("[data-sync-bar]");
    if (bar) {
      bar.hidden = false;
      bar.classList.toggle("sync-offline", !navigator.onLine);
      bar.classList.toggle("sync-waiting", pending.length > 0);
      var count = bar.querySelector("[data-sync-count]");
      var label = bar.querySelector("[data-sync-label]");
      var net = bar.querySelector("[data-sync-net]");
      count.textContent = String(pending.length);
      label.textContent = T.waiting_badge;
      net.textContent = navigator.onLine ? T.online : T.offline;
      bar.querySelector("[data-sync-signin]").hidden = !signinNeeded;
    }
    renderRejected(
      items.filter(function (i) {
        return i.status === "rejected";
      })
    );
    // What this device recorded but the server has not confirmed yet.
    pending.forEach(function (item) {
      if (item.kind === "outcome") {
        setState(item.stopId, outcomeState(item.payload), true);
      } else if (
        !items.some(function (o) {
          return o.kind === "outcome" && o.stopId === item.stopId;
        })
      ) {
        setState(item.stopId, "checked_in", true);
      }
      var page = document.querySelector('[data-field-page="stop"]');
      if (page && Number(page.getAttribute("data-stop-id")) === item.stopId) {
        var form = document.querySelector('[data-field-form="' + item.kind + '"]');
        if (form) {
          replaceForm(form, item.kind === "checkin" ? T.queued_checkin : T.queued_outcome, item);
        }
      }
    });
  }

  function replaceForm(form, text, item) {
    var p = document.createElement("p");
    p.className = "done-line";
    p.setAttribute("role", "status");
    var when = item && item.payload.at ? new Date(item.payload.at) : new Date();
    p.textContent = fmt(text, { time: hm(when) });
    form.parentNode.replaceChild(p, form);
    return p;
  }

  // ---------------------------------------------------------------------------- forms

  function setStatus(form, text) {
    var node = form.querySelector("[data-form-status]");
    if (node) {
      node.textContent = text;
    }
  }

  function position(timeoutMs) {
    return new Promise(function (resolve) {
      if (!navigator.geolocation) {
        resolve(null);
        return;
      }
      var done = false;
      var timer = setTimeout(function () {
        done = true;
        resolve(null);
      }, timeoutMs);
      navigator.geolocation.getCurrentPosition(
        function (pos) {
          if (!done) {
            clearTimeout(timer);
            resolve(pos.coords);
          }
        },
        function () {
          if (!done) {
            clearTimeout(timer);
            resolve(null);
          }
        },
        { enableHighAccuracy: true, timeout: timeoutMs, maximumAge: 60000 }
      );
    });
  }

  async function onCheckin(event) {
    event.preventDefault();
    var form = event.currentTarget;
    var button = form.querySelector("[type=submit]");
    button.disabled = true;
    setStatus(form, T.locating);
    var at = new Date();
    var coords = await position(5000);
    var payload = {
      client_uuid: form.elements.client_uuid.value || uuid4(),
      stop_id: Number(document.querySelector("[data-field-page]").getAttribute("data-stop-id")),
      at: at.toISOString(),
      lat: coords ? Number(coords.latitude.toFixed(6)) : null,
      lon: coords ? Number(coords.longitude.toFixed(6)) : null,
      accuracy_m: coords ? Math.round(coords.accuracy) : null,
    };
    var item = enqueue("checkin", payload);
    setState(payload.stop_id, "checked_in", true);
    var results = await flush();
    var res = results[item.id];
    if (!form.parentNode) {
      return; // already replaced by render()
    }
    if (res && (res.status === 200 || res.status === 201)) {
      replaceForm(form, T.sent_checkin, item);
    } else {
      replaceForm(form, T.queued_checkin, item);
    }
  }

  function readInt(form, name, errors) {
    var field = form.elements[name];
    if (!field) {
      return 0;
    }
    var raw = field.value.trim();
    if (raw === "") {
      return 0;
    }
    if (!/^[0-9]+$/.test(raw)) {
      errors[name] = /^-/.test(raw) ? T.errors.negative : T.errors.number;
      return 0;
    }
    return parseInt(raw, 10);
  }

  function checked(form, name) {
    return Array.prototype.filter
      .call(form.querySelectorAll('input[name="' + name + '"]'), function (i) {
        return i.checked;
      })
      .map(function (i) {
        return i.value;
      });
  }

  function outcomePayload(form) {
    var errors = {};
    var recorded = {};
    Array.prototype.forEach.call(form.querySelectorAll('input[name^="recorded."]'), function (i) {
      var n = readInt(form, i.name, errors);
      if (n) {
        recorded[i.name.slice("recorded.".length)] = n;
      }
    });
    var resultInput = form.querySelector('input[name="result"]:checked');
    var payload = {
      client_uuid: form.elements.client_uuid.value || uuid4(),
      stop_id: Number(document.querySelector("[data-field-page]").getAttribute("data-stop-id")),
      result: resultInput ? resultInput.value : "served",
      present: readInt(form, "present", errors),
      recorded: recorded,
      turned_away: readInt(form, "turned_away", errors),
      turned_away_reasons: checked(form, "turned_away_reasons"),
      cards_carried: readInt(form, "cards_carried", errors),
      cards_used: readInt(form, "cards_used", errors),
      problems: checked(form, "problems"),
      notes: form.elements.notes.value.trim(),
      checked_out_at: new Date().toISOString(),
    };
    // The service's rules, checked here too so a typo is caught before the item is queued.
    Object.keys(recorded).forEach(function (key) {
      if (recorded[key] > payload.present) {
        errors["recorded." + key] = T.errors.served_gt_present;
      }
    });
    var most = Math.max.apply(null, [0].concat(Object.values(recorded)));
    if (!errors.turned_away && most + payload.turned_away > payload.present) {
      errors.turned_away = T.errors.turned_gt_present;
    }
    if (!errors.cards_used && payload.cards_used > payload.cards_carried) {
      errors.cards_used = T.errors.cards;
    }
    if (payload.turned_away && !payload.turned_away_reasons.length) {
      errors.turned_away_reasons = T.errors.reasons;
    }
    if (payload.result === "not_served") {
      if (Object.keys(recorded).length) {
        errors.recorded = T.errors.not_served_recorded;
      }
      if (!payload.problems.length) {
        errors.problems = T.errors.problems;
      }
    }
    return { payload: payload, errors: errors };
  }

  function showErrors(form, errors) {
    var first = null;
    Array.prototype.forEach.call(form.querySelectorAll("[data-error-for]"), function (node) {
      var name = node.getAttribute("data-error-for");
      var msg = errors[name] || "";
      node.textContent = msg;
      node.hidden = !msg;
      var input = form.querySelector('[aria-describedby="' + node.id + '"]');
      if (input) {
        if (msg) {
          input.setAttribute("aria-invalid", "true");
          first = first || input;
        } else {
          input.removeAttribute("aria-invalid");
        }
      }
    });
    var left = Object.keys(errors).filter(function (k) {
      return !form.querySelector('[data-error-for="' + k + '"]');
    });
    setStatus(
      form,
      Object.keys(errors).length
        ? T.fix_errors +
            left
              .map(function (k) {
                return " " + errors[k];
              })
              .join("")
        : ""
    );
    if (first) {
      var target = first.matches("fieldset") ? first.querySelector("input") : first;
      (target || first).focus();
    }
  }

  async function onOutcome(event) {
    event.preventDefault();
    var form = event.currentTarget;
    var built = outcomePayload(form);
    showErrors(form, built.errors);
    if (Object.keys(built.errors).length) {
      return;
    }
    var button = form.querySelector("[type=submit]");
    button.disabled = true;
    var item = enqueue("outcome", built.payload);
    var results = await flush();
    var res = results[item.id];
    if (res && (res.status === 200 || res.status === 201)) {
      if (form.parentNode) {
        replaceForm(form, T.sent_outcome, item);
      }
      return;
    }
    if (res && res.status === 400 && res.body && res.body.error && res.body.error.details) {
      // Checked while online: show the server's messages next to the fields and let the
      // member correct them (this item is not kept: the corrected form sends it again).
      update(item.id, null);
      var byField = {};
      res.body.error.details.forEach(function (d) {
        if (d && d.field) {
          byField[d.field] = (byField[d.field] ? byField[d.field] + " " : "") + d.message;
        }
      });
      showErrors(form, byField);
      button.disabled = false;
      render();
      return;
    }
    if (form.parentNode) {
      setState(item.stopId, outcomeState(item.payload), !res);
      replaceForm(form, res ? T.rejected + ": " + errorText(res.body, res.status) : T.queued_outcome, item);
    }
  }

  function bindForms() {
    var checkin = document.querySelector('[data-field-form="checkin"]');
    if (checkin) {
      checkin.addEventListener("submit", onCheckin);
    }
    var outcome = document.querySelector('[data-field-form="outcome"]');
    if (outcome) {
      outcome.addEventListener("submit", onOutcome);
    }
  }

  // ---------------------------------------------------------------------------- offline

  function registerWorker() {
    if (!("serviceWorker" in navigator)) {
      return;
    }
    navigator.serviceWorker.register(cfg.swUrl, { scope: cfg.scope }).catch(function () {
      /* no offline pages on this browser; the outbox still works */
    });
  }

  // Keep pages for offline use: on the route page the day's stop pages; after a sync the
  // pages whose state changed (so an offline visit later shows the synced state).
  function precache(urls) {
    if (!("caches" in window) || !navigator.onLine || !urls || !urls.length) {
      return;
    }
    caches.open(cfg.pagesCache).then(function (cache) {
      return urls.reduce(function (chain, url) {
        return chain.then(function () {
          return fetch(url, { credentials: "same-origin" })
            .then(function (resp) {
              if (resp.ok && !resp.redirected) {
                return cache.put(url, resp);
              }
              return undefined;
            })
            .catch(function () {
              return undefined;
            });
        });
      }, Promise.resolve());
    });
  }

  // ---------------------------------------------------------------------------- own position

  function showOwnPosition() {
    var box = document.querySelector(".field-map[data-map-var]");
    if (!box || !navigator.geolocation || !window.L) {
      return;
    }
    var map = window[box.getAttribute("data-map-var")];
    if (!map || !map.addLayer) {
      return;
    }
    var marker = null;
    var status = document.querySelector("[data-geo-status]");
    navigator.geolocation.watchPosition(
      function (pos) {
        var latlng = [pos.coords.latitude, pos.coords.longitude];
        if (!marker) {
          marker = window.L.circleMarker(latlng, {
            radius: 10,
            color: "#ffffff",
            weight: 3,
            fillColor: "#d93025",
            fillOpacity: 1,
          })
            .bindTooltip(T.you)
            .addTo(map);
        } else {
          marker.setLatLng(latlng);
        }
        if (status) {
          status.textContent = T.you;
        }
      },
      function () {
        /* position refused or unavailable: the route map still works */
      },
      { enableHighAccuracy: true, maximumAge: 60000, timeout: 20000 }
    );
  }

  // ---------------------------------------------------------------------------- start

  bindForms();
  render();
  registerWorker();
  showOwnPosition();
  window.addEventListener("online", function () {
    render();
    flush();
  });
  window.addEventListener("offline", render);
  window.addEventListener("storage", function (e) {
    if (e.key === KEY) {
      render();
    }
  });
  setInterval(flush, RETRY_MS);
  flush().then(function () {
    precache(cfg.precache);
  });
})();
