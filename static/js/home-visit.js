/* Home-visit request form: "Use my location" fills the hidden lat/lon fields.
 *
 * Optional and progressive: without JavaScript (or without geolocation) the location box stays
 * hidden and the form is sent without coordinates. The position goes nowhere but into the form;
 * the resident sends it by submitting. Texts come translated from data attributes.
 */
"use strict";
(function () {
  const box = document.querySelector("[data-hv-location]");
  if (!box || !("geolocation" in navigator)) {
    return;
  }
  const form = box.closest("form");
  const lat = form.querySelector('input[name="lat"]');
  const lon = form.querySelector('input[name="lon"]');
  const locate = box.querySelector("[data-hv-locate]");
  const clear = box.querySelector("[data-hv-clear]");
  const status = box.querySelector("[data-hv-status]");
  const text = box.dataset;

  function say(message) {
    status.textContent = message || "";
  }

  box.hidden = false;
  if (lat.value && lon.value) {
    clear.hidden = false;
    say(text.textKept);
  }

  locate.addEventListener("click", function () {
    locate.disabled = true;
    say(text.textWaiting);
    navigator.geolocation.getCurrentPosition(
      function (pos) {
        lat.value = pos.coords.latitude.toFixed(6);
        lon.value = pos.coords.longitude.toFixed(6);
        locate.disabled = false;
        clear.hidden = false;
        say((text.textDone || "").replace("{m}", String(Math.round(pos.coords.accuracy || 0))));
      },
      function (err) {
        locate.disabled = false;
        say(err && err.code === 1 ? text.textDenied : text.textFailed);
      },
      { enableHighAccuracy: true, timeout: 20000, maximumAge: 60000 }
    );
  });

  clear.addEventListener("click", function () {
    lat.value = "";
    lon.value = "";
    clear.hidden = true;
    say(text.textCleared);
    locate.focus();
  });
})();
