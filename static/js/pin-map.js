// Drop or move a hotspot's pin: a Leaflet map with a draggable marker that writes into the
// latitude/longitude inputs (and follows them when typed). Progressive enhancement: without
// Leaflet (or JavaScript) the number inputs still work on their own.
(function () {
  "use strict";
  var el = document.getElementById("pin-map");
  if (!el || typeof window.L === "undefined") { return; }
  var latInput = document.getElementById(el.dataset.latInput || "lat");
  var lonInput = document.getElementById(el.dataset.lonInput || "lon");
  if (!latInput || !lonInput) { return; }

  function readPoint() {
    var lat = parseFloat(String(latInput.value).replace(",", "."));
    var lon = parseFloat(String(lonInput.value).replace(",", "."));
    if (!isFinite(lat) || !isFinite(lon)) { return null; }
    return L.latLng(lat, lon);
  }

  var start = readPoint();
  var centre = start || L.latLng(parseFloat(el.dataset.centerLat), parseFloat(el.dataset.centerLon));
  el.hidden = false;
  var map = L.map(el, { scrollWheelZoom: false }).setView(centre, parseInt(el.dataset.zoom, 10) || 13);
  if (el.dataset.tileUrl) {
    L.tileLayer(el.dataset.tileUrl, {
      maxZoom: 19,
      attribution: el.dataset.attribution || "",
      referrerPolicy: "strict-origin-when-cross-origin"
    }).addTo(map);
  }
  var marker = null;

  function write(latlng) {
    latInput.value = latlng.lat.toFixed(6);
    lonInput.value = latlng.lng.toFixed(6);
    latInput.dispatchEvent(new Event("change", { bubbles: true }));
  }

  function place(latlng) {
    if (marker) {
      marker.setLatLng(latlng);
      return;
    }
    marker = L.marker(latlng, { draggable: true, keyboard: true, title: el.dataset.markerTitle || "" });
    marker.addTo(map);
    marker.on("dragend", function () { write(marker.getLatLng()); });
  }

  if (start) { place(start); }
  map.on("click", function (e) {
    place(e.latlng);
    write(e.latlng);
  });
  function follow() {
    var p = readPoint();
    if (p) {
      place(p);
      map.panTo(p);
    }
  }
  latInput.addEventListener("input", follow);
  lonInput.addEventListener("input", follow);
})();
