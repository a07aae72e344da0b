// Review page helpers without inline handlers (CSP): "Move" fills the move form,
// "Print" prints the day sheet, and destructive buttons ask for confirmation (data-confirm,
// rendered by the server in the page's language).
(function () {
  "use strict";
  var moveForm = document.getElementById("move-form");
  var moveStop = document.getElementById("move-stop");

  document.querySelectorAll(".js-move").forEach(function (button) {
    if (!moveForm) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      moveStop.value = button.getAttribute("data-stop-id");
      moveForm.scrollIntoView({ behavior: "smooth", block: "center" });
      document.getElementById("move-route").focus();
    });
  });

  document.querySelectorAll("button.danger[data-confirm]").forEach(function (button) {
    button.addEventListener("click", function (event) {
      if (!window.confirm(button.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });

  document.querySelectorAll(".js-print").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });

  // After publishing, the confirmation in the publish section is in view (the #publish anchor
  // does this without JavaScript; the map's late layout can shift the page, so settle it here).
  var done = document.getElementById("publish-done");
  if (done) {
    window.addEventListener("load", function () {
      done.scrollIntoView({ block: "center" });
      done.focus({ preventScroll: true });
    });
  }
}());
