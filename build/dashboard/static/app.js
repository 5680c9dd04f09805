// edgek dashboard: a little progressive enhancement; every page works without it.
(function () {
  "use strict";
  // Switching the namespace reloads the page.
  var sel = document.getElementById("ns-select");
  if (sel && sel.tagName === "SELECT") {
    sel.addEventListener("change", function () { sel.form.submit(); });
  }
  // The log view starts at its end and can refresh itself.
  var log = document.getElementById("pod-log");
  if (!log) return;
  log.scrollTop = log.scrollHeight;
  var follow = document.getElementById("log-follow");
  var timer = null;
  function refresh() {
    var u = new URL(window.location.href);
    u.searchParams.set("raw", "1");
    fetch(u, { credentials: "same-origin", cache: "no-store" }).then(function (r) {
      if (r.redirected) { window.location.reload(); return null; } // session ended: login page
      return r.text().then(function (t) { return { ok: r.ok, text: t }; });
    }).then(function (res) {
      if (!res) return;
      var atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
      log.textContent = res.text;
      log.classList.toggle("stale", !res.ok);
      if (atEnd) log.scrollTop = log.scrollHeight;
    }).catch(function () { log.classList.add("stale"); });
  }
  if (follow) {
    follow.addEventListener("change", function () {
      if (timer) { clearInterval(timer); timer = null; }
      if (follow.checked) { refresh(); timer = setInterval(refresh, 5000); }
    });
  }
})();
