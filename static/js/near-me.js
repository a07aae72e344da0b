// "Near me" on the public schedule: sorts the listed visits by distance from the phone's
// location, on the page. The location is never sent to the server.
(function () {
  "use strict";
  var button = document.getElementById("near-me");
  var box = document.getElementById("near-results");
  var status = document.getElementById("near-status");
  if (!button || !box || !("geolocation" in navigator)) { return; }
  button.hidden = false;
  var lang = document.documentElement.lang || "id";

  function km(lat1, lon1, lat2, lon2) {
    var r = Math.PI / 180;
    var dp = (lat2 - lat1) * r, dl = (lon2 - lon1) * r;
    var a = Math.sin(dp / 2) * Math.sin(dp / 2) +
      Math.cos(lat1 * r) * Math.cos(lat2 * r) * Math.sin(dl / 2) * Math.sin(dl / 2);
    return 2 * 6371.0088 * Math.asin(Math.min(1, Math.sqrt(a)));
  }

  function show(lat, lon) {
    var items = Array.prototype.slice.call(
      document.querySelectorAll("#by-day li.visit[data-lat]"));
    var rows = items.map(function (li) {
      return { li: li, d: km(lat, lon, parseFloat(li.dataset.lat), parseFloat(li.dataset.lon)),
               day: li.dataset.day };
    });
    rows.sort(function (a, b) {
      var da = Math.round(a.d * 10), db = Math.round(b.d * 10);
      return da !== db ? da - db : (a.day < b.day ? -1 : a.day > b.day ? 1 : 0);
    });
    var list = box.querySelector("ol");
    list.textContent = "";
    rows.slice(0, 40).forEach(function (row) {
      var li = row.li.cloneNode(true);
      var text = row.d.toLocaleString(lang, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
      li.querySelector(".visit-dist").textContent = button.dataset.km.replace("{km}", text);
      list.appendChild(li);
    });
    var title = box.querySelector("h3");
    title.textContent = button.dataset.title;
    title.tabIndex = -1;
    box.hidden = false;
    status.textContent = "";
    title.focus();
  }

  button.addEventListener("click", function () {
    status.textContent = button.dataset.locating;
    navigator.geolocation.getCurrentPosition(
      function (pos) { show(pos.coords.latitude, pos.coords.longitude); },
      function () { status.textContent = button.dataset.denied; },
      { enableHighAccuracy: false, timeout: 15000, maximumAge: 600000 }
    );
  });
})();
