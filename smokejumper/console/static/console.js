// Live parts of the console, without a build step: refresh the incident's changing parts
// and count regulatory clocks down.
(function () {
  "use strict";

  function remaining(deadline) {
    var seconds = Math.floor((Date.parse(deadline) - Date.now()) / 1000);
    if (seconds <= 0) { return "deadline passed"; }
    var d = Math.floor(seconds / 86400), h = Math.floor(seconds % 86400 / 3600);
    var m = Math.floor(seconds % 3600 / 60), s = seconds % 60;
    return (d ? d + "d " : "") + h + "h " + String(m).padStart(2, "0") + "m " +
      String(s).padStart(2, "0") + "s";
  }

  function tick() {
    document.querySelectorAll(".countdown[data-deadline]").forEach(function (el) {
      el.textContent = remaining(el.getAttribute("data-deadline"));
    });
  }

  function refresh(box) {
    // Leave the page alone while someone is typing a reason.
    if (box.contains(document.activeElement) && document.activeElement.tagName === "INPUT") {
      return;
    }
    fetch(box.getAttribute("data-refresh"), { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) { if (html !== null) { box.innerHTML = html; tick(); } })
      .catch(function () { /* the next refresh tries again */ });
  }

  document.addEventListener("DOMContentLoaded", function () {
    tick();
    setInterval(tick, 1000);
    var box = document.querySelector("[data-refresh]");
    if (box) { setInterval(function () { refresh(box); }, 3000); }
  });
})();
