// Live parts of the console, without a build step: keep every panel of the incident page
// current and count regulatory clocks down.
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

  // A panel someone is working in stays as it is until they are done: the focus is in
  // it, or a field holds something typed and not yet sent.
  function busy(panel) {
    var active = document.activeElement;
    if (active && active !== document.body && panel.contains(active) &&
        /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName)) {
      return true;
    }
    var fields = panel.querySelectorAll("input, textarea, select");
    for (var i = 0; i < fields.length; i++) {
      var field = fields[i];
      if (field.type === "hidden") { continue; }
      if (field.type === "checkbox" || field.type === "radio") {
        if (field.checked !== field.defaultChecked) { return true; }
      } else if (field.tagName === "SELECT") {
        continue;
      } else if (field.value !== field.defaultValue) {
        return true;
      }
    }
    return false;
  }

  function swap(box, html) {
    var fresh = new DOMParser().parseFromString(html, "text/html");
    fresh.querySelectorAll("[data-panel]").forEach(function (incoming) {
      var name = incoming.getAttribute("data-panel");
      var current = box.querySelector('[data-panel="' + name + '"]');
      if (current === null) {
        box.appendChild(document.importNode(incoming, true));
        return;
      }
      if (current.getAttribute("data-version") === incoming.getAttribute("data-version")) {
        return;
      }
      if (!busy(current)) { current.replaceWith(document.importNode(incoming, true)); }
    });
    box.querySelectorAll("[data-panel]").forEach(function (current) {
      var name = current.getAttribute("data-panel");
      if (!fresh.querySelector('[data-panel="' + name + '"]') && !busy(current)) {
        current.remove();
      }
    });
    tick();
  }

  function refresher(box) {
    var etag = null;
    return function () {
      var headers = etag ? { "if-none-match": etag } : {};
      fetch(box.getAttribute("data-refresh"), {
        credentials: "same-origin", cache: "no-store", headers: headers
      })
        .then(function (response) {
          if (response.status !== 200) { return null; }
          // Remembered only once every panel is in: a held-back panel is offered again.
          var tag = response.headers.get("etag");
          return response.text().then(function (html) { return [tag, html]; });
        })
        .then(function (got) {
          if (got === null) { return; }
          swap(box, got[1]);
          var stale = Array.prototype.some.call(
            box.querySelectorAll("[data-panel]"), function (p) { return busy(p); });
          etag = stale ? null : got[0];
        })
        .catch(function () { /* the next refresh tries again */ });
    };
  }

  document.addEventListener("DOMContentLoaded", function () {
    tick();
    setInterval(tick, 1000);
    var box = document.querySelector("[data-refresh]");
    if (box) { setInterval(refresher(box), 2000); }
  });
})();
